"""`tts-tui batch` of 500 short rows against a shell loop of curl, same run.

Both write the same 500 WAV files from the embedded espeak-ng server (its own
process, started once): the loop runs one `curl` per row, one after another,
as a script would; batch runs with -c 1 (the same one-at-a-time work) and
-c 4. Each run writes into a fresh folder. Prints files per second and the
ratio against the curl loop. Asserts nothing; needs curl on the PATH.

    python benchmarks/batch.py [--rows 500]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_SERVER = """
import sys
from tts_tui.server.app import EmbeddedServer
server = EmbeddedServer().start()
print(server.port, flush=True)
sys.stdin.read()
server.stop()
"""

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa").split()


def rows(n: int) -> list[str]:
    return [f"Line {i}: {WORDS[i % len(WORDS)]} and {WORDS[(i * 7) % len(WORDS)]}." for i in range(1, n + 1)]


def curl_loop(lines: list[str], port: int, out: Path) -> float:
    """One curl per line, in a shell script; each JSON body is written beforehand (not timed)."""
    script = out / "loop.sh"
    body_dir = out / "bodies"
    body_dir.mkdir()
    width = len(str(len(lines)))
    with open(script, "w") as sh:
        sh.write("set -e\n")
        for n, line in enumerate(lines, 1):
            body = body_dir / f"{n}.json"
            body.write_text(json.dumps({"model": "tts-1", "input": line, "voice": "en-us", "response_format": "wav"}))
            sh.write(f"curl -sf -o {out}/{str(n).zfill(width)}.wav -H 'Content-Type: application/json' "
                     f"--data-binary @{body} http://127.0.0.1:{port}/v1/audio/speech\n")
    started = time.perf_counter()
    subprocess.run(["sh", str(script)], check=True)
    return time.perf_counter() - started


def batch(script: Path, config: Path, out: Path, concurrency: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tts_tui", "--config", str(config), "batch", str(script), "-o", str(out),
                    "-c", str(concurrency)], check=True, env=env, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=500)
    n = parser.parse_args().rows
    if shutil.which("curl") is None:
        raise SystemExit("curl is not installed")
    server = subprocess.Popen([sys.executable, "-c", _SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        port = int(server.stdout.readline())
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            lines = rows(n)
            script = root / "script.txt"
            script.write_text("\n".join(lines) + "\n")
            config = root / "config.toml"
            config.write_text(f'[[services]]\nname = "local"\ntype = "openai"\nurl = "http://127.0.0.1:{port}/v1"\n'
                              'voice = "en-us"\nformat = "wav"\n')
            batch(script, config, root / "warm", 2)  # warm the server's engines and the OS caches
            results = {}
            for label, run in [("curl loop (sh)", lambda d: curl_loop(lines, port, d)),
                               ("tts-tui batch -c 1", lambda d: batch(script, config, d, 1)),
                               ("tts-tui batch -c 4", lambda d: batch(script, config, d, 4))]:
                folder = root / "".join(ch if ch.isalnum() else "_" for ch in label)
                folder.mkdir()
                seconds = run(folder)
                files = len(list(folder.glob("*.wav")))
                assert files == n, f"{label}: {files} files"
                results[label] = n / seconds
            base = results["curl loop (sh)"]
            print(f"{n} rows, embedded espeak-ng server, one run each\n")
            print(f"{'':<22}{'files/s':>9}{'vs curl':>9}")
            for label, rate in results.items():
                print(f"{label:<22}{rate:>9.1f}{rate / base:>8.2f}x")
    finally:
        server.stdin.close()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
