"""HttpClient against real misbehaving servers on 127.0.0.1 (tests/servers.py).

Elapsed-time bounds here are correctness bounds (a stuck request must give up
within its timeout), not speed assertions.
"""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.servers import BlackholeServer, FaultServer, make_pcm, make_wav
from tts_tui.core.client import MAX_BYTES, HttpClient, describe_http_error
from tts_tui.core.exchange import Exchange, PreparedRequest


@pytest.fixture
def srv() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[HttpClient]:
    c = HttpClient()
    yield c
    await c.aclose()


async def fetch(client: HttpClient, url: str, method: str = "GET", **kw: object) -> Exchange:
    return await client.send(Exchange(PreparedRequest(method, url)), **kw)  # type: ignore[arg-type]


def where(srv: FaultServer) -> str:
    return f"127.0.0.1:{srv.port}"


# ---- answers that work ------------------------------------------------------


async def test_wav_answer_is_kept_whole(client: HttpClient, srv: FaultServer) -> None:
    ex = await fetch(client, srv.url("/wav", seconds=0.3))
    assert ex.error is None and not ex.truncated
    assert ex.status == 200
    assert ex.content_type == "audio/wav"
    assert ex.response_headers["Content-Type"] == "audio/wav"
    assert ex.body == make_wav(0.3)
    assert ex.bytes == len(ex.body)


async def test_request_goes_on_the_wire_exactly_as_prepared(
    client: HttpClient, srv: FaultServer
) -> None:
    body = json.dumps({"text": 'Grüße "quoted" \\ \n\u2603', "speed": 1.0}).encode()
    req = PreparedRequest(
        "POST",
        srv.url("/echo", voice="af bella", lang="en-US"),
        headers={"Content-Type": "application/json", "X-Api-Key": "s3cret", "X-Mixed-Case": "A b"},
        body=body,
    )
    ex = await client.send(Exchange(req))
    assert ex.error is None
    [got] = srv.requests
    assert got.method == "POST"
    assert got.path == "/echo"
    assert got.query == {"voice": "af bella", "lang": "en-US"}
    assert got.body == body
    for pair in [("Content-Type", "application/json"), ("X-Api-Key", "s3cret"), ("X-Mixed-Case", "A b")]:
        assert pair in got.headers  # spelling of names kept
    assert got.header("content-length") == str(len(body))
    assert got.header("user-agent") == "tts-tui"


async def test_get_sends_no_body_and_user_agent_can_be_overridden(
    client: HttpClient, srv: FaultServer
) -> None:
    req = PreparedRequest("GET", srv.url("/echo"), headers={"User-Agent": "Voxta/1.0"})
    await client.send(Exchange(req))
    [got] = srv.requests
    assert got.method == "GET" and got.body == b""
    assert got.header("content-length") is None
    assert [v for k, v in got.headers if k.lower() == "user-agent"] == ["Voxta/1.0"]


async def test_redirects_are_followed(client: HttpClient, srv: FaultServer) -> None:
    ex = await fetch(client, srv.url("/redirect", to="/wav?seconds=0.1"))
    assert ex.error is None and ex.status == 200
    assert ex.body == make_wav(0.1)


async def test_loopback_ignores_proxy_variables(
    srv: FaultServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    c = HttpClient()
    try:
        ex = await fetch(c, srv.url("/wav"))
    finally:
        await c.aclose()
    assert ex.error is None and ex.status == 200


async def test_keep_body_false_counts_bytes_but_keeps_none(
    client: HttpClient, srv: FaultServer
) -> None:
    ex = await fetch(client, srv.url("/wav", seconds=0.1), keep_body=False)
    assert ex.error is None
    assert ex.body == b"" and ex.bytes == len(make_wav(0.1))


# ---- timings -----------------------------------------------------------------


async def test_timings_are_ordered_and_reuse_costs_no_connect(
    client: HttpClient, srv: FaultServer
) -> None:
    first = await fetch(client, srv.url("/wav"))
    second = await fetch(client, srv.url("/wav"))
    for ex in (first, second):
        assert ex.connect_ms is not None and ex.ttfb_ms is not None and ex.total_ms is not None
        assert 0 <= ex.connect_ms <= ex.ttfb_ms <= ex.total_ms
    assert first.connect_ms > 0
    assert second.connect_ms == 0
    assert srv.connections == 1  # the second exchange really reused the connection


async def test_ttfb_measures_the_servers_first_byte(client: HttpClient, srv: FaultServer) -> None:
    ex = await fetch(client, srv.url("/first-byte", delay_ms=150))
    assert ex.error is None
    assert ex.ttfb_ms is not None and ex.total_ms is not None
    # at least the server's hold (a floor no load can lower), and never past
    # the end; how close to 150 ms it stays is benchmarks/ttfb_accuracy.py's job
    assert 150 <= ex.ttfb_ms <= ex.total_ms


async def test_chunks_arrive_before_the_end_of_a_drip(client: HttpClient, srv: FaultServer) -> None:
    seen: list[tuple[float, bytes]] = []
    statuses: list[int | None] = []

    def on_headers(ex: Exchange) -> None:
        statuses.append(ex.status)
        assert not seen  # headers come before any body

    t0 = time.perf_counter()
    ex = await fetch(
        client, srv.url("/drip", interval_ms=80, count=5),
        on_headers=on_headers, on_chunk=lambda b: seen.append((time.perf_counter() - t0, b)),
    )
    assert ex.error is None and statuses == [200]
    assert len(seen) >= 3
    assert b"".join(b for _, b in seen) == ex.body == make_wav(0.2)
    # the first chunk was handed over while the server still had 4 x 80 ms to go
    assert seen[0][0] < seen[-1][0] - 0.2
    assert ex.total_ms is not None and ex.total_ms >= 300


# ---- faults ------------------------------------------------------------------


async def test_endless_stream_is_cut_at_the_deadline(client: HttpClient, srv: FaultServer) -> None:
    t0 = time.monotonic()
    ex = await fetch(client, srv.url("/endless"), timeout=1)
    assert time.monotonic() - t0 < 30  # cut, not served until the server's own 60 s cap (a bound only a hang reaches)
    assert ex.truncated and ex.status == 200
    assert ex.bytes > 0 and ex.bytes == len(ex.body)
    assert ex.error == f"the answer did not finish within 1 s (cut after {ex.bytes} bytes)"


async def test_slow_server_times_out(client: HttpClient, srv: FaultServer) -> None:
    ex = await fetch(client, srv.url("/slow", delay_ms=5000), timeout=0.5)
    # gave up at its timeout: waiting on would have got the 200 the server sends at 5 s
    assert ex.status is None and ex.ttfb_ms is None
    assert ex.error == f"no answer from {where(srv)} within 0.5 s"


async def test_truncated_body(client: HttpClient, srv: FaultServer) -> None:
    size = len(make_wav(0.1))
    ex = await fetch(client, srv.url("/truncated"))
    assert ex.truncated and ex.status == 200
    assert ex.body == make_wav(0.1)[: size // 2]
    assert ex.error == f"the server closed the connection after {size // 2} of {size} bytes"


async def test_reset(client: HttpClient, srv: FaultServer) -> None:
    ex = await fetch(client, srv.url("/reset"), "POST")
    assert ex.error == "the connection was reset by the server"


async def test_close_without_answer(client: HttpClient, srv: FaultServer) -> None:
    ex = await fetch(client, srv.url("/close"))
    assert ex.error == f"{where(srv)} closed the connection without answering"


async def test_html_500_shows_the_page_title(client: HttpClient, srv: FaultServer) -> None:
    ex = await fetch(client, srv.url("/html500"))
    assert ex.status == 500
    assert ex.error == "HTTP 500 Internal Server Error: Kaboom: model not loaded"
    assert b"<title>" in ex.body


async def test_json_400_shows_the_servers_message(client: HttpClient, srv: FaultServer) -> None:
    ex = await fetch(client, srv.url("/json400"), keep_body=False)
    assert ex.status == 400
    assert ex.error == "HTTP 400 Bad Request: Invalid voice 'nobody'. Choose one of: alloy, echo."


async def test_fastapi_422_shows_field_and_message(client: HttpClient, srv: FaultServer) -> None:
    ex = await fetch(client, srv.url("/detail422"))
    assert ex.error == "HTTP 422 Unprocessable Entity: input: Field required"


async def test_size_cap_cuts_and_says_so(client: HttpClient, srv: FaultServer) -> None:
    chunks: list[bytes] = []
    ex = await fetch(client, srv.url("/wav", seconds=1), max_bytes=1000, on_chunk=chunks.append)
    assert ex.truncated and ex.status == 200
    assert ex.body == make_wav(1)[:1000] == b"".join(chunks)
    assert ex.bytes == 1000
    assert ex.error == "the answer is larger than 1000 bytes; cut"


async def test_size_cap_message_in_megabytes(client: HttpClient, srv: FaultServer) -> None:
    ex = await fetch(client, srv.url("/zeros", n=1024 * 1024 + 10), max_bytes=1024 * 1024,
                     keep_body=False)
    assert ex.error == "the answer is larger than 1 MB; cut"
    assert MAX_BYTES == 50 * 1024 * 1024


async def test_refused(client: HttpClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again before the request: nothing listens
    ex = await fetch(client, f"http://127.0.0.1:{port}/v1/audio/speech", "POST")
    assert ex.error == f"connection refused by 127.0.0.1:{port} — is the server running?"
    assert ex.status is None and ex.connect_ms is None


async def test_unknown_host(client: HttpClient, monkeypatch: pytest.MonkeyPatch) -> None:
    # Stubbed at the resolver, the one fault here that cannot be made for real:
    # resolving a made-up name would send a DNS query off this machine.
    asked: list[str] = []
    real = socket.getaddrinfo

    def resolver(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host  # anyio passes IDNA bytes
        if name == "tts-box.example":
            asked.append(name)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    ex = await fetch(client, "http://tts-box.example:8880/v1/audio/speech", timeout=5)
    assert asked == ["tts-box.example"]  # the client asked the resolver, which said no
    assert ex.error == "cannot resolve host 'tts-box.example' — check the URL"


async def test_tls_to_a_plain_http_port(client: HttpClient, srv: FaultServer) -> None:
    ex = await fetch(client, f"https://127.0.0.1:{srv.port}/wav", timeout=2)
    assert ex.error is not None
    assert ex.error.startswith(f"TLS handshake with {where(srv)} failed: ")
    assert "\n" not in ex.error


async def test_connect_timeout(client: HttpClient) -> None:
    with BlackholeServer() as hole:
        t0 = time.monotonic()
        ex = await fetch(client, hole.url("/x"), timeout=0.5)
        elapsed = time.monotonic() - t0
    assert elapsed < 0.5 + 10  # gave up at its timeout, not never (the message names the 0.5 s)
    assert ex.error == f"could not connect to 127.0.0.1:{hole.port} within 0.5 s — is the host reachable?"


@pytest.mark.parametrize(
    "url", ["127.0.0.1:8880/v1/audio/speech", "ftp://example.org/x", "http://[::1/x", "http://h:port/x"]
)
async def test_invalid_url(client: HttpClient, url: str) -> None:
    ex = await fetch(client, url)
    assert ex.error is not None and ex.error.startswith(f"invalid URL '{url}': ")


async def test_cancel_mid_download_records_and_reraises(
    client: HttpClient, srv: FaultServer
) -> None:
    first_chunk = asyncio.Event()
    ex = Exchange(PreparedRequest("GET", srv.url("/drip", interval_ms=200, count=20)))
    task = asyncio.create_task(client.send(ex, on_chunk=lambda _b: first_chunk.set()))
    await asyncio.wait_for(first_chunk.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert ex.error == "cancelled"
    assert 0 < ex.bytes < len(make_wav(0.2))
    assert ex.total_ms is not None
    again = await fetch(client, srv.url("/wav"))  # the client is still usable
    assert again.error is None


async def test_a_failing_callback_is_the_callers_error(client: HttpClient, srv: FaultServer) -> None:
    def on_chunk(_b: bytes) -> None:
        raise ValueError("device gone")

    ex = Exchange(PreparedRequest("GET", srv.url("/drip", interval_ms=10, count=3)))
    with pytest.raises(ValueError, match="device gone"):
        await client.send(ex, on_chunk=on_chunk)
    assert ex.error == "stopped by the caller: device gone"


# ---- describe_http_error -----------------------------------------------------------


@pytest.mark.parametrize(
    ("ctype", "body", "expected"),
    [
        ("application/json", b'{"error": "model not found"}', "HTTP 404 Not Found: model not found"),
        ("application/json", b'{"detail": "Voice not found"}', "HTTP 404 Not Found: Voice not found"),
        ("application/json", b'{"message": "no such voice"}', "HTTP 404 Not Found: no such voice"),
        ("text/html", b"<html><body><h1>Not &amp; found</h1></body></html>", "HTTP 404 Not Found: Not & found"),
        ("text/plain", b"  line one\n  line two\n", "HTTP 404 Not Found: line one line two"),
        ("text/plain", b"", "HTTP 404 Not Found"),
    ],
)
def test_describe_http_error_shapes(ctype: str, body: bytes, expected: str) -> None:
    assert describe_http_error(404, ctype, body) == expected


def test_describe_http_error_is_one_short_line() -> None:
    msg = describe_http_error(500, "text/plain", b"Traceback\n" + b"x " * 1000)
    assert "\n" not in msg and len(msg) < 260
    assert describe_http_error(200, "text/html", make_wav(0.01)).startswith("HTTP 200 OK: ")
    assert describe_http_error(599, "", b"odd").startswith("HTTP 599")


# ---- the fault server itself ---------------------------------------------------------


async def test_payload_routes_serve_what_they_document(client: HttpClient, srv: FaultServer) -> None:
    wav = make_wav(0.1)
    assert (await fetch(client, srv.url("/wav-as-html"))).body == wav
    assert (await fetch(client, srv.url("/pcm"))).body == make_pcm(0.2)
    doc = json.loads((await fetch(client, srv.url("/base64-json"))).body)
    assert base64.b64decode(doc["audio"]) == wav
    doc = json.loads((await fetch(client, srv.url("/nested-json"))).body)
    assert base64.b64decode(doc["result"]["audio"]["data"]) == wav
    doc = json.loads((await fetch(client, srv.url("/url-json"))).body)
    assert (await fetch(client, doc["audio_url"])).body == make_wav(0.2)
    sse = (await fetch(client, srv.url("/sse"))).body.decode()
    events = [json.loads(line[6:]) for line in sse.splitlines() if line.startswith("data: ")]
    assert [e["type"] for e in events] == ["speech.audio.delta"] * 4 + ["speech.audio.done"]
    assert b"".join(base64.b64decode(e["audio"]) for e in events[:-1]) == make_pcm(0.2)


def test_fault_server_stops_promptly_mid_stream() -> None:
    server = FaultServer().start()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
    assert sock.recv(100).startswith(b"HTTP/1.1 200")
    t0 = time.monotonic()
    server.stop()
    assert time.monotonic() - t0 < 30  # the stream ends now, not at the route's 60 s cap (only a hang reaches 30)
    sock.settimeout(2)
    while sock.recv(65536):  # the stream ends: the server closed its side
        pass
    sock.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2)
