"""LeanClient keeps HttpClient's contract: the same answer, read the same way,
gives the same exchange, and the same bytes go on the wire.

Every case speaks once through HttpClient and once through LeanClient against
the same real server on 127.0.0.1 (tests/servers.py, the embedded server) and
compares what a user sees: status, error line, bytes, audio length and format,
notes, the body kept, and the request the server received.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.servers import FaultServer
from tts_tui.core.bench import BenchReport, run_bench
from tts_tui.core.blocking_wire import BlockingWire, Fallback, run_to_end
from tts_tui.core.bench_wire import LoopWire, run_on
from tts_tui.core.lean_client import LeanClient
from tts_tui.core.client import HttpClient
from tts_tui.core.model import Service
from tts_tui.core.socket_loop import SelectorsPoller, SocketLoop
from tts_tui.core.speech import SpeechResult, speak

BODY = '{"text": "{{ text }}"}'


@pytest.fixture
def srv() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def service(url: str, **fields: object) -> Service:
    fields.setdefault("timeout", 3)
    return Service(name="t", type="http", url=url, body=BODY, **fields)  # type: ignore[arg-type]


def seen(result: SpeechResult) -> dict[str, object]:
    """What a user sees of a speech: metrics without the timings, and the rest."""
    ex = result.exchange
    return {
        "status": ex.status, "reason": getattr(ex, "reason", None), "error": ex.error, "bytes": ex.bytes,
        "truncated": ex.truncated, "content_type": ex.content_type, "headers": ex.response_headers,
        "reader": ex.reader, "format": ex.format, "audio_s": ex.audio_s, "rate": ex.rate,
        "channels": ex.channels, "notes": ex.notes, "body": ex.body,
        "late": ex.first_audio_after_body, "exchanges": len(result.exchanges),
        "samples": None if result.audio is None else result.audio.samples.tobytes(),
        "data": None if result.audio is None else result.audio.data,
        "timed": [getattr(ex, m) is not None for m in ("connect_ms", "ttfb_ms", "ttfa_ms", "total_ms")],
    }


async def both(svc: Service) -> tuple[dict[str, object], dict[str, object], LeanClient]:
    http = HttpClient()
    lean = LeanClient(HttpClient())
    try:
        full = seen(await speak(svc, "Hello.", client=http))
        ours = seen(await speak(svc, "Hello.", client=lean))  # type: ignore[arg-type]
    finally:
        await http.aclose()
        await lean.aclose()
    return full, ours, lean


async def bench(svc: Service, text: str, **options: object) -> BenchReport:
    """`run_bench` on a client of its own, closed after."""
    http = HttpClient()
    try:
        return await run_bench(svc, text, client=http, **options)  # type: ignore[arg-type]
    finally:
        await http.aclose()


ROUTES = [
    "/echo", "/wav?seconds=0.3", "/pcm?seconds=0.2", "/zeros?n=5000", "/first-byte?delay_ms=50",
    "/drip?interval_ms=5&count=20", "/truncated", "/reset", "/close", "/html500", "/json400", "/detail422",
    "/wav-as-html", "/base64-json", "/nested-json", "/url-json", "/sse?format=pcm&count=4",
    "/sse?format=wav&count=3", "/status?code=204", "/status?code=200&type=application/json&body=null",
    "/set-cookie?value=abc", "/stream?kind=wav&seconds=0.4&count=8&interval_ms=5",
    "/stream?kind=pcm&seconds=0.3&count=5&interval_ms=5",
]


@pytest.mark.parametrize("route", ROUTES)
async def test_the_same_answer_gives_the_same_exchange(srv: FaultServer, route: str) -> None:
    full, ours, lean = await both(service(srv.url(route)))
    assert ours == full
    # it went on the wire by LeanClient's own hand (/url-json: and the fetch of its URL)
    assert lean.sent == (2 if route == "/url-json" else 1)


async def test_a_compressed_stream_decodes_the_same(srv: FaultServer) -> None:
    full, ours, lean = await both(service(srv.url("/stream?kind=mp3&seconds=0.5&count=5&interval_ms=5")))
    assert full["format"] == "mp3" and full["error"] is None
    assert ours == full and lean.sent == 1


async def test_an_answer_cut_at_the_deadline_says_so_the_same(srv: FaultServer) -> None:
    full, ours, lean = await both(service(srv.url("/endless?interval_ms=20"), timeout=0.5))
    for side in (full, ours):  # how many bytes came before the cut varies
        side["error"] = re.sub(r"\d+ bytes", "N bytes", str(side["error"]))
        side["bytes"] = side["body"] = side["samples"] = None
    assert ours["error"] == "the answer did not finish within 0.5 s (cut after N bytes)"
    assert ours == full and lean.sent == 1


async def test_a_closed_port_gives_the_same_error(srv: FaultServer) -> None:
    port = srv.port
    srv.stop()
    full, ours, lean = await both(service(f"http://127.0.0.1:{port}/wav"))
    assert ours["error"] == f"connection refused by 127.0.0.1:{port} — is the server running?"
    assert ours == full and lean.sent == 0  # it could not connect: HttpClient tried and said why


async def test_a_redirect_is_followed_by_the_full_client_from_then_on(srv: FaultServer) -> None:
    lean = LeanClient(HttpClient())
    try:
        first = await speak(service(srv.url("/redirect?to=/wav")), "Hello.", client=lean)  # type: ignore[arg-type]
        # it met the redirect, and the full client sent the request again and followed it
        assert [r.path for r in srv.requests] == ["/redirect", "/redirect", "/wav"]
        srv.requests.clear()
        again = await speak(service(srv.url("/redirect?to=/wav")), "Hello.", client=lean)  # type: ignore[arg-type]
    finally:
        await lean.aclose()
    assert [r.path for r in srv.requests] == ["/redirect", "/wav"]  # from then on, as httpx sends it
    assert lean.sent == 1
    for result in (first, again):
        assert (result.exchange.status, result.exchange.error, result.exchange.format) == (200, None, "wav")


async def test_the_same_request_goes_on_the_wire(srv: FaultServer) -> None:
    svc = service(srv.url("/echo?a=1&b=x%20y"), headers={"X-Api-Key": "k", "Accept": "audio/wav"})
    _, _, lean = await both(svc)
    assert lean.sent == 1
    sent_by_httpx, sent_by_us = srv.requests[-2:]
    assert sent_by_us.target == sent_by_httpx.target == "/echo?a=1&b=x%20y"
    assert sent_by_us.method == sent_by_httpx.method == "POST"
    assert sent_by_us.body == sent_by_httpx.body == b'{"text": "Hello."}'
    # the same headers with the same values; spelling and order are the HTTP stack's own
    assert sorted((k.lower(), v) for k, v in sent_by_us.headers) == sorted(
        (k.lower(), v) for k, v in sent_by_httpx.headers)


async def test_connections_are_kept_alive(srv: FaultServer) -> None:
    lean = LeanClient(HttpClient())
    try:
        results = [await speak(service(srv.url("/wav")), "Hello.", client=lean) for _ in range(3)]  # type: ignore[arg-type]
    finally:
        await lean.aclose()
    assert [r.exchange.status for r in results] == [200, 200, 200] and lean.sent == 3
    assert results[0].exchange.connect_ms > 0
    assert [r.exchange.connect_ms for r in results[1:]] == [0.0, 0.0]  # reused: no connect


async def test_bench_rows_match_speech_through_the_full_client(embedded_server) -> None:
    svc = Service(name="local", type="openai", url=embedded_server.openai_url, voice="en-us", format="wav")
    http = HttpClient()
    try:
        reference = await speak(svc, "Counting frames.", client=http)
        report = await run_bench(svc, "Counting frames.", n=4, concurrency=2, client=http)
    finally:
        await http.aclose()
    assert report.errors == 0
    for row in report.rows:
        ex = row.exchange
        assert (ex.status, ex.format, ex.rate, ex.channels, ex.reader) == (200, "wav", reference.exchange.rate, 1, "raw")
        # espeak-ng's length for the same text varies from run to run, both ways
        # (1.0406-1.0585 s seen for this one, through httpx and bench alike): within 25 ms
        assert ex.audio_s == pytest.approx(reference.exchange.audio_s, abs=0.025)
        assert ex.connect_ms <= ex.ttfb_ms <= ex.ttfa_ms <= ex.total_ms


async def test_a_server_that_closes_after_each_answer_is_not_reused(tmp_path) -> None:
    # answers without "Connection: close", then closes: the closed connection
    # must not be written to again (it would read as "closed without answering")
    import asyncio

    from tests.servers import make_wav

    wav = make_wav(0.1)
    connections = 0

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
        await reader.readexactly(length)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: %d\r\n\r\n" % len(wav) + wav)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    lean = LeanClient(HttpClient())
    try:
        results = [await speak(service(f"http://127.0.0.1:{port}/tts"), "Hi.", client=lean)  # type: ignore[arg-type]
                   for _ in range(5)]
    finally:
        await lean.aclose()
        server.close()
    assert [(r.exchange.error, r.exchange.status) for r in results] == [(None, 200)] * 5
    assert connections == 5 and lean.sent == 5


async def test_an_answer_read_a_few_bytes_at_a_time_gives_the_same_exchange() -> None:
    # Every read boundary falls somewhere new: inside the head, a chunk-size
    # line (with an extension), a chunk's data, the CRLF after it, the last
    # chunk and the trailer. Two answers go over the same connection.
    import asyncio

    from tests.servers import make_wav

    wav = make_wav(0.02)
    body = b"".join(b"%x;note=x\r\n%s\r\n" % (len(wav[i:i + 97]), wav[i:i + 97]) for i in range(0, len(wav), 97))
    answer_bytes = (b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + body + b"0\r\nX-Trailer: yes\r\n\r\n")

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            await reader.readexactly(length)
            pos, step = 0, 1
            while pos < len(answer_bytes):  # 1 to 7 bytes a write, each its own read
                writer.write(answer_bytes[pos:pos + step])
                await writer.drain()
                await asyncio.sleep(0.0005)
                pos, step = pos + step, step % 7 + 1
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    svc = service(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/tts")
    http, lean = HttpClient(), LeanClient(HttpClient())
    try:
        full = seen(await speak(svc, "Hi.", client=http))
        ours = [seen(await speak(svc, "Hi.", client=lean)) for _ in range(2)]  # type: ignore[arg-type]
    finally:
        await http.aclose()
        await lean.aclose()
        server.close()
    assert full["error"] is None and full["body"] == wav
    assert ours == [full, full] and lean.sent == 2


# -- the bench's engines: LeanClient's exchange without asyncio ---------------
# "blocking": BlockingWire on a worker thread; "loop": the bench's LoopWire on a
# SocketLoop (epoll), run on a thread as bench runs it; "loop-selectors": the
# same on the `selectors` module, as where there is no epoll.
ENGINES = ["blocking", "loop", "loop-selectors"]


def make_engine(kind: str) -> tuple[Any, Callable[[Any], Any]]:
    """(an engine, a blocking call that runs one coroutine on it to its end)."""
    if kind == "blocking":
        return BlockingWire(LeanClient(HttpClient())), run_to_end
    loop = SocketLoop(SelectorsPoller() if kind == "loop-selectors" else None)
    return LoopWire(LeanClient(HttpClient()), loop, 1), lambda coroutine: run_on(loop, coroutine)


async def engine_and_lean(svc: Service, kind: str = "blocking") -> tuple[dict[str, object], dict[str, object], Any]:
    """The same speech through LeanClient (asyncio) and through one of the
    bench's engines (run on a thread, as bench runs it)."""
    lean = LeanClient(HttpClient())
    engine, run = make_engine(kind)
    try:
        ours = seen(await speak(svc, "Hello.", client=lean))  # type: ignore[arg-type]
        blocking = seen(await asyncio.to_thread(
            lambda: run(speak(svc, "Hello.", client=engine))))  # type: ignore[arg-type]
    finally:
        await lean.aclose()
        engine.close()
    return ours, blocking, engine


@pytest.mark.parametrize("kind", ENGINES)
@pytest.mark.parametrize("route", ROUTES + [
    "/stream?kind=mp3&seconds=0.5&count=5&interval_ms=5"])
async def test_the_engine_gives_the_same_exchange_as_lean_client(srv: FaultServer, route: str, kind: str) -> None:
    ours, blocking, engine = await engine_and_lean(service(srv.url(route)), kind)
    assert blocking == ours
    assert engine.sent == (2 if route == "/url-json" else 1)  # written by the engine itself


@pytest.mark.parametrize("kind", ENGINES)
async def test_the_engine_writes_the_bytes_lean_client_writes(srv: FaultServer, kind: str) -> None:
    svc = service(srv.url("/echo?a=1&b=x%20y"), headers={"X-Api-Key": "k", "Accept": "audio/wav"})
    await engine_and_lean(svc, kind)
    by_lean, by_engine = srv.requests[-2:]
    assert by_engine.raw_head == by_lean.raw_head and by_engine.raw_head.startswith(b"POST /echo?a=1&b=x%20y ")
    assert by_engine.body == by_lean.body == b'{"text": "Hello."}'


@pytest.mark.parametrize("kind", ENGINES)
async def test_an_answer_cut_at_the_deadline_says_so_the_same_on_the_engine(srv: FaultServer, kind: str) -> None:
    ours, blocking, _ = await engine_and_lean(service(srv.url("/endless?interval_ms=20"), timeout=0.5), kind)
    for side in (ours, blocking):  # how many bytes came before the cut varies
        side["error"] = re.sub(r"\d+ bytes", "N bytes", str(side["error"]))
        side["bytes"] = side["body"] = side["samples"] = None
    assert blocking["error"] == "the answer did not finish within 0.5 s (cut after N bytes)"
    assert blocking == ours


@pytest.mark.parametrize("kind", ENGINES)
async def test_the_engine_hands_back_what_lean_client_would_not_send(srv: FaultServer, kind: str) -> None:
    port = srv.port
    srv.stop()
    engine, run = make_engine(kind)
    for url in (f"http://127.0.0.1:{port}/wav", "https://127.0.0.1:1/wav"):  # refused; https
        with pytest.raises(Fallback):
            await asyncio.to_thread(lambda: run(speak(service(url), "Hi.", client=engine)))  # type: ignore[arg-type]
    assert engine.sent == 0


@pytest.mark.parametrize("kind", ["loop", "loop-selectors"])
async def test_the_loop_engine_connects_to_a_host_name_and_keeps_the_connection(srv: FaultServer, kind: str) -> None:
    # "localhost" is looked up (on a thread of its own, the loop serving on): /etc/hosts, nothing leaves the machine
    engine, run = make_engine(kind)
    svc = service(f"http://localhost:{srv.port}/wav?seconds=0.2")
    try:
        results = [await asyncio.to_thread(lambda: run(speak(svc, "Hi.", client=engine))) for _ in range(2)]  # type: ignore[arg-type]
    finally:
        engine.close()
    assert [(r.exchange.status, r.exchange.error, r.exchange.audio_s) for r in results] == [(200, None, 0.2)] * 2
    assert results[0].exchange.connect_ms > 0 and results[1].exchange.connect_ms == 0.0  # the second reused it
    assert engine.sent == 2


async def bench_and_lean(svc: Service, n: int, concurrency: int) -> tuple[list[dict[str, object]], dict[str, object],
                                                                           BenchReport]:
    """The rows of a bench (what a user sees of each), and one speech through LeanClient."""
    http = HttpClient()
    lean = LeanClient(HttpClient())
    try:
        report = await run_bench(svc, "Hello.", n=n, concurrency=concurrency, client=http, warmup=False)
        reference = seen(await speak(svc, "Hello.", client=lean))  # type: ignore[arg-type]
    finally:
        await http.aclose()
        await lean.aclose()
    rows = [seen(SpeechResult(row.exchange, exchanges=row.exchanges, audio=None)) for row in report.rows]
    reference["samples"] = reference["data"] = None  # a bench row keeps the exchange, not the audio
    return rows, reference, report


@pytest.mark.parametrize("route", ["/wav?seconds=0.3", "/stream?kind=wav&seconds=0.4&count=8&interval_ms=5",
                                   "/drip?interval_ms=2&count=20", "/url-json", "/html500"])
async def test_bench_rows_on_the_engine_are_the_async_paths(srv: FaultServer, route: str) -> None:
    rows, reference, report = await bench_and_lean(service(srv.url(route)), 6, 3)
    assert [row.n for row in report.rows] == list(range(6))
    assert rows == [reference] * 6
    assert report.engine_sent == (12 if route == "/url-json" else 6)  # every one on the engine's threads


@pytest.mark.parametrize("route, error", [
    ("/truncated", "the server closed the connection after "),
    ("/close", "closed the connection without answering"),
    ("/reset", "the connection was reset by the server"),
])
async def test_a_server_closing_mid_answer_gives_the_bench_the_same_error(srv: FaultServer, route: str,
                                                                          error: str) -> None:
    rows, reference, report = await bench_and_lean(service(srv.url(route)), 4, 2)
    assert error in str(reference["error"]) and "\n" not in str(reference["error"])
    assert rows == [reference] * 4 and report.errors == 4 and report.engine_sent == 4


async def test_a_redirect_sends_the_bench_the_async_path(srv: FaultServer) -> None:
    report = await bench(service(srv.url("/redirect?to=/wav")), "Hi.", n=3, concurrency=2)
    assert [(r.exchange.status, r.exchange.error, r.exchange.format) for r in report.rows] == [(200, None, "wav")] * 3
    # the engine met the redirect on the warm-up; from then on httpx sent everything and followed it
    assert report.engine_sent == 1
    assert srv.requests[0].path == "/redirect"  # (two at a time after the warm-up: any order)
    assert sorted(r.path for r in srv.requests[1:]) == ["/redirect"] * 4 + ["/wav"] * 4


async def test_the_bench_keeps_c_requests_in_flight_and_no_more(srv: FaultServer) -> None:
    # each answer held 150 ms: with 2 connections, requests overlap two by two, never three
    report = await bench(service(srv.url("/slow?delay_ms=150")), "Hi.", n=6, concurrency=2, warmup=False)
    assert report.errors == 0 and report.engine_sent == 6
    spans = [(r.exchange.t0, r.exchange.t0 + r.exchange.total_ms / 1000) for r in report.rows]
    in_flight = [sum(start <= t < end for start, end in spans) for t, _ in spans]
    assert max(in_flight) == 2


async def test_a_deadline_cuts_every_request_in_flight(srv: FaultServer) -> None:
    report = await bench(service(srv.url("/endless?interval_ms=20"), timeout=0.5), "Hi.", n=4, concurrency=2,
                         warmup=False)
    errors = [re.sub(r"\d+ bytes", "N bytes", str(r.exchange.error)) for r in report.rows]
    assert errors == ["the answer did not finish within 0.5 s (cut after N bytes)"] * 4
    assert report.engine_sent == 4


async def test_a_redirect_on_the_first_counted_requests_sends_the_rest_the_async_path(srv: FaultServer) -> None:
    # no warm-up: the first two requests go out at once on the loop and meet the
    # redirect; they, and the two made while waiting for a connection, go through httpx
    report = await bench(service(srv.url("/redirect?to=/wav")), "Hi.", n=4, concurrency=2, warmup=False)
    assert [r.n for r in report.rows] == [0, 1, 2, 3]
    assert [(r.exchange.status, r.exchange.error, r.exchange.format) for r in report.rows] == [(200, None, "wav")] * 4
    assert report.engine_sent == 2
    assert sorted(r.path for r in srv.requests) == ["/redirect"] * 6 + ["/wav"] * 4


CLOSING_SERVER = r"""
import socket, sys, threading
wav = open(sys.argv[1], "rb").read()
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
def serve(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(next(l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")))
    while len(body) < length:
        body += sock.recv(65536)
    # corked: the answer and the FIN leave in one segment, so the client never
    # holds the answer without the close (no race with its next request)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: audio/wav\r\nContent-Length: %d\r\n\r\n" % len(wav) + wav)
    sock.shutdown(socket.SHUT_WR)
    sock.close()
while True:
    sock, _ = listener.accept()
    print("connection", flush=True)
    threading.Thread(target=serve, args=(sock,), daemon=True).start()
"""


async def test_the_bench_does_not_reuse_a_connection_the_server_closed(tmp_path) -> None:
    # answers without "Connection: close", then closes (as above): each engine
    # thread must see the close before it writes the next request. The server
    # is its own process, as a real one is.
    import subprocess
    import sys

    from tests.servers import make_wav

    (tmp_path / "a.wav").write_bytes(make_wav(0.1))
    server = subprocess.Popen([sys.executable, "-c", CLOSING_SERVER, str(tmp_path / "a.wav")],
                              stdout=subprocess.PIPE, text=True)
    http = HttpClient()
    try:
        assert server.stdout is not None
        svc = service(f"http://127.0.0.1:{int(server.stdout.readline())}/tts")
        report = await run_bench(svc, "Hi.", n=6, concurrency=2, client=http)
    finally:
        await http.aclose()
        server.kill()
        out, _ = server.communicate(timeout=10)
    assert [(r.exchange.error, r.exchange.status, r.exchange.audio_s) for r in report.rows] == [(None, 200, 0.1)] * 6
    assert out.count("connection") == 7 and report.engine_sent == 7
