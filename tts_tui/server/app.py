"""The embedded loopback TTS server: start, stop, and the process-wide one.

Endpoints (see handler.py): ``POST /v1/audio/speech`` (OpenAI-compatible;
wav and pcm streamed with chunked encoding, flac, mp3 and opus whole; SSE with
``stream_format = "sse"``), ``GET /v1/audio/voices``, ``GET /v1/models``, and
``POST``/``GET /api/tts`` (``text``, ``voice``, ``speed``; streamed WAV).
It listens on 127.0.0.1 unless told otherwise, and speaks with espeak-ng in
a small pool of worker processes (engine_pool.py), so requests are spoken on
several cores and a slow client never holds an engine.
"""

from __future__ import annotations

import errno
import socket
import socketserver
import sys
import threading
from http.server import ThreadingHTTPServer
from typing import TextIO

from tts_tui.core.errors import TtsError
from tts_tui.server.engine_pool import EnginePool, default_size
from tts_tui.server.handler import SpeechHandler

_LOOPBACK = ("127.0.0.1", "::1", "localhost")
MAX_PORT = 65535
# socketserver's default backlog is 5: a burst of clients overflows it and the
# kernel drops or resets their connections. Linux caps it at net.core.somaxconn.
LISTEN_BACKLOG = 1024


class _SpeechHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], *, quiet: bool, engines: EnginePool) -> None:
        self.quiet = quiet
        self.engines = engines
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, SpeechHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall on
        # DNS; the name is never used here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request: object, client_address: object) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)) or self.quiet:
            return
        super().handle_error(request, client_address)

    def track(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(connection)

    def untrack(self, connection: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(connection)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _warm_up(engines: EnginePool) -> None:
    # Start the first engine worker, load espeak here (for the voice list) and
    # import the encoders off the request path, so the first request is as
    # quick as the rest.
    engines.warm_up()
    try:
        from tts_tui.server import encode, espeak

        espeak.list_voices()
        encode.PcmResampler(22050, encode.PCM_RATE)
    except Exception:  # the first request will report it properly
        pass


class EmbeddedServer:
    """The TTS server on a background daemon thread.

    ``port=0`` picks a free port; ``base_url`` and ``openai_url`` are valid
    once :meth:`start` has returned. ``quiet=False`` logs each request and
    unexpected failures to stderr (client disconnects are never logged).
    ``workers`` is how many espeak-ng worker processes may speak at once
    (default ``min(usable CPUs, 4)``; 0 speaks in this process, one request
    at a time). Workers start in the background after :meth:`start`, one at
    first and more only under concurrent load; :meth:`stop` ends them all.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = True, workers: int | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.quiet = quiet
        self.workers = workers
        self._httpd: _SpeechHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._warm_up_thread: threading.Thread | None = None

    def start(self) -> EmbeddedServer:
        """Listen and serve in the background; raises TtsError if the address is unusable."""
        if self._httpd is not None:
            return self
        if not isinstance(self.port, int) or not 0 <= self.port <= MAX_PORT:
            raise TtsError(
                f"cannot listen on port {self.port}: a port is a number from 0 to {MAX_PORT}",
                hint="0 picks a free one",
            )
        engines = EnginePool(self.workers, quiet=self.quiet)
        try:
            httpd = _SpeechHTTPServer((self.host, self.port), quiet=self.quiet, engines=engines)
        except OSError as exc:
            raise _listen_error(self.host, self.port, exc) from None
        except (TypeError, ValueError) as exc:  # a NUL or another character no address holds
            raise TtsError(f"cannot listen on {self.host!r}: {exc}", hint="check --host") from None
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.2},
            name=f"tts-server:{self.port}", daemon=True,
        )
        self._thread.start()
        self._warm_up_thread = threading.Thread(
            target=_warm_up, args=(engines,), name="tts-server-warm-up", daemon=True
        )
        self._warm_up_thread.start()
        return self

    def stop(self) -> None:
        """Stop listening, drop open connections and end the engine workers; safe to call twice."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.close_connections()
        if self._warm_up_thread is not None:
            self._warm_up_thread.join(timeout=30)  # it may be loading espeak: let it finish first
        httpd.engines.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (a wildcard host is given as its loopback)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def openai_url(self) -> str:
        """The OpenAI base URL: ``base_url + "/v1"``."""
        return self.base_url + "/v1"

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _listen_error(host: str, port: int, exc: OSError) -> TtsError:
    where = f"{host}:{port}"
    if exc.errno == errno.EADDRINUSE:
        return TtsError(
            f"cannot listen on {where}: the port is already in use",
            hint="pick another with --port, or stop the program using it",
        )
    if exc.errno in (errno.EACCES, errno.EPERM):
        return TtsError(
            f"cannot listen on {where}: permission denied",
            hint="use a port above 1023",
        )
    return TtsError(f"cannot listen on {where}: {exc.strerror or exc}", hint="check --host")


_builtin: EmbeddedServer | None = None
_builtin_lock = threading.Lock()


def builtin_url() -> str:
    """The OpenAI base URL (``http://127.0.0.1:PORT/v1``) of this process's server.

    The server is started on the first call, on a free loopback port, and
    lives as long as the process; every call returns the same URL.
    """
    global _builtin
    with _builtin_lock:
        if _builtin is None:
            _builtin = EmbeddedServer().start()
        return _builtin.openai_url


def stop_builtin() -> None:
    """Stop this process's server and its engine workers, if :func:`builtin_url` started them.

    A later :func:`builtin_url` starts a new one (on a new port).
    """
    global _builtin
    with _builtin_lock:
        running, _builtin = _builtin, None
    if running is not None:
        running.stop()


def serve(host: str = "127.0.0.1", port: int = 8000, *, out: TextIO = sys.stdout) -> int:
    """Run the server in the foreground until Ctrl-C (``tts-tui serve``).

    Prints the URL and a hint to ``out`` and logs requests to stderr. Returns
    0 after Ctrl-C, or 1 after printing ``error: ...`` to stderr when it
    cannot listen.
    """
    server = EmbeddedServer(host, port, quiet=False)
    try:
        server.start()
    except TtsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    workers = default_size()
    print(
        f"tts-tui embedded server (espeak-ng, up to {workers} worker{'s' if workers > 1 else ''}) on {server.base_url}",
        file=out,
    )
    print(
        f"OpenAI base URL {server.openai_url}: POST /v1/audio/speech, GET /v1/audio/voices; "
        "Ctrl-C stops",
        file=out,
    )
    if host not in _LOOPBACK:
        print(f"warning: listening on {host}, not only this machine", file=out)
    out.flush()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
