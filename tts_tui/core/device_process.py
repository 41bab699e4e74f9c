"""The local device played from a fresh process, once PortAudio in this one is broken.

After a stream lost its device (JACK stopped), PortAudio can not be restarted
in the same process (see device_player's module doc). A re-scan then starts
`tts-tui listen` in a child process on a free 127.0.0.1 port with a random
token: its PortAudio starts fresh and finds the devices as they are now, and
the Player sends its audio there through the listener link (RemoteOutput).
The child dies with this process (and is killed by `close`), so it never
outlives the app; a later re-scan replaces it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading

READY_TIMEOUT = 8.0  # the child imports Python, numpy and PortAudio, then opens the device


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the child gets SIGKILL when this process ends, however it ends."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class DeviceProcess:
    """A `tts-tui listen` child playing on `device`. `start()` blocks up to
    READY_TIMEOUT (call it off the UI thread); then `port` and `token` are
    set, or `problem` says why not."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.token = secrets.token_hex(16)
        self.port: int | None = None
        self.device_name: str | None = None
        self.problem: str | None = None
        self._proc: subprocess.Popen[str] | None = None

    def start(self) -> bool:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env.pop("TTS_TUI_OUTPUT", None)
        try:
            self._proc = proc = subprocess.Popen(
                [sys.executable, "-m", "tts_tui", "listen", "--port", "0", "--token", self.token,
                 "--device", self.device],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        except OSError as exc:
            self.problem = f"cannot start a fresh audio process ({exc.strerror or exc})"
            return False
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(proc.stdout.readline() if proc.stdout else ""),
                                  name="tts-device-process", daemon=True)
        reader.start()
        reader.join(READY_TIMEOUT)
        first = line[0].strip() if line else ""
        # "listening on 127.0.0.1:PORT · ♪ DEVICE" (or "♪ silent: REASON")
        if not first.startswith("listening on 127.0.0.1:"):
            self.close()
            self.problem = "the audio device does not answer (a fresh audio process did not start)"
            return False
        address, _, device = first.partition(" · ♪ ")
        self.port = int(address.rsplit(":", 1)[1])
        if device.startswith("silent: "):
            self.close()
            self.problem = device.removeprefix("silent: ")
            return False
        self.device_name = device
        # the rest of its output (one line a clip) is read and dropped, so the pipe never fills
        threading.Thread(target=self._drain, name="tts-device-process-out", daemon=True).start()
        return True

    def _drain(self) -> None:
        proc = self._proc
        if proc is not None and proc.stdout is not None:
            with contextlib.suppress(Exception):
                for _ in proc.stdout:
                    pass

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def close(self) -> None:
        """Kill the child now (it holds no state worth a goodbye)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.kill()
        with contextlib.suppress(Exception):
            proc.wait(1.0)
