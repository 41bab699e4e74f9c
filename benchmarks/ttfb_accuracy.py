"""How close the reported ttfb_ms is to a server delay we know.

A test fault server on 127.0.0.1 waits a fixed time after reading each request
before it sends the status line, headers and body at once (`/first-byte`). The
client's reported ttfb_ms should then be that delay plus loopback noise. Runs
the exchanges one after another on one HttpClient (so after the first, the
connection is reused, as in a bench), prints the median and its error against
the delay; asserts nothing.

    python benchmarks/ttfb_accuracy.py [--runs 20] [--delay-ms 150]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import FaultServer  # noqa: E402
from tts_tui.core.client import HttpClient  # noqa: E402
from tts_tui.core.exchange import Exchange, PreparedRequest  # noqa: E402
from tts_tui.core.stats import percentile  # noqa: E402

GOAL_MS = 5.0


async def measure(url: str, runs: int) -> list[float]:
    client = HttpClient()
    out = []
    try:
        for _ in range(runs):
            ex = await client.send(Exchange(PreparedRequest("GET", url)), timeout=10)
            if ex.error or ex.ttfb_ms is None:
                raise SystemExit(f"exchange failed: {ex.error}")
            out.append(ex.ttfb_ms)
    finally:
        await client.aclose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--delay-ms", type=int, default=150)
    args = parser.parse_args()
    with FaultServer() as server:
        values = asyncio.run(measure(server.url("/first-byte", delay_ms=args.delay_ms), args.runs))
    median = statistics.median(values)
    error = median - args.delay_ms
    print(f"server delay       {args.delay_ms} ms before the first byte, {args.runs} exchanges")
    print(f"reported ttfb_ms   median {median:.2f}   min {min(values):.2f}   "
          f"p95 {percentile(values, 95):.2f}   max {max(values):.2f}")
    verdict = "within" if abs(error) <= GOAL_MS else "OUTSIDE"
    print(f"median - delay     {error:+.2f} ms ({verdict} the ±{GOAL_MS:.0f} ms goal)")


if __name__ == "__main__":
    main()
