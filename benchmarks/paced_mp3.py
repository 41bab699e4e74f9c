"""Time to first audio of an mp3 answer that arrives at real time.

A test fault server on 127.0.0.1 sends `--seconds` of 64 kbit/s mp3 (encoded
into a pipe, so with no Xing header) at the pace it plays, a slice every 20 ms
(`/wire/paced-mp3`). A server that streams speech as it makes it looks like
this; a client that decodes only the whole file waits the full length before
the first sound.

- baseline, same run: a minimal loop, httpx streaming the answer into PyAV's
  mp3 parser and decoder, timed from the response headers to the first
  decoded frame: what any client could do with the bytes as they come;
- tts-tui: one-off `tts-tui say --json --no-play` runs in a subprocess; its
  `ttfa_ms - ttfb_ms` is the time from the server's first byte (the headers)
  to the first decoded audio, shown beside `total_ms`.

Runs alternate so load on the machine hits both alike. Prints medians, the
difference and the ratio to the baseline; asserts nothing.

    python benchmarks/paced_mp3.py [--runs 3] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import httpx  # noqa: E402

from tests.servers import FaultServer  # noqa: E402

GOAL_MS = 150.0  # first audio within this long after the server's first byte


def baseline(url: str) -> tuple[float, float]:
    """(headers to first decoded frame, headers to last byte) in ms, for a minimal loop."""
    decoder = av.CodecContext.create("mp3", "r")
    first = None
    with httpx.Client(timeout=60) as http, http.stream("POST", url, content=b'{"text": "x"}') as resp:
        headers_at = time.perf_counter()
        for chunk in resp.iter_raw():
            if first is None:
                for packet in decoder.parse(chunk):
                    try:
                        frames = decoder.decode(packet)
                    except av.error.InvalidDataError:
                        continue  # the ID3 tag in front of the first frame
                    if frames:
                        first = time.perf_counter()
                        break
        last = time.perf_counter()
    assert first is not None, "the baseline decoded nothing"
    return (first - headers_at) * 1000, (last - headers_at) * 1000


def tts_tui(config: Path) -> dict:
    """One cold `tts-tui say --json` run; its metrics."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "tts_tui", "--config", str(config), "say", "x", "--no-play", "--json"],
        capture_output=True, text=True, timeout=120, env=env,
    )
    if run.returncode != 0:
        raise SystemExit(f"tts-tui failed: {run.stderr.strip()}")
    return json.loads(run.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    base_first, base_total, ours_first, ours_total, after_body = [], [], [], [], []
    with FaultServer() as server, tempfile.TemporaryDirectory() as tmp:
        url = server.url("/wire/paced-mp3", seconds=args.seconds, interval_ms=20)
        config = Path(tmp) / "config.toml"
        config.write_text(
            "[audio]\noutput = \"none\"\n\n[[services]]\nname = \"paced\"\ntype = \"http\"\n"
            f"url = \"{url}\"\ncontent_type = \"audio/mpeg\"\ntimeout = {args.seconds * 3 + 10}\n"
            "body = '''{\"text\": \"{{ text }}\"}'''\n"
        )
        for _ in range(args.runs):
            first, total = baseline(url)
            base_first.append(first)
            base_total.append(total)
            data = tts_tui(config)
            ours_first.append(data["ttfa_ms"] - data["ttfb_ms"])
            ours_total.append(data["total_ms"] - data["ttfb_ms"])
            after_body.append(data.get("first_audio_after_body"))
    b, o = statistics.median(base_first), statistics.median(ours_first)
    print(f"{args.runs} runs each, {args.seconds:g} s of 64 kbit/s mp3 sent at real time (20 ms slices), 127.0.0.1")
    print(f"baseline (httpx + PyAV parser) first decoded frame after the headers: median {b:8.1f} ms"
          f"   last byte {statistics.median(base_total):8.1f} ms")
    print(f"tts-tui say --json  ttfa_ms - ttfb_ms:                               median {o:8.1f} ms"
          f"   total_ms - ttfb_ms {statistics.median(ours_total):8.1f} ms")
    print(f"first_audio_after_body: {after_body}")
    print(f"tts-tui - baseline: {o - b:+.1f} ms   ratio {o / b:.2f}x")
    verdict = "within" if o <= GOAL_MS else "OUTSIDE"
    print(f"first audio {o:.1f} ms after the server's first byte ({verdict} the {GOAL_MS:.0f} ms goal)")


if __name__ == "__main__":
    main()
