"""A terminal that goes away (the SSH connection drops, tmux dies): the app
saves the edits it holds and exits, whether or not SIGHUP reaches it.

The app runs for real in a pseudo-terminal; closing the master side is what
sshd and tmux do when the connection or server dies.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import sys
import time
import tomllib
from pathlib import Path

import pytest

from tests.conftest import ROOT

CONFIG = '[ui]\ntext = "before"\n\n[[services]]\nname = "local"\ntype = "openai"\nurl = "builtin"\n'


def read_for(fd: int, seconds: float, until: bytes | None = None) -> bytes:
    out = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (until is None or until not in out):
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return out


def start_app(config: Path, tmp_path: Path, *, ignore_hup: bool) -> tuple[int, int]:
    pid, master = pty.fork()
    if pid == 0:  # the child: a session of its own with the pty as its terminal, like sshd gives
        if ignore_hup:
            signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
        os.environ.update({"PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
                           "XDG_STATE_HOME": str(tmp_path / "state"), "TERM": "xterm-256color",
                           "COLUMNS": "100", "LINES": "30"})
        os.execv(sys.executable, [sys.executable, "-m", "tts_tui", "--config", str(config)])
    return pid, master


def wait_exit(pid: int, seconds: float) -> int | None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


@pytest.mark.parametrize("ignore_hup", [False, True], ids=["sighup", "sighup-ignored"])
def test_a_lost_terminal_saves_the_edit_and_exits(tmp_path: Path, ignore_hup: bool) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    pid, master = start_app(config, tmp_path, ignore_hup=ignore_hup)
    screen = read_for(master, 8.0)  # start-up: the first frame and the warm-up
    assert b"Services" in screen
    os.write(master, b"\t")  # from the Services list to the text
    read_for(master, 0.5)
    os.write(master, b"after ")  # typed at the start of the text
    # drawn on the screen (so the app has it), and closed at once, well inside
    # the 300 ms the sync waits before it writes an edit
    assert b"after" in read_for(master, 10.0, until=b"after")
    os.close(master)  # the connection drops
    status = wait_exit(pid, 10.0)
    assert status is not None, "the app kept running on a dead terminal"
    assert tomllib.loads(config.read_text())["ui"]["text"] == "after before"
