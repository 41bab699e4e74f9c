"""Fault-injecting HTTP servers the tests own.

Written on raw sockets (socketserver), not a web framework, so each fault is
real on the wire: a reset is a TCP RST, a truncated body really stops short, a
dripping stream really arrives byte by byte.

    with FaultServer() as srv:
        url = srv.url("/slow", delay_ms=500)

Every server listens on 127.0.0.1 on an ephemeral port, serves each connection
in a daemon thread (keep-alive, so connection reuse can be tested), records
every request in `srv.requests`, and stops by itself: `stop()` closes every open
connection, and no route runs longer than `HARD_CAP_S`.

Routes (parameters in the query string):
  /echo                  records the request, answers a short WAV
  /strict/audio/speech   OpenAI speech API that answers 422 to unknown or missing fields
  /wav?seconds=&rate=    a WAV (audio/wav)
  /pcm?seconds=&rate=    raw s16le mono PCM, 24 kHz by default (audio/pcm)
  /zeros?n=              n zero bytes (application/octet-stream), cheap and big
  /slow?delay_ms=        waits, then answers a WAV
  /first-byte?delay_ms=  waits, then sends status line, headers and WAV at once
  /drip?interval_ms=&count=   a WAV in `count` chunked pieces, one per interval
  /endless?interval_ms=  chunked bytes until the client goes (or HARD_CAP_S)
  /truncated             Content-Length larger than what is sent, then close
  /reset                 reads the request, closes with RST (SO_LINGER 0)
  /close                 reads the request, closes without answering
  /html500               500 with an HTML page titled "Kaboom: model not loaded"
  /json400               400 with an OpenAI-style error JSON
  /detail422             422 with a FastAPI-style validation error
  /wav-as-html           a valid WAV labelled text/html
  /base64-json           {"audio": "<base64 WAV>", "meta": {...}}
  /nested-json           {"result": {"audio": {"data": "<base64 WAV>"}}}
  /url-json              {"audio_url": ".../wav", "result": {"url": ".../wav"}}
  /sse?format=pcm|wav&count=   OpenAI speech.audio.delta events, then speech.audio.done
  /voices?variant=       wrapped (default) | list | objects | dict
  /redirect?to=/wav      302 to another route
  /status?code=&type=&body=   any status with the given content type and body
  /flaky?every=2         every `every`-th request to /flaky (2nd, 4th...) answers 503 JSON, the others a WAV
  /set-cookie?value=     200 JSON with a `Set-Cookie: session=<value>` header
  /stream?kind=wav|pcm|sse|mp3&seconds=&count=&interval_ms=&stall_after=&stall_ms=&hold=
                         audio in `count` pieces `interval_ms` apart (wav: a streamed
                         header with 0xFFFFFFFF sizes), pausing `stall_ms` more after
                         piece number `stall_after`; with `hold=NAME` the last piece
                         waits until the test sets `server.gate(NAME)` (order, not timing)
"""

from __future__ import annotations

import base64
import io
import json
import math
import socket
import socketserver
import struct
import threading
import time
import wave
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

HARD_CAP_S = 60.0

REASONS = {
    200: "OK", 302: "Found", 400: "Bad Request", 404: "Not Found",
    422: "Unprocessable Entity", 500: "Internal Server Error", 503: "Service Unavailable",
}


def make_pcm(seconds: float, rate: int = 24000, freq: float = 440.0) -> bytes:
    """Mono signed 16-bit little-endian samples of a sine tone at half scale."""
    n = max(0, int(round(seconds * rate)))
    step = 2 * math.pi * freq / rate
    return struct.pack(f"<{n}h", *(int(16000 * math.sin(i * step)) for i in range(n)))


def make_wav(seconds: float, rate: int = 22050) -> bytes:
    """A valid mono 16-bit WAV file of a 440 Hz tone lasting `seconds`."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(make_pcm(seconds, rate))
    return buf.getvalue()


def make_streaming_wav_header(rate: int) -> bytes:
    """A mono 16-bit WAV header with the 0xFFFFFFFF sizes streaming servers send."""
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    return b"RIFF\xff\xff\xff\xffWAVEfmt " + struct.pack("<I", len(fmt)) + fmt + b"data\xff\xff\xff\xff"


def make_mp3(seconds: float, rate: int = 22050) -> bytes:
    """An MP3 file of the same tone (libsndfile encodes it)."""
    import numpy as np
    import soundfile

    samples = np.frombuffer(make_pcm(seconds, rate), "<i2").astype(np.float32) / 32768.0
    buf = io.BytesIO()
    soundfile.write(buf, samples, rate, format="MP3", subtype="MPEG_LAYER_III")
    return buf.getvalue()


@dataclass
class RecordedRequest:
    """One request as it arrived: headers keep the client's spelling and order."""

    method: str
    path: str
    query: dict[str, str]
    headers: list[tuple[str, str]]
    body: bytes
    raw_head: bytes = b""

    @property
    def target(self) -> str:
        """The request target exactly as sent: path and raw query string."""
        return self.raw_head.split(b"\r\n", 1)[0].split(b" ")[1].decode("latin-1")

    def header(self, name: str) -> str | None:
        """The first header called `name` (case-insensitive), or None."""
        low = name.lower()
        return next((v for k, v in self.headers if k.lower() == low), None)


@dataclass
class _Conn:
    sock: socket.socket
    buf: bytearray = field(default_factory=bytearray)

    def recv_more(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        return True

    def read_head(self) -> bytes | None:
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 1 << 20 or not self.recv_more():
                return None
        head, _, rest = bytes(self.buf).partition(b"\r\n\r\n")
        self.buf = bytearray(rest)
        return head

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self.recv_more():
                raise ConnectionError("client closed mid-body")
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def read_line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if not self.recv_more():
                raise ConnectionError("client closed mid-body")
        line, _, rest = bytes(self.buf).partition(b"\r\n")
        self.buf = bytearray(rest)
        return line

    def read_chunked(self) -> bytes:
        out = bytearray()
        while True:
            size = int(self.read_line().split(b";")[0], 16)
            if size == 0:
                while self.read_line():  # trailers end with an empty line
                    pass
                return bytes(out)
            out += self.read_exact(size)
            self.read_exact(2)


class _Stop(Exception):
    """The route ended the connection on purpose."""


class _Handler(socketserver.BaseRequestHandler):
    server: _TcpServer

    def handle(self) -> None:
        owner = self.server.owner
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(HARD_CAP_S)
        owner._track(sock, add=True)
        conn = _Conn(sock)
        try:
            if conn.recv_more() and conn.buf[:1] == b"\x16":
                # a TLS ClientHello on this plain port: answer like a plain
                # HTTP server does, which fails the client's handshake for real
                sock.sendall(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
                return
            while not owner._stopping.is_set():
                req = self._read_request(conn)
                if req is None:
                    return
                owner.requests.append(req)
                keep = owner._route(req, sock)
                if not keep or (req.header("connection") or "").lower() == "close":
                    return
        except (OSError, ValueError, _Stop):
            return
        finally:
            owner._track(sock, add=False)

    @staticmethod
    def _read_request(conn: _Conn) -> RecordedRequest | None:
        head = conn.read_head()
        if head is None:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name, value.strip()))
        parts = urlsplit(target)
        req = RecordedRequest(
            method, parts.path, dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers, b"", head,
        )
        if (req.header("transfer-encoding") or "").lower() == "chunked":
            req.body = conn.read_chunked()
        else:
            req.body = conn.read_exact(int(req.header("content-length") or 0))
        return req


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, owner: FaultServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)


class FaultServer:
    """A misbehaving HTTP/1.1 server on 127.0.0.1; a context manager.

    `requests` lists every request received; `connections` counts accepted
    TCP connections (to check keep-alive reuse).
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.connections = 0
        self.flaky_calls = 0
        self._gates: dict[str, threading.Event] = {}
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._tcp = _TcpServer(self)
        self.port: int = self._tcp.server_address[1]
        self._thread = threading.Thread(
            target=self._tcp.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str, **query: Any) -> str:
        """The absolute URL of `path` on this server, with `query` encoded."""
        q = f"?{urlencode(query)}" if query else ""
        return f"{self.base}{path}{q}"

    def start(self) -> FaultServer:
        self._thread.start()
        return self

    def gate(self, name: str) -> threading.Event:
        """The event a `hold=NAME` route waits for before its last piece: a
        test sets it once it has seen what must happen before the answer ends."""
        with self._lock:
            return self._gates.setdefault(name, threading.Event())

    def stop(self) -> None:
        """Stop accepting, end every open connection, and return promptly."""
        self._stopping.set()
        self._tcp.shutdown()
        with self._lock:
            socks = list(self._open)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._tcp.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, sock: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._open.add(sock)
                self.connections += 1
            else:
                self._open.discard(sock)

    # ---- routes -------------------------------------------------------

    def _route(self, req: RecordedRequest, sock: socket.socket) -> bool:
        """Answer `req`; False when the connection must close afterwards."""
        name = req.path.strip("/").replace("-", "_").replace("/", "__")
        handler = getattr(self, "_r_" + name, None)
        if handler is None:
            _respond(sock, 404, "text/plain", b"no such route: " + req.path.encode())
            return True
        return handler(req, sock) is not False

    def _r_echo(self, req: RecordedRequest, sock: socket.socket) -> None:
        _respond(sock, 200, "audio/wav", make_wav(0.1))

    def _r_strict__audio__speech(self, req: RecordedRequest, sock: socket.socket) -> None:
        """An OpenAI-compatible server that rejects unknown fields (pydantic extra="forbid")."""
        allowed = {"model", "input", "voice", "response_format", "speed", "instructions", "stream_format"}
        try:
            body = json.loads(req.body)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            _respond(sock, 400, "application/json", b'{"error": {"message": "body is not JSON"}}')
            return
        extra = sorted(set(body) - allowed)
        missing = sorted({"model", "input", "voice"} - set(body))
        if extra or missing:
            detail = [{"type": "extra_forbidden", "loc": ["body", k], "msg": "Extra inputs are not permitted"} for k in extra]
            detail += [{"type": "missing", "loc": ["body", k], "msg": "Field required"} for k in missing]
            _respond(sock, 422, "application/json", json.dumps({"detail": detail}).encode())
            return
        _respond(sock, 200, "audio/wav", make_wav(0.1))

    def _r_wav(self, req: RecordedRequest, sock: socket.socket) -> None:
        wav = make_wav(float(req.query.get("seconds", 0.2)), int(req.query.get("rate", 22050)))
        _respond(sock, 200, "audio/wav", wav)

    def _r_pcm(self, req: RecordedRequest, sock: socket.socket) -> None:
        pcm = make_pcm(float(req.query.get("seconds", 0.2)), int(req.query.get("rate", 24000)))
        _respond(sock, 200, "audio/pcm", pcm)

    def _r_zeros(self, req: RecordedRequest, sock: socket.socket) -> None:
        _respond(sock, 200, "application/octet-stream", bytes(int(req.query.get("n", 1024))))

    def _r_slow(self, req: RecordedRequest, sock: socket.socket) -> None:
        self._sleep(int(req.query.get("delay_ms", 1000)) / 1000)
        _respond(sock, 200, "audio/wav", make_wav(0.1))

    _r_first_byte = _r_slow

    def _r_drip(self, req: RecordedRequest, sock: socket.socket) -> None:
        interval = int(req.query.get("interval_ms", 50)) / 1000
        count = max(1, int(req.query.get("count", 5)))
        wav = make_wav(float(req.query.get("seconds", 0.2)))
        size = -(-len(wav) // count)
        sock.sendall(_head(200, "audio/wav", chunked=True))
        for i in range(count):
            if i:
                self._sleep(interval)
            sock.sendall(_chunk(wav[i * size:(i + 1) * size]))
        sock.sendall(b"0\r\n\r\n")

    def _r_endless(self, req: RecordedRequest, sock: socket.socket) -> bool:
        interval = int(req.query.get("interval_ms", 10)) / 1000
        sock.sendall(_head(200, "audio/pcm", chunked=True))
        piece = _chunk(make_pcm(0.02))
        end = time.monotonic() + HARD_CAP_S
        while time.monotonic() < end and not self._stopping.is_set():
            sock.sendall(piece)  # raises once the client has gone
            self._sleep(interval)
        return False

    def _r_truncated(self, req: RecordedRequest, sock: socket.socket) -> bool:
        wav = make_wav(0.1)
        sock.sendall(_head(200, "audio/wav", length=len(wav)) + wav[: len(wav) // 2])
        sock.shutdown(socket.SHUT_WR)
        return False

    def _r_reset(self, req: RecordedRequest, sock: socket.socket) -> bool:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        return False

    def _r_close(self, req: RecordedRequest, sock: socket.socket) -> bool:
        sock.shutdown(socket.SHUT_RDWR)
        return False

    def _r_html500(self, req: RecordedRequest, sock: socket.socket) -> None:
        page = (b"<!DOCTYPE html>\n<html><head><title>Kaboom: model not loaded</title></head>\n"
                b"<body><h1>Internal Server Error</h1><p>Traceback...</p></body></html>\n")
        _respond(sock, 500, "text/html; charset=utf-8", page)

    def _r_json400(self, req: RecordedRequest, sock: socket.socket) -> None:
        err = {"error": {"message": "Invalid voice 'nobody'. Choose one of: alloy, echo.",
                         "type": "invalid_request_error", "param": "voice", "code": None}}
        _respond(sock, 400, "application/json", json.dumps(err).encode())

    def _r_detail422(self, req: RecordedRequest, sock: socket.socket) -> None:
        err = {"detail": [{"type": "missing", "loc": ["body", "input"],
                           "msg": "Field required", "input": {}}]}
        _respond(sock, 422, "application/json", json.dumps(err).encode())

    def _r_wav_as_html(self, req: RecordedRequest, sock: socket.socket) -> None:
        _respond(sock, 200, "text/html", make_wav(0.1))

    def _r_base64_json(self, req: RecordedRequest, sock: socket.socket) -> None:
        b64 = base64.b64encode(make_wav(0.1)).decode()
        doc = {"audio": b64, "meta": {"rate": 22050, "seconds": 0.1, "format": "wav"}}
        _respond(sock, 200, "application/json", json.dumps(doc).encode())

    def _r_nested_json(self, req: RecordedRequest, sock: socket.socket) -> None:
        b64 = base64.b64encode(make_wav(0.1)).decode()
        doc = {"result": {"audio": {"data": b64, "format": "wav"}}, "ok": True}
        _respond(sock, 200, "application/json", json.dumps(doc).encode())

    def _r_url_json(self, req: RecordedRequest, sock: socket.socket) -> None:
        doc = {"audio_url": self.url("/wav"), "result": {"url": self.url("/wav")}}
        _respond(sock, 200, "application/json", json.dumps(doc).encode())

    def _r_sse(self, req: RecordedRequest, sock: socket.socket) -> None:
        fmt = req.query.get("format", "pcm")
        audio = make_wav(0.2) if fmt == "wav" else make_pcm(0.2)
        count = max(1, int(req.query.get("count", 4)))
        size = -(-len(audio) // count)
        sock.sendall(_head(200, "text/event-stream", chunked=True))
        for i in range(count):
            ev = {"type": "speech.audio.delta",
                  "audio": base64.b64encode(audio[i * size:(i + 1) * size]).decode()}
            sock.sendall(_chunk(b"data: " + json.dumps(ev).encode() + b"\n\n"))
        done = {"type": "speech.audio.done",
                "usage": {"input_tokens": 5, "output_tokens": count, "total_tokens": 5 + count}}
        sock.sendall(_chunk(b"data: " + json.dumps(done).encode() + b"\n\n") + b"0\r\n\r\n")

    def _r_voices(self, req: RecordedRequest, sock: socket.socket) -> None:
        names = [("af_bella", "Bella"), ("am_adam", "Adam"), ("bf_emma", "Emma")]
        variant = req.query.get("variant", "wrapped")
        doc: Any
        if variant == "list":
            doc = [v for v, _ in names]
        elif variant == "objects":
            doc = [{"voice_id": v, "name": n} for v, n in names]
        elif variant == "dict":
            doc = {v: {"name": n, "language": "en"} for v, n in names}
        else:
            doc = {"voices": [{"id": v, "name": n} for v, n in names]}
        _respond(sock, 200, "application/json", json.dumps(doc).encode())

    def _r_redirect(self, req: RecordedRequest, sock: socket.socket) -> None:
        to = req.query.get("to", "/wav")
        sock.sendall(_head(302, "text/plain", length=0, extra=[("Location", to)]))

    def _r_status(self, req: RecordedRequest, sock: socket.socket) -> None:
        code = int(req.query.get("code", 500))
        ctype = req.query.get("type", "text/plain")
        _respond(sock, code, ctype, req.query.get("body", "").encode())

    def _r_flaky(self, req: RecordedRequest, sock: socket.socket) -> None:
        with self._lock:
            self.flaky_calls += 1
            calls = self.flaky_calls
        if calls % max(1, int(req.query.get("every", 2))) == 0:
            err = {"error": {"message": "overloaded, try again", "type": "server_error"}}
            _respond(sock, 503, "application/json", json.dumps(err).encode())
            return
        _respond(sock, 200, "audio/wav", make_wav(0.1))

    def _r_set_cookie(self, req: RecordedRequest, sock: socket.socket) -> None:
        body = b'{"ok": true}'
        cookie = f"session={req.query.get('value', 'abc')}; HttpOnly"
        sock.sendall(_head(200, "application/json", length=len(body), extra=[("Set-Cookie", cookie)]) + body)

    def _r_stream(self, req: RecordedRequest, sock: socket.socket) -> None:
        """Audio in `count` chunked pieces `interval_ms` apart, with an extra
        `stall_ms` pause after piece `stall_after`: a slow streaming TTS server."""
        kind = req.query.get("kind", "wav")
        seconds = float(req.query.get("seconds", 1.0))
        count = max(1, int(req.query.get("count", 10)))
        interval = int(req.query.get("interval_ms", 100)) / 1000
        stall_after = int(req.query.get("stall_after", 0))
        stall = int(req.query.get("stall_ms", 0)) / 1000
        hold = req.query.get("hold")
        rate = int(req.query.get("rate", 24000 if kind in ("pcm", "sse") else 22050))
        ctype = {"wav": "audio/wav", "pcm": "audio/pcm", "sse": "text/event-stream", "mp3": "audio/mpeg"}[kind]
        audio = make_pcm(seconds, rate)
        if kind == "wav":
            audio = make_streaming_wav_header(rate) + audio
        elif kind == "mp3":
            audio = make_mp3(seconds, rate)
        size = -(-len(audio) // count)
        sock.sendall(_head(200, ctype, chunked=True))
        for i in range(count):
            if i:
                self._sleep(interval + (stall if i == stall_after else 0.0))
            if hold and i == count - 1:
                self._wait_gate(hold)
            piece = audio[i * size:(i + 1) * size]
            if kind == "sse":
                ev = {"type": "speech.audio.delta", "audio": base64.b64encode(piece).decode()}
                piece = b"data: " + json.dumps(ev).encode() + b"\n\n"
            if piece:
                sock.sendall(_chunk(piece))
        tail = b'data: {"type": "speech.audio.done"}\n\n' if kind == "sse" else b""
        sock.sendall((_chunk(tail) if tail else b"") + b"0\r\n\r\n")

    def _sleep(self, seconds: float) -> None:
        if self._stopping.wait(seconds):
            raise _Stop

    def _wait_gate(self, name: str) -> None:
        """Wait for `gate(name)`; a test that never sets it ends the answer
        after HARD_CAP_S (its own deadline fails first)."""
        gate = self.gate(name)
        end = time.monotonic() + HARD_CAP_S
        while not gate.wait(0.05):
            if self._stopping.is_set() or time.monotonic() > end:
                raise _Stop


class BlackholeServer:
    """A port that never completes a TCP handshake: connecting to it times out.

    It listens with a backlog of 0, never accepts, and fills its accept queue
    with its own connections, so the kernel drops further SYNs: a real connect
    timeout without leaving 127.0.0.1.
    """

    def __init__(self) -> None:
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(0)
        self.port: int = self._listener.getsockname()[1]
        self._fillers: list[socket.socket] = []

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> BlackholeServer:
        for _ in range(8):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            try:
                s.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self._fillers.append(s)
        time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        for s in self._fillers:
            s.close()
        self._listener.close()


def _head(status: int, ctype: str, *, length: int | None = None, chunked: bool = False,
          extra: list[tuple[str, str]] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", f"Content-Type: {ctype}"]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    elif length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{k}: {v}" for k, v in extra or []]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data + b"\r\n"


def _respond(sock: socket.socket, status: int, ctype: str, body: bytes) -> None:
    sock.sendall(_head(status, ctype, length=len(body)) + body)


# ---- voice lists as servers send them -------------------------------------------

VOICE_NAMES = [("af_bella", "Bella"), ("am_adam", "Adam"), ("bf_emma", "Emma")]

SITE_PAGE = (b"<!DOCTYPE html>\n<html><head><title>My TTS Studio</title></head>\n"
             b"<body><div id=\"app\">Loading...</div><script src=\"/app.js\"></script></body></html>\n")


def voice_list_doc(shape: str) -> Any:
    """The three VOICE_NAMES in one of the shapes real servers send, by name."""
    objects = [{"id": v, "name": n} for v, n in VOICE_NAMES]
    ids = [v for v, _ in VOICE_NAMES]
    docs: dict[str, Any] = {
        "strings": ids,                                           # a bare list of ids
        "objects": objects,                                       # a bare list of {id, name}
        "voices": {"voices": objects},                            # the embedded server
        "voices-strings": {"voices": ids},                        # Kokoro-FastAPI
        "data": {"object": "list", "data": objects},              # OpenAI-style list
        "items": {"items": objects, "total": 3, "page": 1},       # paginated APIs
        "keyed": {v: {"name": n, "language": "en"} for v, n in VOICE_NAMES},  # Piper, OpenTTS
        "keyed-names": dict(VOICE_NAMES),                         # {id: name}
        "elevenlabs": {"voices": [{"voice_id": v, "name": n, "category": "premade"} for v, n in VOICE_NAMES]},
        "files": [{"display_name": n, "filename": f"{v}.wav"} for v, n in VOICE_NAMES],  # Chatterbox
        "nested": {"data": {"voices": objects}},
        "alltalk": {"status": "success", "voices": ids},
    }
    return docs[shape]


class VoiceListServer(FaultServer):
    """A TTS server whose voice list comes in a chosen shape or as a chosen fault.

      GET /{shape}/v1/audio/voices   the URL an `openai` service with url
                                     {base}/{shape}/v1 guesses
      GET /voice-list?shape=         the same answers, at a URL a config names
      POST /{shape}/v1/audio/speech  a short WAV
    Shapes: every name voice_list_doc knows, and the faults
      html     200 with an HTML page          text   200 text/plain "OK"
      empty    200 with no body               wav    200 with WAV bytes
      404      404 text/plain                 405    405 with Allow: POST
      500      500 JSON error                 deep   200 JSON nested 100,000 deep
      echo-key 401 JSON error that quotes the Authorization header back
      json-error  200 {"detail": "Not Found"} (a catch-all route's answer)
    Any other path is FaultServer's.
    """

    def _route(self, req: RecordedRequest, sock: socket.socket) -> bool:
        parts = req.path.strip("/").split("/")
        if len(parts) == 4 and parts[1:] == ["v1", "audio", "voices"] and req.method == "GET":
            self._answer_voices(parts[0], req, sock)
            return True
        if len(parts) == 4 and parts[1:] == ["v1", "audio", "speech"] and req.method == "POST":
            _respond(sock, 200, "audio/wav", make_wav(0.1))
            return True
        if req.path == "/voice-list":
            self._answer_voices(req.query.get("shape", "voices"), req, sock)
            return True
        return super()._route(req, sock)

    def _answer_voices(self, shape: str, req: RecordedRequest, sock: socket.socket) -> None:
        if shape == "html":
            _respond(sock, 200, "text/html; charset=utf-8", SITE_PAGE)
        elif shape == "text":
            _respond(sock, 200, "text/plain", b"OK")
        elif shape == "empty":
            _respond(sock, 200, "application/json", b"")
        elif shape == "wav":
            _respond(sock, 200, "audio/wav", make_wav(0.1))
        elif shape == "404":
            _respond(sock, 404, "text/plain", b"Not Found")
        elif shape == "405":
            sock.sendall(_head(405, "application/json", length=31, extra=[("Allow", "POST")])
                         + b'{"detail":"Method Not Allowed"}')
        elif shape == "500":
            _respond(sock, 500, "application/json", b'{"error": {"message": "voice index is corrupt"}}')
        elif shape == "json-error":
            _respond(sock, 200, "application/json", b'{"detail": "Not Found"}')
        elif shape == "deep":
            depth = 100_000
            _respond(sock, 200, "application/json", b'{"voices": ' + b"[" * depth + b"]" * depth + b"}")
        elif shape == "echo-key":
            given = (req.header("authorization") or "").removeprefix("Bearer ")
            err = {"error": {"message": f"Incorrect API key provided: {given}", "type": "invalid_request_error"}}
            _respond(sock, 401, "application/json", json.dumps(err).encode())
        else:
            _respond(sock, 200, "application/json", json.dumps(voice_list_doc(shape)).encode())


class SiteServer(FaultServer):
    """A web app with a speech route and no voice list: its HTML page (SITE_PAGE)
    answers every GET, whatever the path; POST .../audio/speech answers a WAV."""

    def _route(self, req: RecordedRequest, sock: socket.socket) -> bool:
        if req.method == "GET":
            _respond(sock, 200, "text/html; charset=utf-8", SITE_PAGE)
        elif req.path.endswith("/audio/speech"):
            _respond(sock, 200, "audio/wav", make_wav(0.1))
        else:
            _respond(sock, 404, "text/plain", b"Not Found")
        return True


# ---- wire quirks of real TTS servers (issue 7, "trust the wire") ------------------
#
# Answers shaped after what real servers put on the wire: the exact Content-Type
# (parameters included), chunked or Content-Length framing, header spelling, and
# bodies made the way those servers make them (compressed audio encoded to a
# pipe, as ffmpeg does for openedai-speech and Kokoro-FastAPI). Routes are
# attached to FaultServer below, so any FaultServer serves them:
#
#   /wire/pcm?seconds=&rate=&channels=&endian=le|be&type=
#                          raw s16 PCM labelled `type` (default "audio/pcm;rate=RATE");
#                          stereo is 440 Hz left, 660 Hz right
#   /wire/sse?shape=openai|events|speaches|voxtral&seconds=&count=
#                          always SSE, whatever the request asked for:
#                          openai   `data:` lines only, usage in speech.audio.done, re-chunked
#                                   into 1000-byte HTTP chunks that cut events (as a proxy does)
#                          events   `event:` and `data:` lines (OpenAI SDK mocks)
#                          speaches text/event-stream; charset=utf-8, token_usage in done
#                          voxtral  `event:` lines, {"audio_data": ...} holding mp3 (Mistral)
#   /wire/ndjson?seconds=&type=   Kokoro-FastAPI captioned speech lines
#                          {"audio", "audio_format", "timestamps"}, application/x-ndjson by
#                          default (Kokoro itself says application/json)
#   /wire/piped?codec=flac|opus|vorbis|mp3|aac|wav&seconds=&rate=&type=
#                          audio encoded to a non-seekable writer: FLAC total-samples 0,
#                          MP3 with no Xing header, Ogg granules as written live, ADTS AAC,
#                          WAV with 0xFFFFFFFF sizes and a LIST chunk; vorbis is stereo
#                          (FFmpeg's encoder has no mono)
#   /wire/paced-mp3?seconds=&interval_ms=   mp3 sent at real time, a slice every interval
#   /wire/wav-as-pcm?seconds=&rate=         a WAV labelled audio/pcm
#   /openedai/audio/speech  openedai-speech (piper, tts-1): response_format picks the codec,
#                          pcm is "audio/pcm;rate=22050", chunks cut at 0x0A bytes (Starlette
#                          iterating ffmpeg's stdout by lines), uvicorn's lowercase headers
#   /speaches/audio/speech  speaches: stream_format "sse" in the body gives SSE, else audio
#   /piper/synthesize      piper1-gpl's Flask server: a WAV labelled text/html; charset=utf-8
#
# The OpenAI-style routes speak a tone lasting `input` seconds when the input is a
# number (else 1 s), so a test chooses the duration through the text it says.

TONE_HZ = 440.0        # the mono tone, and the left channel of stereo
TONE_RIGHT_HZ = 660.0  # the right channel of stereo


def tone(seconds: float, rate: int, channels: int = 1):
    """int16 frames of shape (n, channels): TONE_HZ at half scale, TONE_RIGHT_HZ on the right."""
    import numpy as np

    n = max(0, int(round(seconds * rate)))
    t = np.arange(n) / rate
    cols = [np.sin(2 * np.pi * (TONE_HZ if c == 0 else TONE_RIGHT_HZ) * t) for c in range(channels)]
    return (np.stack(cols, axis=1) * 16000).astype(np.int16)


class _PipeWriter:
    """A write-only file object: PyAV sees no seek/tell, so muxers write what a pipe gets."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b: bytes) -> int:
        self.data += bytes(b)
        return len(b)


# codec -> (container, encoder, encoder options, channels the encoder needs or None)
_PIPED = {
    "flac": ("flac", "flac", {}, None),
    "opus": ("ogg", "libopus", {}, None),
    "vorbis": ("ogg", "vorbis", {"strict": "-2"}, 2),
    "mp3": ("mp3", "libmp3lame", {}, None),
    "aac": ("adts", "aac", {}, None),
    "wav": ("wav", "pcm_s16le", {}, None),
}

# the Content-Type openedai-speech sends for each response_format
_OPENEDAI_TYPES = {
    "mp3": "audio/mpeg", "opus": "audio/ogg;codec=opus", "aac": "audio/aac",
    "flac": "audio/x-flac", "wav": "audio/wav", "vorbis": "audio/ogg",
}


def encode_piped(codec: str, seconds: float, rate: int = 24000, *, channels: int = 1,
                 bit_rate: int | None = None) -> bytes:
    """The tone encoded as `codec` by FFmpeg (PyAV) into a pipe: exactly the bytes
    `ffmpeg ... -f FORMAT -` writes, with every length field left unknown."""
    import av

    container, encoder, options, needs = _PIPED[codec]
    channels = needs or channels
    layout = "mono" if channels == 1 else "stereo"
    samples = tone(seconds, rate, channels)
    pipe = _PipeWriter()
    with av.open(pipe, "w", format=container) as out:
        stream = out.add_stream(encoder, rate=rate, layout=layout, options=dict(options))
        if bit_rate:
            stream.bit_rate = bit_rate
        frame = av.AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout=layout)
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return bytes(pipe.data)


def flac_total_samples(data: bytes) -> int:
    """STREAMINFO's 36-bit total-samples field of a FLAC file (0 = unknown)."""
    info = data[8:42]  # after "fLaC" and the 4-byte metadata block header
    return ((info[13] & 0x0F) << 32) | int.from_bytes(info[14:18], "big")


def _speech_seconds(req: RecordedRequest) -> tuple[dict[str, Any], float]:
    """The JSON body of an OpenAI speech request, and the tone length its input asks for."""
    try:
        body = json.loads(req.body or b"{}")
    except ValueError:
        body = {}
    try:
        seconds = float(str(body.get("input", "")).strip())
    except ValueError:
        seconds = 1.0
    return body, min(max(seconds, 0.05), 30.0)


def _raw_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    """A status line and exactly these headers, spelled and ordered as given."""
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _uvicorn_headers(ctype: str, extra: list[tuple[str, str]] | None = None) -> list[tuple[str, str]]:
    """What uvicorn sends before a Starlette StreamingResponse: lowercase names, chunked."""
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    return [("date", date), ("server", "uvicorn"), *(extra or []),
            ("content-type", ctype), ("transfer-encoding", "chunked")]


def _pipe_lines(data: bytes) -> list[bytes]:
    """`data` cut after every 0x0A byte, as iterating a binary pipe (readline) cuts it."""
    out, start = [], 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end + 1
        out.append(data[start:end])
        start = end
    return out


def _sse_event(payload: dict[str, Any], event: str | None = None) -> bytes:
    head = f"event: {event}\n".encode() if event else b""
    return head + b"data: " + json.dumps(payload).encode() + b"\n\n"


def _pieces(data: bytes, count: int) -> list[bytes]:
    size = max(1, -(-len(data) // max(1, count)))
    return [data[i:i + size] for i in range(0, len(data), size)]


def _wire_route(fn):
    """Attach `fn` to FaultServer as the route its name spells (`_r_wire__pcm` = /wire/pcm)."""
    setattr(FaultServer, fn.__name__, fn)
    return fn


@_wire_route
def _r_wire__pcm(self: FaultServer, req: RecordedRequest, sock: socket.socket) -> None:
    rate = int(req.query.get("rate", 24000))
    channels = int(req.query.get("channels", 1))
    frames = tone(float(req.query.get("seconds", 1.0)), rate, channels)
    pcm = frames.astype(">i2" if req.query.get("endian") == "be" else "<i2").tobytes()
    _respond(sock, 200, req.query.get("type", f"audio/pcm;rate={rate}"), pcm)


@_wire_route
def _r_wire__wav_as_pcm(self: FaultServer, req: RecordedRequest, sock: socket.socket) -> None:
    wav = make_wav(float(req.query.get("seconds", 1.0)), int(req.query.get("rate", 22050)))
    _respond(sock, 200, "audio/pcm", wav)


def _send_sse(self: FaultServer, sock: socket.socket, shape: str, seconds: float, count: int) -> None:
    """The tone as SSE in one of the shapes real servers send (see the table above)."""
    if shape == "voxtral":
        audio = encode_piped("mp3", seconds, 24000)
        deltas = [_sse_event({"audio_data": base64.b64encode(p).decode()}, "speech.audio.delta")
                  for p in _pieces(audio, count)]
        done = _sse_event({"usage": {"prompt_tokens": 4, "completion_tokens": count,
                                     "total_tokens": 4 + count}}, "speech.audio.done")
        ctype = "text/event-stream"
    else:
        pcm = tone(seconds, 24000).astype("<i2").tobytes()
        named = "speech.audio.delta" if shape == "events" else None
        deltas = [_sse_event({"type": "speech.audio.delta", "audio": base64.b64encode(p).decode()}, named)
                  for p in _pieces(pcm, count)]
        if shape == "speaches":
            done = _sse_event({"type": "speech.audio.done",
                               "token_usage": {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0}})
        else:
            done = _sse_event({"type": "speech.audio.done",
                               "usage": {"input_tokens": 4, "output_tokens": count, "total_tokens": 4 + count}},
                              "speech.audio.done" if named else None)
        ctype = "text/event-stream" if shape == "events" else "text/event-stream; charset=utf-8"
    sock.sendall(_raw_head(200, [("Content-Type", ctype), ("Cache-Control", "no-cache"),
                                 ("Transfer-Encoding", "chunked")]))
    if shape == "openai":
        # a proxy in front re-chunks the stream: HTTP chunks cut events anywhere
        chunks = _pieces(b"".join(deltas) + done, -(-len(b"".join(deltas) + done) // 1000))
    else:
        chunks = [*deltas, done]
    for piece in chunks:
        sock.sendall(_chunk(piece))
    sock.sendall(b"0\r\n\r\n")


@_wire_route
def _r_wire__sse(self: FaultServer, req: RecordedRequest, sock: socket.socket) -> None:
    _send_sse(self, sock, req.query.get("shape", "openai"), float(req.query.get("seconds", 1.0)),
              int(req.query.get("count", 8)))


def _send_captioned(sock: socket.socket, seconds: float, ctype: str, count: int = 6) -> None:
    """Kokoro-FastAPI's /dev/captioned_speech stream: one compact JSON object a line."""
    pcm = tone(seconds, 24000).astype("<i2").tobytes()
    pieces = _pieces(pcm, count)
    sock.sendall(_raw_head(200, _uvicorn_headers(ctype, [
        ("content-disposition", "attachment; filename=speech.pcm"),
        ("x-accel-buffering", "no"), ("cache-control", "no-cache")])))
    step = seconds / len(pieces)
    for i, piece in enumerate(pieces):
        line = {"audio": base64.b64encode(piece).decode(), "audio_format": "audio/pcm",
                "timestamps": [{"word": f"w{i}", "start_time": round(i * step, 3),
                                "end_time": round((i + 1) * step, 3)}]}
        sock.sendall(_chunk(json.dumps(line, separators=(",", ":")).encode() + b"\n"))
    sock.sendall(b"0\r\n\r\n")


@_wire_route
def _r_wire__ndjson(self: FaultServer, req: RecordedRequest, sock: socket.socket) -> None:
    _send_captioned(sock, float(req.query.get("seconds", 1.0)), req.query.get("type", "application/x-ndjson"))


@_wire_route
def _r_wire__piped(self: FaultServer, req: RecordedRequest, sock: socket.socket) -> None:
    codec = req.query.get("codec", "flac")
    data = encode_piped(codec, float(req.query.get("seconds", 1.0)), int(req.query.get("rate", 24000)))
    sock.sendall(_raw_head(200, _uvicorn_headers(req.query.get("type", _OPENEDAI_TYPES[codec]))))
    for line in _pipe_lines(data):
        sock.sendall(_chunk(line))
    sock.sendall(b"0\r\n\r\n")


@_wire_route
def _r_wire__paced_mp3(self: FaultServer, req: RecordedRequest, sock: socket.socket) -> None:
    """`seconds` of 64 kbit/s mp3 sent at real time: by time t, t/seconds of the bytes."""
    seconds = float(req.query.get("seconds", 3.0))
    interval = int(req.query.get("interval_ms", 20)) / 1000
    data = encode_piped("mp3", seconds, 24000, bit_rate=64000)
    sock.sendall(_raw_head(200, _uvicorn_headers("audio/mpeg")))
    start, sent = time.monotonic(), 0
    while sent < len(data):
        self._sleep(max(0.0, start + (sent / len(data)) * seconds + interval - time.monotonic()))
        elapsed = time.monotonic() - start
        end = min(len(data), max(sent + 1, int(len(data) * elapsed / seconds)))
        sock.sendall(_chunk(data[sent:end]))
        sent = end
    sock.sendall(b"0\r\n\r\n")


@_wire_route
def _r_openedai__audio__speech(self: FaultServer, req: RecordedRequest, sock: socket.socket) -> None:
    """openedai-speech with model tts-1: piper's 22050 Hz s16le piped through ffmpeg."""
    body, seconds = _speech_seconds(req)
    fmt = str(body.get("response_format", "mp3")).lower()
    if fmt == "pcm":
        ctype, data = "audio/pcm;rate=22050", tone(seconds, 22050).astype("<i2").tobytes()
    elif fmt in ("mp3", "opus", "aac", "flac", "wav"):
        ctype, data = _OPENEDAI_TYPES[fmt], encode_piped(fmt, seconds, 22050 if fmt != "opus" else 24000,
                                                         bit_rate=64000 if fmt in ("mp3", "aac") else None)
    else:
        err = {"error": {"message": f"Invalid response_format: '{fmt}'", "code": 400,
                         "type": "BadRequestError", "param": "response_format"}}
        _respond(sock, 400, "application/json", json.dumps(err).encode())
        return
    sock.sendall(_raw_head(200, _uvicorn_headers(ctype)))
    for line in _pipe_lines(data):
        sock.sendall(_chunk(line))
    sock.sendall(b"0\r\n\r\n")


@_wire_route
def _r_speaches__audio__speech(self: FaultServer, req: RecordedRequest, sock: socket.socket) -> None:
    """speaches: `stream_format: "sse"` gives SSE of base64 24 kHz PCM, else the format asked."""
    body, seconds = _speech_seconds(req)
    if body.get("stream_format") == "sse":
        _send_sse(self, sock, "speaches", seconds, max(1, int(seconds * 4)))
        return
    fmt = str(body.get("response_format", "mp3")).lower()
    if fmt == "pcm":
        data = tone(seconds, 24000).astype("<i2").tobytes()
    else:
        data = encode_piped(fmt if fmt in _PIPED else "mp3", seconds, 24000)
    ctype = {"pcm": "audio/pcm", "mp3": "audio/mpeg", "wav": "audio/wav", "flac": "audio/flac",
             "opus": "audio/opus", "aac": "audio/aac"}.get(fmt, "audio/mpeg")
    sock.sendall(_raw_head(200, _uvicorn_headers(ctype)))
    for piece in _pieces(data, 8):
        sock.sendall(_chunk(piece))
    sock.sendall(b"0\r\n\r\n")


@_wire_route
def _r_piper__synthesize(self: FaultServer, req: RecordedRequest, sock: socket.socket) -> bool:
    """piper1-gpl's http_server: Flask returns the WAV bytes, so Werkzeug labels them HTML."""
    wav = make_wav(float(req.query.get("seconds", 1.0)), 22050)
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())
    sock.sendall(_raw_head(200, [("Server", "Werkzeug/3.1.3 Python/3.12.3"), ("Date", date),
                                 ("Content-Type", "text/html; charset=utf-8"),
                                 ("Content-Length", str(len(wav))), ("Connection", "close")]) + wav)
    return False


# ---- servers that echo secrets back, as many do in their 401s -------------------------------------


@_wire_route
def _r_echo__key(self: FaultServer, req: RecordedRequest, sock: socket.socket) -> None:
    """/echo/key: 401 whose message repeats every credential the request carried
    (OpenAI says "Incorrect API key provided: sk-...", others echo the header)."""
    seen = [v for k, v in req.headers if k.lower() in ("authorization", "x-api-key", "xi-api-key", "token", "api-key")]
    seen += [v for k, v in req.query.items() if k.lower() in ("key", "api_key", "token")]
    try:
        body = json.loads(req.body or b"{}")
        seen += [str(v) for k, v in body.items() if "key" in k.lower()] if isinstance(body, dict) else []
    except ValueError:
        pass
    doc = {"error": {"message": f"Incorrect API key provided: {' / '.join(seen)}", "type": "invalid_request_error"}}
    _respond(sock, 401, "application/json", json.dumps(doc).encode())


FaultServer._r_echo__key__audio__speech = _r_echo__key  # the same, as an OpenAI base URL's /audio/speech
FaultServer._r_echo__audio__speech = FaultServer._r_echo  # /echo as an OpenAI base URL


# ---- long texts and batches: servers whose answer grows with the text (issue 12) -------------------
#
# Each takes an OpenAI speech body ({"input": ...}), an http body ({"text": ...}) or
# plain text, and speaks a tone lasting len(text) * k seconds (k = 0.01 by default,
# at least 0.05 s), as a 24 kHz WAV.
#   /limit/audio/speech?max=N        413 with OpenAI's error JSON past N characters
#   /slow-first/audio/speech?delay_ms=   only the first request to it on this server waits
#   /one-in/audio/speech?n=N         every N-th request to it (N-th, 2N-th...) answers 500 JSON
#   /paced/audio/speech?speedup=5&stream=0|1   synthesises at `speedup` times real time:
#                                    stream=0 answers after len*k/speedup seconds (a
#                                    whole-file server); stream=1 sends the WAV in pieces
#                                    as they would be made (a streaming server)
# `srv.texts` lists the text of every request these routes received, in order.


def _spoken_text(req: RecordedRequest) -> str:
    """The text a request carries, whatever body shape it came in."""
    try:
        body = json.loads(req.body or b"{}")
    except ValueError:
        return req.body.decode("utf-8", "replace")
    if isinstance(body, dict):
        return str(body.get("input", body.get("text", "")))
    return str(body)


def _text_tone(self: FaultServer, req: RecordedRequest) -> tuple[str, bytes, float]:
    """(the text, its WAV, the WAV's seconds) for the routes above; records the text."""
    text = _spoken_text(req)
    with self._lock:
        if not hasattr(self, "texts"):
            self.texts = []
        self.texts.append(text)
    seconds = max(0.05, len(text) * float(req.query.get("k", 0.01)))
    pcm = tone(seconds, 24000).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, 24000, 48000, 2, 16)
    wav = (b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b"WAVEfmt " + struct.pack("<I", 16) + fmt
           + b"data" + struct.pack("<I", len(pcm)) + pcm)
    return text, wav, seconds


def _route_count(self: FaultServer, name: str) -> int:
    """How many requests this route has had on this server, this one included."""
    with self._lock:
        counts = self.__dict__.setdefault("route_counts", {})
        counts[name] = counts.get(name, 0) + 1
        return counts[name]


@_wire_route
def _r_limit__audio__speech(self: FaultServer, req: RecordedRequest, sock: socket.socket) -> None:
    text, wav, _ = _text_tone(self, req)
    limit = int(req.query.get("max", 4096))
    if len(text) > limit:
        err = {"error": {"message": f"[{{'type': 'string_too_long', 'loc': ('body', 'input'), 'msg': "
                                    f"'String should have at most {limit} characters'}}]",
                         "type": "invalid_request_error", "param": None, "code": None}}
        _respond(sock, 413, "application/json", json.dumps(err).encode())
        return
    _respond(sock, 200, "audio/wav", wav)


@_wire_route
def _r_slow_first__audio__speech(self: FaultServer, req: RecordedRequest, sock: socket.socket) -> None:
    _, wav, _ = _text_tone(self, req)
    if _route_count(self, "slow-first") == 1:
        self._sleep(int(req.query.get("delay_ms", 1000)) / 1000)
    _respond(sock, 200, "audio/wav", wav)


@_wire_route
def _r_one_in__audio__speech(self: FaultServer, req: RecordedRequest, sock: socket.socket) -> None:
    _, wav, _ = _text_tone(self, req)
    if _route_count(self, "one-in") % int(req.query.get("n", 10)) == 0:
        _respond(sock, 500, "application/json", b'{"error": {"message": "engine crashed on this one"}}')
        return
    _respond(sock, 200, "audio/wav", wav)


@_wire_route
def _r_paced__audio__speech(self: FaultServer, req: RecordedRequest, sock: socket.socket) -> None:
    _, wav, seconds = _text_tone(self, req)
    speedup = float(req.query.get("speedup", 5.0))
    if req.query.get("stream", "0") != "1":
        self._sleep(seconds / speedup)
        _respond(sock, 200, "audio/wav", wav)
        return
    header, pcm = make_streaming_wav_header(24000), wav[44:]
    sock.sendall(_head(200, "audio/wav", chunked=True) + _chunk(header))
    start, sent, step = time.monotonic(), 0, 4800 * 2  # 0.2 s of audio a piece
    while sent < len(pcm):
        piece = pcm[sent:sent + step]
        made_by = start + (sent + len(piece)) / 2 / 24000 / speedup
        self._sleep(max(0.0, made_by - time.monotonic()))
        sock.sendall(_chunk(piece))
        sent += len(piece)
    sock.sendall(b"0\r\n\r\n")
