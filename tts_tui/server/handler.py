"""HTTP handling for the embedded server: routes, bodies, streamed answers.

Errors are JSON in OpenAI's shape. A client that goes away mid-answer stops
the synthesis and is forgotten without a word on stderr.
"""

from __future__ import annotations

import base64
import json
import sys
import time
import traceback
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tts_tui.core.errors import TtsError
from tts_tui.server import encode, espeak
from tts_tui.server.speech_request import (
    BadRequest,
    SpeechRequest,
    from_generic,
    from_openai,
    from_query,
    parse_json_object,
)
from tts_tui.server.stream import SpeechStream

MAX_BODY = 1024 * 1024
_MAX_DRAIN = 64 * 1024 * 1024  # past this, close the connection instead of reading the body
_SSE_ENCODED_SLICE = 32 * 1024

ROUTES: dict[str, tuple[str, ...]] = {
    "/v1/audio/speech": ("POST",),
    "/v1/audio/voices": ("GET",),
    "/v1/models": ("GET",),
    "/api/tts": ("GET", "POST"),
}
MODELS = ("tts-1", "espeak-ng")
# Errors a disconnected or stalled client raises when written to.
_GONE = (BrokenPipeError, ConnectionError, TimeoutError)


class HttpError(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param


class SpeechHandler(BaseHTTPRequestHandler):
    """One connection; ``server`` must have ``quiet``, ``engines`` (an EnginePool) and ``track``/``untrack``."""

    protocol_version = "HTTP/1.1"
    server_version = "tts-tui-espeak/1"
    disable_nagle_algorithm = True  # each audio chunk leaves at once
    timeout = 120  # an idle or stalled client frees its thread eventually

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)  # type: ignore[attr-defined]

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.untrack(self.connection)  # type: ignore[attr-defined]

    # --- logging: quiet unless the server was started verbose

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        if not self.server.quiet:  # type: ignore[attr-defined]
            super().log_message(format, *args)

    def _log_failure(self) -> None:
        if not self.server.quiet:  # type: ignore[attr-defined]
            traceback.print_exc(file=sys.stderr)

    # --- dispatch

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_POST

    def _dispatch(self) -> None:
        self._started = False
        try:
            self._route()
        except HttpError as exc:
            self._fail(exc.status, exc.message, param=exc.param)
        except BadRequest as exc:
            self._fail(400, exc.message, param=exc.param)
        except _GONE:
            self.close_connection = True
        except Exception:
            self._log_failure()
            self._fail(500, "the server failed; start it with `tts-tui serve` to see why")

    def _route(self) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        allowed = ROUTES.get(path)
        if allowed is None:
            self._drain_body()
            raise HttpError(404, f"no such endpoint: {self.command} {url.path}")
        if self.command not in allowed:
            self._drain_body()
            raise HttpError(405, f"{path} does not accept {self.command}; use {' or '.join(allowed)}")
        if path == "/v1/audio/voices":
            voices = [{"id": v["id"], "name": v["name"]} for v in espeak.list_voices()]
            self._send_json(200, {"voices": voices})
        elif path == "/v1/models":
            now = int(time.time())
            data = [{"id": m, "object": "model", "created": now, "owned_by": "tts-tui"} for m in MODELS]
            self._send_json(200, {"object": "list", "data": data})
        elif path == "/v1/audio/speech":
            self._speak(from_openai(parse_json_object(self._read_body())))
        elif self.command == "GET":
            self._speak(from_query(url.query))
        else:
            self._speak(from_generic(parse_json_object(self._read_body())))

    # --- request bodies

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked_body()
        length = self._content_length()
        if length > MAX_BODY:
            self._skip(length)
            raise HttpError(413, f"the request body is {length} bytes; the limit is {MAX_BODY} (1 MB)")
        return self.rfile.read(length)

    def _content_length(self) -> int:
        raw = self.headers.get("Content-Length")
        if raw is None:
            return 0
        try:
            length = int(raw)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise HttpError(400, f"invalid Content-Length: {raw!r}")
        return length

    def _read_chunked_body(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise HttpError(400, "malformed chunked request body") from None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers
                    pass
                return bytes(body)
            if len(body) + size > MAX_BODY:
                self.close_connection = True
                raise HttpError(413, f"the request body is over the limit of {MAX_BODY} bytes (1 MB)")
            body += self.rfile.read(size)
            self.rfile.readline(1024)

    def _drain_body(self) -> None:
        """Read and drop a body we will not use, so the connection stays usable."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            return
        raw = self.headers.get("Content-Length")
        if raw and raw.isdigit():
            self._skip(int(raw))

    def _skip(self, length: int) -> None:
        # Closing with unread bytes would make the kernel reset the connection
        # and the client might never see our error; read them unless absurd.
        if length > _MAX_DRAIN:
            self.close_connection = True
            return
        while length > 0:
            got = self.rfile.read(min(length, 65536))
            if not got:
                break
            length -= len(got)

    # --- responses

    def _send_json(self, status: int, payload: object) -> None:
        body = json.dumps(payload).encode()
        self._started = True
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _fail(self, status: int, message: str, *, param: str | None = None) -> None:
        if getattr(self, "_started", False):
            # Headers are out: all we can do is cut the answer short.
            self.close_connection = True
            return
        kind = "server_error" if status >= 500 else "invalid_request_error"
        payload = {"error": {"message": message, "type": kind, "param": param, "code": None}}
        try:
            self._send_json(status, payload)
        except _GONE:
            self.close_connection = True

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (bad request line, oversized headers...) as JSON too."""
        self.close_connection = True
        self._fail(code, message or self.responses.get(code, ("error",))[0])

    def _begin_chunked(self, content_type: str, sample_rate: int | None) -> None:
        self._started = True
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-store")
        if sample_rate:
            self.send_header("X-Sample-Rate", str(sample_rate))
        self.end_headers()

    def _write_chunk(self, data: bytes) -> None:
        if data:  # an empty chunk would end the body
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))

    def _write_event(self, event: dict[str, object]) -> None:
        self._write_chunk(b"data: " + json.dumps(event).encode() + b"\n\n")

    def _write_delta(self, audio: bytes) -> None:
        if audio:
            self._write_event({"type": "speech.audio.delta", "audio": base64.b64encode(audio).decode()})

    # --- speech

    def _speak(self, request: SpeechRequest) -> None:
        engines = self.server.engines  # type: ignore[attr-defined]
        stream = SpeechStream(request.text, request.voice, request.speed, engines=engines)
        try:
            chunks = iter(stream)
            first = next(chunks, b"")  # waits for the first audio, or the engine's error
            rate = stream.sample_rate or espeak.sample_rate()  # set by now: an engine has spoken
            if request.fmt in encode.STREAMED_FORMATS:
                self._send_streamed(request, rate, first, chunks)
            else:
                self._send_whole(request, rate, b"".join([first, *chunks]))
        except espeak.VoiceNotFound as exc:
            raise HttpError(400, str(exc), param="voice") from None
        except TtsError as exc:
            raise HttpError(500, str(exc)) from None
        finally:
            stream.cancel()

    def _send_streamed(self, request: SpeechRequest, rate: int, first: bytes, chunks) -> None:
        preamble, transform, tail = encode.stream_transform(request.fmt, rate)
        out_rate = encode.PCM_RATE if request.fmt == "pcm" else rate
        if request.sse:
            self._begin_chunked("text/event-stream", out_rate)
            write = self._write_delta
        else:
            self._begin_chunked(encode.CONTENT_TYPES[request.fmt], out_rate)
            write = self._write_chunk
        write(preamble + transform(first))
        # An engine error from here on leaves the body without its last chunk:
        # the client sees a cut answer (see _fail).
        for chunk in chunks:
            write(transform(chunk))
        write(tail())
        self._end_chunked(request)

    def _send_whole(self, request: SpeechRequest, rate: int, pcm: bytes) -> None:
        audio = encode.encode_whole(pcm, rate, request.fmt)
        if request.sse:
            self._begin_chunked("text/event-stream", None)
            for start in range(0, len(audio), _SSE_ENCODED_SLICE):
                self._write_delta(audio[start : start + _SSE_ENCODED_SLICE])
            self._end_chunked(request)
            return
        self._started = True
        self.send_response(200)
        self.send_header("Content-Type", encode.CONTENT_TYPES[request.fmt])
        self.send_header("Content-Length", str(len(audio)))
        self.end_headers()
        self.wfile.write(audio)

    def _end_chunked(self, request: SpeechRequest) -> None:
        if request.sse:
            words = len(request.text.split())
            # Token counts are estimates: espeak has no tokens, OpenAI clients may read them.
            usage = {"input_tokens": words, "output_tokens": 0, "total_tokens": words}
            self._write_event({"type": "speech.audio.done", "usage": usage})
        self.wfile.write(b"0\r\n\r\n")
