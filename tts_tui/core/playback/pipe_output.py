"""`audio.output = "pipe:COMMAND"`: each clip is a WAV streamed to the
standard input of COMMAND, run by the shell (`ffplay -nodisp -autoexit -`,
`aplay`, `paplay`, `sox -t wav - -d`, or `cat > last.wav`).

A clip whose length is known is sent with exact WAV sizes; a stream still
downloading has the 0xFFFFFFFF sizes every player reads as "until the end".
The position is the time since the first frame went out (what the command
does with it cannot be seen), held while paused. Pause and resume stop and
continue the command (SIGSTOP/SIGCONT); stop ends it. A command that fails
(not found, exits with an error) makes the output silent with its last line
of stderr; the next speak tries it again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import struct
import subprocess
import threading
import time
from collections import deque

import numpy as np

from tts_tui.core.audio import Audio
from tts_tui.core.playback.clip_output import ClipOutput
from tts_tui.core.playback.link_protocol import to_s16le

UNKNOWN_SIZE = 0xFFFFFFFF


def wav_header(rate: int, channels: int, frames: int | None) -> bytes:
    """A 44-byte s16le WAV header; `frames=None`: the streamed (unknown) sizes."""
    data = UNKNOWN_SIZE if frames is None else frames * channels * 2
    riff = UNKNOWN_SIZE if frames is None else 36 + data
    return (b"RIFF" + struct.pack("<I", riff) + b"WAVEfmt "
            + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * channels * 2, channels * 2, 16)
            + b"data" + struct.pack("<I", data))


class _Run:
    """One clip: the command's process, its feeder thread and its stderr."""

    def __init__(self, command: str, rate: int, channels: int, frames: int | None) -> None:
        self.rate = rate
        self.proc = subprocess.Popen(command, shell=True, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        self.stderr: deque[str] = deque(maxlen=3)
        self._queue: deque[bytes | None] = deque([wav_header(rate, channels, frames)])
        self._wake = threading.Condition()
        self.frames = 0
        self.started_at: float | None = None
        self.paused_at: float | None = None
        self.paused_for = 0.0
        self.broken = False
        threading.Thread(target=self._feed, name="tts-pipe-feed", daemon=True).start()
        self.drain = threading.Thread(target=self._drain, name="tts-pipe-stderr", daemon=True)
        self.drain.start()

    def put(self, data: bytes | None) -> None:
        with self._wake:
            self._queue.append(data)
            self._wake.notify()

    def _feed(self) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        header = True
        try:
            while True:
                with self._wake:
                    while not self._queue:
                        self._wake.wait()
                    data = self._queue.popleft()
                if data is None:
                    break
                stdin.write(data)
                stdin.flush()
                if self.started_at is None and not header:
                    self.started_at = time.perf_counter()
                header = False
        except (BrokenPipeError, OSError, ValueError):
            self.broken = True
        finally:
            with contextlib.suppress(OSError, ValueError):
                stdin.close()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").strip()
            if line:
                self.stderr.append(line)

    def signal(self, sig: int) -> None:
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, sig)

    @property
    def elapsed(self) -> float:
        if self.started_at is None:
            return 0.0
        end = self.paused_at if self.paused_at is not None else time.perf_counter()
        return min(end - self.started_at - self.paused_for, self.frames / self.rate)


class PipeOutput(ClipOutput):
    """Plays by streaming WAV to `command` (one process per clip)."""

    def __init__(self, command: str) -> None:
        super().__init__()
        self.command = command
        self._run: _Run | None = None
        self._reason: str | None = None
        self._known_frames: int | None = None

    @property
    def silent_reason(self) -> str | None:
        run = self._run
        if run is not None and self._reason is None:
            self._check(run)
        return self._reason

    @property
    def available(self) -> bool:
        return self.silent_reason is None

    @property
    def device_name(self) -> str | None:
        return f"pipe: {self.command}"

    @property
    def state(self) -> str:
        if self.silent_reason is not None:
            return "silent"
        run = self._run
        if self._clip is None or run is None or run.proc.poll() is not None:
            return "stopped"
        if run.paused_at is not None:
            return "paused"
        return "playing" if run.started_at is not None else "buffering"

    @property
    def position(self) -> float:
        run = self._run
        return 0.0 if self._clip is None or run is None else run.elapsed

    @property
    def _clip_over(self) -> bool:
        run = self._run
        return run is None or run.proc.poll() is not None

    def _check(self, run: _Run) -> None:
        code = run.proc.poll()
        if code is None or code == 0 or code < 0:  # negative: we stopped it
            return
        run.drain.join(0.5)  # its last words, which name the problem
        detail = run.stderr[-1] if run.stderr else f"exit status {code}"
        if code == 127:
            self._reason = f"pipe command not found: {detail}"
        else:
            self._reason = f"pipe command failed (exit {code}): {detail}"

    # -- control ---------------------------------------------------------------------
    def warm(self) -> None:
        """Forget the last failure: the next clip runs the command again."""
        self._reason = None

    def play(self, audio: Audio) -> None:
        self._known_frames = audio.frames
        try:
            super().play(audio)
        finally:
            self._known_frames = None

    def close(self) -> None:
        self.stop()

    def refresh(self) -> None:
        self._reason = None

    # -- hooks --------------------------------------------------------------------------
    def _prepare(self) -> bool:
        return True

    def _begin(self, clip: int, rate: int, channels: int) -> None:
        self._reason = None
        try:
            self._run = _Run(self.command, rate, channels, self._known_frames)
        except OSError as exc:
            self._run, self._reason = None, f"cannot run the pipe command: {exc.strerror or exc}"

    def _frames(self, clip: int, frames: np.ndarray) -> None:
        run = self._run
        if run is not None:
            run.frames += len(frames)
            run.put(to_s16le(frames))

    def _finish(self, clip: int, audio: Audio) -> None:
        if self._run is not None:
            self._run.put(None)

    def _halt(self, clip: int) -> None:
        run, self._run = self._run, None
        if run is None:
            return
        run.signal(signal.SIGCONT)  # a stopped process cannot act on SIGTERM
        run.signal(signal.SIGTERM)
        run.put(None)

    def _pause(self, clip: int) -> None:
        run = self._run
        if run is not None and run.paused_at is None:
            run.signal(signal.SIGSTOP)
            run.paused_at = time.perf_counter()

    def _resume(self, clip: int) -> None:
        run = self._run
        if run is not None and run.paused_at is not None:
            run.signal(signal.SIGCONT)
            run.paused_for += time.perf_counter() - run.paused_at
            run.paused_at = None
