"""The client's overhead to first audio, against a minimal httpx loop.

Both run in this one process against the embedded server on 127.0.0.1, asking
for the same 200-character sentence as streamed WAV, alternating so drift in
the machine's load hits both alike:

- baseline: a hand-written `httpx.AsyncClient.stream` loop that stops the clock
  at the first body chunk holding audio (past the 44-byte WAV header);
- tts-tui: `speech.speak` (request building, HttpClient with its trace hook,
  streaming WAV decoder), timed from the call to the first decoded samples.

Prints medians, the overhead in ms and the ratio; asserts nothing.

    python benchmarks/client_overhead.py [--runs 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402

from tts_tui.core.client import HttpClient  # noqa: E402
from tts_tui.core.model import Service  # noqa: E402
from tts_tui.core.speech import speak  # noqa: E402
from tts_tui.server.app import EmbeddedServer  # noqa: E402

SENTENCE = (
    "The quick brown fox jumps over the lazy dog, while the sleepy cat watches from the "
    "warm windowsill, and nobody in the quiet little house notices the birds singing outside in the bright spring morning."
)
GOAL_OVERHEAD_MS = 3.0
GOAL_RATIO = 1.2


async def baseline(http: httpx.AsyncClient, url: str) -> float:
    body = json.dumps({"model": "tts-1", "input": SENTENCE, "voice": "en-us", "response_format": "wav"})
    started = time.perf_counter()
    first = None
    got = 0
    async with http.stream("POST", url, content=body, headers={"Content-Type": "application/json"}) as resp:
        async for chunk in resp.aiter_bytes():
            got += len(chunk)
            if first is None and got > 44:
                first = time.perf_counter()
    assert first is not None
    return (first - started) * 1000


async def ours(client: HttpClient, service: Service) -> float:
    # Timed from the caller's side, request building included, to the first
    # decoded samples handed over (where playback would start).
    first: list[float] = []
    started = time.perf_counter()
    result = await speak(service, SENTENCE, client=client, on_frames=lambda *_: first or first.append(time.perf_counter()))
    assert result.ok, result.error
    return (first[0] - started) * 1000


async def main(runs: int) -> None:
    with EmbeddedServer() as server:
        service = Service(name="bench", url=server.openai_url, voice="en-us", format="wav")
        client = HttpClient()
        async with httpx.AsyncClient() as http:
            url = server.openai_url + "/audio/speech"
            for _ in range(3):  # warm up both: imports, pools, espeak
                await baseline(http, url)
                await ours(client, service)
            base_ms, our_ms = [], []
            for _ in range(runs):
                base_ms.append(await baseline(http, url))
                our_ms.append(await ours(client, service))
        await client.aclose()
    b, o = statistics.median(base_ms), statistics.median(our_ms)
    print(f"runs: {runs}, 200-character sentence, streamed WAV from the embedded server on 127.0.0.1")
    print(f"baseline first audio byte (minimal httpx loop): median {b:.2f} ms")
    print(f"tts-tui first decoded audio (speak):            median {o:.2f} ms")
    print(f"overhead: {o - b:+.2f} ms (goal <= {GOAL_OVERHEAD_MS} ms)")
    print(f"ratio:    {o / b:.2f}x (goal <= {GOAL_RATIO}x)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    asyncio.run(main(parser.parse_args().runs))
