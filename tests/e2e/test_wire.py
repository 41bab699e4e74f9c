"""Trust the wire (issue 7): the answer decides how it is read, through the CLI.

Each test points `tts-tui say --json -o OUT` at a FaultServer route that puts on
the wire what a real TTS server sends (tests/servers.py, "wire quirks"), then
checks what a user notices: how long the audio lasts, its pitch (a wrong sample
rate or byte order changes it), the saved file, and the metrics. The tone is
TONE_HZ (TONE_RIGHT_HZ on a right channel), so the pitch of the saved file says
whether the rate was right: read at the wrong rate, 440 Hz becomes 408 or 479 Hz.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile

from tests.servers import TONE_HZ, TONE_RIGHT_HZ, FaultServer, flac_total_samples

READERS = {"raw", "pcm", "sse", "ndjson", "json", "url"}

# samples per codec frame: a decoder may add up to about two frames of priming
# and padding that a pipe-written file has no header to trim
FRAME = {"mp3": 1152, "aac": 1024, "opus": 960, "vorbis": 2048, "flac": 0, "wav": 0}


@pytest.fixture(scope="module")
def fault():
    with FaultServer() as server:
        yield server


# ---- helpers -----------------------------------------------------------------------


def openai_service(url: str, **keys: str) -> str:
    """A `type = "openai"` service named "t"; `keys` are TOML values."""
    lines = ["[[services]]", 'name = "t"', 'type = "openai"', f'url = "{url}"', 'voice = "alloy"', "timeout = 20"]
    return "\n".join(lines + [f"{k} = {v}" for k, v in keys.items()]) + "\n"


def http_service(url: str, **keys: str) -> str:
    """A `type = "http"` service named "t" posting {"text": ...}; `keys` are TOML values."""
    lines = ["[[services]]", 'name = "t"', 'type = "http"', f'url = "{url}"', "timeout = 20",
             "body = '''{\"text\": \"{{ text }}\"}'''"]
    return "\n".join(lines + [f"{k} = {v}" for k, v in keys.items()]) + "\n"


class Said:
    """One `say --json -o out.wav` run: its metrics and the saved file."""

    def __init__(self, data: dict, out: Path) -> None:
        self.data = data
        self.out = out
        self.samples, self.rate = soundfile.read(str(out), dtype="float32", always_2d=True)

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def pitch(self, channel: int = 0) -> float:
        """The tone's frequency in the saved file, from its zero crossings (middle 80%)."""
        x = self.samples[:, channel]
        cut = len(x) // 10
        mid = x[cut:len(x) - cut]
        negative = np.signbit(mid)
        crossings = np.count_nonzero(negative[1:] != negative[:-1])
        return crossings / 2 / (len(mid) / self.rate)


def say(cli, write_config, tmp_path, service: str, text: str = "1.0") -> Said:
    """Run the CLI against `service`, check what holds on every answer, return the run."""
    path = write_config(service)
    out = tmp_path / "out.wav"
    run = cli("--config", str(path), "say", text, "-s", "t", "--no-play", "--json", "-o", str(out))
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert "Traceback" not in run.stderr
    assert data["status"] == 200
    assert data["reader"] in READERS
    assert isinstance(data["rate"], int) and isinstance(data["channels"], int)
    assert isinstance(data["notes"], list) and all(isinstance(n, str) and "\n" not in n for n in data["notes"])
    check_timing_order(data)
    said = Said(data, out)
    # what --json reports is what was saved
    assert said.rate == data["rate"] and said.samples.shape[1] == data["channels"]
    assert math.isclose(said.seconds, data["audio_s"], abs_tol=0.01)
    return said


def check_timing_order(data: dict) -> None:
    """connect <= ttfb <= ttfa <= total; a format that can only decode after the last
    byte says so, and then its first audio comes after the last byte, not before."""
    connect, ttfb, ttfa, total = (data[k] for k in ("connect_ms", "ttfb_ms", "ttfa_ms", "total_ms"))
    assert 0 <= connect <= ttfb <= ttfa, data
    assert isinstance(data["first_audio_after_body"], bool)
    if data["first_audio_after_body"]:
        assert ttfa >= total, data
    else:
        assert ttfa <= total, data


def near(value: float, expected: float, rel: float = 0.02) -> bool:
    return math.isclose(value, expected, rel_tol=rel)


def frames_s(codec: str, rate: int, n: float = 2.0) -> float:
    """`n` codec frames in seconds, plus a millisecond of rounding."""
    return n * FRAME[codec] / rate + 0.001


# ---- the fault server really sends what those servers send ------------------------------------


def test_the_quirk_routes_send_what_a_pipe_gets(fault):
    """Guards the fixtures: lengths unknown, as ffmpeg leaves them when writing to a pipe."""
    with httpx.Client() as client:
        flac = client.get(fault.url("/wire/piped", codec="flac")).content
        mp3 = client.get(fault.url("/wire/piped", codec="mp3")).content
        wav = client.get(fault.url("/wire/piped", codec="wav")).content
        l16 = client.get(fault.url("/wire/pcm", rate=16000, endian="be", seconds=0.01)).content
        pcm = client.post(fault.url("/openedai/audio/speech"), json={"input": "0.5", "response_format": "pcm"})
    assert flac[:4] == b"fLaC" and flac_total_samples(flac) == 0
    # no Xing/Info frame: nothing says how long the mp3 is
    assert mp3[:3] == b"ID3" and b"Xing" not in mp3[:4096] and b"Info" not in mp3[:4096]
    assert wav[4:8] == b"\xff\xff\xff\xff" and b"LIST" in wav[:100]
    assert np.frombuffer(l16, ">i2")[1] > 0 and np.frombuffer(l16, "<i2")[1] < 0  # big-endian on the wire
    assert pcm.headers["content-type"] == "audio/pcm;rate=22050" and len(pcm.content) == 22050


# ---- 1. raw PCM: the Content-Type's rate and layout ------------------------------------------------


def test_pcm_rate_comes_from_the_content_type(cli, write_config, tmp_path, fault):
    """openedai-speech answers format "pcm" with audio/pcm;rate=22050: 2 s must stay 2 s."""
    said = say(cli, write_config, tmp_path, openai_service(f"{fault.base}/openedai", format='"pcm"'), "2.0")
    assert said.data["reader"] == "pcm"
    assert said.data["rate"] == 22050 and said.data["channels"] == 1
    assert math.isclose(said.data["audio_s"], 2.0, abs_tol=0.001)
    assert near(said.pitch(), TONE_HZ)
    # the same text as WAV lasts as long (the issue saw 2.39 s against 2.72 s)
    as_wav = say(cli, write_config, tmp_path, openai_service(f"{fault.base}/openedai", format='"wav"'), "2.0")
    assert as_wav.data["format"] == "wav"
    assert math.isclose(as_wav.data["audio_s"], said.data["audio_s"], abs_tol=0.001)


def test_a_pcm_block_wins_over_the_content_type_and_the_exchange_says_so(cli, write_config, tmp_path, fault):
    service = openai_service(f"{fault.base}/openedai", format='"pcm"', pcm="{ rate = 24000 }")
    said = say(cli, write_config, tmp_path, service, "2.0")
    assert said.data["reader"] == "pcm" and said.data["rate"] == 24000
    # the user's rate is obeyed, so 44100 samples last 1.84 s and sound higher
    assert math.isclose(said.data["audio_s"], 2.0 * 22050 / 24000, abs_tol=0.001)
    assert near(said.pitch(), TONE_HZ * 24000 / 22050)
    assert any("22050" in note for note in said.data["notes"]), said.data["notes"]


def test_l16_is_big_endian_at_its_rate(cli, write_config, tmp_path, fault):
    """RFC 2586: audio/L16 is big-endian; read little-endian the tone becomes noise."""
    url = fault.url("/wire/pcm", type="audio/L16; rate=16000; channels=1", rate=16000, endian="be", seconds=1.5)
    said = say(cli, write_config, tmp_path, http_service(url))
    assert said.data["reader"] == "pcm" and said.data["rate"] == 16000 and said.data["channels"] == 1
    assert math.isclose(said.data["audio_s"], 1.5, abs_tol=0.001)
    assert near(said.pitch(), TONE_HZ)


def test_pcm_s16le_without_a_rate_is_read_at_24khz(cli, write_config, tmp_path, fault):
    url = fault.url("/wire/pcm", type="audio/pcm_s16le", rate=24000, seconds=1.0)
    said = say(cli, write_config, tmp_path, http_service(url))
    assert said.data["reader"] == "pcm" and said.data["rate"] == 24000
    assert math.isclose(said.data["audio_s"], 1.0, abs_tol=0.001)
    assert near(said.pitch(), TONE_HZ)


def test_stereo_pcm_keeps_both_channels(cli, write_config, tmp_path, fault):
    url = fault.url("/wire/pcm", type="audio/pcm;rate=24000;channels=2", rate=24000, channels=2, seconds=1.5)
    said = say(cli, write_config, tmp_path, http_service(url))
    assert said.data["reader"] == "pcm" and said.data["channels"] == 2 and said.data["rate"] == 24000
    assert math.isclose(said.data["audio_s"], 1.5, abs_tol=0.001)  # read as mono it would last 3 s
    assert near(said.pitch(0), TONE_HZ) and near(said.pitch(1), TONE_RIGHT_HZ)


def test_wav_labelled_pcm_is_read_as_wav(cli, write_config, tmp_path, fault):
    """The bytes win: a RIFF header is a WAV whatever the label, and the [pcm] block
    (only for raw PCM) does not change its rate."""
    service = http_service(fault.url("/wire/wav-as-pcm", seconds=1.0, rate=22050),
                           content_type='"audio/pcm"', pcm="{ rate = 24000 }")
    said = say(cli, write_config, tmp_path, service)
    assert said.data["format"] == "wav" and said.data["reader"] == "raw"
    assert said.data["rate"] == 22050
    assert math.isclose(said.data["audio_s"], 1.0, abs_tol=0.001)
    assert near(said.pitch(), TONE_HZ)


def test_piper_wav_labelled_html_is_audio(cli, write_config, tmp_path, fault):
    """piper's Flask server sends its WAV as text/html; charset=utf-8."""
    said = say(cli, write_config, tmp_path, http_service(fault.url("/piper/synthesize", seconds=1.2)))
    assert said.data["format"] == "wav" and said.data["rate"] == 22050
    assert math.isclose(said.data["audio_s"], 1.2, abs_tol=0.001)
    assert near(said.pitch(), TONE_HZ)


# ---- 2. SSE whatever the config says ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pcm", "wav"])
def test_sse_asked_for_in_extra_is_read_as_sse(cli, write_config, tmp_path, fault, fmt):
    """Open WebUI users put stream_format in `extra`; speaches then answers SSE. Read as
    PCM it was 4 s of noise for 3 s of speech; with format "wav" it failed as not audio."""
    service = openai_service(f"{fault.base}/speaches", format=f'"{fmt}"', extra='{ stream_format = "sse" }')
    said = say(cli, write_config, tmp_path, service, "3.0")
    assert said.data["reader"] == "sse" and said.data["rate"] == 24000
    assert math.isclose(said.data["audio_s"], 3.0, abs_tol=0.001)
    assert near(said.pitch(), TONE_HZ)


@pytest.mark.parametrize("shape", ["openai", "events", "speaches", "voxtral"])
def test_sse_answers_are_read_as_sse_whatever_the_config_says(cli, write_config, tmp_path, fault, shape):
    """A service that expects a WAV body gets SSE: OpenAI's data-only events cut across
    HTTP chunks, named events, speaches', and Mistral's {"audio_data"} holding mp3."""
    url = fault.url("/wire/sse", shape=shape, seconds=2.0, count=8)
    said = say(cli, write_config, tmp_path, http_service(url, content_type='"audio/wav"'))
    assert said.data["reader"] == "sse" and said.data["rate"] == 24000 and said.data["channels"] == 1
    slack = frames_s("mp3", 24000) if shape == "voxtral" else 0.001
    assert abs(said.data["audio_s"] - 2.0) <= slack, said.data["audio_s"]
    assert near(said.pitch(), TONE_HZ)


# ---- NDJSON ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ctype", ["application/x-ndjson", "application/json"])
def test_ndjson_lines_of_base64_audio(cli, write_config, tmp_path, fault, ctype):
    """Kokoro-FastAPI's captioned speech: one {"audio", "audio_format", "timestamps"}
    object a line; Kokoro labels the stream application/json."""
    said = say(cli, write_config, tmp_path, http_service(fault.url("/wire/ndjson", seconds=1.5, type=ctype)))
    assert said.data["reader"] == "ndjson" and said.data["rate"] == 24000
    assert math.isclose(said.data["audio_s"], 1.5, abs_tol=0.001)
    assert near(said.pitch(), TONE_HZ)


# ---- 3. compressed audio written to a pipe ---------------------------------------------------------


@pytest.mark.parametrize("codec", ["flac", "opus", "mp3", "aac", "wav"])
def test_openedai_audio_from_a_pipe_decodes_whole(cli, write_config, tmp_path, fault, codec):
    """openedai-speech pipes piper through ffmpeg: FLAC with total-samples 0, mp3 with
    no Xing header, Ogg and ADTS with no length, WAV with 0xFFFFFFFF sizes."""
    service = openai_service(f"{fault.base}/openedai", format=f'"{codec}"')
    said = say(cli, write_config, tmp_path, service, "2.0")
    assert said.data["format"] == codec and said.data["reader"] == "raw"
    assert said.data["channels"] == 1
    assert abs(said.data["audio_s"] - 2.0) <= frames_s(codec, 48000 if codec == "opus" else 22050)
    assert near(said.pitch(), TONE_HZ)


def test_ogg_vorbis_from_a_pipe_decodes_whole(cli, write_config, tmp_path, fault):
    """Ogg granule positions written live: libsndfile reports 1984 samples for this 1 s file."""
    said = say(cli, write_config, tmp_path,
               http_service(fault.url("/wire/piped", codec="vorbis", seconds=1.0), content_type='"audio/ogg"'))
    assert said.data["format"] in ("ogg", "vorbis") and said.data["channels"] == 2
    assert abs(said.data["audio_s"] - 1.0) <= frames_s("vorbis", 24000)
    assert near(said.pitch(0), TONE_HZ) and near(said.pitch(1), TONE_RIGHT_HZ)


def test_an_answer_that_disagrees_with_the_config_is_read_and_noted(cli, write_config, tmp_path, fault):
    """The service asks for WAV; the server sends mp3: it plays, and the exchange says so."""
    service = http_service(fault.url("/wire/piped", codec="mp3", seconds=1.0, type="audio/mpeg"),
                           content_type='"audio/wav"')
    said = say(cli, write_config, tmp_path, service)
    assert said.data["format"] == "mp3"
    assert abs(said.data["audio_s"] - 1.0) <= frames_s("mp3", 24000)
    assert any("mp3" in note for note in said.data["notes"]), said.data["notes"]


# ---- 4. first audio while the answer still arrives ---------------------------------------------------


def test_paced_mp3_plays_before_the_answer_ends(cli, write_config, tmp_path, fault):
    """3 s of mp3 sent at real time: the first audio must come while bytes still arrive,
    so long before the last byte (causality, not speed: the answer takes 3 s by design)."""
    said = say(cli, write_config, tmp_path, http_service(fault.url("/wire/paced-mp3", seconds=3.0, interval_ms=20),
                                                         content_type='"audio/mpeg"'))
    data = said.data
    assert data["format"] == "mp3" and data["first_audio_after_body"] is False
    assert data["total_ms"] >= 2500  # the server really paced it
    assert data["ttfa_ms"] < data["total_ms"] / 2, data
    assert abs(data["audio_s"] - 3.0) <= frames_s("mp3", 24000)
    assert near(said.pitch(), TONE_HZ)
