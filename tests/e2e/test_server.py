"""The embedded server over real HTTP on an ephemeral 127.0.0.1 port."""

from __future__ import annotations

import base64
import errno
import http.client
import io
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import soundfile

from tests.engine_procs import engine_workers, gone
from tts_tui.core.errors import TtsError
from tts_tui.server.app import EmbeddedServer, builtin_url, serve, stop_builtin

SHORT = "Hello there."
LONG = (
    "The quick brown fox jumps over the lazy dog while the sleepy cat watches from the "
    "warm windowsill, and nobody in the quiet little house notices the birds outside."
)


@pytest.fixture(scope="module")
def server() -> Iterator[EmbeddedServer]:
    with EmbeddedServer() as running:
        yield running


@pytest.fixture()
def client(server: EmbeddedServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        yield http


def speech(client: httpx.Client, text: str, **fields: object) -> httpx.Response:
    return client.post("/v1/audio/speech", json={"model": "tts-1", "input": text, **fields})


def duration(audio: bytes) -> float:
    frames, rate = soundfile.read(io.BytesIO(audio))
    return len(frames) / rate


def raw_chunked(port: int, request: bytes) -> tuple[bytes, list[bytes]]:
    """Send ``request`` and return (response head, the body's chunks as framed on the wire)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head, rest = data.split(b"\r\n\r\n", 1)
        chunks: list[bytes] = []
        while True:
            while b"\r\n" not in rest:
                rest += sock.recv(65536)
            size_line, rest = rest.split(b"\r\n", 1)
            size = int(size_line, 16)
            while len(rest) < size + 2:
                more = sock.recv(65536)
                assert more, "connection closed inside a chunk"
                rest += more
            if size == 0:
                return head, chunks
            chunks.append(rest[:size])
            rest = rest[size + 2 :]


def post_request(path: str, payload: dict[str, object]) -> bytes:
    body = json.dumps(payload).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body


def test_binds_loopback_and_reports_its_urls(server: EmbeddedServer) -> None:
    assert server.base_url == f"http://127.0.0.1:{server.port}"
    assert server.openai_url == server.base_url + "/v1"
    # The listening socket itself, not just the URL we print.
    assert server._httpd.socket.getsockname()[0] == "127.0.0.1"  # type: ignore[union-attr]


@pytest.mark.parametrize("fmt", ["wav", "flac", "mp3", "opus"])
def test_each_format_decodes_and_grows_with_the_text(client: httpx.Client, fmt: str) -> None:
    short = speech(client, SHORT, voice="en-us", response_format=fmt)
    long = speech(client, LONG, voice="en-us", response_format=fmt)
    assert short.status_code == long.status_code == 200
    expected_type = {"wav": "audio/wav", "flac": "audio/flac", "mp3": "audio/mpeg", "opus": "audio/ogg"}
    assert long.headers["content-type"] == expected_type[fmt]
    assert 0.3 < duration(short.content) < 3
    assert duration(long.content) > 3 * duration(short.content)


def test_mp3_is_the_default_like_openai(client: httpx.Client) -> None:
    answer = speech(client, SHORT, voice="alloy")
    assert answer.headers["content-type"] == "audio/mpeg"
    assert answer.headers["content-length"] == str(len(answer.content))
    assert answer.content[:3] == b"ID3" or answer.content[0] == 0xFF
    assert duration(answer.content) > 0.3


def test_streamed_wav_has_unknown_sizes_and_arrives_in_chunks(server: EmbeddedServer) -> None:
    head, chunks = raw_chunked(
        server.port, post_request("/v1/audio/speech", {"input": LONG * 2, "response_format": "wav"})
    )
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding: chunked" in head.lower()
    assert len(chunks) > 10
    audio = b"".join(chunks)
    assert audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
    assert struct.unpack("<I", audio[4:8])[0] == 0xFFFFFFFF
    assert audio[36:40] == b"data" and struct.unpack("<I", audio[40:44])[0] == 0xFFFFFFFF
    assert struct.unpack("<I", audio[24:28])[0] == 22050
    assert duration(audio) == pytest.approx((len(audio) - 44) / 2 / 22050)
    assert duration(audio) > 8


def test_pcm_is_24_khz_s16le(client: httpx.Client) -> None:
    wav = speech(client, LONG, response_format="wav")
    pcm = speech(client, LONG, response_format="pcm")
    assert pcm.headers["content-type"] == "audio/pcm"
    assert pcm.headers["transfer-encoding"] == "chunked"
    assert len(pcm.content) % 2 == 0
    pcm_seconds = len(pcm.content) / 2 / 24000
    assert pcm_seconds == pytest.approx(duration(wav.content), rel=0.01)


def sse_events(answer: httpx.Response) -> list[dict[str, object]]:
    assert answer.headers["content-type"] == "text/event-stream"
    blocks = [b for b in answer.text.split("\n\n") if b.strip()]
    assert all(b.startswith("data: ") for b in blocks)
    return [json.loads(b[len("data: ") :]) for b in blocks]


def test_sse_deltas_concatenate_to_the_whole_pcm(client: httpx.Client) -> None:
    plain = speech(client, LONG, response_format="pcm")
    events = sse_events(speech(client, LONG, response_format="pcm", stream_format="sse"))
    deltas = [e for e in events if e["type"] == "speech.audio.delta"]
    assert len(deltas) > 5
    assert events[-1]["type"] == "speech.audio.done"
    joined = b"".join(base64.b64decode(str(e["audio"])) for e in deltas)
    # espeak's voice source carries state between utterances, so two runs
    # differ by a few samples; lengths must agree closely.
    assert len(joined) % 2 == 0
    assert len(joined) == pytest.approx(len(plain.content), rel=0.005)


def test_sse_with_wav_and_mp3_rebuilds_a_decodable_file(client: httpx.Client) -> None:
    for fmt in ("wav", "mp3"):
        events = sse_events(speech(client, LONG, response_format=fmt, stream_format="sse"))
        audio = b"".join(
            base64.b64decode(str(e["audio"])) for e in events if e["type"] == "speech.audio.delta"
        )
        assert duration(audio) > 3, fmt


def test_voices_and_models(client: httpx.Client) -> None:
    voices = client.get("/v1/audio/voices").json()["voices"]
    assert {"id": "en-us", "name": "English (America)"} in voices
    assert all(set(v) == {"id", "name"} for v in voices)
    models = client.get("/v1/models").json()
    assert models["object"] == "list"
    assert {m["id"] for m in models["data"]} >= {"tts-1", "espeak-ng"}


def test_voice_and_speed_change_the_audio(client: httpx.Client) -> None:
    normal = duration(speech(client, LONG, response_format="wav").content)
    fast = duration(speech(client, LONG, response_format="wav", speed=2.0).content)
    assert fast < 0.7 * normal
    for voice in ("nova", "en-us+f3", "de", "default", {"id": "en-gb"}):
        assert speech(client, SHORT, voice=voice, response_format="wav").status_code == 200, voice


def test_extra_fields_and_instructions_are_ignored(client: httpx.Client) -> None:
    answer = speech(
        client, SHORT, response_format="wav", instructions="Speak like a pirate", temperature=0.3
    )
    assert answer.status_code == 200
    assert duration(answer.content) > 0.3


def test_generic_endpoint_by_post_and_get(client: httpx.Client) -> None:
    posted = client.post("/api/tts", json={"text": LONG, "voice": "en-us", "speed": 1.0})
    got = client.get("/api/tts", params={"text": SHORT, "voice": "en-gb"})
    for answer in (posted, got):
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "audio/wav"
        assert answer.content[:4] == b"RIFF"
    assert duration(posted.content) > 3 * duration(got.content)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "words"),
    [
        ("POST", "/v1/audio/speech", b"{not json", 400, "not valid JSON"),
        ("POST", "/v1/audio/speech", b"", 400, "empty"),
        ("POST", "/v1/audio/speech", b'{"input": "  "}', 400, "input is empty"),
        ("POST", "/v1/audio/speech", b'{"voice": "en-us"}', 400, "input is required"),
        ("POST", "/v1/audio/speech", b'{"input": "hi", "voice": "zz-top"}', 400, "unknown voice 'zz-top'"),
        ("POST", "/v1/audio/speech", b'{"input": "hi", "response_format": "aac"}', 400,
         "aac is not supported, use wav, pcm, flac, mp3 or opus"),
        ("POST", "/v1/audio/speech", b'{"input": "hi", "response_format": "ogg"}', 400, "unsupported"),
        ("POST", "/v1/audio/speech", b'{"input": "hi", "speed": 5}', 400, "between 0.25 and 4.0"),
        ("POST", "/v1/audio/speech", b'{"input": "hi", "stream_format": "ws"}', 400, "audio or sse"),
        ("POST", "/api/tts", b'{"input": "wrong key"}', 400, "text is required"),
        ("GET", "/api/tts?voice=en-us", b"", 400, "text is required"),
        ("GET", "/v1/audio/speech", b"", 405, "use POST"),
        ("DELETE", "/v1/models", b"", 405, "use GET"),
        ("GET", "/v2/nothing", b"", 404, "no such endpoint"),
    ],
)
def test_errors_are_json_with_a_message(
    client: httpx.Client, method: str, path: str, body: bytes, status: int, words: str
) -> None:
    answer = client.request(method, path, content=body)
    assert answer.status_code == status
    error = answer.json()["error"]
    assert words in error["message"]
    assert error["type"] == "invalid_request_error"
    # The connection is still usable after an error.
    assert client.get("/v1/models").status_code == 200


def test_body_over_1_mb_is_refused(client: httpx.Client) -> None:
    answer = client.post("/api/tts", content=b'{"text": "' + b"a" * (1024 * 1024 + 10) + b'"}')
    assert answer.status_code == 413
    assert "1 MB" in answer.json()["error"]["message"]


def test_a_malformed_request_gets_json(server: EmbeddedServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(b"GET /v1/models HTTP/1.1\r\nX-Huge: " + b"a" * 70000 + b"\r\n\r\n")
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    head, body = reply.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 431")
    assert "error" in json.loads(body)


def synthesis_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "tts-synthesis"]


def wait_for(condition, timeout: float = 15.0) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` passes (generous: this box may be loaded)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_client_leaving_mid_stream_stops_quietly(
    server: EmbeddedServer, client: httpx.Client, capfd: pytest.CaptureFixture[str]
) -> None:
    earlier = set(synthesis_threads())  # other tests' answers, none of our business
    huge = LONG * 400  # minutes of audio, seconds of synthesis if nobody stops it
    for fmt in ("wav", "pcm"):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        sock.sendall(post_request("/v1/audio/speech", {"input": huge, "response_format": fmt}))
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()  # a reset, like a killed client
    answer = speech(client, SHORT, response_format="wav")
    assert answer.status_code == 200 and duration(answer.content) > 0.3
    # The abandoned answers' synthesis ends, rather than waiting for room in a
    # buffer nobody will read (or speaking minutes of audio for no one).
    assert wait_for(lambda: not set(synthesis_threads()) - earlier), synthesis_threads()
    time.sleep(0.2)
    assert "Traceback" not in capfd.readouterr().err


def test_a_reader_that_stops_does_not_stall_the_others() -> None:
    """One engine, one client that stops reading a long answer: another client is still answered."""
    # Much more audio (~26 MB) than any buffer on the way can hold, so the
    # server is still writing the long answer when the short one is served.
    text = LONG * 60
    with EmbeddedServer(workers=1) as one_engine:
        slow = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        slow.settimeout(30)
        slow.connect(("127.0.0.1", one_engine.port))
        receive_buffer = slow.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)  # fixed: no autotuning
        try:
            slow.sendall(post_request("/v1/audio/speech", {"input": text, "response_format": "wav"}))
            head = b""
            while b"\r\n\r\n" not in head:
                head += slow.recv(1)
            assert head.startswith(b"HTTP/1.1 200")
            # ... and now it reads nothing while another client asks for speech.
            with httpx.Client(base_url=one_engine.base_url, timeout=20) as other:
                for _ in range(3):
                    answer = other.post("/api/tts", json={"text": SHORT})
                    assert answer.status_code == 200 and duration(answer.content) > 0.3
            # The slow client was connected and unanswered all along: the rest
            # of its answer, far more than the kernel buffers between us hold,
            # is still to come, whole.
            rest = bytearray()
            while not rest.endswith(b"\r\n0\r\n\r\n"):
                more = slow.recv(1 << 20)
                assert more, "the long answer was cut"
                rest += more
        finally:
            slow.close()
        with httpx.Client(base_url=one_engine.base_url, timeout=20) as other:
            once = duration(speech(other, LONG, response_format="wav").content)
    assert len(rest) > 2 * (receive_buffer + send_buffer_limit())
    audio = dechunk(head.split(b"\r\n\r\n", 1)[1] + bytes(rest))
    assert audio[:4] == b"RIFF"
    assert duration(audio) == pytest.approx(60 * once, rel=0.05)


def send_buffer_limit() -> int:
    """The most a TCP send buffer may grow to here (bytes)."""
    return int(Path("/proc/sys/net/ipv4/tcp_wmem").read_text().split()[2])


def dechunk(body: bytes) -> bytes:
    """The payload of an HTTP/1.1 chunked body."""
    out = bytearray()
    at = 0
    while True:
        line_end = body.index(b"\r\n", at)
        size = int(body[at:line_end], 16)
        if size == 0:
            return bytes(out)
        out += body[line_end + 2 : line_end + 2 + size]
        at = line_end + 2 + size + 2


def test_fifty_concurrent_clients_are_all_answered(server: EmbeddedServer) -> None:
    """50 connections at once: every one gets whole WAV, none is reset or has to retry."""
    n = 50
    start = threading.Barrier(n)
    results: dict[int, tuple[bytes, int | None] | BaseException] = {}
    tcp_info = getattr(socket, "TCP_INFO", None)

    def fetch(i: int) -> None:
        try:
            start.wait(timeout=30)
            with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
                sock.sendall(post_request("/api/tts", {"text": SHORT}))
                reply = b""
                while more := sock.recv(65536):
                    reply += more
                retransmits = None
                if tcp_info is not None:  # Linux: tcpi_total_retrans, at byte 100 of struct tcp_info
                    retransmits = struct.unpack_from("I", sock.getsockopt(socket.IPPROTO_TCP, tcp_info, 104), 100)[0]
            results[i] = (reply, retransmits)
        except BaseException as exc:  # reported below, per client
            results[i] = exc

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    failures = [r for r in results.values() if isinstance(r, BaseException)]
    assert not failures, failures[:3]
    assert len(results) == n
    for reply, retransmits in results.values():  # type: ignore[misc]
        head, body = reply.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200")
        audio = dechunk(body)
        assert audio[:4] == b"RIFF" and duration(audio) > 0.3
        # A full listen queue makes the kernel drop connection attempts, which
        # the client then sends again (or sees reset): none of that here.
        assert retransmits in (0, None)


def test_the_listen_queue_holds_fifty_clients_while_the_server_is_busy() -> None:
    """50 clients connect while `tts-tui serve` is frozen (SIGSTOP): the kernel
    completes every connection into the listen queue, and once the server runs
    again each one is answered with whole audio."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tts_tui", "serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    socks: list[socket.socket] = []
    try:
        port = int(proc.stdout.readline().rsplit(":", 1)[1])  # type: ignore[union-attr]
        proc.send_signal(signal.SIGSTOP)  # accepts nothing from here on
        for _ in range(50):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setblocking(False)
            assert sock.connect_ex(("127.0.0.1", port)) in (0, errno.EINPROGRESS)
            socks.append(sock)
        # A connection is writable once the handshake completed, which needs
        # room in the listen queue. With a queue of 5 the rest would wait for
        # ever here (their SYNs dropped, resent, dropped...).
        pending = list(socks)
        deadline = time.monotonic() + 15
        while pending and time.monotonic() < deadline:
            _, writable, _ = select.select([], pending, [], 0.5)
            pending = [s for s in pending if s not in writable]
        assert not pending, f"{len(pending)} of 50 connections not completed while the server was stopped"
        for sock in socks:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
            sock.setblocking(True)
            sock.settimeout(60)
            sock.sendall(post_request("/api/tts", {"text": SHORT}))
        proc.send_signal(signal.SIGCONT)
        workers = engine_workers(parent=proc.pid)
        for sock in socks:
            reply = bytearray()
            while more := sock.recv(65536):
                reply += more
            head, body = bytes(reply).split(b"\r\n\r\n", 1)
            assert head.startswith(b"HTTP/1.1 200")
            audio = dechunk(body)
            assert audio[:4] == b"RIFF" and duration(audio) > 0.3
        workers = set(workers) | set(engine_workers(parent=proc.pid))
        assert workers, "the server spoke without an engine worker"
    finally:
        for sock in socks:
            sock.close()
        proc.send_signal(signal.SIGCONT)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    # Its workers ended with it (they would show as children of init otherwise).
    assert wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in workers))


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"input": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"input": "hi", "voice": ' + b'{"id": ' * 50_000 + b'"x"' + b"}" * 50_001,
    ],
    ids=["array", "inside-object", "objects"],
)
def test_a_deeply_nested_body_is_a_400_and_the_server_carries_on(server: EmbeddedServer, body: bytes) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        answer = http.post("/v1/audio/speech", content=body, headers={"Content-Type": "application/json"})
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert "nested too deeply" in error["message"] and error["type"] == "invalid_request_error"
        assert http.post("/api/tts", json={"text": SHORT}).content[:4] == b"RIFF"
    with httpx.Client(base_url=server.base_url, timeout=30) as fresh:
        assert speech(fresh, SHORT, response_format="wav").status_code == 200


def test_concurrent_requests_all_get_whole_audio(server: EmbeddedServer) -> None:
    results: dict[int, float] = {}

    def fetch(i: int) -> None:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            results[i] = duration(speech(http, LONG, response_format="wav").content)

    threads = [threading.Thread(target=fetch, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 5
    first = results[0]
    assert all(d == pytest.approx(first, rel=0.01) for d in results.values())


def test_keep_alive_serves_several_requests_on_one_connection(server: EmbeddedServer) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", "/v1/models")
        first = conn.getresponse()
        first.read()
        sock = conn.sock
        conn.request("POST", "/api/tts", body=json.dumps({"text": SHORT}), headers={"Content-Type": "application/json"})
        second = conn.getresponse()
        assert second.status == 200 and second.read()[:4] == b"RIFF"
        assert conn.sock is sock
    finally:
        conn.close()


def test_port_taken_is_a_clear_error(server: EmbeddedServer) -> None:
    with pytest.raises(TtsError, match="already in use") as caught:
        EmbeddedServer(port=server.port).start()
    assert caught.value.hint


def test_stop_closes_the_port_and_ends_the_workers() -> None:
    others = set(engine_workers())  # the module's server has its own
    running = EmbeddedServer(workers=2).start()
    url = running.base_url
    assert httpx.get(url + "/v1/models").status_code == 200
    # Two at once, so both workers start.
    threads = [
        threading.Thread(target=httpx.post, args=(url + "/api/tts",), kwargs={"json": {"text": LONG}, "timeout": 30})
        for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    started = set(engine_workers()) - others
    assert 1 <= len(started) <= 2
    running.stop()
    running.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/v1/models")
    assert gone(started)


def test_stop_during_answers_ends_everything() -> None:
    others = set(engine_workers())
    earlier = set(synthesis_threads())
    running = EmbeddedServer(workers=1).start()
    socks = []
    for _ in range(3):  # one speaking, two waiting for the engine
        sock = socket.create_connection(("127.0.0.1", running.port), timeout=10)
        sock.sendall(post_request("/v1/audio/speech", {"input": LONG * 400, "response_format": "pcm"}))
        socks.append(sock)
    assert socks[0].recv(12) == b"HTTP/1.1 200"
    started = set(engine_workers()) - others
    assert len(started) == 1
    running.stop()
    try:
        assert gone(started)
        assert wait_for(lambda: not set(synthesis_threads()) - earlier)
    finally:
        for sock in socks:
            sock.close()


def test_builtin_server_is_one_per_process() -> None:
    others = set(engine_workers())
    url = builtin_url()
    try:
        assert url == builtin_url()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        assert httpx.get(url + "/audio/voices").status_code == 200
        assert wait_for(lambda: set(engine_workers()) - others)  # its warm-up starts one worker
        started = set(engine_workers()) - others
    finally:
        stop_builtin()
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/audio/voices")
    assert gone(started)


def test_serve_runs_in_the_foreground_until_ctrl_c() -> None:
    code = "import sys; from tts_tui.server.app import serve; sys.exit(serve(port=0))"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        first_line = proc.stdout.readline()  # type: ignore[union-attr]
        hint = proc.stdout.readline()  # type: ignore[union-attr]
        url = first_line.split()[-1]
        assert url.startswith("http://127.0.0.1:")
        assert "/v1" in hint and "Ctrl-C" in hint
        assert httpx.post(url + "/api/tts", json={"text": SHORT}).content[:4] == b"RIFF"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
        assert "Traceback" not in proc.stderr.read()  # type: ignore[union-attr]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_on_a_taken_port_says_so(server: EmbeddedServer, capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    assert serve(port=server.port, out=out) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "already in use" in err
    assert out.getvalue() == ""


@pytest.mark.parametrize("port", [99999, 65536, -1])
def test_serve_refuses_a_port_out_of_range(port: int, capsys: pytest.CaptureFixture[str]) -> None:
    out = io.StringIO()
    assert serve(port=port, out=out) == 1
    err = capsys.readouterr().err
    assert err == f"error: cannot listen on port {port}: a port is a number from 0 to 65535; 0 picks a free one\n"
    assert out.getvalue() == ""


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--port", "99999"], "a port is a number from 0 to 65535, not 99999"),
        (["--port", "-5"], "not -5"),
        (["--port", "eighty"], "not a port number: 'eighty'"),
        (["--host", ""], "--host: empty"),
        (["--host", "local host"], "not an address or host name"),
    ],
)
def test_serve_command_line_checks_host_and_port(cli, args: list[str], words: str) -> None:
    out = cli("serve", *args, timeout=30)
    assert out.returncode == 2
    lines = out.stderr.splitlines()
    assert len(lines) == 1, out.stderr  # one line: no usage block, no traceback
    assert lines[0].startswith("error: tts-tui serve: argument --") and words in lines[0]
    assert lines[0].endswith(" (try: tts-tui serve --help)") and out.stdout == ""
