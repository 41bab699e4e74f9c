"""The client `say` and `bench` send through: the server's time, not ours.

`LeanClient.send` keeps HttpClient's contract (the same Exchange fields, the
same one-line errors, the same timings, counted from the first network step)
for the common case: a plain http:// request to a server reached directly.
It keeps one keep-alive connection per request in flight, writes each
PreparedRequest's bytes once, and parses answers as asyncio hands them over
(`data_received`), passing each read's body bytes on in one piece (the
body's first 4 KB alone), each byte copied once. Per
request that is a few dozen Python calls where httpx makes thousands, so the
client's own work stays out of the latency it reports and off the cores the
server needs, and a `say` to a local server never imports httpx (~0.1 s).

Everything else goes through the HttpClient it wraps, with all its rules:
https, a proxy from the environment, a URL httpx would have to normalise, a
connection that cannot be opened (the HttpClient says why), and from the
first redirect or cookie on, every request (a redirect is sent again by the
HttpClient, which follows it).
"""

from __future__ import annotations

import ipaddress
import os
import re
import select
import socket
import time
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tts_tui.core.client import (
    CONNECT_TIMEOUT_MAX,
    MAX_BYTES,
    USER_AGENT,
    HttpClient,
    _connect_timeout,
    _host_port,
    _one_line,
    _secs,
    _size,
    describe_http_error,
)
from tts_tui.core.exchange import Exchange, PreparedRequest

if TYPE_CHECKING:
    import asyncio

_perf = time.perf_counter
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
_REDIRECTS = (301, 302, 303, 307, 308)
_MAX_HEAD = 64 * 1024
_FIRST_PIECE = 4096  # the body's first bytes go on alone (see _Answer._body)
# a request target httpx sends as written (anything else it would re-encode)
_PLAIN_TARGET = re.compile(r"[A-Za-z0-9\-._~:/?\[\]@!$&'()*+,;=%]*")


class _Delegate(Exception):
    """This exchange is the HttpClient's to make (nothing reached the server
    that it would not send again the same way)."""


class _CallerFailed(Exception):
    """on_headers/on_chunk raised: carried out of the protocol callbacks."""


class LeanClient:
    """HttpClient's `send`, lean where it can be; `aclose` closes both. `sent`
    counts the requests it wrote itself (the others went through `http`)."""

    def __init__(self, http: HttpClient | None = None) -> None:
        self.http = http or HttpClient()
        self.sent = 0
        self._resolver_ready = False
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._wire: dict[int, tuple[PreparedRequest, bytes, dict[str, str]]] = {}
        self._full_client_only = False  # a redirect or a cookie came: httpx from then on
        self._proxied = bool({"http", "all"} & _proxy_schemes())

    def close_connections(self) -> None:
        """Close this client's own connections (not the HttpClient's)."""
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def aclose(self) -> None:
        self.close_connections()
        await self.http.aclose()

    async def send(self, exchange: Exchange, **options: Any) -> Exchange:
        """As `HttpClient.send`."""
        target = self._target(exchange.request)
        if target is not None:
            try:
                return await self._send(exchange, target, **options)
            except _Delegate:
                pass
            finally:
                if exchange.error:
                    exchange.error = exchange.request.mask(exchange.error)
        return await self.http.send(exchange, **options)

    def _target(self, request: PreparedRequest) -> tuple[str, int] | None:
        """(host, port) when this client sends `request` itself, else None."""
        if self._full_client_only or not request.url.isascii() or " " in request.url:
            return None
        try:
            parts = urlsplit(request.url)
            port = parts.port or 80
        except ValueError:
            return None
        host = parts.hostname or ""
        if parts.scheme != "http" or not host or "@" in parts.netloc:
            return None
        if self._proxied and host not in _LOOPBACK:
            return None
        return host, port

    def plan(self, request: PreparedRequest) -> tuple[tuple[str, int], bytes, dict[str, str]] | None:
        """((host, port), the bytes to write, the headers they hold) when this
        client would send `request` itself, else None (the HttpClient would)."""
        target = self._target(request)
        made = None if target is None else self._request_bytes(request, *target)
        return None if made is None else (target, *made)  # type: ignore[misc]

    def _request_bytes(self, request: PreparedRequest, host: str, port: int) -> tuple[bytes, dict[str, str]] | None:
        """The request as it goes on the wire (made once per request object),
        with the headers httpx would add; None when httpx should send it."""
        cached = self._wire.get(id(request))
        if cached is not None and cached[0] is request:
            return cached[1], cached[2]
        parts = urlsplit(request.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if not _PLAIN_TARGET.fullmatch(target) or "/." in parts.path:
            return None
        authority = f"[{host}]" if ":" in host else host
        headers = {"Host": authority if port == 80 else f"{authority}:{port}", "Accept": "*/*",
                   "Accept-Encoding": "gzip, deflate", "Connection": "keep-alive", "User-Agent": USER_AGENT}
        for name, value in request.headers.items():
            for known in [k for k in headers if k.lower() == name.lower()]:
                del headers[known]
            headers[name] = value
        body = request.body
        if body is not None or request.method.upper() in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body or b""))
        lines = [f"{request.method.upper()} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers.items())]
        text = "\r\n".join(lines)
        if "\0" in text or any("\r" in f"{k}{v}" or "\n" in f"{k}{v}" for k, v in headers.items()):
            return None
        try:
            head = (text + "\r\n\r\n").encode("latin-1")
        except UnicodeEncodeError:
            return None
        wire = head + (body or b"")
        self._wire[id(request)] = (request, wire, headers)
        return wire, headers

    async def _send(
        self,
        exchange: Exchange,
        target: tuple[str, int],
        *,
        timeout: float = 60.0,
        max_bytes: int = MAX_BYTES,
        on_headers: Callable[[Exchange], None] | None = None,
        on_chunk: Callable[[bytes], None] | None = None,
        keep_body: bool = True,
    ) -> Exchange:
        ex = exchange
        host, port = target
        made = self._request_bytes(ex.request, host, port)
        if made is None:
            raise _Delegate
        import asyncio

        await self.warm_up(host)
        wire, sent_headers = made
        where = _host_port(ex.request.url)
        answer = _Answer(ex, ex.request.method.upper() == "HEAD", on_headers, on_chunk, max_bytes, keep_body)
        connection: _Connection | None = None
        ex.t0 = answer.start = _perf()  # until the first byte goes: a failure still has a clock
        try:
            async with asyncio.timeout(timeout):
                connection = self._idle_connection(target)
                if connection is None:
                    connection, answer.connect_s = await self._connect(target, min(timeout, CONNECT_TIMEOUT_MAX), where)
                ex.sent_headers = dict(sent_headers)
                connection.begin(answer)
                # the clock counts the connect, then from the request's first byte on:
                # making the socket and transport is the client's work, not the server's time
                ex.t0 = answer.start = _perf() - answer.connect_s
                connection.transport.write(wire)
                self.sent += 1
                await answer.done
        except asyncio.CancelledError:
            answer.finish()
            ex.error = "cancelled"
            if connection is not None:
                connection.close()
            raise
        except _ConnectTimedOut as exc:
            answer.finish()
            ex.error = str(exc)
            return ex
        except TimeoutError:
            answer.finish()
            if connection is None:  # the deadline came while connecting
                ex.error = _connect_timeout(where, timeout)
                return ex
            connection.close()
            answer.timed_out(where, timeout)
            return ex
        except _CallerFailed as failed:
            answer.finish()
            if connection is not None:
                connection.close()
            ex.error = f"stopped by the caller: {_one_line(str(failed.__cause__))}"
            raise failed.__cause__ from None  # type: ignore[misc]
        assert connection is not None
        self.learn_from(answer)
        if answer.redirect:
            connection.close()
            raise _Delegate
        connection.end()
        if answer.reusable and not connection.closed:
            self._idle.setdefault(target, []).append(connection)
        else:
            connection.close()
        return ex

    def learn_from(self, answer: _Answer) -> None:
        """After a redirect or a cookie, every request goes through the
        HttpClient (it follows redirects and keeps cookies); so for the wires
        that send LeanClient's bytes."""
        if answer.redirect or answer.cookie:
            self._full_client_only = True

    def _idle_connection(self, target: tuple[str, int]) -> _Connection | None:
        pool = self._idle.get(target)
        while pool:
            connection = pool.pop()
            if not connection.closed and not connection.readable():
                return connection
            connection.close()
        return None

    async def warm_up(self, host: str) -> None:
        """Start asyncio's resolver thread before the first clock starts when
        `host` is a name: its first use would count as connect time."""
        if self._resolver_ready or _is_ip(host):
            return
        self._resolver_ready = True
        import asyncio

        await asyncio.get_running_loop().run_in_executor(None, _nothing)

    async def _connect(self, target: tuple[str, int], seconds: float, where: str) -> tuple[_Connection, float]:
        """A new connection, and the seconds its connect took: from the connect()
        call to the socket being up (a host name's lookup included), without
        the client's work of making the socket and its transport."""
        import asyncio

        loop = asyncio.get_running_loop()
        host, port = target
        try:
            async with asyncio.timeout(seconds):
                if not _is_ip(host):
                    began = _perf()
                    _, connection = await loop.create_connection(_Connection, host, port)
                    return connection, _perf() - began
                sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
                try:
                    sock.setblocking(False)
                    began = _perf()
                    await _connect_socket(loop, sock, (host, port))
                    took = _perf() - began
                    _, connection = await loop.create_connection(_Connection, sock=sock)
                except BaseException:
                    sock.close()
                    raise
                return connection, took
        except TimeoutError:
            raise _ConnectTimedOut(_connect_timeout(where, seconds)) from None
        except OSError:
            raise _Delegate from None  # nothing was sent: HttpClient connects again and says why


def has_data(sock: socket.socket) -> bool:
    """True when an idle connection's socket has something to read (the
    server's close, not yet seen): it must not carry another request."""
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


async def _connect_socket(loop: asyncio.AbstractEventLoop, sock: socket.socket, address: tuple[str, int]) -> None:
    """Connect the non-blocking `sock`. A handshake done by the time connect()
    returns (the usual case on loopback and a LAN) is taken as it is, without
    a round of the event loop, which a cold process would count as connect time."""
    try:
        sock.connect(address)
        return
    except BlockingIOError:
        pass
    if not select.select([], [sock], [], 0)[1]:
        await loop.sock_connect(sock, address)  # still in progress: wait for it in the loop
        return
    error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
    if error:
        raise OSError(error, os.strerror(error))


class _ConnectTimedOut(TimeoutError):
    pass


def _proxy_schemes() -> set[str]:
    """The schemes the environment names a proxy for, read as
    urllib.request.getproxies reads them on POSIX (as httpx does), without
    importing urllib.request (~40 ms: http.client, email)."""
    environ = os.environ
    proxies = {name.lower()[:-6] for name, value in environ.items() if value and name.lower().endswith("_proxy")}
    if "REQUEST_METHOD" in environ:  # a CGI script: HTTP_PROXY may come from a client's header
        proxies.discard("http")
    for name, value in environ.items():  # lower-case names win, an empty one clears
        if name.endswith("_proxy"):
            (proxies.add if value else proxies.discard)(name.lower()[:-6])
    return proxies


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _nothing() -> None:
    pass


class _Connection:
    """One keep-alive connection, carrying one answer at a time: an asyncio
    protocol, duck-typed (asyncio.Protocol as a base would import asyncio for
    `say`'s blocking path too; its two flow-control methods are these no-ops)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.closed = False
        self._answer: _Answer | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def pause_writing(self) -> None:
        pass

    def resume_writing(self) -> None:
        pass

    def begin(self, answer: _Answer) -> None:
        self._answer = answer

    def end(self) -> None:
        self._answer = None

    def data_received(self, data: bytes) -> None:
        if self._answer is None:  # bytes nobody asked for: the connection cannot be trusted
            self.close()
            return
        self._answer.feed(data)
        if self._answer.failed:
            self.close()

    def eof_received(self) -> bool:
        self.closed = True
        if self._answer is not None:
            self._answer.lost(None)
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self._answer is not None:
            self._answer.lost(exc)

    def readable(self) -> bool:
        """True when an idle connection has something to read: the server's
        close, not yet seen by the loop (as httpcore checks before reuse)."""
        sock = self.transport.get_extra_info("socket") if self.transport is not None else None
        return sock is not None and has_data(sock)

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


class _Answer:
    """One response, parsed as its bytes arrive (`feed`, `lost`: no I/O of its
    own); fills the Exchange as HttpClient would. `done` resolves when it is
    complete or failed: an asyncio Future unless the caller hands in an object
    with the same four methods (`Completion`, for a reader without a loop)."""

    def __init__(self, exchange: Exchange, head_only: bool, on_headers: Callable[[Exchange], None] | None,
                 on_chunk: Callable[[bytes], None] | None, max_bytes: int, keep_body: bool,
                 done: Any = None) -> None:
        self.ex = exchange
        self.head_only = head_only
        self.on_headers, self.on_chunk = on_headers, on_chunk
        self.max_bytes, self.keep_body = max_bytes, keep_body
        self.store = keep_body
        if done is None:
            import asyncio

            done = asyncio.get_running_loop().create_future()
        self.done: asyncio.Future[None] = done
        self.start = 0.0
        self.connect_s = 0.0
        self.headers_at: float | None = None
        self.got = 0  # body bytes handed on (decoded)
        self.raw = 0  # body bytes received (as sent)
        self.chunks: list[bytes] = []
        self.failed = False
        self.reusable = False
        self.redirect = self.cookie = False
        self._buf = bytearray()
        self._mode = "head"  # head | length | chunked | close | done
        self._left = 0  # length: bytes still to come; chunked: bytes left in this chunk
        self._expected = 0
        self._chunk_state = "size"  # size | data | crlf | trailer | done
        self._decoder: Any = None

    # -- what the connection tells --------------------------------------------
    def feed(self, data: bytes) -> None:
        if self.done.done():
            return
        try:
            pos = 0
            if self._mode == "head":
                if self._buf:  # the head came in more than one read
                    data, self._buf = bytes(self._buf) + data, bytearray()
                pos = self._head(data)
                if pos is None:
                    return
            if self._mode == "length":
                take = min(len(data) - pos, self._left)
                if take < len(data) - pos:  # more than the answer: the connection is not clean
                    self.reusable = False
                self._left -= take
                self._body([memoryview(data)[pos : pos + take]] if pos or take < len(data) else [data])
                if self._left == 0:
                    self._complete()
            elif self._mode == "chunked":
                self._chunked(data, pos)
            elif self._mode == "close":
                self._body([memoryview(data)[pos:]] if pos else [data])
        except _CallerFailed as failed:
            self._fail(failed)
        except _ProtocolBroken as broken:
            self._fail_with(broken.message, truncated=self.headers_at is not None)

    def lost(self, exc: Exception | None) -> None:
        if self.done.done():
            return
        if self._mode == "close" and exc is None:
            self._complete()
            return
        where = _host_port(self.ex.request.url)
        if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
            message = "the connection was reset by the server" + (f" after {self.got} bytes" if self.got else "")
        elif self._mode == "head":
            message = f"{where} closed the connection without answering"
        elif self._mode == "length":
            message = f"the server closed the connection after {self.raw} of {self._expected} bytes"
        else:
            message = f"the server closed the connection mid-answer (after {self.got} bytes)"
        self._fail_with(message, truncated=self.headers_at is not None)

    # -- the stages -----------------------------------------------------------
    def _head(self, data: bytes) -> int | None:
        """Parse the status line and headers once they are all in `data`: where
        the body starts, or None (the head is incomplete, kept for the next
        read; or the answer is already complete)."""
        pos = 0
        while True:
            end = data.find(b"\r\n\r\n", pos)
            if end == -1:
                if len(data) - pos > _MAX_HEAD:
                    raise _ProtocolBroken(f"{_host_port(self.ex.request.url)} broke the HTTP protocol: "
                                          "the response headers are too long")
                self._buf = bytearray(data[pos:])
                return None
            head = data[pos:end].decode("latin-1")
            pos = end + 4
            status_line, *lines = head.split("\r\n")
            version, _, rest = status_line.partition(" ")
            code, _, reason = rest.partition(" ")
            if not version.startswith("HTTP/1.") or not code.isdigit() or len(code) != 3:
                raise _ProtocolBroken(f"{_host_port(self.ex.request.url)} broke the HTTP protocol: "
                                      f"not an HTTP/1.1 status line: {_one_line(status_line, 60)!r}")
            status = int(code)
            if 100 <= status < 200:  # 100 Continue and friends: the answer follows
                continue
            break
        raw: list[tuple[str, str]] = []
        for line in lines:
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise _ProtocolBroken(f"{_host_port(self.ex.request.url)} broke the HTTP protocol: "
                                      f"a malformed header line: {_one_line(line, 60)!r}")
            raw.append((name, value.strip()))
        self.headers_at = _perf()
        ex = self.ex
        ex.status, ex.reason = status, reason.strip()
        headers: dict[str, str] = {}
        lower: dict[str, str] = {}
        for name, value in raw:
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
            key = name.lower()
            lower[key] = f"{lower[key]}, {value}" if key in lower else value
        ex.response_headers = headers
        ex.content_type = lower.get("content-type", "")
        self.cookie = "set-cookie" in lower
        if status in _REDIRECTS and "location" in lower:
            self.redirect = True
            self.done.set_result(None)
            return None
        connection_tokens = {t.strip().lower() for t in lower.get("connection", "").split(",")}
        self.reusable = version == "HTTP/1.1" and "close" not in connection_tokens
        encoding = lower.get("content-encoding", "").strip().lower()
        if encoding in ("gzip", "x-gzip"):
            self._decoder = zlib.decompressobj(zlib.MAX_WBITS | 16)
        elif encoding == "deflate":
            self._decoder = _Deflate()
        self.store = self.keep_body or status >= 400
        if self.on_headers is not None:
            self._call(self.on_headers, ex)
        if self.head_only or status in (204, 304):
            self._complete()
        elif "chunked" in lower.get("transfer-encoding", "").lower():
            self._mode = "chunked"
        elif "content-length" in lower:
            try:
                self._left = self._expected = int(lower["content-length"].split(",")[0])
            except ValueError:
                raise _ProtocolBroken(f"{_host_port(self.ex.request.url)} broke the HTTP protocol: "
                                      "a Content-Length that is not a number") from None
            self._mode = "length"
            if self._left == 0:
                self._complete()
        else:
            self._mode = "close"
            self.reusable = False
        return None if self._mode == "done" else pos

    def _chunked(self, data: bytes, pos: int) -> None:
        """Chunked transfer coding. The data of every chunk in this read goes
        on in one piece, each byte copied once (slices of `data`, joined);
        only a size line or CRLF cut by the end of a read is carried over."""
        if self._buf:
            data, pos, self._buf = bytes(self._buf) + data[pos:], 0, bytearray()
        view, end = memoryview(data), len(data)
        pieces: list[memoryview] = []
        state, left = self._chunk_state, self._left
        while pos < end:
            if state == "data":
                take = min(left, end - pos)
                pieces.append(view[pos : pos + take])
                pos += take
                left -= take
                if left:
                    break
                state = "crlf"
            elif state == "crlf":
                if end - pos < 2:
                    self._buf = bytearray(data[pos:])
                    break
                pos += 2
                state = "size"
            else:  # a size line, or a trailer line (an empty one ends the body)
                cut = data.find(b"\r\n", pos)
                if cut == -1:
                    self._buf = bytearray(data[pos:])
                    break
                line, pos = data[pos:cut], cut + 2
                if state == "trailer":
                    if not line:
                        self._chunk_state = "done"
                        self._body(pieces)
                        self._complete()
                        return
                    continue
                try:
                    left = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise _ProtocolBroken(f"{_host_port(self.ex.request.url)} broke the HTTP protocol: "
                                          "a malformed chunk size") from None
                if not left:
                    state = "trailer"
                elif pos + left + 2 <= end:  # the whole chunk and its CRLF are in this read (most
                    pieces.append(view[pos : pos + left])  # are): one step, on to the next size line
                    pos, left = pos + left + 2, 0
                else:
                    state = "data"
        self._chunk_state, self._left = state, left
        self._body(pieces)

    def _body(self, pieces: list[Any]) -> None:
        """Body bytes as received (slices of one read). The first few KB go on
        alone: readers sniff and parse a header from what they are handed
        first, copying it as they look, and a small first piece keeps that
        cheap whatever the server's write sizes."""
        size = sum(map(len, pieces))
        if not size or self.done.done():
            return
        self.raw += size
        if self._decoder is not None:
            try:
                data = b"".join([self._decoder.decompress(piece) for piece in pieces])
            except zlib.error as exc:
                raise _ProtocolBroken(f"cannot decode the answer from {_host_port(self.ex.request.url)}: {exc}") from None
            self._deliver(data)
            return
        if self.got == 0 and size > _FIRST_PIECE:
            first: list[Any] = []
            need = _FIRST_PIECE
            while need:
                piece = memoryview(pieces[0])
                first.append(piece[:need])
                pieces[0] = piece[need:]
                if not pieces[0]:
                    del pieces[0]
                need -= len(first[-1])
            self._deliver(b"".join(first))
            if self.done.done():
                return
        self._deliver(pieces[0] if len(pieces) == 1 and type(pieces[0]) is bytes else b"".join(pieces))

    def _deliver(self, data: bytes) -> None:
        if not data:
            return
        cut = False
        if self.got + len(data) > self.max_bytes:
            data = data[: self.max_bytes - self.got]
            cut = True
        self.got += len(data)
        if self.store:
            self.chunks.append(data)
        if self.on_chunk is not None and data:
            self._call(self.on_chunk, data)
        if cut:
            self.ex.truncated = True
            self._fail_with(f"the answer is larger than {_size(self.max_bytes)}; cut", truncated=True)

    def _complete(self) -> None:
        if self._decoder is not None:
            rest, self._decoder = self._decoder.flush(), None
            self._deliver(rest)
        if self.done.done():
            return
        self._mode = "done"
        self.finish()
        ex = self.ex
        if ex.error is None and ex.status is not None and ex.status >= 400:
            ex.error = describe_http_error(ex.status, ex.content_type, b"".join(self.chunks))
        self.done.set_result(None)

    def finish(self) -> None:
        """Timings, size and body, as far as the answer got (HttpClient's `finish`)."""
        end = _perf()
        ex = self.ex
        if self.headers_at is not None:
            ex.connect_ms = self.connect_s * 1000.0
            ex.ttfb_ms = (self.headers_at - self.start) * 1000.0
        ex.total_ms = (end - self.start) * 1000.0
        ex.bytes = self.got
        if self.keep_body:
            ex.body = b"".join(self.chunks)

    def timed_out(self, where: str, timeout: float) -> None:
        """The deadline came after the connection was up: say where the answer stood."""
        self.finish()
        ex = self.ex
        if self.headers_at is None:
            ex.error = f"no answer from {where} within {_secs(timeout)} s"
        else:
            ex.truncated = True
            ex.error = f"the answer did not finish within {_secs(timeout)} s (cut after {self.got} bytes)"

    def _fail_with(self, message: str, *, truncated: bool) -> None:
        if self.done.done():
            return
        self.failed = True
        self.reusable = False
        self.finish()
        if truncated:
            self.ex.truncated = True
        self.ex.error = message
        self.done.set_result(None)

    def _fail(self, failed: _CallerFailed) -> None:
        self.failed = True
        self.reusable = False
        if not self.done.done():
            self.done.set_exception(failed)

    def _call(self, callback: Callable[[Any], None], arg: Any) -> None:
        try:
            callback(arg)
        except Exception as exc:
            raise _CallerFailed from exc


class Completion:
    """What `_Answer` needs of its `done` future, for an answer read without
    an event loop: a flag, and the exception the reader must raise (a caller's
    callback that failed), if any."""

    __slots__ = ("_done", "error")

    def __init__(self) -> None:
        self._done = False
        self.error: BaseException | None = None

    def done(self) -> bool:
        return self._done

    def set_result(self, _: None) -> None:
        self._done = True

    def set_exception(self, error: BaseException) -> None:
        self._done, self.error = True, error


class _ProtocolBroken(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Deflate:
    """`deflate` as servers send it: zlib-wrapped, or (against the RFC) raw."""

    def __init__(self) -> None:
        self._inner: Any = None
        self._first = True

    def decompress(self, data: bytes) -> bytes:
        if self._first:
            self._first = False
            self._inner = zlib.decompressobj()
            try:
                return self._inner.decompress(data)
            except zlib.error:
                self._inner = zlib.decompressobj(-zlib.MAX_WBITS)
        return self._inner.decompress(data)

    def flush(self) -> bytes:
        return self._inner.flush() if self._inner is not None else b""
