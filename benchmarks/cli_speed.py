"""`tts-tui say --no-play -o FILE` against curl writing the same file.

Starts the embedded server in its own process (`tts-tui serve --port 0`), then
runs these commands interleaved, round after round, so drift in the machine's
load hits all of them alike:

- `python -c pass`                       the floor any Python CLI pays here
- `python -S -c pass`                    the same without `site` (and so without
                                         the editable install's import finder)
- `python -c RAW_SAY`                    the least a Python program can do for
                                         the same file: the same request on a raw
                                         socket, the chunks joined, the file written
- `python -c "import argparse, ..."`    the standard library modules `say` reads
                                         its arguments, config and answer with
                                         (argparse, json, re, tomllib, dataclasses,
                                         pathlib, socket), imported and nothing done
- `tts-tui --version`
- `tts-tui say TEXT --no-play -o a.wav`  an OpenAI-type service, WAV
- the same with an http-type service whose body template sends the same JSON
  (`"input": "{{ text }}"`)
- `curl -o b.wav` with the same JSON body to the same URL

The floors show what part of the distance to curl no Python program can close
on this machine: read "say / raw Python" as what tts-tui itself adds, and
"say / its stdlib" as what it adds above the modules any Python CLI that
reads a TOML file into dataclasses must import.

Each run's wall time and CPU time (user + system, from the child's own
rusage, threads included) are recorded; medians are printed with the ratios
the issue sets goals for. Both files' sizes are printed, so both commands
did the same work (espeak-ng's output varies by a few samples run to run).

    python benchmarks/cli_speed.py [--runs 20] [--text "Hello there."] [--before DIR]

`--before DIR` also runs the tts-tui in DIR (e.g. `git archive` of an older
commit unpacked there) in the same rounds, as "before: ...".

Asserts nothing: on a loaded machine read the ratios, not the milliseconds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
# The same request as curl's, on a raw socket: no imports beyond socket and
# sys, the chunked body joined, the file written. argv: host port target body file.
RAW_SAY = r"""
import socket, sys
host, port, target, body, name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].encode(), sys.argv[5]
s = socket.create_connection((host, port))
s.sendall(b"POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
          b"Connection: close\r\n\r\n%s" % (target.encode(), host.encode(), port, len(body), body))
data = bytearray()
while chunk := s.recv(1 << 18):
    data += chunk
head, _, rest = bytes(data).partition(b"\r\n\r\n")
assert head.startswith(b"HTTP/1.1 200"), head[:60]
if b"chunked" in head.lower():
    out, pos = [], 0
    while (size := int(rest[pos : rest.index(b"\r\n", pos)], 16)):
        start = rest.index(b"\r\n", pos) + 2
        out.append(rest[start : start + size])
        pos = start + size + 2
    rest = b"".join(out)
with open(name, "wb") as f:
    f.write(rest)
"""
STDLIB = "import argparse, json, re, tomllib, dataclasses, pathlib, socket"
GOALS = {  # (label, against, at most)
    "say wall / curl wall": 4.0,
    "say wall / python -c pass": 6.0,
    "--version wall / python -c pass": 2.0,
}


def tts_tui_argv() -> list[str]:
    """The installed `tts-tui` script next to this Python, else `python -m tts_tui`."""
    script = Path(sys.executable).with_name("tts-tui")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tts_tui"]


def console_script(checkout: Path) -> list[str]:
    """What pip's `tts-tui` script runs, for the checkout in `checkout` (its
    pyproject names the function): the same launcher as the installed one's."""
    import tomllib

    target = tomllib.loads((checkout / "pyproject.toml").read_text())["project"]["scripts"]["tts-tui"]
    module, function = target.split(":")
    code = (f"import re, sys; from {module} import {function}; "
            f"sys.argv[0] = 'tts-tui'; sys.exit({function}())")
    return [sys.executable, "-c", code]


def start_server(env: dict[str, str]) -> tuple[subprocess.Popen, str]:
    """`tts-tui serve --port 0` in its own process; (process, OpenAI base URL)."""
    proc = subprocess.Popen([*tts_tui_argv(), "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("OpenAI base URL "):
            return proc, line.split()[3].rstrip(":")
    proc.kill()
    raise SystemExit("the embedded server did not start")


def run_once(argv: list[str], env: dict[str, str], cwd: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of `argv`, which must succeed."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {stderr.strip()}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--text", default="Hello there, this is a quick test.")
    parser.add_argument("--before", type=Path, metavar="DIR", help="also run the tts-tui checkout in DIR")
    args = parser.parse_args()
    curl = shutil.which("curl")
    if curl is None:
        raise SystemExit("curl is not on PATH")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # installs have bytecode caches
    server, openai_url = start_server(env)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "config.toml"
            config.write_text(
                '[audio]\noutput = "none"\n\n[[services]]\nname = "bench"\ntype = "openai"\n'
                f'url = "{openai_url}"\nmodel = "tts-1"\nvoice = "en-us"\nformat = "wav"\n'
                '\n[[services]]\nname = "http-body"\ntype = "http"\n'
                f'url = "{openai_url}/audio/speech"\nvoice = "en-us"\n'
                'body = \'{"model": "tts-1", "input": "{{ text }}", "voice": "{{ voice }}", '
                '"response_format": "wav", "speed": {{ speed }}}\'\n'
            )
            body = json.dumps({"model": "tts-1", "input": args.text, "voice": "en-us",
                               "response_format": "wav", "speed": 1.0})
            where = urlsplit(openai_url)
            commands = {
                "python -c pass": [sys.executable, "-c", "pass"],
                "python -S -c pass": [sys.executable, "-S", "-c", "pass"],
                "raw-socket python -o": [sys.executable, "-c", RAW_SAY, where.hostname, str(where.port),
                                         f"{where.path}/audio/speech", body, "raw.wav"],
                "python: say's stdlib": [sys.executable, "-c", STDLIB],
                "tts-tui --version": [*tts_tui_argv(), "--version"],
                "tts-tui say --no-play -o": [*tts_tui_argv(), "--config", str(config), "say", args.text,
                                             "--no-play", "-o", "say.wav"],
                "tts-tui say, http body": [*tts_tui_argv(), "--config", str(config), "say", "-s", "http-body",
                                           args.text, "--no-play", "-o", "http.wav"],
                "curl -o": [curl, "-sS", "--fail", "-o", "curl.wav", "-X", "POST", "-H",
                            "Content-Type: application/json", "--data-binary", body,
                            f"{openai_url}/audio/speech"],
            }
            envs = {name: env for name in commands}
            if args.before:
                old = {**env, "PYTHONPATH": str(args.before.resolve())}
                launch = console_script(args.before)
                for name in ("tts-tui --version", "tts-tui say --no-play -o", "tts-tui say, http body"):
                    commands[f"before: {name[8:]}"] = [*launch, *commands[name][len(tts_tui_argv()):]]
                    envs[f"before: {name[8:]}"] = old
            for name, argv in commands.items():  # warm the disk cache and the bytecode
                run_once(argv, envs[name], tmp)
            sizes = [(Path(tmp) / name).stat().st_size for name in ("say.wav", "curl.wav", "raw.wav")]
            wall: dict[str, list[float]] = {name: [] for name in commands}
            cpu: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(args.runs):
                for name, argv in commands.items():
                    w, c = run_once(argv, envs[name], tmp)
                    wall[name].append(w)
                    cpu[name].append(c)
    finally:
        server.terminate()
        server.wait(timeout=10)

    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs; "
          f"{args.runs} interleaved runs each; medians")
    print(f"{'command':<30}{'wall ms':>10}{'cpu ms':>10}")
    med = {name: (statistics.median(wall[name]) * 1000, statistics.median(cpu[name]) * 1000) for name in commands}
    for name, (w, c) in med.items():
        print(f"{name:<30}{w:>10.1f}{c:>10.1f}")
    print(f"say.wav {sizes[0]} bytes, curl.wav {sizes[1]} bytes, raw.wav {sizes[2]} bytes")
    ratios = {
        "say wall / curl wall": med["tts-tui say --no-play -o"][0] / med["curl -o"][0],
        "say cpu / curl cpu": med["tts-tui say --no-play -o"][1] / med["curl -o"][1],
        "say wall / python -c pass": med["tts-tui say --no-play -o"][0] / med["python -c pass"][0],
        "--version wall / python -c pass": med["tts-tui --version"][0] / med["python -c pass"][0],
        "raw python wall / curl wall": med["raw-socket python -o"][0] / med["curl -o"][0],
        "say wall / raw python wall": med["tts-tui say --no-play -o"][0] / med["raw-socket python -o"][0],
        "http-body say / openai say": med["tts-tui say, http body"][0] / med["tts-tui say --no-play -o"][0],
        "say wall / its stdlib wall": med["tts-tui say --no-play -o"][0] / med["python: say's stdlib"][0],
        "its stdlib / python -c pass": med["python: say's stdlib"][0] / med["python -c pass"][0],
        "say cpu / raw python cpu": med["tts-tui say --no-play -o"][1] / med["raw-socket python -o"][1],
    }
    for label, ratio in ratios.items():
        goal = GOALS.get(label)
        verdict = "" if goal is None else f"  goal <= {goal:g}x: {'met' if ratio <= goal else 'NOT met'}"
        print(f"{label:<34}{ratio:>6.2f}x{verdict}")


if __name__ == "__main__":
    main()
