"""`tts-tui ssh` against a real sshd on 127.0.0.1 (tests/sshd.py): the remote
tts-tui speaks, the laptop side's listener plays into the JACK dummy server.

"Remote" and "laptop" are the same machine here, but every byte of audio goes
through `ssh -R` and the listener link, as it would between two machines.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.playback_env import require_jack
from tests.sshd import Sshd
from tts_tui.core.audio import decode

ROOT = Path(__file__).resolve().parents[2]
TEXT = "hello over ssh"
ANSI = re.compile(rb"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>PX^_\\]|\x1b\][^\x07]*\x07")


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    with Sshd(tmp_path_factory.mktemp("ssh")) as server:
        yield server


def laptop_env(tmp_path: Path) -> dict[str, str]:
    """The laptop side: this checkout, its own empty home, no output override."""
    env = {k: v for k, v in os.environ.items() if k != "TTS_TUI_OUTPUT"}
    env.update(PYTHONPATH=str(ROOT), HOME=str(tmp_path / "laptop"), XDG_CONFIG_HOME=str(tmp_path / "laptop-config"))
    return env


@pytest.mark.playback
def test_say_over_ssh_plays_on_the_laptop_and_saves_the_clip(sshd, tmp_path) -> None:
    require_jack()
    saved = tmp_path / "saved"
    # Someone on the server holds the default port: the forward fails, another port is picked.
    holder = socket.socket()
    with contextlib.suppress(OSError):
        holder.bind(("127.0.0.1", 7755))
        holder.listen()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tts_tui", "ssh", "--save", str(saved), *sshd.client_args(), sshd.host,
             "--", "say", TEXT],
            capture_output=True, text=True, timeout=90, env=laptop_env(tmp_path), cwd=tmp_path, stdin=subprocess.DEVNULL)
    finally:
        holder.close()
    assert done.returncode == 0, done.stderr
    assert "silent" not in done.stderr
    summary = done.stderr.strip().splitlines()[-1]
    match = re.fullmatch(r"tts-tui ssh: 1 clip played here \((\d+\.\d\d) s\) · ♪ system \(JACK Audio Connection Kit\)"
                         r" · 1 saved in .*", summary)
    assert match, done.stderr
    clips = list(saved.glob("*.wav"))
    assert len(clips) == 1
    heard = decode(clips[0].read_bytes())
    # what the same text gives here, with no ssh and no playing
    local = subprocess.run([sys.executable, "-m", "tts_tui", "say", TEXT, "--no-play", "--json"],
                           capture_output=True, text=True, timeout=60, env=laptop_env(tmp_path), cwd=tmp_path)
    expected = json.loads(local.stdout)["audio_s"]
    assert heard.duration == pytest.approx(expected, abs=0.002)
    assert float(match.group(1)) == pytest.approx(expected, abs=0.03)  # the device took all of it


def test_a_missing_remote_tts_tui_is_one_helpful_line(sshd, tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tts_tui", "ssh", "--device", "none", "--remote-command", "no-such-tts-tui",
         *sshd.client_args(), sshd.host, "--", "say", "hi"],
        capture_output=True, text=True, timeout=60, env=laptop_env(tmp_path), cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: no-such-tts-tui was not found on {sshd.host}: install it there")
    assert "Traceback" not in done.stderr


def test_remote_arguments_pass_through_quoted(sshd, tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tts_tui", "ssh", "--device", "none", *sshd.client_args(), sshd.host,
         "--", "presets", "no such; preset 'x'"],
        capture_output=True, text=True, timeout=60, env=laptop_env(tmp_path), cwd=tmp_path, stdin=subprocess.DEVNULL)
    assert done.returncode == 1  # the remote tts-tui got one argument, spaces and quotes intact
    assert "no such; preset 'x'" in done.stderr


@pytest.mark.playback
def test_the_tui_over_ssh_shows_the_laptop_device_on_its_playback_bar(sshd, tmp_path) -> None:
    require_jack()
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 110, 0, 0))
    env = {**laptop_env(tmp_path), "TERM": "xterm-256color", "COLUMNS": "110", "LINES": "30"}
    proc = subprocess.Popen([sys.executable, "-m", "tts_tui", "ssh", *sshd.client_args(), sshd.host],
                            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=tmp_path, start_new_session=True)
    os.close(slave)
    screen = Screen(master)
    try:
        assert screen.wait_for(b"F5", timeout=60), screen.text()[-2000:]
        time.sleep(1.0)  # the workbench's warm-up after the first frame
        os.write(master, b"\x1b[15~")  # F5: speak
        # the clip's source, then where it went: "local · wav 22050 Hz · ♪ via ssh → system (JACK ..."
        assert screen.wait_for("Hz · ♪ via ssh → system (JACK".encode(), timeout=60), screen.text()[-3000:]
        os.write(master, b"\x11")  # ctrl+q
        # read while it exits: what a pty holds when its last writer closes can be lost
        assert screen.wait_for(b"tts-tui ssh: 1 clip played here", timeout=30), screen.text()[-2000:]
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # with its ssh child, which would keep the tunnel
            proc.wait()
        os.close(master)
    assert proc.returncode == 0, screen.text()[-2000:]


class Screen:
    """Everything a pty showed, with the escape sequences taken out."""

    def __init__(self, fd: int) -> None:
        self.fd, self.raw = fd, b""

    def read_for(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                return
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                return
            if not chunk:
                return
            self.raw += chunk

    def plain(self) -> bytes:
        return ANSI.sub(b"", self.raw)

    def text(self) -> str:
        return self.plain().decode("utf-8", "replace")

    def wait_for(self, needle: bytes, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.plain():
                return True
            self.read_for(0.2)
        return needle in self.plain()
