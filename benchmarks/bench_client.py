"""`tts-tui bench` against `hey` on the same endpoint and body.

Starts the embedded server in its own process (`tts-tui serve --port 0`) and
sends it the exact request an OpenAI-type service makes for the text (WAV),
with `hey -n N -c C` and with `tts-tui bench -n N -c C --no-warmup` (hey has
no warm-up either), alternating round after round so drift in the machine's
load hits both alike, each round starting with the next client (whichever
runs right after another's measured a few percent slower, so a fixed order
favours one). For each concurrency it prints medians over the rounds:

- requests/s: N over the time from the first request to the last answer
  (hey: from its CSV offsets; tts-tui: its own `wall_s`);
- p50 total: each request's time to its last byte (hey's response-time;
  tts-tui's `total_ms`), and p50 TTFB where both measure it;
- client CPU per request: hey's user + system time (os.wait4, its start-up
  of a few milliseconds included) over N; tts-tui's own figure over the timed
  window (`client_cpu_ms_per_request`, process_time), so start-up, config and
  imports are not counted as per-request work. (For an older tts-tui without
  it: the CPU of a `bench -n 1` run in the same round is taken off its
  os.wait4 CPU and the rest divided by N - 1.)

    python benchmarks/bench_client.py [-n 200] [-c 1 -c 8] [--rounds 3] [--text T] [--before DIR]

`--before DIR` also measures the tts-tui in DIR (e.g. `git archive` of an
older commit unpacked there) in the same rounds, as "before".

Asserts nothing. The server shares the machine's cores with both clients:
the less CPU a client takes, the more the server has.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tts_tui.core.bench import BENCH_TEXT  # noqa: E402
from tts_tui.core.model import Service  # noqa: E402
from tts_tui.core.speech import prepare  # noqa: E402

from cli_speed import start_server, tts_tui_argv  # noqa: E402  (beside this script)

GOALS = {"requests/s": (">=", 0.95), "p50 total": ("<=", 1.1), "cpu/request": ("<=", 2.0)}


def run(argv: list[str], env: dict[str, str]) -> tuple[str, float]:
    """(stdout, CPU seconds of the child) of a run that must succeed."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{argv[0]} failed: {err.read().decode(errors='replace')[-500:]}")
        return out.read().decode(), usage.ru_utime + usage.ru_stime


def hey_round(hey: str, url: str, body: bytes, headers: dict[str, str], n: int, c: int,
              env: dict[str, str]) -> dict[str, float]:
    argv = [hey, "-n", str(n), "-c", str(c), "-m", "POST", "-o", "csv", "-d", body.decode()]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    stdout, cpu = run([*argv, url], env)
    rows = [r for r in csv.DictReader(io.StringIO(stdout)) if r.get("status-code") == "200"]
    n = n // c * c  # hey gives each of its C workers N // C requests
    if len(rows) != n:
        raise SystemExit(f"hey: {n - len(rows)} of {n} requests failed")
    totals = [float(r["response-time"]) * 1000 for r in rows]
    # hey's Response-delay runs from the request written to the first byte: as our ttfb
    ttfb = [float(r["Response-delay"]) * 1000 for r in rows]
    starts = [float(r["offset"]) for r in rows]
    ends = [float(r["offset"]) + float(r["response-time"]) for r in rows]
    wall = max(ends) - min(starts)
    return {"requests/s": n / wall, "p50 total": statistics.median(totals), "p50 ttfb": statistics.median(ttfb),
            "cpu/request": cpu * 1000 / n}


def ours_round(config: Path, text: str, n: int, c: int, env: dict[str, str], root: Path = ROOT) -> dict[str, float]:
    env = {**env, "PYTHONPATH": str(root)}
    base = [*tts_tui_argv(), "--config", str(config), "bench", "--text", text, "--no-warmup", "--json"]
    stdout, cpu = run([*base, "-n", str(n), "-c", str(c)], env)
    summary = json.loads(stdout.splitlines()[-1])
    if summary["errors"]:
        raise SystemExit(f"tts-tui bench: {summary['errors']} errors: {summary['error_messages']}")
    per_request = summary.get("client_cpu_ms_per_request")  # its own CPU over the timed window
    if per_request is None:  # an older tts-tui: take a 1-request run's CPU off
        _, fixed = run([*base, "-n", "1"], env)
        per_request = max(0.0, cpu - fixed) * 1000 / (n - 1)
    metrics = summary["metrics"]
    return {"requests/s": summary["requests_per_s"], "p50 total": metrics["total_ms"]["p50"],
            "p50 ttfb": metrics["ttfb_ms"]["p50"], "cpu/request": per_request}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("-c", type=int, action="append", help="concurrency (repeat; default 1 and 8)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--text", default=BENCH_TEXT)
    parser.add_argument("--before", type=Path, metavar="DIR", help="also measure the tts-tui checkout in DIR")
    args = parser.parse_args()
    hey = shutil.which("hey")
    if hey is None:
        raise SystemExit("hey is not on PATH (apt-get install hey)")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    server, openai_url = start_server(env)
    results: dict[tuple[str, int], list[dict[str, float]]] = {}
    try:
        service = Service(name="bench", type="openai", url=openai_url, voice="en-us", format="wav")
        request = prepare(service, args.text)
        assert request.body is not None
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "config.toml"
            config.write_text(
                '[audio]\noutput = "none"\n\n[[services]]\nname = "bench"\ntype = "openai"\n'
                f'url = "{openai_url}"\nvoice = "en-us"\nformat = "wav"\n'
            )
            clients: dict[str, Callable[[int], dict[str, float]]] = {
                "hey": lambda c: hey_round(hey, request.url, request.body, request.headers, args.n, c, env),
                "tts-tui": lambda c: ours_round(config, args.text, args.n, c, env),
            }
            if args.before:
                clients["before"] = lambda c: ours_round(config, args.text, args.n, c, env, args.before.resolve())
            names = list(clients)
            started = time.perf_counter()
            for round_no in range(args.rounds):
                # each round starts with the next client: the run right after another
                # client's (its connections just closed) measured slower here, whoever ran it
                order = names[round_no % len(names):] + names[:round_no % len(names)]
                for c in args.c or [1, 8]:
                    for name in order:
                        results.setdefault((name, c), []).append(clients[name](c))
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"-n {args.n}, {args.rounds} interleaved rounds ({time.perf_counter() - started:.0f} s); "
          f"medians over rounds; text {args.text[:40]!r}")
    for c in args.c or [1, 8]:
        before = ("before", c) in results
        print(f"\n-c {c}{'':<14}{'hey':>10}{'tts-tui':>10}{'ratio':>8}  goal"
              + (f"{'':<22}{'before':>10}{'ratio':>8}" if before else ""))
        for metric in ("requests/s", "p50 total", "p50 ttfb", "cpu/request"):
            theirs = statistics.median(r[metric] for r in results[("hey", c)])
            ours = statistics.median(r[metric] for r in results[("tts-tui", c)])
            ratio = ours / theirs if theirs else float("inf")
            unit = "" if metric == "requests/s" else " ms"
            old = ""
            if before:
                value = statistics.median(r[metric] for r in results[("before", c)])
                old = f"{value:>10.2f}{value / theirs if theirs else float('inf'):>7.2f}x"
            goal = ""
            if metric in GOALS:
                op, bound = GOALS[metric]
                met = ratio >= bound if op == ">=" else ratio <= bound
                goal = f"{op} {bound:g}x: {'met' if met else 'NOT met'}"
            print(f"{metric + unit:<19}{theirs:>10.2f}{ours:>10.2f}{ratio:>7.2f}x  {goal:<20}{old}")


if __name__ == "__main__":
    main()
