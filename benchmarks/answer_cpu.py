"""CPU a `bench` answer costs the client, without the network: a recorded
answer replayed through LeanClient's parser and the answer decoder.

Records one WAV answer from the embedded server (started in its own process),
then feeds it N times each (in a fresh process per measurement) to:

- a baseline: the least any client does with it (the chunked body walked and
  joined, its bytes counted);
- `tts-tui`: LeanClient's `_Answer` with the AnswerDecoder `speak` gives it, as
  `bench` reads an answer (WAV counted, not converted), then `finish()`;

both as one read (a fast server, or a client that fell behind: everything
queued) and as the server wrote it (one read per write). CPU time
(`time.process_time`), interleaved; medians of the rounds, and the ratio to
the baseline in the same round. A machine's load changes the microseconds,
much less the ratios: unlike bench_client.py, no other process takes part.

    python benchmarks/answer_cpu.py [--rounds 5] [-n 2000] [--before DIR]

`--before DIR` also replays through the tts-tui in DIR (e.g. `git archive` of
an older commit unpacked there). Asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
TEXT = "The quick brown fox jumps over the lazy dog."


def record(url: str) -> bytes:
    """One whole answer, as the embedded server sends it (chunked WAV)."""
    where = urlsplit(url)
    body = json.dumps({"model": "tts-1", "input": TEXT, "voice": "en-us", "response_format": "wav",
                       "speed": 1.0}).encode()
    with socket.create_connection((where.hostname, where.port)) as sock:
        sock.sendall(b"POST %s/audio/speech HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (where.path.encode(), len(body), body))
        raw = bytearray()
        while chunk := sock.recv(1 << 18):
            raw += chunk
    return bytes(raw).replace(b"Connection: close\r\n", b"")


def as_written(raw: bytes) -> list[bytes]:
    """The answer cut where the server wrote: the head, then each chunk."""
    end = raw.index(b"\r\n\r\n") + 4
    parts, pos = [raw[:end]], end
    while pos < len(raw):
        cut = raw.index(b"\r\n", pos)
        nxt = cut + 2 + int(raw[pos:cut], 16) + 2
        parts.append(raw[pos:nxt])
        pos = nxt
    return parts


def baseline(reads: list[bytes]) -> None:
    """Walk the chunked body and join it: the floor for any client."""
    data = b"".join(reads)
    pos = data.index(b"\r\n\r\n") + 4
    pieces = []
    while size := int(data[pos : data.index(b"\r\n", pos)], 16):
        start = data.index(b"\r\n", pos) + 2
        pieces.append(data[start : start + size])
        pos = start + size + 2
    assert len(b"".join(pieces)) > 1000


class BenchReading:
    """One answer through `_Answer` and the AnswerDecoder, as `bench` reads it
    (the request prepared once, as `bench` does)."""

    def __init__(self, url: str) -> None:
        from tts_tui.core.model import Service
        from tts_tui.core.speech import prepare, read_hint

        self.service = Service(name="b", type="openai", url=url, voice="en-us", format="wav")
        self.request = prepare(self.service, TEXT)
        self.hint = read_hint(self.service, self.request)

    def __call__(self, reads: list[bytes]) -> None:
        from tts_tui.core.answer.decode import AnswerDecoder
        from tts_tui.core.exchange import Exchange
        from tts_tui.core.frame_sink import FrameSink
        from tts_tui.core.lean_client import _Answer

        ex = Exchange(self.request, service="b")
        decoder = AnswerDecoder(ex, self.hint, FrameSink(None, None))
        answer = _Answer(ex, False, decoder.on_headers, decoder.on_chunk, 50 << 20, False)
        answer.start = ex.t0 = time.perf_counter()
        for read in reads:
            answer.feed(read)
        assert answer.done.done() and ex.error is None
        audio = decoder.finish()
        assert audio is not None and audio.duration > 1


SHAPES = {"one read": lambda raw: [raw], "as written": as_written}


def child() -> None:
    """`--child FILE URL N IMPL SHAPE`: CPU microseconds per answer, printed.
    Each measurement has a process of its own: the large buffers one side
    allocates change what the allocator costs the other."""
    path, url, n, impl, shape = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
    reads = SHAPES[shape](Path(path).read_bytes())
    fn = baseline if impl == "baseline" else BenchReading(url)

    async def measure() -> float:
        fn(reads)  # imports and first-use costs out of the figure
        started = time.process_time()
        for _ in range(n):
            fn(reads)
        return (time.process_time() - started) / n * 1e6

    print(asyncio.run(measure()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="answers per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--before", type=Path, metavar="DIR", help="also replay through the tts-tui in DIR")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from cli_speed import start_server  # beside this script

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    server, openai_url = start_server(env)
    try:
        raw = record(openai_url)
    finally:
        server.terminate()
        server.wait(timeout=10)
    versions = {"now": env}
    if args.before:
        versions["before"] = {**env, "PYTHONPATH": str(args.before.resolve())}
    results: dict[tuple[str, str], list[float]] = {}
    with tempfile.NamedTemporaryFile(suffix=".http") as recorded:
        recorded.write(raw)
        recorded.flush()

        def run(impl: str, shape: str, version: str) -> float:
            argv = [sys.executable, __file__, "--child", recorded.name, openai_url, str(args.n), impl, shape]
            return float(subprocess.run(argv, env=versions[version], check=True, capture_output=True,
                                        text=True).stdout)

        for _ in range(args.rounds):
            for shape in SHAPES:
                for version in versions:
                    base, mine = run("baseline", shape, version), run("tts-tui", shape, version)
                    results.setdefault((f"baseline, {shape}", version), []).append(base)
                    results.setdefault((f"tts-tui, {shape}", version), []).append(mine)
                    results.setdefault((f"ratio, {shape}", version), []).append(mine / base)
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"a {len(raw)}-byte answer in {len(as_written(raw))} writes; {args.n} answers x {args.rounds} rounds; "
          "CPU us per answer, medians over rounds")
    print(f"{'':<24}" + "".join(f"{name:>12}" for name in versions))
    for label in dict.fromkeys(label for label, _ in results):
        cells = [statistics.median(results[(label, version)]) for version in versions]
        ratio = label.startswith("ratio")
        print(f"{label:<24}" + "".join(f"{c:>11.2f}x" if ratio else f"{c:>11.1f} " for c in cells))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child()
    else:
        main()
