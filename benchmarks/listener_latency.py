"""Time to first audio through the listener link against the local device,
same run, same streamed WAV answer, and what the link costs in bytes.

Both players live in this one process against the embedded server on
127.0.0.1, asking for the same sentence as streamed WAV, alternating run by
run so load drift hits both alike:

- local: `speak(play=Player("default"))`, the device opened once and kept;
  its ttfa is the request's start to the first sample the PortAudio callback
  took;
- listener: `speak(play=Player("listen:PORT"))` to a `Listener` in this
  process that plays on the same device (its own DevicePlayer). Its ttfa is
  the moment the listener's device took the first sample, placed on the
  sender's clock from the status's `age` (see link_protocol).

Both wait for the device's next period (JACK: 1024 frames at 48 kHz = 21.3 ms,
uniform over a period), so medians over many runs are what compare. Bytes per
second of audio counts every byte the sender wrote on the link (frames and
headers) over the seconds of audio it carried. Asserts nothing; needs an
output device (JACK here: `jackd --no-realtime -d dummy -r 48000 -p 1024 &`).

    python benchmarks/listener_latency.py [--runs 60]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tts_tui.core.client import HttpClient  # noqa: E402
from tts_tui.core.model import Service  # noqa: E402
from tts_tui.core.playback import remote_output  # noqa: E402
from tts_tui.core.playback.listener import Listener  # noqa: E402
from tts_tui.core.player import Player  # noqa: E402
from tts_tui.core.speech import speak  # noqa: E402
from tts_tui.server.app import EmbeddedServer  # noqa: E402

SENTENCE = "The quick brown fox jumps over the lazy dog, while the sleepy cat watches from the warm windowsill."
GOAL_MS = 10.0

_sent = [0]
_original_send = remote_output._Link.send


def _counting_send(self, data: bytes, clip: int | None = None) -> None:  # type: ignore[no-untyped-def]
    _sent[0] += len(data)
    _original_send(self, data, clip)


async def one(service: Service, client: HttpClient, player: Player) -> tuple[float, float]:
    """ttfa to the device: from the request's start to the first sample the
    (local or listener's) device took, on this process's clock."""
    result = await speak(service, SENTENCE, client=client, play=player)
    if not result.ok or not result.streamed:
        raise SystemExit(f"error: not streamed: {result.exchange.error or player.silent_reason}")
    deadline = time.perf_counter() + 2.0
    while player.first_sample_at is None and time.perf_counter() < deadline:
        await asyncio.sleep(0.002)
    if player.first_sample_at is None or result.exchange.t0 is None:
        raise SystemExit(f"error: the device never took a sample ({player.silent_reason})")
    ttfa = (player.first_sample_at - result.exchange.t0) * 1000
    player.stop()  # the next run starts at once; the open device (or link) stays
    return ttfa, result.audio.duration


async def main(runs: int) -> None:
    remote_output._Link.send = _counting_send  # counts bytes, sends them all the same
    with EmbeddedServer() as server, Listener(0) as listener:
        service = Service(name="bench", url=server.openai_url, voice="en-us", format="wav")
        local, remote = Player("default"), Player(f"listen:{listener.port}")
        if not local.available:
            raise SystemExit(f"error: no output device: {local.silent_reason}")
        client = HttpClient()
        try:
            for player in (local, remote):  # warm-up: open the device and the link, not counted
                await one(service, client, player)
            times: dict[str, list[float]] = {"local": [], "listener": []}
            audio_s, before = 0.0, _sent[0]
            for _ in range(runs):
                ttfa, _ = await one(service, client, local)
                times["local"].append(ttfa)
                ttfa, seconds = await one(service, client, remote)
                times["listener"].append(ttfa)
                audio_s += seconds
            sent = _sent[0] - before
        finally:
            await client.aclose()
            local.close()
            remote.close()
    med = {name: statistics.median(values) for name, values in times.items()}
    p95 = {name: sorted(values)[int(0.95 * (len(values) - 1))] for name, values in times.items()}
    gap = med["listener"] - med["local"]
    print(f"{runs} runs each, alternating; streamed WAV from the embedded server; device: {listener.device}")
    print(f"{'':<10}{'ttfa p50':>10}{'ttfa p95':>10}   (request start -> first sample taken by the device)")
    for name in ("local", "listener"):
        print(f"{name:<10}{med[name]:>8.1f} ms{p95[name]:>7.1f} ms")
    print(f"listener - local: {gap:+.1f} ms (goal: within {GOAL_MS:.0f} ms) -> {'ok' if abs(gap) <= GOAL_MS else 'MISSED'}")
    rate = sent / audio_s if audio_s else 0.0
    print(f"link: {rate / 1000:.1f} kB per second of audio ({rate * 8 / 1000:.0f} kbit/s), "
          f"{sent / 1e6:.2f} MB for {audio_s:.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=60)
    asyncio.run(main(parser.parse_args().runs))
