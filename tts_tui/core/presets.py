"""Ready `[[services]]` blocks for known TTS servers (`tts-tui presets`).

Each preset is data: a TOML block a user can paste into the config, checked
against the server's own code (the route's method, path, body fields and
types, answer, default port, voice list and formats), not only its docs. The
block opens with a comment naming what it was checked against (`source` at
`checked`), so a pasted block still tells when a server may have moved on.
Blocks hold no secrets, only "$VAR" references, and each block's service is
named after the preset. `formats` lists the values of the block's `format`
the server answers in that format; the block's own `format` comes first.
"""

from __future__ import annotations

import difflib
import textwrap
import tomllib
from dataclasses import dataclass
from typing import Any

from tts_tui.core.errors import ConfigError


@dataclass(frozen=True)
class Preset:
    name: str  # short, lowercase, e.g. "kokoro-fastapi"
    summary: str  # one line: what server, default port
    source: str  # where it was checked: "owner/repository files..."
    checked: str  # the version, branch, commit and its date
    formats: tuple[str, ...]  # `format` values the server answers in kind; the block's first
    block: str  # a ready TOML [[services]] block, opening with a "Checked against" comment


def _preset(name: str, summary: str, source: str, checked: str, formats: str, block: str) -> Preset:
    # The "Checked against" lines are made here, so they always say what
    # `source` and `checked` say.
    note = textwrap.wrap(f"Checked against {source}, {checked}.", width=76, break_on_hyphens=False)
    header = "".join(f"# {line}\n" for line in note)
    return Preset(
        name=name, summary=summary, source=source, checked=checked,
        formats=tuple(formats.split()), block=header + block.strip() + "\n",
    )


# Keep the comments in the blocks short: they are printed and pasted as they are.
_PRESETS = [
    _preset(
        "openai",
        "OpenAI's hosted speech API (api.openai.com), key in $OPENAI_API_KEY",
        "openai/openai-python src/openai/types/audio/speech_create_params.py, speech_model.py",
        "v3.3.1, main e43b422 (2026-08-21)",
        "wav mp3 opus aac flac pcm",
        """
# OpenAI speech API. Voices: alloy ash ballad cedar coral echo fable marin
# nova onyx sage shimmer verse; tts-1 and tts-1-hd take only alloy ash coral
# echo fable nova onyx sage shimmer. No voice-list endpoint. `instructions`
# and stream_format = "sse" need gpt-4o-mini-tts. pcm is 24 kHz mono s16le.
[[services]]
name = "openai"
type = "openai"
url = "https://api.openai.com/v1"
api_key = "$OPENAI_API_KEY"
model = "gpt-4o-mini-tts"        # or "tts-1", "tts-1-hd", "gpt-4o-mini-tts-2025-12-15"
voice = "alloy"
format = "wav"                   # wav | mp3 | opus | aac | flac | pcm
speed = 1.0                      # 0.25 - 4.0
instructions = ""                # e.g. "Speak calmly." (gpt-4o-mini-tts only)
timeout = 60
""",
    ),
    _preset(
        "kokoro-fastapi",
        "Kokoro-FastAPI, OpenAI-compatible, port 8880",
        "remsky/Kokoro-FastAPI api/src/routers/openai_compatible.py,"
        " api/src/structures/schemas.py, api/src/core/openai_mappings.json",
        "0.8.1-rc1, master 26eec06 (2026-08-17)",
        "wav mp3 opus aac flac pcm",
        """
# Kokoro-FastAPI: docker run -p 8880:8880 ghcr.io/remsky/kokoro-fastapi-cpu
# `tts-tui voices` reads GET /v1/audio/voices. Mix voices with
# "af_bella+af_sky" or weigh them: "af_bella(2)+af_sky(1)"; OpenAI names
# (alloy, nova...) map to Kokoro voices.
[[services]]
name = "kokoro-fastapi"
type = "openai"
url = "http://127.0.0.1:8880/v1"
api_key = ""
model = "kokoro"                 # "tts-1", "tts-1-hd", "gpt-4o-mini-tts" are accepted too
voice = "af_heart"
format = "wav"                   # wav | mp3 | opus | aac | flac | pcm (24 kHz); streamed
speed = 1.0                      # 0.25 - 4.0
extra = { }                      # e.g. { lang_code = "a", volume_multiplier = 1.0, stream = false }
timeout = 60
""",
    ),
    _preset(
        "openedai-speech",
        "openedai-speech (Piper tts-1 / XTTS tts-1-hd), OpenAI-compatible, port 8000",
        "matatonic/openedai-speech speech.py, openedai.py",
        "0.18.2+1, main 31f0335 (2025-02-02)",
        "wav mp3 opus aac flac pcm",
        """
# openedai-speech: model tts-1 = Piper (CPU), tts-1-hd = XTTS v2 (GPU).
# Voices are mapped in config/voice_to_speaker.yaml; the defaults are alloy
# echo fable onyx nova shimmer. The server has no voice-list endpoint.
# Prefer wav over pcm: tts-1's pcm is labelled 22050 Hz whatever the voice.
[[services]]
name = "openedai-speech"
type = "openai"
url = "http://127.0.0.1:8000/v1"
api_key = ""
model = "tts-1"                  # or "tts-1-hd"
voice = "alloy"
format = "wav"                   # wav | mp3 | opus | aac | flac | pcm
speed = 1.0                      # 0.25 - 4.0
timeout = 120
""",
    ),
    _preset(
        "speaches",
        "Speaches (Kokoro/Piper ONNX), OpenAI-compatible, port 8000",
        "speaches-ai/speaches src/speaches/routers/speech.py, routers/models.py,"
        " api_types.py, executors/kokoro.py",
        "v0.9.0-rc.3+23, master 870e1e1 (2026-03-26)",
        "wav mp3 opus aac flac pcm",
        """
# Speaches: download the model once, then speak:
#   curl -X POST http://127.0.0.1:8000/v1/models/speaches-ai/Kokoro-82M-v1.0-ONNX
# `tts-tui voices` reads GET /v1/audio/voices. Kokoro speed: 0.5 - 2.0.
[[services]]
name = "speaches"
type = "openai"
url = "http://127.0.0.1:8000/v1"
api_key = ""                     # "$SPEACHES_API_KEY" if the server sets API_KEY
model = "speaches-ai/Kokoro-82M-v1.0-ONNX"
voice = "af_heart"
format = "wav"                   # wav | mp3 | opus | aac | flac | pcm (24 kHz)
speed = 1.0
stream_format = ""               # "sse" for base64 audio events
extra = { }                      # e.g. { sample_rate = 24000 } (8000 - 48000)
timeout = 60
""",
    ),
    _preset(
        "localai",
        "LocalAI, OpenAI-compatible /v1/audio/speech, port 8080",
        "mudler/LocalAI core/schema/localai.go (TTSRequest),"
        " core/http/endpoints/localai/tts.go, pkg/utils/ffmpeg.go, gallery/index.yaml",
        "v4.9.0+22, master 82c191a (2026-08-22)",
        "wav mp3 opus aac flac",
        """
# LocalAI: `model` names an installed TTS model, e.g. a Piper voice from the
# gallery: local-ai models install voice-en-us-amy-low (the AIO images that
# shipped "tts-1" are gone). voice = "" uses the model's own voice. No
# voice-list endpoint. pcm is not raw: it answers WAV.
[[services]]
name = "localai"
type = "openai"
url = "http://127.0.0.1:8080/v1"
api_key = ""                     # "$LOCALAI_API_KEY" if LocalAI runs with API_KEY
model = "voice-en-us-amy-low"
voice = ""
format = "wav"                   # wav | mp3 | opus | aac | flac (ffmpeg converts)
speed = 1.0                      # 0.25 - 4.0; ignored by backends without a rate
extra = { }                      # e.g. { language = "en", stream = true, params = { } }
timeout = 120
""",
    ),
    _preset(
        "chatterbox",
        "Chatterbox-TTS-Server, OpenAI-compatible route, port 8004",
        "devnen/Chatterbox-TTS-Server server.py (OpenAISpeechRequest,"
        " /v1/audio/speech, /v1/audio/voices), config.yaml",
        "v1.0.0+76, main 68213e7 (2026-04-02)",
        "wav mp3 opus",
        """
# Chatterbox-TTS-Server, OpenAI route. `voice` is a file in the server's
# voices/ (or reference_audio/) folder; `tts-tui voices` reads GET
# /v1/audio/voices. Other settings come from the server's config.yaml; the
# chatterbox-native preset sets them per request.
[[services]]
name = "chatterbox"
type = "openai"
url = "http://127.0.0.1:8004/v1"
api_key = ""
model = "chatterbox"             # required by the route, not used
voice = "Emily.wav"
format = "wav"                   # wav | mp3 | opus
speed = 1.0
extra = { }                      # e.g. { seed = 42 }
timeout = 180
""",
    ),
    _preset(
        "chatterbox-native",
        "Chatterbox-TTS-Server native POST /tts (exaggeration, cfg_weight), port 8004",
        "devnen/Chatterbox-TTS-Server models.py (CustomTTSRequest),"
        " server.py (/tts, /get_predefined_voices), utils.py",
        "v1.0.0+76, main 68213e7 (2026-04-02)",
        "wav mp3 opus",
        """
# Chatterbox-TTS-Server's own API with its generation knobs in [services.params].
# `tts-tui voices` reads GET /get_predefined_voices.
[[services]]
name = "chatterbox-native"
type = "http"
method = "POST"
url = "http://127.0.0.1:8004/tts"
body = '''
{"text": "{{ text }}", "voice_mode": "predefined", "predefined_voice_id": "{{ voice }}",
 "output_format": "{{ format }}", "split_text": true, "chunk_size": 120,
 "temperature": {{ temperature }}, "exaggeration": {{ exaggeration }},
 "cfg_weight": {{ cfg_weight }}, "speed_factor": {{ speed }}, "language": "{{ language }}"}
'''
voice = "Emily.wav"
format = "wav"                   # wav | mp3 | opus
speed = 1.0                      # speed_factor, 0.25 - 4.0
content_type = "audio/wav"
response = "body"
timeout = 180
[services.params]
temperature = 0.8                # 0.0 - 1.5
exaggeration = 0.5               # 0.25 - 2.0
cfg_weight = 0.5                 # 0.2 - 1.0
language = "en"
[services.voices]
url = "http://127.0.0.1:8004/get_predefined_voices"
path = ""
label = "{{ display_name }}"
value = "{{ filename }}"
""",
    ),
    _preset(
        "alltalk",
        "AllTalk TTS v2, OpenAI-compatible route, port 7851",
        "erew123/alltalk_tts tts_server.py (OpenAIInput, /v1/audio/speech,"
        " transcode_for_openai), confignew.json",
        "v2, branch alltalkbeta 7a59e9c (2025-02-27)",
        "wav mp3 opus aac flac",
        """
# AllTalk v2 OpenAI route. Only the six OpenAI voice names work (another
# gets a bare HTTP 500): map each to an AllTalk voice in the Gradio UI (TTS
# Engine Settings > OpenAI Voice Mappings). No language field: it is
# detected. AllTalk's own /api/tts-generate takes form fields, not JSON; see
# alltalk-stream instead.
[[services]]
name = "alltalk"
type = "openai"
url = "http://127.0.0.1:7851/v1"
api_key = ""
model = "tts-1"                  # required, ignored
voice = "nova"                   # alloy echo fable nova onyx shimmer
format = "wav"                   # wav | mp3 | opus | aac | flac
speed = 1.0                      # 0.25 - 4.0
timeout = 120
""",
    ),
    _preset(
        "alltalk-stream",
        "AllTalk native streaming GET /api/tts-generate-streaming, port 7851",
        "erew123/alltalk_tts tts_server.py (/api/tts-generate-streaming, /api/voices)",
        "v2, branch alltalkbeta 7a59e9c (2025-02-27)",
        "wav",
        """
# AllTalk's streaming API: a GET with query parameters (all four required),
# WAV streamed back. Needs an engine that streams (XTTS). `voice` is a voice
# file name; `tts-tui voices` reads GET /api/voices. language may be "auto".
[[services]]
name = "alltalk-stream"
type = "http"
method = "GET"
url = "http://127.0.0.1:7851/api/tts-generate-streaming"
query = { text = "{{ text }}", voice = "{{ voice }}", language = "{{ language }}", output_file = "stream_output" }
voice = "female_01.wav"
content_type = "audio/wav"
response = "body"
timeout = 120
[services.params]
language = "en"
[services.voices]
url = "http://127.0.0.1:7851/api/voices"
path = "voices"
""",
    ),
    _preset(
        "xtts-api-server",
        "xtts-api-server (XTTS v2), POST /tts_to_audio/, port 8020",
        "daswer123/xtts-api-server xtts_api_server/server.py (SynthesisRequest),"
        " tts_funcs.py (get_speakers_special, supported_languages), __main__.py",
        "0.9.0+4, main 5e8bc93 (2024-07-22)",
        "wav",
        """
# xtts-api-server: python -m xtts_api_server (port 8020). `voice` is a .wav
# name without extension from the speakers/ folder (put one there first,
# e.g. the repository's example/female.wav); `tts-tui voices` reads GET
# /speakers. language: ar cs de en es fr hi hu it ja ko nl pl pt ru tr zh-cn.
[[services]]
name = "xtts-api-server"
type = "http"
method = "POST"
url = "http://127.0.0.1:8020/tts_to_audio/"
body = '''
{"text": "{{ text }}", "speaker_wav": "{{ voice }}", "language": "{{ language }}"}
'''
voice = "female"
content_type = "audio/wav"
response = "body"
timeout = 120
[services.params]
language = "en"
[services.voices]
url = "http://127.0.0.1:8020/speakers"
path = ""
label = "{{ name }}"
value = "{{ voice_id }}"
""",
    ),
    _preset(
        "opentts",
        "OpenTTS (espeak, larynx, marytts...), GET /api/tts, port 5500",
        "synesthesiam/opentts app.py (/api/tts, /api/voices)",
        "v2.1+11, master 60df711 (2023-06-19)",
        "wav",
        """
# OpenTTS: docker run -p 5500:5500 synesthesiam/opentts:en
# `voice` is "tts:voice", e.g. "espeak:en", "larynx:harvard-glow_tts";
# `tts-tui voices` reads GET /api/voices (an object keyed by voice).
[[services]]
name = "opentts"
type = "http"
method = "GET"
url = "http://127.0.0.1:5500/api/tts"
query = { voice = "{{ voice }}", text = "{{ text }}" }
voice = "espeak:en"
content_type = "audio/wav"
response = "body"
timeout = 60
[services.voices]
url = "http://127.0.0.1:5500/api/voices"
path = ""
label = "{{ key }} ({{ name }})"
value = "{{ key }}"
""",
    ),
    _preset(
        "piper",
        "Piper HTTP server (piper-tts >= 1.5), POST /synthesize with JSON, port 5000",
        "OHF-Voice/piper1-gpl src/piper/http_server.py, docs/API_HTTP.md",
        "v1.7.0, main b275826 (2026-08-22)",
        "wav",
        """
# Piper: python3 -m piper.http_server -m en_US-lessac-medium (port 5000).
# The body must go as JSON (a form-encoded one answers 500); / is a web page.
# piper-tts 1.3 and 1.4 took this body at POST / instead: set url to
# "http://127.0.0.1:5000/". rhasspy/piper's older server: piper-legacy.
# `voice` is any downloaded voice; `tts-tui voices` reads GET /voices.
# Speed is length_scale: below 1 is faster, above 1 slower. Also accepted:
# speaker, speaker_id, noise_scale, noise_w_scale.
[[services]]
name = "piper"
type = "http"
method = "POST"
url = "http://127.0.0.1:5000/synthesize"
headers = { Content-Type = "application/json" }
body = '''
{"text": "{{ text }}", "voice": "{{ voice }}", "length_scale": {{ length_scale }}}
'''
voice = "en_US-lessac-medium"
content_type = "audio/wav"       # Flask labels the WAV text/html; the bytes decide
response = "body"
timeout = 60
[services.params]
length_scale = 1.0
[services.voices]
url = "http://127.0.0.1:5000/voices"
path = ""
label = "{{ key }}"
value = "{{ key }}"
""",
    ),
    _preset(
        "piper-legacy",
        "rhasspy/piper's HTTP server (before piper-tts 1.3), POST / with the text, port 5000",
        "rhasspy/piper src/python_run/piper/http_server.py",
        "2023.11.14-2+42, master 73c04d8 (2025-08-26; archived)",
        "wav",
        """
# rhasspy/piper's python3 -m piper.http_server -m MODEL (port 5000): one
# voice, chosen when the server starts; POST / takes the text itself as the
# body (GET /?text= works too). No voice list, no speed per request.
[[services]]
name = "piper-legacy"
type = "http"
method = "POST"
url = "http://127.0.0.1:5000/"
headers = { Content-Type = "text/plain; charset=utf-8" }
body = "{{ text }}"
voice = ""
content_type = "audio/wav"
response = "body"
timeout = 60
""",
    ),
    _preset(
        "elevenlabs",
        "ElevenLabs (hosted), key in $ELEVENLABS_API_KEY",
        "elevenlabs/elevenlabs-python src/elevenlabs/text_to_speech/raw_client.py,"
        " text_to_speech/types/text_to_speech_convert_request_output_format.py,"
        " types/voice_settings.py, voices/raw_client.py",
        "v2.59.0, main 54e5899 (2026-07-23)",
        "mp3",
        """
# ElevenLabs. `voice` is a voice_id; `tts-tui voices` reads GET /v1/voices.
# output_format: mp3_44100_128, opus_48000_64, wav_24000, or pcm_24000 with
# pcm = { rate = 24000 } to play while it streams (set format to match).
[[services]]
name = "elevenlabs"
type = "http"
method = "POST"
url = "https://api.elevenlabs.io/v1/text-to-speech/{{ voice }}"
headers = { xi-api-key = "$ELEVENLABS_API_KEY" }
query = { output_format = "mp3_44100_128" }
body = '''
{"text": "{{ text }}", "model_id": "{{ model }}",
 "voice_settings": {"stability": {{ stability }}, "similarity_boost": {{ similarity_boost }}, "speed": {{ speed }}}}
'''
model = "eleven_multilingual_v2"  # or "eleven_flash_v2_5", "eleven_v3"
voice = "JBFqnCBsd6RMkjVDRZzb"
format = "mp3"
content_type = "audio/mpeg"
response = "body"
timeout = 60
[services.params]
stability = 0.5
similarity_boost = 0.75
[services.voices]
url = "https://api.elevenlabs.io/v1/voices"
path = "voices"
label = "{{ name }}"
value = "{{ voice_id }}"
""",
    ),
    _preset(
        "openai-edge-tts",
        "openai-edge-tts (Microsoft Edge voices), OpenAI-compatible, port 5050",
        "travisvn/openai-edge-tts app/server.py, app/tts_handler.py, app/utils.py, app/config.py",
        "v2.0.0+9, main edaed2a (2025-07-01)",
        "mp3 wav opus aac flac",
        """
# openai-edge-tts: Edge's online voices behind an OpenAI-style API. The server
# wants its API_KEY as a bearer token (its default is "your_api_key_here"):
# export OPENAI_EDGE_TTS_API_KEY. `voice` is an Edge voice (en-US-AvaNeural)
# or an OpenAI name it maps; `tts-tui voices` lists those names (GET
# /v1/audio/voices), GET /v1/voices every Edge voice of a language.
[[services]]
name = "openai-edge-tts"
type = "openai"
url = "http://127.0.0.1:5050/v1"
api_key = "$OPENAI_EDGE_TTS_API_KEY"
model = "tts-1"                  # ignored
voice = "en-US-AvaNeural"
format = "mp3"                   # mp3 | wav | opus | aac | flac (all but mp3 need ffmpeg)
speed = 1.0
timeout = 60
""",
    ),
    _preset(
        "generic-http",
        "any JSON TTS API (Voxta-style body template); as written, `tts-tui serve` on port 8000",
        "tts-tui tts_tui/server/handler.py, speech_request.py (POST /api/tts, GET /v1/audio/voices)",
        "this version of tts-tui",
        "wav",
        """
# A hand-written JSON API, like Voxta's "Text To Speech HTTP API" service.
# As written it talks to `tts-tui serve` (port 8000): POST /api/tts
# {"text", "voice", "speed"} -> WAV. Change url, body, response and
# [services.voices] to fit your server.
[[services]]
name = "generic-http"
type = "http"
method = "POST"
url = "http://127.0.0.1:8000/api/tts"
headers = { }                    # e.g. { Authorization = "Bearer $MY_TTS_KEY" }
body = '''
{"text": "{{ text }}", "voice": "{{ voice }}", "speed": {{ speed }}}
'''
voice = "en-us"
content_type = "audio/wav"
response = "body"                # or "json:audio" (base64 at a key) / "url:url" (a link to fetch)
timeout = 60
[services.voices]
url = "http://127.0.0.1:8000/v1/audio/voices"
path = "voices"
label = "{{ name }}"
value = "{{ id }}"
""",
    ),
]

PRESETS: dict[str, Preset] = {preset.name: preset for preset in _PRESETS}


def preset_names() -> list[str]:
    """Every preset name, in the order `tts-tui presets` lists them."""
    return list(PRESETS)


def get_preset(name: str) -> Preset:
    """The preset called `name` (case and surrounding spaces ignored).

    Raises ConfigError naming the closest preset, if any, and listing them all.
    """
    key = name.strip().lower()
    if key in PRESETS:
        return PRESETS[key]
    names = preset_names()
    suggestion = _closest(key, names)
    hint = f"known presets: {', '.join(names)}"
    if suggestion:
        hint = f"did you mean {suggestion!r}? {hint}"
    raise ConfigError(f"no preset named {name!r}", hint=hint)


def preset_service_table(name: str) -> dict[str, Any]:
    """The preset's service as the table tomllib reads from its block (a fresh dict)."""
    return tomllib.loads(get_preset(name).block)["services"][0]


def _closest(key: str, names: list[str]) -> str | None:
    # A name the user started typing ("xtts", "kokoro") is a better guess than
    # difflib's, which scores short prefixes of long names low.
    starts = [n for n in names if key and n.startswith(key)]
    if len(starts) == 1:
        return starts[0]
    matches = difflib.get_close_matches(key, names, n=1, cutoff=0.5)
    if matches:
        return matches[0]
    contains = [n for n in names if key and key in n]
    return contains[0] if len(contains) == 1 else None
