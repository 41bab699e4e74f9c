"""First audio of a 3,000-character text: split = "sentence" against "none", same run.

Two servers: the embedded espeak-ng server (which already streams long texts
in pieces), and a test server that synthesises at 5x real time and answers
only once the whole file is made (like most GPU servers), 0.005 s of audio per
character. Rounds alternate between the two settings so a change in the
machine's load hits both alike. Prints the median `ttfa_ms` (to the first
decoded samples; nothing plays) and total, and the ratio none / sentence.
Asserts nothing.

    python benchmarks/long_text.py [--rounds 3]
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
from tts_tui.core.model import Service  # noqa: E402
from tts_tui.core.utterance import speak_long  # noqa: E402
from tts_tui.server.app import EmbeddedServer  # noqa: E402

SENTENCES = [
    "The committee met on Tuesday to discuss the budget.",
    "Dr. Alvarez presented figures showing a rise of 3.5 percent, e.g. in travel costs.",
    "Nobody in the U.S. office had expected it, and the room went quiet for a while.",
    "After a long pause, the chair asked for questions from the floor!",
    "Was the rise temporary, or would it last well into the next financial year?",
]


def text_of(chars: int) -> str:
    out, i = [], 0
    while sum(len(s) + 1 for s in out) < chars:
        out.append(SENTENCES[i % len(SENTENCES)])
        i += 1
    return " ".join(out)


async def measure(service: Service, text: str, split: str, client: HttpClient) -> tuple[float, float, int]:
    utterance = await speak_long(service, text, client=client, split=split)
    if not utterance.ok:
        raise SystemExit(f"{service.name} {split}: {utterance.error}")
    return utterance.ttfa_ms or 0.0, utterance.total_ms or 0.0, len(utterance.chunks)


async def run(rounds: int) -> None:
    text = text_of(3000)
    with EmbeddedServer() as embedded, FaultServer() as paced:
        services = [
            Service(name="embedded espeak-ng", url=embedded.openai_url, voice="en-us", timeout=120),
            Service(name="5x real time, whole file", type="http", timeout=120,
                    url=f"{paced.base}/paced/audio/speech?speedup=5&k=0.005", body='{"text": "{{ text }}"}'),
        ]
        client = HttpClient()
        try:
            print(f"text: {len(text)} characters; {rounds} rounds, medians\n")
            print(f"{'server':<26}{'split':<10}{'chunks':>7}{'ttfa ms':>10}{'total ms':>10}")
            for service in services:
                await measure(service, text[:200], "none", client)  # warm: connection, server start-up
                got: dict[str, list[tuple[float, float, int]]] = {"none": [], "sentence": []}
                for _ in range(rounds):
                    for split in ("none", "sentence"):
                        got[split].append(await measure(service, text, split, client))
                med = {s: (statistics.median(v[0] for v in got[s]), statistics.median(v[1] for v in got[s]),
                           got[s][0][2]) for s in got}
                for split in ("none", "sentence"):
                    ttfa, total, chunks = med[split]
                    print(f"{service.name:<26}{split:<10}{chunks:>7}{ttfa:>10.0f}{total:>10.0f}")
                print(f"{'':<26}ttfa none / sentence = {med['none'][0] / max(med['sentence'][0], 0.001):.1f}x\n")
        finally:
            await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(run(parser.parse_args().rounds))


if __name__ == "__main__":
    main()
