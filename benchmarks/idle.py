"""What the TUI costs while nobody touches it: CPU and bytes written to the terminal.

Starts each app on a real pseudo-terminal (80x24), waits for it to settle
(the embedded server's start, the history load), then for `--seconds`
measures the CPU time the process used (user + system, from /proc, its
children included) and the bytes it wrote to the terminal. Measured in the
same run, one after the other:

- a bare Textual app with a focused Input (its cursor blinks, as an editor's
  does): the floor,
- tts-tui on the default config (the embedded server; the text field has focus),
- tts-tui with a log of 200 exchanges on screen (from its history file),
- and Posting, when `--posting PATH` is given.

    python benchmarks/idle.py [--seconds 20] [--settle 8] [--posting PATH]

It asserts nothing; it prints one row per app and the ratios to the bare app.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BARE_APP = """\
from textual.app import App
from textual.widgets import Footer, Input, Static


class Bare(App):
    def compose(self):
        yield Input("Hello from a bare app.")
        for title in ("Services", "Request", "Log", "Playback"):
            yield Static(title)
        yield Footer()


Bare().run()
"""


def cpu_seconds(pid: int) -> float:
    """User + system CPU of `pid` and its waited-for children, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = sum(int(v) for v in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU of `pid` and every live descendant (the embedded server's workers too)."""
    total = 0.0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            total += cpu_seconds(p)
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        stack += [int(c) for c in children]
    return total


def measure(argv: list[str], env: dict[str, str], settle: float, seconds: float) -> tuple[float, float, int]:
    """(CPU %, bytes per second written to the terminal) over `seconds`, after
    `settle`, and the bytes written while settling (proof that it drew)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env,
                            cwd=ROOT, start_new_session=True)
    os.close(slave)
    try:
        drawn = drain(master, settle)
        cpu0 = tree_cpu(proc.pid)
        t0 = time.perf_counter()
        written = drain(master, seconds)
        elapsed = time.perf_counter() - t0
        cpu = tree_cpu(proc.pid) - cpu0
        return 100.0 * cpu / elapsed, written / elapsed, drawn
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        os.close(master)


def drain(master: int, seconds: float) -> int:
    """Read the terminal for `seconds`; the bytes read (answering nothing)."""
    end = time.perf_counter() + seconds
    total = 0
    while (left := end - time.perf_counter()) > 0:
        ready, _, _ = select.select([master], [], [], left)
        if ready:
            try:
                total += len(os.read(master, 65536))
            except OSError:
                break
    return total


def history_with(folder: Path, config: Path, count: int) -> None:
    """A history file of `count` exchanges for `config`, as the app writes it."""
    sys.path.insert(0, str(ROOT))
    from tts_tui.core.exchange import Exchange, PreparedRequest
    from tts_tui.core.history import history_dir, record

    target = history_dir(config)
    target.mkdir(parents=True, exist_ok=True)
    with open(target / "exchanges.jsonl", "w", encoding="utf-8") as out:
        for i in range(count):
            ex = Exchange(PreparedRequest("POST", "http://127.0.0.1:9/v1/audio/speech"), service="local",
                          status=200, total_ms=40.0 + i % 7, ttfb_ms=5.0, bytes=50_000, audio_s=1.2,
                          format="wav", text=f"line {i}")
            out.write(json.dumps(record(ex)) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=8.0)
    parser.add_argument("--posting", help="path of a Posting executable, measured the same way")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "80", "LINES": "24",
               "XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"),
               "PYTHONPATH": str(ROOT), "TTS_TUI_OUTPUT": "none"}
        bare = home / "bare.py"
        bare.write_text(BARE_APP)
        config = home / "tts.toml"
        sys.path.insert(0, str(ROOT))
        from tts_tui.core.config import ensure_exists

        ensure_exists(config)  # the config a first run writes
        with_log = home / "with-log.toml"
        with_log.write_text(config.read_text())
        os.environ["XDG_STATE_HOME"] = env["XDG_STATE_HOME"]
        history_with(home, with_log, 200)

        runs = [
            ("bare Textual app", [sys.executable, str(bare)]),
            ("tts-tui", [sys.executable, "-m", "tts_tui", "--config", str(config)]),
            ("tts-tui, 200 in the log", [sys.executable, "-m", "tts_tui", "--config", str(with_log)]),
        ]
        if args.posting:
            runs.append(("Posting", [args.posting]))
        print(f"idle for {args.seconds:.0f} s after {args.settle:.0f} s, 80x24 pty, one after the other")
        print(f"{'app':<26}{'CPU %':>8}{'bytes/s':>10}{'vs bare CPU':>13}{'vs bare bytes':>15}{'drawn first':>13}")
        base: tuple[float, float] | None = None
        for name, argv in runs:
            cpu, rate, drawn = measure(argv, env, args.settle, args.seconds)
            if base is None:
                base = (cpu, rate)
            ratio_cpu = cpu / base[0] if base[0] else float("nan")
            ratio_bytes = rate / base[1] if base[1] else float("nan")
            print(f"{name:<26}{cpu:>8.2f}{rate:>10.0f}{ratio_cpu:>12.2f}x{ratio_bytes:>14.2f}x{drawn:>12,} B")


if __name__ == "__main__":
    main()
