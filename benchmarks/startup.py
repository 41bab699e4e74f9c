"""Time to first paint of the TUI, in a real pseudo-terminal.

Starts `python -m tts_tui --config <tmp>` on a pty (80x24), and stops the clock
when the screen shows the four pane titles (first paint), and again when the
Request pane's fields, which mount just after the first frame, are drawn. Median of 5 (configurable). When
Posting (the Textual API client) is on PATH, it is measured the same way in
the same run, as a reference (first paint = its first full frame).

    python benchmarks/startup.py [--runs 5] [--posting PATH]

First paint with an external service (an `http` service with a body
template, and an `openai` one, on 127.0.0.1 ports nothing listens on) is
measured against the built-in one, interleaved run by run: the goal is
within 1.1x (validation, which loads the template engine, waits for the
first frame).

Also prints Textual's own import time (`python -c "import textual.app"`) and
the first paint of a bare Textual app (four Statics and a Footer): the floors
the app cannot beat.
"""

from __future__ import annotations

import argparse
import os
import pty
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import fcntl
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 20.0
BARE_APP = """\
from textual.app import App
from textual.widgets import Footer, Static


class Bare(App):
    def compose(self):
        for title in ("Services", "Request", "Log", "Playback"):
            yield Static(title)
        yield Footer()


Bare().run()
"""


def time_to_marks(argv: list[str], marks: list[bytes], env: dict[str, str]) -> float:
    """Seconds from spawn until every mark has appeared in the pty output."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True, start_new_session=True)
    os.close(slave)
    seen = b""
    try:
        while time.perf_counter() - started < TIMEOUT:
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            if all(m in seen for m in marks):
                return time.perf_counter() - started
        raise RuntimeError(f"no first paint within {TIMEOUT} s: {seen[-300:]!r}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        os.close(master)


def measure(label: str, argv: list[str], marks: list[bytes], env: dict[str, str], runs: int) -> float:
    time_to_marks(argv, marks, env)  # warm the disk cache
    times = [time_to_marks(argv, marks, env) for _ in range(runs)]
    median = statistics.median(times)
    print(f"{label:<28} median {median:.3f} s  (runs: {', '.join(f'{t:.3f}' for t in times)})")
    return median


EXTERNAL = {
    "external http": (
        '[[services]]\nname = "xtts"\ntype = "http"\nurl = "http://127.0.0.1:9/tts_to_audio/"\n'
        'body = \'{"text": "{{ text }}", "speaker_wav": "{{ voice }}", "language": "en"}\'\n'
        'voice = "female_01"\n'
    ),
    "external openai": (
        '[[services]]\nname = "kokoro"\ntype = "openai"\nurl = "http://127.0.0.1:9/v1"\nvoice = "af_heart"\n'
    ),
}


def measure_interleaved(apps: dict[str, list[str]], marks: list[bytes], env: dict[str, str], runs: int) -> dict[str, float]:
    """Median first paint of each app, one run of each in turn, so load drift hits all alike."""
    for argv in apps.values():
        time_to_marks(argv, marks, env)  # warm the disk cache
    times: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(runs):
        for name, argv in apps.items():
            times[name].append(time_to_marks(argv, marks, env))
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, values in times.items():
        print(f"{'first paint, ' + name:<34} median {medians[name]:.3f} s  "
              f"(runs: {', '.join(f'{t:.3f}' for t in values)})")
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--posting", default=shutil.which("posting"), help="path to the posting executable")
    args = parser.parse_args()
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(ROOT), "COLUMNS": "80", "LINES": "24"}
    # Users' installs have bytecode caches (pip writes them for wheels, Python
    # on first import): let the warm-up run write them for an editable checkout.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    with tempfile.TemporaryDirectory() as tmp:
        env["XDG_CONFIG_HOME"] = tmp
        config = Path(tmp) / "config.toml"
        # `voices` creates the default config (and starts the embedded server once)
        subprocess.run([sys.executable, "-m", "tts_tui", "--config", str(config), "--init", "voices"], env=env,
                       capture_output=True, check=True)
        floor = [sys.executable, "-c", "import textual.app; print('Services Request Log Playback')"]
        marks = [b"Services", b"Request", b"Log", b"Playback"]
        base = measure("import textual.app (floor)", floor, marks, env, args.runs)
        # The least a Textual app can paint: four Statics and a Footer.
        bare = Path(tmp) / "bare_app.py"
        bare.write_text(BARE_APP)
        measure("bare Textual app (4 Statics)", [sys.executable, str(bare)], marks, env, args.runs)
        app = [sys.executable, "-m", "tts_tui", "--config", str(config)]
        ours = measure("tts-tui first paint", app, marks, env, args.runs)
        print(f"tts-tui over the floor: {ours - base:+.3f} s; goal: <= 0.45 s first paint")
        # The Request pane's tabs mount just after the first frame: say when they are there.
        measure("tts-tui fields drawn", app, [*marks, b"Format"], env, args.runs)
        apps = {"built-in": app}
        for name, text in EXTERNAL.items():
            path = Path(tmp) / f"{name.replace(' ', '-')}.toml"
            path.write_text(text)
            apps[name] = [sys.executable, "-m", "tts_tui", "--config", str(path)]
        medians = measure_interleaved(apps, marks, env, args.runs)
        for name in EXTERNAL:
            print(f"{name} / built-in: {medians[name] / medians['built-in']:.2f}x (goal: <= 1.1x)")
        if args.posting:
            posting_env = {**env, "XDG_CONFIG_HOME": tmp, "XDG_DATA_HOME": tmp}
            theirs = measure("posting first paint", [args.posting], [b"Posting"], posting_env, args.runs)
            print(f"posting / tts-tui: {theirs / ours:.1f}x (goal: >= 3x)")
        else:
            print("posting not found on PATH: pass --posting PATH to compare")


if __name__ == "__main__":
    main()
