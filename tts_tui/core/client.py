"""The HTTP client: sends one PreparedRequest, fills in its Exchange.

`HttpClient.send` never raises for a network or HTTP problem: it writes a
one-line message a person can act on into `exchange.error` and returns. It
streams the body (so playback can start early), measures the timings of DESIGN
section 5 from httpx's trace events, cuts answers past a size cap or a
deadline, and says so. Whether the body is audio is decided elsewhere.

httpx is imported on first use: it costs ~0.2 s, which start-up cannot afford.
asyncio and ssl (~35 ms with what they bring) are imported where an exchange
or a TLS error needs them: `say` on a plain http:// server sends on a blocking
socket (`blocking_client`), with constants and error texts from here and no
event loop at all.
"""

from __future__ import annotations

import errno
import json
import re
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tts_tui.core.exchange import Exchange, PreparedRequest
from tts_tui.core.masking import is_secret_name, mask_url

if TYPE_CHECKING:
    import ssl

    import httpx

MAX_BYTES = 50 * 1024 * 1024
CONNECT_TIMEOUT_MAX = 10.0
ERROR_TEXT_MAX = 200
USER_AGENT = "tts-tui"

_perf = time.perf_counter


class HttpClient:
    """One connection pool (HTTP/1.1, redirects followed) shared by every exchange."""

    def __init__(self) -> None:
        self._client: httpx.AsyncClient | None = None
        self._warmed = False

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx
            # httpcore imports its network backend (anyio) inside the first
            # connect, and anyio its asyncio backend at the first lock: import
            # them here (warm_up runs this in a worker), so neither the first
            # send nor warm_network pays for them on the event loop.
            import anyio._backends._asyncio  # noqa: F401
            import httpcore._backends.anyio  # noqa: F401

            # trust_env keeps the user's proxy settings, but a proxy can never
            # reach a server on this machine: loopback always goes direct.
            direct = {f"all://{host}": None for host in ("127.0.0.1", "localhost", "[::1]")}
            from tts_tui.core.tls import lazy_verify_context

            self._client = httpx.AsyncClient(
                # httpx's own verify=True context, its CA bundle read at the first handshake
                verify=lazy_verify_context(),
                follow_redirects=True,
                http1=True,
                http2=False,
                trust_env=True,
                mounts=direct,
                headers={"User-Agent": USER_AGENT},
                timeout=None,
                event_hooks={"request": [_drop_secrets_across_origins]},
            )
        return self._client

    def warm_up(self) -> None:
        """Import httpx and build the pool now (from a worker), so the first send is quick."""
        self._http()

    async def warm_network(self) -> None:
        """Run one exchange through the whole stack against a throwaway server
        on 127.0.0.1, so the first real request pays for nothing but itself:
        anyio and h11 load parts of themselves (and asyncio its resolver
        thread) on first use, ~15-30 ms that would otherwise show as the
        server's TTFB. Done once per client; never raises."""
        if self._warmed:
            return
        self._warmed = True
        import asyncio
        import contextlib

        http = self._http()

        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.IncompleteReadError):
                await reader.readuntil(b"\r\n\r\n")
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
                             b"Connection: close\r\n\r\nok")
                await writer.drain()
            writer.close()

        try:
            server = await asyncio.start_server(answer, "127.0.0.1", 0)
        except OSError:
            return
        port = server.sockets[0].getsockname()[1]
        try:
            async with asyncio.timeout(2.0):
                await http.get(f"http://127.0.0.1:{port}/", extensions={"trace": _Timeline(Exchange(PreparedRequest("GET", ""))).trace})
        except Exception:  # noqa: BLE001 - a warm-up that fails costs only accuracy
            pass
        finally:
            server.close()

    async def aclose(self) -> None:
        """Close every pooled connection; the client can be used again afterwards."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def send(self, exchange: Exchange, **options: Any) -> Exchange:
        """Send `exchange.request` and fill in `exchange` (see `_send`). Every
        secret the request carries is masked in the error, whatever put it
        there: the URL, a header httpx refused, a server that echoes the key."""
        await self.warm_network()
        try:
            return await self._send(exchange, **options)
        finally:
            if exchange.error:
                exchange.error = exchange.request.mask(exchange.error)

    async def _send(
        self,
        exchange: Exchange,
        *,
        timeout: float = 60.0,
        max_bytes: int = MAX_BYTES,
        on_headers: Callable[[Exchange], None] | None = None,
        on_chunk: Callable[[bytes], None] | None = None,
        keep_body: bool = True,
    ) -> Exchange:
        """Send `exchange.request` and fill in `exchange`; return the same object.

        Callers can rely on: `error` is None exactly when the server answered
        2xx/3xx and the whole body arrived within `timeout` seconds and
        `max_bytes`; otherwise it is one line saying what went wrong. What did
        arrive is kept (`body`, `bytes`, `truncated=True` when cut). Timings are
        milliseconds from the call: connect_ms (0 on a reused connection),
        ttfb_ms (to the response headers), total_ms (to the last byte, or to
        the failure). `on_headers` runs once headers arrive, `on_chunk` for each
        body chunk as it arrives (both in this task). On cancellation, `error`
        becomes "cancelled" and CancelledError is re-raised.
        """
        try:
            http = self._http()
        except Exception as exc:  # noqa: BLE001 - e.g. a broken proxy variable
            exchange.error = f"cannot set up the HTTP client: {_one_line(str(exc))}"
            return exchange
        import asyncio

        import httpx

        timeline = _Timeline(exchange)
        ex = exchange
        req = ex.request
        try:
            urlsplit(req.url).port  # a bad port or bracket fails here, before httpx
        except ValueError as exc:
            ex.error = f"invalid URL '{req.masked_url()}': {exc}"
            return ex
        where = _host_port(req.url)
        chunks: list[bytes] = []
        got = 0
        headers_at: float | None = None
        store = keep_body

        def finish() -> None:
            end = _perf()
            start = timeline.start
            if headers_at is not None:
                ex.connect_ms = timeline.connect_total * 1000.0
                ex.ttfb_ms = (timeline.marks.get("headers", headers_at) - start) * 1000.0
            ex.total_ms = (end - start) * 1000.0
            ex.bytes = got
            if keep_body:
                ex.body = b"".join(chunks)

        try:
            limits = httpx.Timeout(timeout, connect=min(timeout, CONNECT_TIMEOUT_MAX))
            async with asyncio.timeout(timeout):
                async with http.stream(
                    req.method, req.url, headers=req.headers, content=req.body,
                    timeout=limits,
                    extensions={"trace": timeline.trace, _ORIGIN: _origin(req.url), _SECRETS: tuple(req.secrets)},
                ) as resp:
                    headers_at = _perf()
                    ex.status = resp.status_code
                    ex.reason = resp.reason_phrase
                    ex.response_headers = _header_dict(resp.headers.raw)
                    ex.content_type = resp.headers.get("content-type", "")
                    # an error page is read even when the caller wants no body:
                    # its words go into the message
                    store = keep_body or ex.status >= 400
                    if on_headers is not None:
                        _call(on_headers, ex)
                    async for chunk in resp.aiter_bytes():
                        if got + len(chunk) > max_bytes:
                            chunk = chunk[: max_bytes - got]
                            ex.truncated = True
                        got += len(chunk)
                        if store:
                            chunks.append(chunk)
                        if on_chunk is not None and chunk:
                            _call(on_chunk, chunk)
                        if ex.truncated:
                            ex.error = f"the answer is larger than {_size(max_bytes)}; cut"
                            break
            finish()
            if ex.error is None and ex.status is not None and ex.status >= 400:
                ex.error = describe_http_error(ex.status, ex.content_type, b"".join(chunks))
        except asyncio.CancelledError:
            finish()
            ex.error = "cancelled"
            raise
        except TimeoutError:
            # our own deadline (httpx's timeouts are not TimeoutError)
            finish()
            if "connect" in timeline.marks and "connected" not in timeline.marks and headers_at is None:
                ex.error = _connect_timeout(where, timeout)
            elif headers_at is None:
                ex.error = f"no answer from {where} within {_secs(timeout)} s"
            else:
                ex.truncated = True
                ex.error = (f"the answer did not finish within {_secs(timeout)} s "
                            f"(cut after {got} bytes)")
        except _CallbackFailed as failed:
            # the caller's own bug or device error: theirs to see, not a network fault
            finish()
            ex.error = f"stopped by the caller: {_one_line(str(failed.__cause__))}"
            raise failed.__cause__ from None  # type: ignore[misc]
        except Exception as exc:  # noqa: BLE001 - the contract is: never raise
            finish()
            if headers_at is not None:
                ex.truncated = True
            ex.error = _describe_exception(exc, req.url, where, timeout, got)
        return ex


async def _drop_secrets_across_origins(request: httpx.Request) -> None:
    """A redirect to another origin carries none of the secret-bearing headers
    (httpx drops only Authorization): X-Api-Key, xi-api-key, token, Cookie...,
    and any header whose value holds one of the request's secrets."""
    first = request.extensions.get(_ORIGIN)
    if first is None or _origin(str(request.url)) == first:
        return
    secrets = request.extensions.get(_SECRETS, ())
    for name in list(request.headers):
        value = request.headers[name]
        if is_secret_name(name) or any(s and s in value for s in secrets):
            del request.headers[name]


_ORIGIN, _SECRETS = "tts_tui.origin", "tts_tui.secrets"


def _origin(url: str) -> tuple[str, str, int | None]:
    try:
        parts = urlsplit(url)
        return parts.scheme.lower(), (parts.hostname or "").lower(), parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return "", url, None


class _Timeline:
    """Where an exchange's time went, from httpx's trace events.

    The clock counts the network only: the connection's DNS + TCP (+ TLS)
    when one is opened, then from the request's first byte on. Client work
    before the connect (imports, the pool, a TLS context) and between the
    connect and the first byte (httpx building the request) is never counted
    as the server's time: once the first byte goes, `exchange.t0` is set to
    that moment less the connect's length. Until the first event it is the
    time of the call, so a request that fails before reaching the network
    still has a clock.
    """

    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange
        self.start = exchange.t0 = _perf()
        self.started = False
        self.sent = False  # the first request's first byte went
        self.marks: dict[str, float] = {}
        self.connect_total = 0.0

    async def trace(self, name: str, info: dict[str, Any]) -> None:
        now = _perf()
        if not self.started and name in ("connection.connect_tcp.started", "http11.send_request_headers.started"):
            self.started = True
            self.start = self.exchange.t0 = now
        marks = self.marks
        if name == "connection.connect_tcp.started":
            marks["connect"] = now
        elif name in ("connection.connect_tcp.complete", "connection.start_tls.complete"):
            marks["connected"] = now
        if name == "http11.send_request_headers.started":
            # what went on the wire, with what httpx adds (Host, User-Agent, Content-Length)
            request = info.get("request")
            if request is not None:
                self.exchange.sent_headers = _header_dict(request.headers)
        if name == "http11.send_request_headers.started" and "connected" in marks:
            # a redirect may open more connections: count them all
            connect = marks.pop("connected") - marks.pop("connect")
            if not self.connect_total and not self.sent:  # the first request: its connect, then its first byte
                self.start = self.exchange.t0 = now - connect
            self.connect_total += connect
        if name == "http11.send_request_headers.started":
            self.sent = True
        elif name == "http11.receive_response_headers.complete":
            marks["headers"] = now


class _CallbackFailed(Exception):
    """Carries an exception raised by on_headers/on_chunk past the network handlers."""


def _call(callback: Callable[[Any], None], arg: Any) -> None:
    try:
        callback(arg)
    except Exception as exc:
        raise _CallbackFailed from exc


def describe_http_error(status: int, content_type: str, body: bytes) -> str:
    """'HTTP 400 Bad Request: <the server's own words>', one line, ~200 chars at most.

    The words come from the usual error shapes: JSON `error.message`, `error`,
    `detail` (a string or FastAPI's list of {loc, msg}), `message`; an HTML
    page's <title> or first text; plain text as it is.
    """
    try:
        from http import HTTPStatus

        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    head = f"HTTP {status} {phrase}".rstrip()
    text = _error_text(content_type, body)
    return f"{head}: {text}" if text else head


def _error_text(content_type: str, body: bytes) -> str:
    import html

    if not body:
        return ""
    ctype = content_type.lower()
    stripped = body.lstrip()[:1]
    if "json" in ctype or stripped in (b"{", b"["):
        try:
            found = _json_error(json.loads(body))
        except ValueError:
            found = None
        if found:
            return _one_line(found)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return f"{_size(len(body))} of {content_type or 'binary data'}"
    if "html" in ctype or stripped == b"<":
        title = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
        if title and title.group(1).strip():
            return _one_line(html.unescape(title.group(1)))
        text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.IGNORECASE | re.DOTALL)
        text = html.unescape(re.sub(r"<[^>]*>", " ", text))
    return _one_line(text)


def _json_error(doc: Any) -> str | None:
    if isinstance(doc, str):
        return doc
    if not isinstance(doc, dict):
        return json.dumps(doc) if doc else None
    err = doc.get("error")
    if isinstance(err, dict):
        inner = err.get("message") or err.get("detail") or err.get("msg")
        if isinstance(inner, str) and inner:
            return inner
    if isinstance(err, str) and err:
        return err
    detail = doc.get("detail")
    if isinstance(detail, str) and detail:
        return detail
    if isinstance(detail, list) and detail:
        parts = []
        for item in detail:
            if isinstance(item, dict) and "msg" in item:
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{loc}: {item['msg']}" if loc else str(item["msg"]))
            else:
                parts.append(str(item))
        return "; ".join(parts)
    for key in ("message", "msg", "detail"):
        if isinstance(doc.get(key), str) and doc[key]:
            return doc[key]
    return json.dumps(doc)


def _one_line(text: str, limit: int = ERROR_TEXT_MAX) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _describe_exception(exc: Exception, url: str, where: str, timeout: float, got: int) -> str:
    """A one-line message for whatever httpx (or the socket under it) raised."""
    import httpx

    secs = _secs(timeout)
    if isinstance(exc, (httpx.InvalidURL, httpx.UnsupportedProtocol)):
        return f"invalid URL '{mask_url(url)}': {_one_line(str(exc))}"
    if isinstance(exc, httpx.ConnectTimeout):
        return _connect_timeout(where, min(timeout, CONNECT_TIMEOUT_MAX))
    if isinstance(exc, httpx.ReadTimeout):
        if got:
            return f"{where} stopped sending for {secs} s (cut after {got} bytes)"
        return f"no answer from {where} within {secs} s"
    if isinstance(exc, httpx.TimeoutException):
        return f"{where} did not respond within {secs} s"
    if isinstance(exc, httpx.TooManyRedirects):
        return f"too many redirects from {where}"
    import ssl

    root = _root_cause(exc)
    if isinstance(root, ssl.SSLError):
        return f"TLS handshake with {where} failed: {_tls_reason(root)}"
    if isinstance(root, socket.gaierror):
        return f"cannot resolve host '{_hostname(url)}' — check the URL"
    code = getattr(root, "errno", None)
    if code == errno.ECONNREFUSED:
        return f"connection refused by {where} — is the server running?"
    if code in (errno.ECONNRESET, errno.EPIPE):
        return "the connection was reset by the server" + (f" after {got} bytes" if got else "")
    if code in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return f"cannot reach {where} — check the host and your network"
    message = str(exc)
    if isinstance(exc, httpx.RemoteProtocolError):
        if "without sending a response" in message:
            return f"{where} closed the connection without answering"
        m = re.search(r"received (\d+) bytes, expected (\d+)", message)
        if m:
            return f"the server closed the connection after {m.group(1)} of {m.group(2)} bytes"
        if "complete message body" in message:
            return f"the server closed the connection mid-answer (after {got} bytes)"
        return f"{where} broke the HTTP protocol: {_one_line(message)}"
    if isinstance(exc, httpx.LocalProtocolError):
        return f"cannot send this request: {_one_line(message)}"
    if isinstance(exc, httpx.DecodingError):
        return f"cannot decode the answer from {where}: {_one_line(message)}"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot connect to {where}: {_one_line(str(root) or message)}"
    if isinstance(exc, httpx.HTTPError):
        return f"request to {where} failed: {_one_line(str(root) or message)}"
    return f"request to {where} failed: {type(exc).__name__}: {_one_line(message)}"


def _connect_timeout(where: str, seconds: float) -> str:
    return f"could not connect to {where} within {_secs(seconds)} s — is the host reachable?"


def _tls_reason(err: ssl.SSLError) -> str:
    import ssl

    if isinstance(err, ssl.SSLCertVerificationError) and err.verify_message:
        return f"certificate verify failed: {err.verify_message}"
    text = re.sub(r"^\[SSL: [A-Z_]+\] | \(_ssl\.c:\d+\)$", "", str(err)) or str(err.reason)
    if err.reason == "WRONG_VERSION_NUMBER":
        text += " — is it a plain http:// server?"
    return _one_line(text)


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost useful error under httpx's wrappers (an OSError, usually)."""
    import ssl

    seen: set[int] = set()
    cur: BaseException = exc
    best: BaseException = exc
    while id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, BaseExceptionGroup) and cur.exceptions:
            cur = cur.exceptions[0]
            continue
        if isinstance(cur, (ssl.SSLError, socket.gaierror)) or (
            isinstance(cur, OSError) and cur.errno is not None
        ):
            return cur
        if isinstance(cur, OSError):
            best = cur
        nxt = cur.__cause__ or cur.__context__
        if nxt is None:
            break
        cur = nxt
    return best


def _header_dict(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Response headers as sent (spelling kept); repeated names joined with ', '."""
    out: dict[str, str] = {}
    for k, v in raw:
        name, value = k.decode("latin-1"), v.decode("latin-1")
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _hostname(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url


def _host_port(url: str) -> str:
    try:
        parts = urlsplit(url)
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme.lower())
    except ValueError:
        return url
    host = parts.hostname or url
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if port else host


def _secs(seconds: float) -> str:
    return f"{seconds:g}"


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.3g} MB"
    if n >= 1024:
        return f"{n / 1024:.3g} KB"
    return f"{n} bytes"
