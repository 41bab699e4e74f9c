"""The realtime side of playback: one open output stream and what feeds it.

`_Playback` is the state the PortAudio callback reads: a queue of frames at
the device's rate, a prebuffer, fades, and a job number. The stream stays
open between jobs (it plays silence when idle), so the next play starts within
one device period instead of paying for opening the device again.

`StreamSink` is what a download writes decoded frames into while they arrive.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import numpy as np

from tts_tui.core.audio import Audio

if TYPE_CHECKING:
    from tts_tui.core.device_player import DevicePlayer

FADE_SECONDS = 0.005  # a ramp this long on pause/stop/resume/underrun avoids clicks
# A stream starts once this much is queued (after resampling): little, so the
# first audio is heard at once (ttfa), yet more than one device period.
START_PREBUFFER_SECONDS = 0.03
# After an underrun it waits for more: a server slower than it first seemed
# gets a cushion, so one gap does not become many.
REBUFFER_SECONDS = 0.15


def fit_channels(frames: np.ndarray, channels: int) -> np.ndarray:
    if frames.shape[1] == channels:
        return frames
    mono = frames if frames.shape[1] == 1 else frames.mean(axis=1, keepdims=True)
    return np.ascontiguousarray(np.repeat(mono, channels, axis=1), dtype=np.float32)


class _Playback:
    """One open output stream and the frames queued for it. The PortAudio
    thread calls `callback`; every shared field is guarded by `lock`.

    A job is one audio played on the stream (`rearm` starts the next one and
    returns its number). When a job's frames run out before it has ended (an
    underrun) the callback ramps the last frames down, plays silence until
    `prebuffer` frames are queued again, then ramps back in: a gap, no click.
    """

    def __init__(self, rate: int, channels: int, prebuffer_seconds: float) -> None:
        self.rate, self.channels = rate, channels
        self.lock = threading.Lock()
        self.chunks: deque[np.ndarray] = deque()
        self.queued = 0  # frames waiting in `chunks`
        self.consumed = 0  # frames handed to the device
        self.ended = False
        self.prebuffer = int(rate * prebuffer_seconds)
        self.rebuffer = int(rate * REBUFFER_SECONDS)
        self.paused = False
        self.fade: str | None = None  # "pause" | "stop": ramp down in the next block
        self.fade_in = 0
        self.fade_len = max(1, int(rate * FADE_SECONDS))
        self.faded = threading.Event()
        self.finished = threading.Event()
        self.first_sample_at: float | None = None
        self.ready_at: float | None = None  # when enough was queued: the device takes it at its next period
        self.underruns = 0
        self.job = 0
        self.idle = False  # no job: the stream plays silence (standby, or lingering after a job)
        self.idle_since = time.monotonic()
        self.stream: Any = None
        # monotonic() of the callback's last call: a started stream whose
        # callback stops coming has lost its device (see DevicePlayer._check_lost)
        self.heartbeat = time.monotonic()

    @property
    def buffering(self) -> bool:
        """Waiting for the prebuffer: before the first frame, or after an underrun."""
        return (not self.idle and not self.paused and not self.ended and self.prebuffer > 0
                and self.queued < self.prebuffer and not self.finished.is_set())

    def rearm(self, prebuffer_frames: int, frames: np.ndarray | None = None, *, last: bool = False) -> int:
        """Start a new job (dropping what is queued) and return its number.
        `frames`, when given, are queued in the same step, so the callback
        never sees the job empty."""
        with self.lock:
            self.job += 1
            self.chunks.clear()
            self.queued = self.consumed = self.underruns = 0
            self.prebuffer = prebuffer_frames
            self.ended = self.paused = self.idle = False
            self.fade, self.fade_in, self.first_sample_at, self.ready_at = None, 0, None, None
            self.faded.clear()
            self.finished.clear()
            if frames is not None:
                self._push(frames, last)
            return self.job

    def release(self, job: int | None = None) -> None:
        """End the job (the stream keeps playing silence). Ignored when `job`
        is given and is no longer the current one."""
        with self.lock:
            if job is not None and job != self.job:
                return
            self._go_idle()

    def push(self, frames: np.ndarray, *, last: bool = False, job: int | None = None) -> None:
        """Queue frames at the device's rate and channels (ignored for a job that is over)."""
        with self.lock:
            if job is not None and (job != self.job or self.idle):
                return
            self._push(frames, last)

    def _push(self, frames: np.ndarray, last: bool) -> None:
        if len(frames):
            self.chunks.append(frames)
            self.queued += len(frames)
        self.ended = self.ended or last
        if self.ready_at is None and (self.queued >= self.prebuffer or self.ended) and self.queued:
            self.ready_at = time.perf_counter()

    def _go_idle(self) -> None:
        self.chunks.clear()
        self.queued = 0
        self.fade = None
        if not self.idle:
            self.idle, self.idle_since = True, time.monotonic()
        self.finished.set()
        self.faded.set()

    def _read(self, count: int, out: np.ndarray) -> int:
        filled = 0
        while filled < count and self.chunks:
            head = self.chunks[0]
            take = min(count - filled, len(head))
            out[filled : filled + take] = head[:take]
            if take == len(head):
                self.chunks.popleft()
            else:
                self.chunks[0] = head[take:]
            filled += take
        self.queued -= filled
        self.consumed += filled
        return filled

    def callback(self, outdata: np.ndarray, frames: int, _time: Any, _status: Any) -> None:
        self.heartbeat = time.monotonic()
        with self.lock:
            if self.idle:
                outdata.fill(0)
                return
            if self.paused or (self.queued < self.prebuffer and not self.ended):
                outdata.fill(0)  # paused, or waiting for the prebuffer: silence, not garbage
                if self.fade:
                    self.paused, self.fade = True, None
                    self.faded.set()
                return
            if self.prebuffer:
                if self.consumed:  # back from an underrun, which ramped down
                    self.fade_in = self.fade_len
                self.prebuffer = 0
            want = min(frames, self.fade_len) if self.fade else frames
            got = self._read(want, outdata)
            outdata[got:] = 0
            if got and self.first_sample_at is None:
                self.first_sample_at = time.perf_counter()
            if self.fade_in and got:
                ramp = min(got, self.fade_in)
                start = 1.0 - self.fade_in / self.fade_len
                outdata[:ramp] *= np.linspace(start, 1.0, ramp, dtype=np.float32)[:, None]
                self.fade_in -= ramp
            if self.fade:
                outdata[:got] *= np.linspace(1.0, 0.0, got, dtype=np.float32)[:, None]
                self.paused, self.fade = True, None
                self.faded.set()
                return
            if self.chunks:
                return
            if self.ended:
                self._go_idle()  # the last frame went out; the stream lingers for the next job
                return
            # Dry before the end: ramp down now so the gap starts at zero.
            tail = min(got, self.fade_len)
            if tail:
                outdata[got - tail : got] *= np.linspace(1.0, 0.0, tail, dtype=np.float32)[:, None]
            self.prebuffer = max(1, self.rebuffer)
            self.underruns += 1


class _Growing:
    """Frames appended in pieces, readable at any time without copying them all."""

    def __init__(self, channels: int) -> None:
        self._data = np.zeros((0, channels), np.float32)
        self.frames = 0

    def append(self, frames: np.ndarray) -> None:
        need = self.frames + len(frames)
        if need > len(self._data):
            grown = np.zeros((max(need, 2 * len(self._data), 4096), self._data.shape[1]), np.float32)
            grown[: self.frames] = self._data[: self.frames]
            self._data = grown
        self._data[self.frames : need] = frames
        self.frames = need

    def view(self) -> np.ndarray:
        # later appends write past `frames` (or into a new array): this view never changes
        return self._data[: self.frames]


class StreamSink:
    """Frames written here play as they arrive (underruns play silence).

    From `Player.open_stream`; a silent player gives a sink that only keeps
    the frames (`live` is False), so `end()` still leaves the audio ready to
    replay or save. Call exactly one of `end()` (the download finished) or
    `cancel()` (it failed or was cancelled: playback stops with a fade).
    """

    def __init__(self, player: DevicePlayer, rate: int, channels: int, playback: _Playback | None, job: int = 0) -> None:
        self._player, self.rate, self.channels = player, rate, channels
        self._playback, self._job = playback, job
        self._kept = _Growing(channels)
        self._resampler: Any = None
        self._first: float | None = None
        self.done = False
        if playback is not None and playback.rate != rate:
            import soxr

            self._resampler = soxr.ResampleStream(rate, playback.rate, channels, dtype="float32")

    @property
    def live(self) -> bool:
        """True when the frames go to a device (False: a silent player)."""
        return self._playback is not None

    @property
    def current(self) -> bool:
        """True while this sink's audio is what the device is playing."""
        playback = self._playback
        return playback is not None and playback.job == self._job and not playback.idle

    @property
    def first_sample_at(self) -> float | None:
        """perf_counter() when the first frame went to the device (for ttfa);
        None until then, and for a silent sink."""
        playback = self._playback
        if self._first is None and playback is not None and playback.job == self._job:
            self._first = playback.first_sample_at
        return self._first

    @property
    def waiting_for_device(self) -> bool:
        """True while the device may still take the first frame: worth waiting
        for to measure ttfa (False once it did, or was stopped or paused)."""
        playback = self._playback
        return (self.first_sample_at is None and self.current and playback is not None
                and not playback.paused and self._kept.frames > 0)

    @property
    def audio(self) -> Audio:
        """What was written so far (at the sink's rate), without copying it all."""
        return Audio(self._kept.view(), self.rate, "pcm")

    def write(self, frames: np.ndarray) -> None:
        """Queue float32 frames of shape (n, channels) at the sink's rate."""
        if self.done:
            return
        frames = np.asarray(frames, dtype=np.float32).reshape(-1, self.channels)
        self._kept.append(frames)
        self._queue(frames, last=False)
        self._player._streaming(self)

    def end(self, audio: Audio | None = None) -> None:
        """No more frames: playback finishes when the queue drains. The player
        keeps `audio` (the whole answer decoded, with its bytes) for replay and
        save, or else the frames written."""
        if self.done:
            return
        self.done = True
        self._queue(np.zeros((0, self.channels), dtype=np.float32), last=True)
        self._player._loaded(audio if audio is not None else self.audio)

    def cancel(self) -> None:
        """Stop playing this sink's audio (with a fade) if it still plays; the
        player goes back to the audio it had before. Safe after `end()`."""
        self.done = True
        self._player._cancel_stream(self)

    def _queue(self, frames: np.ndarray, *, last: bool) -> None:
        playback = self._playback
        if playback is None or not self.current:
            return
        if self._resampler is not None:
            frames = self._resampler.resample_chunk(frames, last=last)
        playback.push(fit_channels(frames, playback.channels), last=last, job=self._job)
