"""A JACK server that goes away while the app plays: nothing hangs, the audio
is kept, and a re-scan (or the next speak) plays again once JACK is back.

Each test starts its OWN jackd under a server name of its own (the shared
dummy server other tests play into is never touched) and runs the player or
the app in a subprocess whose JACK_DEFAULT_SERVER names it: PortAudio reads
that when it starts. The subprocess has a hard timeout, so a hang fails the
test instead of hanging the suite.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.test_terminal_loss import read_for, wait_exit
from tests.playback_env import require_jack

pytestmark = pytest.mark.playback

# JACK keeps at most 8 servers in its registry, and a SIGKILLed one keeps its
# entry until a server of the same name starts: the names are reused.
_names = itertools.cycle(range(3))


class OwnJack:
    """A jackd with the dummy backend under its own server name."""

    def __init__(self, tmp_path: Path) -> None:
        self.name = f"tts-test-{next(_names)}"
        self.log = tmp_path / f"{self.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {"JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1", "JACK_NO_AUDIO_RESERVATION": "1"}

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["jackd", "-n", self.name, "--no-realtime", "-d", "dummy", "-r", "48000", "-p", "1024"],
                stdout=log, stderr=log, env={**os.environ, **self.env})
        waited = subprocess.run(["jack_wait", "-w", "-t", "10"], env={**os.environ, **self.env},
                                capture_output=True, timeout=20)
        assert waited.returncode == 0, self.log.read_text()

    def kill(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(10)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: it leaves JACK's server registry
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


@pytest.fixture
def own_jack(tmp_path: Path):
    require_jack()  # jackd2 installed (and the shared server up, as CI has it)
    if shutil.which("jackd") is None:
        pytest.skip("jackd not found (apt-get install jackd2)")
    jack = OwnJack(tmp_path)
    jack.start()
    yield jack
    jack.close()


# The player in a subprocess, driven line by line: each command prints one JSON line.
DRIVER = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np
    from tts_tui.core.audio import Audio, save
    from tts_tui.core.player import Player

    def tone(seconds, rate=24000):
        t = np.arange(int(seconds * rate)) / rate
        return Audio((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[:, None], rate, "pcm")

    player = Player("default")
    def say(**fields):
        print(json.dumps({"state": player.state, "reason": player.silent_reason,
                          "device": player.device_name, "position": player.position, **fields}), flush=True)

    for line in sys.stdin:
        command = line.split()
        started = time.monotonic()
        if command[0] == "play":
            player.play(tone(float(command[1])))
        elif command[0] == "replay":
            player.replay()
        elif command[0] == "save":
            say(took=time.monotonic() - started, saved=save(player.audio, command[1]).stat().st_size)
            continue
        elif command[0] == "rescan":
            say(took=time.monotonic() - started, found=player.rescan())
            continue
        elif command[0] == "wait_silent":  # until it notices (the deadline only ends a hang)
            while player.state != "silent" and time.monotonic() - started < 60:
                time.sleep(0.05)
        elif command[0] == "sleep":
            time.sleep(float(command[1]))
        elif command[0] == "close":
            player.close()
        say(took=time.monotonic() - started)
    """
)


# How long one command may take before it counts as hung: far above the
# normal (a fraction of a second; a wait_silent, a few), so a loaded machine
# never trips it, while a call blocked on a dead device (minutes, or for
# ever) does. How fast they are is not this file's business.
HANG_S = 60


class Driver:
    def __init__(self, jack: OwnJack) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", DRIVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), **jack.env})
        self.started = time.monotonic()
        self._lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line)
        self._lines.put("")  # the process ended

    def __call__(self, command: str) -> dict:
        """Run one command; its answer, or a failure if it hangs."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        try:
            line = self._lines.get(timeout=HANG_S)
        except queue.Empty:
            pytest.fail(f"the player hung on {command!r} (no answer in {HANG_S} s)")
        assert line, f"the player process died on {command!r}"
        return json.loads(line)

    def finish(self, timeout: float = 20) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        return self.proc.wait(timeout)


def watchdog(proc: subprocess.Popen, seconds: float) -> None:
    """Kill `proc` after `seconds` whatever happens: a hang fails, never hangs."""
    timer = threading.Timer(seconds, lambda: proc.poll() is None and proc.kill())
    timer.daemon = True
    timer.start()


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_jack_going_away_silences_the_player_and_a_rescan_plays_again(own_jack: OwnJack, tmp_path: Path,
                                                                       sig: int) -> None:
    drive = Driver(own_jack)
    watchdog(drive.proc, 300)
    playing = drive("play 30")
    assert playing["state"] == "playing" and "JACK" in (playing["device"] or ""), playing
    drive("sleep 0.5")

    own_jack.kill(sig)
    silent = drive("wait_silent")
    assert silent["state"] == "silent", silent
    assert silent["reason"] == "the output device went away"
    # noticed the device going, not the end of the sound: the 30 s tone still had long to go
    assert silent["took"] < 30 - 0.5 - 1, silent

    # Replay and play return on a dead device (a hang fails at HANG_S) and stay silent
    replayed = drive("replay")
    assert replayed["state"] == "silent" and replayed["reason"], replayed
    after_play = drive("play 1")
    assert after_play["state"] == "silent", after_play
    saved = drive(f"save {tmp_path / 'kept.wav'}")
    assert saved["saved"] > 24000 * 2  # the 1 s tone, 16-bit: the audio was kept
    assert (tmp_path / "kept.wav").stat().st_size == saved["saved"]

    own_jack.start()  # the same server name, back again
    rescanned = drive("rescan")
    assert rescanned["found"] is True, rescanned
    assert "JACK" in (rescanned["device"] or "")
    drive("play 2")
    moving = drive("sleep 0.6")
    assert moving["state"] == "playing" and moving["position"] > 0.2, moving  # heard again

    drive("close")  # returns (a hang fails at HANG_S)
    assert drive.finish() == 0  # a clean exit: no abort in PortAudio's exit handler


def test_jack_started_after_the_player_is_found_by_a_rescan(tmp_path: Path) -> None:
    require_jack()
    jack = OwnJack(tmp_path)  # not started yet: the player finds no JACK
    drive = Driver(jack)
    watchdog(drive.proc, 300)
    try:
        first = drive("play 1")
        assert first["state"] == "silent" or "JACK" not in (first["device"] or ""), first
        jack.start()
        rescanned = drive("rescan")
        assert rescanned["found"] is True, rescanned
        drive("play 2")
        moving = drive("sleep 0.6")
        assert moving["state"] == "playing" and moving["position"] > 0.2, moving
        assert "JACK" in (moving["device"] or "")
        drive("close")
        assert drive.finish() == 0
    finally:
        jack.close()


# -- the real TUI in a pty ------------------------------------------------------

LONG_TEXT = " ".join(["This sentence is here so that the audio plays for a long while."] * 6)


def start_tui(config: Path, tmp_path: Path, env: dict[str, str]) -> tuple[int, int]:
    import pty

    pid, master = pty.fork()
    if pid == 0:
        os.environ.update({"PYTHONPATH": str(ROOT), "XDG_CONFIG_HOME": str(tmp_path / "xdg"),
                           "XDG_STATE_HOME": str(tmp_path / "state"), "TERM": "xterm-256color",
                           "COLUMNS": "120", "LINES": "34", **env})
        os.execv(sys.executable, [sys.executable, "-m", "tts_tui", "--config", str(config)])
    return pid, master


def test_the_tui_keeps_answering_after_jack_died(own_jack: OwnJack, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f'[ui]\ntext = "{LONG_TEXT}"\n\n[audio]\nsave_dir = "{tmp_path / "saved"}"\n\n'
                      '[[services]]\nname = "local"\ntype = "openai"\nurl = "builtin"\nformat = "wav"\n')
    pid, master = start_tui(config, tmp_path, own_jack.env)
    try:
        assert b"Services" in read_for(master, 30.0, until=b"Services")
        read_for(master, 4.0)  # the warm-up starts the embedded server
        os.write(master, b"\x1b[15~")  # F5
        assert b"JACK" in read_for(master, 60.0, until=b"JACK"), "never played on the test's JACK server"
        own_jack.kill(signal.SIGKILL)
        assert b"went away" in read_for(master, 30.0, until=b"went away")

        os.write(master, b"\x1bOP")  # F1: the help screen opens
        assert b"esc: close" in read_for(master, 30.0, until=b"esc: close")
        os.write(master, b"\x1b")  # Esc closes it
        read_for(master, 1.0)
        os.write(master, b"\x13")  # ctrl+s: the audio was kept and saves
        assert b"saved" in read_for(master, 30.0, until=b"saved")
        assert list((tmp_path / "saved").glob("*.wav"))

        os.write(master, b"\x11")  # ctrl+q
        status = wait_exit(pid, 60.0)  # (a bound that only a hang reaches)
        pid = 0
        assert status is not None, "ctrl+q did not end the app after JACK died"
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(master)
