"""Replicas of real TTS servers' routes, for checking presets end to end.

Each class answers like one server's route code does (read at the version the
preset names), on raw sockets like every FaultServer: the same method and path
checks, the same body parsing and its failures, the same status codes and the
same Content-Type on the audio. The audio is a tone whose length follows the
request (the text's word count, or a speed field), so a test can tell from the
saved file that the request said what it meant.

    with PiperServer() as srv:
        ...  # point the piper preset at srv.base

They record requests in `srv.requests`, as FaultServer does. This module only
adds classes; tests/servers.py is left as it is.
"""

from __future__ import annotations

import json
import math
import socket
from dataclasses import dataclass, field
from typing import Any

from tests.servers import FaultServer, RecordedRequest, _head, make_mp3, make_wav

WORD_S = 0.1  # seconds of tone per word of text: the saved audio shows the text arrived


def words_seconds(text: str) -> float:
    """How long the replicas' answer to `text` lasts: WORD_S per word."""
    return WORD_S * len(text.split())


def _send(sock: socket.socket, status: int, ctype: str, body: bytes,
          extra: list[tuple[str, str]] | None = None) -> None:
    sock.sendall(_head(status, ctype, length=len(body), extra=extra) + body)


# ---- Flask (Werkzeug), as piper's servers run it ------------------------------------

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
_HTML = "text/html; charset=utf-8"


def _werkzeug_page(status: int, title: str, text: str) -> bytes:
    """Werkzeug's own error page, as Flask sends it for an abort or an exception."""
    return (f"<!doctype html>\n<html lang=en>\n<title>{status} {title}</title>\n"
            f"<h1>{title}</h1>\n<p>{text}</p>\n").encode()


def _flask_data(req: RecordedRequest) -> bytes:
    """Flask's `request.data`: the raw body, except for form content types, whose
    body Werkzeug parses into `request.form` and leaves `data` empty."""
    ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
    return b"" if ctype in _FORM_TYPES else req.body


def _flask_500(sock: socket.socket) -> None:
    _send(sock, 500, _HTML, _werkzeug_page(
        500, "Internal Server Error",
        "The server encountered an internal error and was unable to complete your request. "
        "Either the server is overloaded or there is an error in the application."))


def _flask_405(sock: socket.socket, allow: str) -> None:
    _send(sock, 405, _HTML, _werkzeug_page(405, "Method Not Allowed",
                                           "The method is not allowed for the requested URL."),
          extra=[("Allow", allow)])


def _flask_404(sock: socket.socket) -> None:
    _send(sock, 404, _HTML, _werkzeug_page(
        404, "Not Found", "The requested URL was not found on the server. If you entered the URL "
        "manually please check your spelling and try again."))


def _flask_wav(sock: socket.socket, seconds: float) -> None:
    # A Flask view returning bytes gets Flask's default mimetype: the WAV goes
    # out labelled as an HTML page.
    _send(sock, 200, _HTML, make_wav(seconds))


PIPER_VOICES = {
    "en_US-lessac-medium": {"audio": {"sample_rate": 22050, "quality": "medium"},
                            "espeak": {"voice": "en-us"}, "num_speakers": 1},
    "de_DE-thorsten-high": {"audio": {"sample_rate": 22050, "quality": "high"},
                            "espeak": {"voice": "de"}, "num_speakers": 1},
}


class PiperServer(FaultServer):
    """OHF-Voice/piper1-gpl src/piper/http_server.py, v1.5 to v1.7:

      GET  /            the web page (POST answers 405)
      POST /synthesize  `json.loads(request.data)`: a JSON body, else 500 (a
                        form-encoded body leaves request.data empty); empty text
                        500; answers a WAV labelled text/html. The tone lasts
                        words_seconds(text) * length_scale.
      GET  /voices      {voice name: its .onnx.json config}
    """

    def _route(self, req: RecordedRequest, sock: socket.socket) -> bool:
        if req.path == "/":
            if req.method in ("GET", "HEAD"):
                _send(sock, 200, _HTML, b"<!doctype html><title>Piper</title><h1>Piper</h1>")
            else:
                _flask_405(sock, "GET, HEAD, OPTIONS")
        elif req.path == "/synthesize":
            if req.method != "POST":
                _flask_405(sock, "OPTIONS, POST")
            else:
                self._synthesize(req, sock)
        elif req.path == "/voices" and req.method == "GET":
            _send(sock, 200, "application/json", json.dumps(PIPER_VOICES).encode())
        else:
            _flask_404(sock)
        return True

    def _synthesize(self, req: RecordedRequest, sock: socket.socket) -> None:
        try:
            data = json.loads(_flask_data(req))
            text = data.get("text", "").strip()
            length_scale = float(data.get("length_scale", 1.0))
        except (ValueError, AttributeError, TypeError):
            _flask_500(sock)
            return
        if not text or not math.isfinite(length_scale) or length_scale <= 0:
            _flask_500(sock)
            return
        _flask_wav(sock, words_seconds(text) * length_scale)


class LegacyPiperServer(FaultServer):
    """rhasspy/piper src/python_run/piper/http_server.py (2023.11.14-2):

      POST /   the body is the text (`request.data.decode()`; a form-encoded body
               leaves it empty: 500)
      GET  /   the text is ?text=
    Empty text answers 500; audio is a WAV labelled text/html lasting
    words_seconds(text). There is no other route.
    """

    def _route(self, req: RecordedRequest, sock: socket.socket) -> bool:
        if req.path != "/":
            _flask_404(sock)
            return True
        if req.method == "POST":
            try:
                text = _flask_data(req).decode("utf-8").strip()
            except UnicodeDecodeError:
                text = ""
        elif req.method == "GET":
            text = req.query.get("text", "").strip()
        else:
            _flask_405(sock, "GET, HEAD, OPTIONS, POST")
            return True
        if not text:
            _flask_500(sock)
        else:
            _flask_wav(sock, words_seconds(text))
        return True


# ---- FastAPI (pydantic), as xtts-api-server, Chatterbox and AllTalk run it ---------------


def _fastapi_422(sock: socket.socket, where: str, errors: list[tuple[str, str, str]]) -> None:
    """FastAPI's validation error: {"detail": [{"type", "loc", "msg"}, ...]}."""
    detail = [{"type": kind, "loc": [where, name], "msg": msg} for name, kind, msg in errors]
    _send(sock, 422, "application/json", json.dumps({"detail": detail}).encode())


def _fastapi_detail(sock: socket.socket, status: int, detail: str) -> None:
    _send(sock, status, "application/json", json.dumps({"detail": detail}).encode())


def _fastapi_404(sock: socket.socket) -> None:
    _fastapi_detail(sock, 404, "Not Found")


def _json_body(req: RecordedRequest, sock: socket.socket) -> dict[str, Any] | None:
    """The JSON object FastAPI would validate, or None after answering its 422."""
    try:
        body = json.loads(req.body)
    except ValueError:
        _fastapi_422(sock, "body", [("0", "json_invalid", "JSON decode error")])
        return None
    if not isinstance(body, dict):
        _fastapi_422(sock, "body", [("0", "model_attributes_type", "Input should be a valid dictionary")])
        return None
    return body


def _check_fields(body: dict[str, Any], fields: dict[str, tuple[type | tuple[type, ...], bool]]) -> list[tuple[str, str, str]]:
    """pydantic's verdict on `body` for `fields` {name: (types, required)}: missing
    required fields and values of the wrong JSON type (bool is not a number)."""
    errors = []
    for name, (types, required) in fields.items():
        if name not in body:
            if required:
                errors.append((name, "missing", "Field required"))
            continue
        value = body[name]
        if value is None and not required:
            continue
        if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
            errors.append((name, "type_error", "Input should be a valid value"))
        elif not isinstance(value, types):
            errors.append((name, "type_error", "Input should be a valid value"))
    return errors


XTTS_LANGUAGES = {"ar", "pt", "zh-cn", "cs", "nl", "en", "fr", "de", "it", "pl", "ru", "es",
                  "tr", "ja", "ko", "hu", "hi"}
XTTS_SPEAKERS = ["female", "male", "calm_female"]


class XttsApiServer(FaultServer):
    """daswer123/xtts-api-server xtts_api_server/server.py (0.9.0):

      POST /tts_to_audio/  SynthesisRequest {text, speaker_wav, language}, all
                           required strings (422 otherwise); a language outside
                           supported_languages 400; an unknown speaker 500.
                           Answers audio/wav lasting words_seconds(text).
      GET  /speakers       [{"name", "voice_id", "preview_url"}]
    """

    def _route(self, req: RecordedRequest, sock: socket.socket) -> bool:
        if req.path == "/tts_to_audio/" and req.method == "POST":
            body = _json_body(req, sock)
            if body is None:
                return True
            errors = _check_fields(body, {"text": (str, True), "speaker_wav": (str, True), "language": (str, True)})
            if errors:
                _fastapi_422(sock, "body", errors)
            elif body["language"].lower() not in XTTS_LANGUAGES:
                _fastapi_detail(sock, 400, "Language code sent is either unsupported or misspelled.")
            elif body["speaker_wav"].removesuffix(".wav") not in XTTS_SPEAKERS:
                _fastapi_detail(sock, 500, f"Error: Speaker {body['speaker_wav']} not found.")
            else:
                _send(sock, 200, "audio/wav", make_wav(words_seconds(body["text"])))
        elif req.path == "/speakers" and req.method == "GET":
            doc = [{"name": s, "voice_id": s, "preview_url": f"{self.base}/sample/{s}.wav"} for s in XTTS_SPEAKERS]
            _send(sock, 200, "application/json", json.dumps(doc).encode())
        else:
            _fastapi_404(sock)
        return True


CHATTERBOX_VOICES = [("Emily.wav", "Emily"), ("Adrian.wav", "Adrian")]


class ChatterboxServer(FaultServer):
    """devnen/Chatterbox-TTS-Server server.py and models.py (main, 2026-04-02):

      POST /tts                     CustomTTSRequest: text (required), voice_mode
                                    predefined|clone, output_format wav|opus|mp3,
                                    chunk_size 50 - 500, speed_factor 0.25 - 4,
                                    numbers where numbers go (422 otherwise); an
                                    unknown predefined voice 404. Answers
                                    audio/{output_format} lasting
                                    words_seconds(text) / speed_factor (only wav
                                    is real audio here).
      GET  /get_predefined_voices   [{"display_name", "filename"}]
    """

    def _route(self, req: RecordedRequest, sock: socket.socket) -> bool:
        if req.path == "/tts" and req.method == "POST":
            self._tts(req, sock)
        elif req.path == "/get_predefined_voices" and req.method == "GET":
            doc = [{"display_name": n, "filename": f} for f, n in CHATTERBOX_VOICES]
            _send(sock, 200, "application/json", json.dumps(doc).encode())
        else:
            _fastapi_404(sock)
        return True

    def _tts(self, req: RecordedRequest, sock: socket.socket) -> None:
        body = _json_body(req, sock)
        if body is None:
            return
        number = (int, float)
        errors = _check_fields(body, {
            "text": (str, True), "voice_mode": (str, False), "predefined_voice_id": (str, False),
            "output_format": (str, False), "split_text": (bool, False), "chunk_size": (int, False),
            "temperature": (number, False), "exaggeration": (number, False),
            "cfg_weight": (number, False), "seed": (int, False), "speed_factor": (number, False),
            "language": (str, False)})
        if not errors and body.get("output_format", "wav") not in ("wav", "opus", "mp3"):
            errors.append(("output_format", "literal_error", "Input should be 'wav', 'opus' or 'mp3'"))
        if not errors and body.get("voice_mode", "predefined") not in ("predefined", "clone"):
            errors.append(("voice_mode", "literal_error", "Input should be 'predefined' or 'clone'"))
        if not errors and not 50 <= body.get("chunk_size", 120) <= 500:
            errors.append(("chunk_size", "greater_than_equal", "Input should be between 50 and 500"))
        if not errors and not body["text"]:
            errors.append(("text", "string_too_short", "String should have at least 1 character"))
        if errors:
            _fastapi_422(sock, "body", errors)
            return
        voice = body.get("predefined_voice_id")
        if body.get("voice_mode", "predefined") == "predefined" and voice not in dict(CHATTERBOX_VOICES):
            _fastapi_detail(sock, 404, f"Predefined voice file '{voice}' not found.")
            return
        speed = body.get("speed_factor") or 1.0
        fmt = body.get("output_format", "wav")
        _send(sock, 200, f"audio/{fmt}", make_wav(words_seconds(body["text"]) / speed))


ALLTALK_VOICES = ["female_01.wav", "male_01.wav"]


class AllTalkServer(FaultServer):
    """erew123/alltalk_tts tts_server.py, v2 (alltalkbeta, 2025-02-27):

      GET /api/tts-generate-streaming   text, voice, language, output_file: all
                                        required query parameters (422 otherwise);
                                        audio/wav streamed lasting words_seconds(text)
      GET /api/voices                   {"status": "success", "voices": [file names]}
    """

    def _route(self, req: RecordedRequest, sock: socket.socket) -> bool:
        if req.path == "/api/tts-generate-streaming" and req.method == "GET":
            missing = [n for n in ("text", "voice", "language", "output_file") if n not in req.query]
            if missing:
                _fastapi_422(sock, "query", [(n, "missing", "Field required") for n in missing])
                return True
            wav = make_wav(words_seconds(req.query["text"]))
            sock.sendall(_head(200, "audio/wav", chunked=True))
            for i in range(0, len(wav), 4096):
                piece = wav[i:i + 4096]
                sock.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
        elif req.path == "/api/voices" and req.method == "GET":
            _send(sock, 200, "application/json", json.dumps({"status": "success", "voices": ALLTALK_VOICES}).encode())
        else:
            _fastapi_404(sock)
        return True


# ---- Quart, as OpenTTS runs it ----------------------------------------------------------

OPENTTS_VOICES = {
    "espeak:en": {"id": "en", "name": "english", "gender": "M", "language": "en", "locale": "en",
                  "tag": None, "multispeaker": False, "speakers": None, "tts_name": "espeak"},
    "larynx:harvard-glow_tts": {"id": "harvard-glow_tts", "name": "harvard", "gender": "F",
                                "language": "en", "locale": "en-us", "tag": None,
                                "multispeaker": False, "speakers": None, "tts_name": "larynx"},
}


class OpenTtsServer(FaultServer):
    """synesthesiam/opentts app.py (v2.1):

      GET|POST /api/tts   voice from ?voice= (an assert: 500 without it); text from
                          ?text= (GET) or the body (POST), 500 when empty;
                          audio/wav lasting words_seconds(text)
      GET /api/voices     {"tts:voice": {id, name, gender, language, ...}}
    """

    def _route(self, req: RecordedRequest, sock: socket.socket) -> bool:
        if req.path == "/api/tts" and req.method in ("GET", "POST"):
            voice = req.query.get("voice", "")
            text = req.body.decode("utf-8", "replace") if req.method == "POST" else req.query.get("text", "")
            if not voice or not text:
                _send(sock, 500, "text/html; charset=utf-8", b"<h1>500 Internal Server Error</h1>")
            elif voice not in OPENTTS_VOICES:
                _send(sock, 500, "text/html; charset=utf-8", b"<h1>500 Internal Server Error</h1>")
            else:
                _send(sock, 200, "audio/wav", make_wav(words_seconds(text)))
        elif req.path == "/api/voices" and req.method == "GET":
            _send(sock, 200, "application/json", json.dumps(OPENTTS_VOICES).encode())
        else:
            _send(sock, 404, "text/html; charset=utf-8", b"<h1>404 Not Found</h1>")
        return True



# ---- OpenAI-compatible speech routes, server by server ------------------------------------


@dataclass(frozen=True)
class SpeechRoute:
    """What one server's POST /v1/audio/speech accepts, read from its route code."""

    formats: tuple[str, ...]  # response_format values answered in that format
    required: tuple[str, ...] = ("input",)
    refused_format: int = 422  # status for another response_format (0: answered as WAV)
    voices: tuple[str, ...] = ()  # when set, only these voices
    refused_voice: int = 400
    models: tuple[str, ...] = ()  # when set, only these models (400 otherwise)
    bearer: str = ""  # when set, the Authorization: Bearer token the server wants
    sample_types: dict[str, str] = field(default_factory=dict)  # Content-Type per format
    voices_doc: Any = None  # GET /v1/audio/voices answers this JSON (None: 404)


_TYPES = {"mp3": "audio/mpeg", "opus": "audio/opus", "aac": "audio/aac", "flac": "audio/flac",
          "wav": "audio/wav", "pcm": "audio/pcm"}

SPEECH_ROUTES = {
    # remsky/Kokoro-FastAPI schemas.py OpenAISpeechRequest, openai_mappings.json models
    "kokoro-fastapi": SpeechRoute(("mp3", "opus", "aac", "flac", "wav", "pcm"),
                                  models=("tts-1", "tts-1-hd", "kokoro", "gpt-4o-mini-tts"),
                                  voices_doc={"voices": [{"id": v, "name": v} for v in ("af_heart", "am_adam")]}),
    # matatonic/openedai-speech speech.py: an unknown format is a BadRequestError (400)
    "openedai-speech": SpeechRoute(("mp3", "opus", "aac", "flac", "wav", "pcm"), refused_format=400,
                                   sample_types={"opus": "audio/ogg;codec=opus", "flac": "audio/x-flac",
                                                 "pcm": "audio/pcm;rate=22050"}),
    # speaches-ai/speaches routers/speech.py CreateSpeechRequestBody
    "speaches": SpeechRoute(("pcm", "mp3", "wav", "flac", "opus", "aac"), required=("model", "input", "voice"),
                            voices_doc={"voices": [{"name": "af_heart", "language": "en-us", "gender": "female",
                                                    "id": "af_heart"}], "object": "list"}),
    # mudler/LocalAI pkg/utils/ffmpeg.go AudioConvert: anything else (pcm too) stays WAV
    "localai": SpeechRoute(("wav", "mp3", "opus", "aac", "flac"), refused_format=0),
    # devnen/Chatterbox-TTS-Server server.py OpenAISpeechRequest; voice files from voices/
    "chatterbox": SpeechRoute(("wav", "opus", "mp3"), required=("model", "input", "voice"),
                              voices=tuple(f for f, _ in CHATTERBOX_VOICES), refused_voice=404,
                              voices_doc={"status": "ok", "voices": [f for f, _ in CHATTERBOX_VOICES]}),
    # erew123/alltalk_tts tts_server.py OpenAIInput; its error path raises, so 500
    "alltalk": SpeechRoute(("wav", "mp3", "opus", "aac", "flac"), required=("model", "input", "voice"),
                           refused_format=500, voices=("alloy", "echo", "fable", "nova", "onyx", "shimmer"),
                           refused_voice=500),
    # travisvn/openai-edge-tts server.py and tts_handler.py: ffmpeg has no "pcm" muxer, 500
    "openai-edge-tts": SpeechRoute(("mp3", "wav", "opus", "aac", "flac"), refused_format=500,
                                   bearer="edge-secret", sample_types={"opus": "audio/ogg", "aac": "audio/aac"},
                                   voices_doc={"voices": [{"id": "alloy", "name": "en-US-JennyNeural"},
                                                          {"id": "nova", "name": "en-US-AriaNeural"}]}),
}


class OpenAISpeechServer(FaultServer):
    """POST /v1/audio/speech as the server named by `route` answers it (SPEECH_ROUTES),
    and GET /v1/audio/voices in that server's own shape where it has one. The audio
    is real for wav (words_seconds(input) long) and mp3; other formats are a short
    tone WAV under that format's Content-Type (what is checked is the label)."""

    def __init__(self, route: SpeechRoute) -> None:
        super().__init__()
        self.route = route

    def _route(self, req: RecordedRequest, sock: socket.socket) -> bool:
        route = self.route
        if req.path == "/v1/audio/voices" and req.method == "GET" and route.voices_doc is not None:
            _send(sock, 200, "application/json", json.dumps(route.voices_doc).encode())
        elif route.bearer and req.header("authorization") != f"Bearer {route.bearer}":
            _send(sock, 401, "application/json", b'{"error": "Missing or invalid API key"}')
        elif req.path == "/v1/audio/speech" and req.method == "POST":
            self._speech(req, sock)
        else:
            _fastapi_404(sock)
        return True

    def _speech(self, req: RecordedRequest, sock: socket.socket) -> None:
        route = self.route
        body = _json_body(req, sock)
        if body is None:
            return
        missing = [(n, "missing", "Field required") for n in route.required if n not in body]
        fmt = str(body.get("response_format", "mp3"))
        if missing:
            _fastapi_422(sock, "body", missing)
        elif route.models and body.get("model") not in route.models:
            _send(sock, 400, "application/json", json.dumps({"detail": {"error": "invalid_model"}}).encode())
        elif route.voices and body.get("voice") not in route.voices:
            _fastapi_detail(sock, route.refused_voice, f"Voice '{body.get('voice')}' not found.")
        elif fmt not in route.formats and route.refused_format:
            _fastapi_detail(sock, route.refused_format, f"Invalid response_format: '{fmt}'")
        else:
            if fmt not in route.formats:
                fmt = "wav"
            length = words_seconds(str(body.get("input", "")))
            audio = make_mp3(length) if fmt == "mp3" else make_wav(length if fmt == "wav" else 0.05)
            _send(sock, 200, route.sample_types.get(fmt, _TYPES[fmt]), audio)
