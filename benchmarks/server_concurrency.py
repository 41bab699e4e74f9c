"""Throughput of the embedded server with N engine workers against 1, same run.

Starts the server in its own process (so the clients' threads do not share
its interpreter lock) once per configuration: 1 worker, N workers (default
min(usable CPUs, 4)) and, as the design it replaced, espeak in the server's
process (``workers=0``). Each is hit by C clients at once (default 2 x N),
each on its own keep-alive connection, asking for a ~1000-character text as
streamed WAV. Rounds alternate between configurations so a change in the
machine's load hits them alike. Prints audio seconds produced per wall
second, requests per second and a lone client's time to the first audio
byte, medians over the rounds, and the ratios against 1 worker. Asserts
nothing.

    python benchmarks/server_concurrency.py [--workers N] [--clients C] [--requests R] [--rounds K]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tts_tui.server.engine_pool import default_size  # noqa: E402

SENTENCE = (
    "The quick brown fox jumps over the lazy dog, while the sleepy cat watches from the "
    "warm windowsill, and nobody in the quiet little house notices the birds singing outside. "
)
TEXT = SENTENCE * 6  # ~1000 characters, ~60 s of audio: synthesis dominates the HTTP work
SHORT = "Hello there, how are you today?"

_SERVER = """
import sys, threading
from tts_tui.server.app import EmbeddedServer
server = EmbeddedServer(workers=int(sys.argv[1])).start()
print(server.port, flush=True)
sys.stdin.read()  # until the benchmark closes our stdin
server.stop()
"""


class Server:
    """The embedded server in a subprocess, with ``workers`` engine workers."""

    def __init__(self, workers: int) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _SERVER, str(workers)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )
        self.port = int(self.proc.stdout.readline())  # type: ignore[union-attr]

    def close(self) -> None:
        self.proc.stdin.close()  # type: ignore[union-attr]
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def ask(conn: http.client.HTTPConnection, text: str) -> tuple[float, float]:
    """(seconds to the first audio byte, seconds of audio) for one streamed WAV."""
    body = json.dumps({"model": "tts-1", "input": text, "voice": "en-us", "response_format": "wav"})
    started = time.perf_counter()
    conn.request("POST", "/v1/audio/speech", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    if response.status != 200:
        raise SystemExit(f"error: HTTP {response.status}: {response.read()[:200]!r}")
    head = response.read(45)  # the 44-byte header and the first audio byte
    first = time.perf_counter() - started
    size = len(head) + len(response.read())
    return first, (size - 44) / 2 / 22050


def load(port: int, clients: int, requests: int) -> tuple[float, float]:
    """(audio seconds per wall second, requests per second) with ``clients`` at once."""
    audio = [0.0] * clients
    start = threading.Barrier(clients + 1)

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        start.wait()
        for _ in range(requests):
            audio[i] += ask(conn, TEXT)[1]
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    return sum(audio) / wall, clients * requests / wall


def first_audio_ms(port: int, runs: int = 10) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    ask(conn, SHORT)
    result = statistics.median(ask(conn, SHORT)[0] for _ in range(runs)) * 1000
    conn.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=default_size())
    parser.add_argument("--clients", type=int, default=0, help="clients at once (default 2 x workers)")
    parser.add_argument("--requests", type=int, default=3, help="requests per client per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    clients = args.clients or 2 * args.workers
    configs = {"in-process (old)": 0, "1 worker": 1, f"{args.workers} workers": args.workers}
    servers = {name: Server(workers) for name, workers in configs.items()}
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in configs}
    try:
        for name, server in servers.items():  # start every worker before timing anything
            load(server.port, clients, 1)
        for _ in range(args.rounds):
            for name, server in servers.items():
                audio_rate, request_rate = load(server.port, clients, args.requests)
                results[name].append((audio_rate, request_rate, first_audio_ms(server.port)))
    finally:
        for server in servers.values():
            server.close()

    print(
        f"{len(TEXT)}-character text as streamed WAV, {clients} clients x {args.requests} requests, "
        f"{args.rounds} rounds (median); {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    base = statistics.median(r[0] for r in results["1 worker"])
    for name, rows in results.items():
        audio_rate = statistics.median(r[0] for r in rows)
        request_rate = statistics.median(r[1] for r in rows)
        first = statistics.median(r[2] for r in rows)
        print(
            f"  {name:<17} {audio_rate:7.0f} s of audio/s  {request_rate:6.1f} req/s  "
            f"x{audio_rate / base:.2f} vs 1 worker   lone client's first audio byte {first:5.2f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
