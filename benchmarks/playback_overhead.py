"""The client's overhead from the server's first audio byte to the first sample
handed to the sound device, against a minimal httpx + sounddevice loop.

Both run in this one process against the embedded server on 127.0.0.1, asking
for the same 200-character sentence as streamed WAV, alternating so drift in
the machine's load hits both alike, each run starting at a random point of the
device's period. The server's first audio byte is stamped
in the server's own thread (same perf_counter clock) as it is written.

- baseline: an OutputStream opened once at the device's rate and left running;
  per run, a hand-written `httpx.AsyncClient.stream` loop converts and
  resamples the first chunk's samples, queues them, and the clock stops when
  the first callback takes them;
- tts-tui: `speech.speak(play=player)` with one long-lived Player (as in the
  TUI, whose output stays open between plays); its first sample is
  `ttfa_ms` from the request start.

overhead = first sample handed to the device - the server's first audio byte.
Most of it is waiting for the device's next period (JACK: 1024 frames at 48 kHz
= 21.3 ms), which both pay alike; that wait is uniform over a period, so a
median of 200 runs still moves by about a millisecond from one invocation to
the next. Prints medians; asserts nothing. Needs an
output device (JACK here: `jackd --no-realtime -d dummy -r 48000 -p 1024 &`).

    python benchmarks/playback_overhead.py [--runs 200]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import random
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from tts_tui.core.client import HttpClient  # noqa: E402
from tts_tui.core.model import Service  # noqa: E402
from tts_tui.core.player import Player  # noqa: E402
from tts_tui.core.speech import speak  # noqa: E402
from tts_tui.server import handler as server_handler  # noqa: E402
from tts_tui.server.app import EmbeddedServer  # noqa: E402

SENTENCE = (
    "The quick brown fox jumps over the lazy dog, while the sleepy cat watches from the "
    "warm windowsill, and nobody in the quiet little house notices the birds singing outside in the bright spring morning."
)
GOAL_OVERHEAD_MS = 3.0
GOAL_RATIO = 1.2

_first_write: list[float] = []


def _stamp_first_audio_byte() -> None:
    """Record when the server writes a request's first body chunk (the WAV
    header and its first audio, which leave together)."""
    original = server_handler.SpeechHandler._write_chunk

    def write_chunk(self, data: bytes) -> None:  # type: ignore[no-untyped-def]
        if data and not _first_write:
            _first_write.append(time.perf_counter())
        original(self, data)

    server_handler.SpeechHandler._write_chunk = write_chunk  # type: ignore[method-assign]


class BaselineOutput:
    """The minimal player: one running OutputStream and a queue of frames."""

    def __init__(self, sd, device_rate: int) -> None:  # type: ignore[no-untyped-def]
        self.rate = device_rate
        self.lock = threading.Lock()
        self.queue: collections.deque[np.ndarray] = collections.deque()
        self.first_take: float | None = None
        self.stream = sd.OutputStream(samplerate=device_rate, channels=1, dtype="float32", callback=self.callback)
        self.stream.start()

    def callback(self, outdata, frames, _time, _status) -> None:  # type: ignore[no-untyped-def]
        with self.lock:
            filled = 0
            while filled < frames and self.queue:
                head = self.queue[0]
                take = min(frames - filled, len(head))
                outdata[filled : filled + take, 0] = head[:take]
                if take == len(head):
                    self.queue.popleft()
                else:
                    self.queue[0] = head[take:]
                filled += take
            outdata[filled:] = 0
            if filled and self.first_take is None:
                self.first_take = time.perf_counter()

    def reset(self) -> None:
        with self.lock:
            self.queue.clear()
            self.first_take = None

    def close(self) -> None:
        self.stream.stop()
        self.stream.close()


async def baseline(http, url: str, out: BaselineOutput) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    import soxr

    out.reset()
    _first_write.clear()
    body = json.dumps({"model": "tts-1", "input": SENTENCE, "voice": "en-us", "response_format": "wav"})
    resampler = None
    ready: float | None = None
    pending = b""
    started = time.perf_counter()
    async with http.stream("POST", url, content=body, headers={"Content-Type": "application/json"}) as resp:
        rate = int(resp.headers["x-sample-rate"])
        resampler = soxr.ResampleStream(rate, out.rate, 1, dtype="float32")
        header_left = 44
        async for chunk in resp.aiter_bytes():
            if header_left:
                skip = min(header_left, len(chunk))
                chunk, header_left = chunk[skip:], header_left - skip
            pending += chunk
            usable = len(pending) // 2 * 2
            if usable:
                samples = np.frombuffer(pending[:usable], "<i2").astype(np.float32) / 32768.0
                pending = pending[usable:]
                frames = resampler.resample_chunk(samples)
                with out.lock:
                    out.queue.append(frames)
                if ready is None and len(frames):
                    ready = time.perf_counter()
    while out.first_take is None:
        await asyncio.sleep(0.001)
    assert ready is not None
    server = _first_write[0]
    return (out.first_take - started) * 1000, (out.first_take - server) * 1000, (ready - server) * 1000


async def ours(client: HttpClient, service: Service, player: Player) -> tuple[float, float, float]:
    _first_write.clear()
    result = await speak(service, SENTENCE, client=client, play=player)
    assert result.ok and result.streamed, result.error or "did not stream"
    ex = result.exchange
    ready = player.ready_at
    assert ex.t0 is not None and ex.ttfa_ms is not None and ready is not None
    player.stop()  # the next run starts on the open, idle device (as the next F5 in the TUI)
    first_sample, server = ex.t0 + ex.ttfa_ms / 1000, _first_write[0]
    return ex.ttfa_ms, (first_sample - server) * 1000, (ready - server) * 1000


async def main(runs: int) -> int:
    player = Player("default")
    if not player.available:
        print(f"no output device ({player.silent_reason}); nothing to measure.")
        print("start one with: jackd --no-realtime -d dummy -r 48000 -p 1024 &")
        return 0
    import httpx
    import sounddevice as sd

    device_rate = int(sd.query_devices(kind="output")["default_samplerate"])
    period = 2048 / device_rate  # longer than any usual device period
    _stamp_first_audio_byte()
    with EmbeddedServer() as server:
        service = Service(name="bench", url=server.openai_url, voice="en-us", format="wav")
        client = HttpClient()
        out = BaselineOutput(sd, device_rate)
        async with httpx.AsyncClient() as http:
            url = server.openai_url + "/audio/speech"
            for _ in range(3):  # warm up both: imports, pools, espeak, the devices
                await baseline(http, url, out)
                await ours(client, service, player)
            base, mine = [], []
            for _ in range(runs):
                # a random start within a device period, so neither run starts
                # in step with the device's callbacks because of the other
                await asyncio.sleep(random.uniform(0, period))
                base.append(await baseline(http, url, out))
                await asyncio.sleep(random.uniform(0, period))
                mine.append(await ours(client, service, player))
        out.close()
        player.close()
        await client.aclose()
    b_ttfa, b_over, b_ready = (statistics.median(x[i] for x in base) for i in range(3))
    o_ttfa, o_over, o_ready = (statistics.median(x[i] for x in mine) for i in range(3))
    b_mean, o_mean = statistics.mean(x[1] for x in base), statistics.mean(x[1] for x in mine)
    print(f"runs: {runs}, 200-character sentence, streamed WAV from the embedded server on 127.0.0.1")
    print(f"device: {player.device_name}, {device_rate} Hz")
    print("ms                              ttfa        overhead: server's first   client's part: server's first")
    print("                                (request -> audio byte -> device      audio byte -> queued, ready")
    print("                                device)     median (mean)             for the device (median)")
    print(f"baseline (httpx + sounddevice) {b_ttfa:7.2f}  {b_over:12.2f} ({b_mean:5.2f})  {b_ready:21.2f}")
    print(f"tts-tui  (speak with a Player) {o_ttfa:7.2f}  {o_over:12.2f} ({o_mean:5.2f})  {o_ready:21.2f}")
    print(f"added overhead, median: {o_over - b_over:+.2f} ms (goal <= {GOAL_OVERHEAD_MS} ms), "
          f"ratio {o_over / b_over:.2f}x (goal <= {GOAL_RATIO}x)")
    print(f"added overhead, mean:   {o_mean - b_mean:+.2f} ms, ratio {o_mean / b_mean:.2f}x "
          "(steadier: the device's wait is uniform over its period)")
    print(f"added by the client alone (no device period in it): {o_ready - b_ready:+.2f} ms")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    sys.exit(asyncio.run(main(parser.parse_args().runs)))
