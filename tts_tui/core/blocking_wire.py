"""LeanClient's `send` on a blocking socket, and what the bench's wires share.

`BlockingWire` (`say`'s path, through blocking_client; the bench's counted
requests use `bench_wire.LoopWire`, which shares `Fallback`, the connect and
the read size) is LeanClient's `send` for one thread: the same request bytes
(`LeanClient.plan`), the same response parser (`_Answer`, completed through a
`Completion` instead of a Future), the same clock (t0 = the request's first
byte written, less the connect's length) and the same one-line errors. It
keeps one keep-alive connection (TCP_NODELAY) per server and reads with
`recv_into` a large buffer, so a read costs a syscall and one copy whatever
the number of chunks the server wrote: no event loop, no transport, no
callbacks between the socket and the parser.

Its `send` is a coroutine that never suspends, so `speak` itself (the answer
decoder, the counting sink, the audio URL fetch) runs unchanged on a worker
thread: `run_to_end` drives it with one `send(None)`. Whatever LeanClient
would hand to its HttpClient (https, a proxy, a URL httpx would normalise, a
connection that cannot be opened, anything after a redirect or a cookie)
raises `Fallback` before a byte of that request is kept: the caller sends it
again on the async path.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Coroutine
from typing import Any

from tts_tui.core.client import CONNECT_TIMEOUT_MAX, MAX_BYTES, _connect_timeout, _host_port, _one_line
from tts_tui.core.exchange import Exchange
from tts_tui.core.lean_client import Completion, LeanClient, _Answer, _CallerFailed, _is_ip, has_data

_perf = time.perf_counter
READ_SIZE = 256 * 1024  # a whole short answer in one read, as fast as the kernel hands it over


class Fallback(Exception):
    """This request is the async path's to send (nothing of it was kept)."""


class BlockingWire:
    """One thread's client: `send` as LeanClient's, on blocking sockets.

    Not thread-safe: one per thread. `sent` counts the requests it wrote.
    `close` may be called from another thread to cut a read short."""

    def __init__(self, lean: LeanClient) -> None:
        self.lean = lean
        self.sent = 0
        self._socks: dict[tuple[str, int], socket.socket] = {}
        self._buffer = bytearray(READ_SIZE)
        self._view = memoryview(self._buffer)

    def close(self) -> None:
        for sock in list(self._socks.values()):
            _shut(sock)
        self._socks.clear()

    async def send(
        self,
        exchange: Exchange,
        *,
        timeout: float = 60.0,
        max_bytes: int = MAX_BYTES,
        on_headers: Callable[[Exchange], None] | None = None,
        on_chunk: Callable[[bytes], None] | None = None,
        keep_body: bool = True,
    ) -> Exchange:
        """As `LeanClient.send`, blocking (it never suspends); raises Fallback
        where LeanClient would hand the request to its HttpClient."""
        ex = exchange
        target, wire, sent_headers, answer, done = open_answer(self.lean, ex, on_headers, on_chunk, max_bytes,
                                                               keep_body)
        where = _host_port(ex.request.url)
        deadline = answer.start + timeout
        sock = self._socks.pop(target, None)
        if sock is not None and has_data(sock):  # the server's close, not yet read: not reusable
            _shut(sock)
            sock = None
        if sock is None:
            try:
                sock, answer.connect_s = _connect(target, min(timeout, CONNECT_TIMEOUT_MAX))
            except TimeoutError:
                answer.finish()
                ex.error = ex.request.mask(_connect_timeout(where, min(timeout, CONNECT_TIMEOUT_MAX)))
                return ex
        ex.sent_headers = dict(sent_headers)
        # the clock counts the connect, then from the request's first byte on (as LeanClient._send)
        ex.t0 = answer.start = _perf() - answer.connect_s
        try:
            sock.settimeout(max(deadline - _perf(), 1e-6))
            try:
                sock.sendall(wire)
                self.sent += 1
            except OSError as exc:  # the server went away: read what it said, if anything
                if not isinstance(exc, TimeoutError):
                    answer.lost(exc)
            self._read(sock, answer, done, deadline)
        except TimeoutError:
            _shut(sock)
            answer.timed_out(where, timeout)
            ex.error = ex.request.mask(ex.error)
            return ex
        if ex.error:
            ex.error = ex.request.mask(ex.error)
        if done.error is not None:
            _shut(sock)
            raise callers_error(ex, done)
        self.lean.learn_from(answer)
        if answer.redirect:
            _shut(sock)
            raise Fallback
        if answer.reusable and not answer.failed:
            self._socks[target] = sock
        else:
            _shut(sock)
        return ex

    def _read(self, sock: socket.socket, answer: _Answer, done: Completion, deadline: float) -> None:
        """Feed the answer every read until it is complete or failed; TimeoutError past `deadline`."""
        view, recv_into = self._view, sock.recv_into
        while not done._done:
            left = deadline - _perf()
            if left <= 0:
                raise TimeoutError
            sock.settimeout(left)
            try:
                size = recv_into(view)
            except TimeoutError:
                raise
            except OSError as exc:
                answer.lost(exc)
                return
            if not size:
                answer.lost(None)
                return
            answer.feed(view[:size].tobytes())


def open_answer(lean: LeanClient, ex: Exchange, on_headers: Callable[[Exchange], None] | None,
                on_chunk: Callable[[bytes], None] | None, max_bytes: int, keep_body: bool
                ) -> tuple[tuple[str, int], bytes, dict[str, str], _Answer, Completion]:
    """What a wire needs to send `ex` with LeanClient's bytes: (host and port,
    the request's bytes, the headers they hold, the answer to feed, its
    completion), its clock started (a failure before the first byte still has
    one). Fallback when LeanClient would hand it to its HttpClient."""
    plan = lean.plan(ex.request)
    if plan is None:
        raise Fallback
    target, wire, sent_headers = plan
    done = Completion()
    answer = _Answer(ex, ex.request.method.upper() == "HEAD", on_headers, on_chunk, max_bytes, keep_body, done)
    ex.t0 = answer.start = _perf()
    return target, wire, sent_headers, answer, done


def callers_error(ex: Exchange, done: Completion) -> BaseException:
    """on_headers or on_chunk raised: the exchange says so (one masked line) and
    their exception is what goes on to the caller, as with LeanClient."""
    assert done.error is not None
    cause = done.error.__cause__ if isinstance(done.error, _CallerFailed) else done.error
    ex.error = ex.request.mask(f"stopped by the caller: {_one_line(str(cause))}")
    return cause


def keep_freed_memory() -> None:
    """Ask glibc's malloc to keep freed memory for reuse (once per process;
    elsewhere a no-op). Each answer's bytes (a few hundred KB between the
    body, the decoder's copy and the audio's) are allocated and freed per
    request; by default glibc hands the freed top of the heap back to the
    kernel every time, and the next answer pays ~80 page faults, about 0.5 ms
    of system time per request on the client measured, to get it back."""
    global _memory_kept
    if _memory_kept:
        return
    _memory_kept = True
    try:
        import ctypes

        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc
        return
    mallopt(_M_TRIM_THRESHOLD, 64 << 20)  # free memory kept at the heap's top, up to this
    mallopt(_M_MMAP_THRESHOLD, 4 << 20)  # blocks below this come from the heap, not mmap


_memory_kept = False
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h


def run_to_end(coro: Coroutine[Any, Any, Any]) -> Any:
    """The result of a coroutine that never suspends (one whose awaits all
    end in BlockingWire.send), run on this thread without an event loop."""
    try:
        coro.send(None)
    except StopIteration as end:
        return end.value
    coro.close()
    raise RuntimeError("a coroutine run without a loop suspended")


def _connect(target: tuple[str, int], seconds: float) -> tuple[socket.socket, float]:
    """A connected socket (TCP_NODELAY), and the seconds its connect took (a
    host name's lookup included). TimeoutError past `seconds`; Fallback when it
    cannot connect (the HttpClient connects again and says why)."""
    host, port = target
    began = _perf()
    try:
        if _is_ip(host):
            sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
            try:
                sock.settimeout(seconds)
                began = _perf()
                sock.connect((host, port))
            except BaseException:
                sock.close()
                raise
        else:
            sock = socket.create_connection((host, port), timeout=seconds)
    except TimeoutError:
        raise
    except OSError:
        raise Fallback from None
    took = _perf() - began
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock, took


def _shut(sock: socket.socket) -> None:
    """Close `sock`, waking a read blocked on it in another thread."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
