"""The Log with 10,000 exchanges: key-to-repaint time and memory.

Loads N synthetic exchanges (JSON request bodies, response headers, WAV bodies
of 50-250 KB, one in ten a JSON error) into a Workbench, runs the app headless
(App.run_test, 120x40), focuses the log and presses down / pagedown / end.
Key-to-repaint is the time from sending the key until the screen update that
paints the log with the cursor where the key put it (the compositor's update
is also turned into terminal output, which headless mode would skip).

Each size runs in a fresh interpreter so the RSS figures are its own; the
baseline (100 exchanges) runs in the same invocation.

    python benchmarks/log_scale.py [--n 10000] [--baseline 100] [--presses 40]

Goals: median key-to-repaint <= 50 ms, RSS <= 150 MB at 10,000 exchanges.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KEYS = ("down", "pagedown", "end")
GOAL_MS = 50.0
GOAL_MB = 150.0

CONFIG = """\
[ui]
theme = "tts-dark"
text = "The quick brown fox jumps over the lazy dog."

[audio]
output = "none"

[[services]]
name = "kokoro"
type = "openai"
url = "http://127.0.0.1:9/v1"
voice = "af_bella"
format = "wav"

[[services]]
name = "xtts"
type = "http"
url = "http://127.0.0.1:9/tts_to_audio/"
body = '{"text": "{{ text }}"}'
"""


def wav_bytes(rng: random.Random) -> bytes:
    n = rng.randrange(50_000, 250_000) & ~1
    header = b"RIFF" + (n + 36).to_bytes(4, "little") + b"WAVEfmt " + bytes(20) + b"data" + n.to_bytes(4, "little")
    return header + rng.randbytes(n)


def synthetic(i: int, rng: random.Random):
    from tts_tui.core.exchange import Exchange, PreparedRequest

    service = "kokoro" if i % 3 else "xtts"
    text = " ".join(rng.choice(["hello", "world", "speech", "latency", "voice", "stream"]) for _ in range(30))
    body = json.dumps({"model": "kokoro", "input": text, "voice": "af_bella", "response_format": "wav"}).encode()
    request = PreparedRequest(
        "POST", "http://127.0.0.1:9/v1/audio/speech",
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-xxxxxxxx"}, body=body,
    )
    ex = Exchange(request, service=service)
    ex.connect_ms = rng.uniform(0.2, 3.0) if i % 5 == 0 else 0.0
    ex.ttfb_ms = rng.uniform(40, 400)
    ex.response_headers = {"content-type": "audio/wav", "date": "Mon, 01 Jan 2024 00:00:00 GMT", "server": "uvicorn"}
    if i % 10 == 7:
        ex.status = 500
        ex.body = json.dumps({"error": {"message": "model overloaded", "type": "server_error"}}).encode()
        ex.content_type = "application/json"
        ex.error = "HTTP 500: model overloaded"
        ex.total_ms = ex.ttfb_ms + 1
        ex.bytes = len(ex.body)
        return ex
    ex.status = 200
    ex.content_type = "audio/wav"
    ex.body = wav_bytes(rng)
    ex.bytes = len(ex.body)
    ex.ttfa_ms = ex.ttfb_ms + rng.uniform(2, 30)
    ex.total_ms = ex.ttfa_ms + rng.uniform(20, 600)
    ex.audio_s = ex.bytes / 48_000
    ex.format = "wav"
    return ex


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(n: int, presses: int) -> dict:
    from tts_tui.core.workbench import Workbench
    from tts_tui.ui.app import TtsApp
    from tts_tui.ui.exchange_list import ExchangeList

    folder = Path(tempfile.mkdtemp(prefix="tts-log-scale-"))
    path = folder / "config.toml"
    path.write_text(CONFIG)
    wb = Workbench(path)
    rng = random.Random(7)
    started = time.perf_counter()
    for i in range(n):
        ex = synthetic(i, rng)
        wb.add_exchange(ex)
        wb.stats.add(ex)
    load_s = time.perf_counter() - started
    rss_loaded = rss_mb()

    app = TtsApp(wb)
    paints: list[tuple[float, int]] = []  # (when, cursor painted)
    result: dict = {"n": n, "load_s": load_s, "rss_loaded_mb": rss_loaded}
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.3)
        await app.workers.wait_for_complete()
        log = app.query_one("#log-table", ExchangeList)
        painted = {"cursor": None}
        render_lines = log.render_lines

        def render_lines_spy(crop):
            painted["cursor"] = log.cursor
            return render_lines(crop)

        log.render_lines = render_lines_spy
        display = app._display

        def display_spy(screen, renderable):
            if renderable is not None and painted["cursor"] is not None:
                renderable.render_segments(app.console)  # what a terminal would be sent
                paints.append((time.perf_counter(), painted["cursor"]))
                painted["cursor"] = None
            display(screen, renderable)

        app._display = display_spy
        log.focus()
        await pilot.pause()

        async def press(key: str) -> float:
            paints.clear()
            t0 = time.perf_counter()
            await pilot.press(key)
            target = log.cursor
            deadline = t0 + 2.0
            while time.perf_counter() < deadline:
                for when, cursor in paints:
                    if cursor == target:
                        return (when - t0) * 1000.0
                await asyncio.sleep(0.0005)
            raise RuntimeError(f"no repaint within 2 s after {key}")

        timings: dict[str, list[float]] = {k: [] for k in KEYS}
        for _ in range(presses):
            await pilot.press("home")
            await pilot.pause()
            timings["down"].append(await press("down"))
            timings["pagedown"].append(await press("pagedown"))
            timings["end"].append(await press("end"))
        result["keys_ms"] = {k: statistics.median(v) for k, v in timings.items()}
        result["all_ms"] = statistics.median([t for v in timings.values() for t in v])
        result["rss_running_mb"] = rss_mb()
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["bodies_kept"] = sum(1 for ex in wb.log if ex.body and ex.format)
    return result


def run_child(n: int, presses: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(n), "--presses", str(presses)],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"child run for {n} exchanges failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--baseline", type=int, default=100)
    parser.add_argument("--presses", type=int, default=40)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(asyncio.run(measure(args.child, args.presses))))
        return
    rows = [run_child(args.baseline, args.presses), run_child(args.n, args.presses)]
    print(f"{'exchanges':>10} {'load':>7} {'down':>8} {'pgdn':>8} {'end':>8} {'median':>8} {'RSS':>8} {'peak':>8}  audio bodies kept")
    for r in rows:
        k = r["keys_ms"]
        print(
            f"{r['n']:>10,} {r['load_s']:>6.2f}s {k['down']:>6.1f}ms {k['pagedown']:>6.1f}ms {k['end']:>6.1f}ms "
            f"{r['all_ms']:>6.1f}ms {r['rss_running_mb']:>6.0f}MB {r['peak_rss_mb']:>6.0f}MB  {r['bodies_kept']}"
        )
    big, base = rows[1], rows[0]
    print(
        f"\nkey-to-repaint at {big['n']:,}: median {big['all_ms']:.1f} ms "
        f"({big['all_ms'] - base['all_ms']:+.1f} ms over {base['n']:,}); goal <= {GOAL_MS:.0f} ms: "
        f"{'met' if big['all_ms'] <= GOAL_MS else 'MISSED'}"
    )
    print(
        f"RSS at {big['n']:,}: {big['rss_running_mb']:.0f} MB ({big['rss_running_mb'] - base['rss_running_mb']:+.0f} MB over "
        f"{base['n']:,}); goal <= {GOAL_MB:.0f} MB: {'met' if big['rss_running_mb'] <= GOAL_MB else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
