"""First-audio-byte latency and real-time factor of the embedded server.

Runs the server on an ephemeral loopback port and asks it for a 200-character
sentence as streamed WAV and as PCM, 10 times each over one keep-alive
connection (http.client: less client overhead than httpx, so the figure is
mostly the server's). Prints medians next to the goals; asserts nothing.

    python benchmarks/server_latency.py [--runs 10]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tts_tui.server.app import EmbeddedServer  # noqa: E402

SENTENCE = (
    "The quick brown fox jumps over the lazy dog, while the sleepy cat watches from the "
    "warm windowsill, and nobody in the quiet little house notices the birds singing outside in the bright spring morning."
)
assert len(SENTENCE) == 200, len(SENTENCE)
GOAL_FIRST_BYTE_MS = 30.0
GOAL_RTF = 0.01


def one_run(conn: http.client.HTTPConnection, fmt: str) -> tuple[float, float]:
    """(ms from sending the request to the first audio byte, real-time factor)."""
    body = json.dumps({"model": "tts-1", "input": SENTENCE, "voice": "en-us", "response_format": fmt})
    header_bytes = 44 if fmt == "wav" else 0
    started = time.perf_counter()
    conn.request("POST", "/v1/audio/speech", body=body, headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    if response.status != 200:
        raise SystemExit(f"error: HTTP {response.status}: {response.read()[:200]!r}")
    head = response.read(header_bytes + 1)  # the header, then the first audio byte
    first_byte = time.perf_counter() - started
    rest = response.read()
    total = time.perf_counter() - started
    rate = 22050 if fmt == "wav" else 24000
    audio_s = (len(head) + len(rest) - header_bytes) / 2 / rate
    return first_byte * 1000, total / audio_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with EmbeddedServer() as server:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        one_run(conn, "wav")  # warm-up: espeak start, voice load, imports
        one_run(conn, "pcm")
        print(f"{len(SENTENCE)}-character sentence, {args.runs} runs, median")
        for fmt in ("wav", "pcm"):
            runs = [one_run(conn, fmt) for _ in range(args.runs)]
            first = statistics.median(r[0] for r in runs)
            rtf = statistics.median(r[1] for r in runs)
            print(
                f"  {fmt:<4} first audio byte {first:6.2f} ms (goal <= {GOAL_FIRST_BYTE_MS:.0f} ms)"
                f"   RTF {rtf:.4f} (goal <= {GOAL_RTF})"
            )
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
