"""What outputs that send audio somewhere else share (a listener, a pipe).

Such an output plays *clips*: a clip starts (rate, channels), receives
frames, ends; it may be paused, resumed, stopped. `ClipOutput` keeps the
Player's bookkeeping (the last audio, the stream being written, what a
cancelled stream falls back to) and calls a few hooks a subclass fills in.
`ClipSink` is its StreamSink: the same methods and properties, so the answer
path cannot tell a listener from a local device.

Hooks never block the caller on the network or on a child process: they
queue, and the subclass's own thread does the slow part.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from tts_tui.core.audio import Audio
from tts_tui.core.device_stream import _Growing


class ClipSink:
    """Frames written here go to the output's current clip while it is current.

    Same contract as device_stream.StreamSink: call exactly one of `end()` or
    `cancel()`; the frames are kept either way (`audio`)."""

    def __init__(self, output: ClipOutput, clip: int, rate: int, channels: int, live: bool) -> None:
        self._output, self._clip = output, clip
        self.rate, self.channels = rate, channels
        self._live = live
        self._kept = _Growing(channels)
        self.done = False

    @property
    def live(self) -> bool:
        """True when the frames go somewhere that plays them."""
        return self._live

    @property
    def current(self) -> bool:
        """True while this sink's clip is what the output plays."""
        return self._live and self._output._clip == self._clip

    @property
    def first_sample_at(self) -> float | None:
        """perf_counter() (this machine's clock) when the first frame reached
        the far device, as well as it can be told; None until then."""
        return self._output._first_sample_at(self._clip) if self._live else None

    @property
    def waiting_for_device(self) -> bool:
        """True while the first frame may still reach the device (worth
        waiting for to measure ttfa)."""
        return (self.first_sample_at is None and self.current and self._kept.frames > 0
                and self._output.state in ("buffering", "playing"))

    @property
    def audio(self) -> Audio:
        """What was written so far, without copying it all."""
        return Audio(self._kept.view(), self.rate, "pcm")

    def write(self, frames: np.ndarray) -> None:
        """Queue float32 frames of shape (n, channels) at the sink's rate."""
        if self.done:
            return
        frames = np.asarray(frames, dtype=np.float32).reshape(-1, self.channels)
        self._kept.append(frames)
        if self.current and len(frames):
            self._output._frames(self._clip, frames)
        self._output._streaming(self)

    def end(self, audio: Audio | None = None) -> None:
        """No more frames; the output keeps `audio` (else the frames written)."""
        if self.done:
            return
        self.done = True
        kept = audio if audio is not None else self.audio
        if self.current:
            self._output._finish(self._clip, kept)
        self._output._loaded(kept)

    def cancel(self) -> None:
        """Stop this sink's clip if it still plays; the output goes back to
        the audio it had before. Safe after `end()`."""
        self.done = True
        self._output._cancel_stream(self)


class ClipOutput:
    """Player-like bookkeeping over clip hooks. Subclasses provide:

    `_prepare() -> bool` (ready to play? may start connecting; False: silent),
    `_begin(clip, rate, channels)`, `_frames(clip, frames)`, `_finish(clip, audio)`,
    `_halt(clip)`, `_pause(clip)`, `_resume(clip)`, `_first_sample_at(clip)`,
    `_replay(clip, audio) -> bool` (played it again without sending it: optional),
    and the properties `state`, `position`, `silent_reason`, `device_name`,
    `available`, `_clip_over`.
    """

    def __init__(self) -> None:
        self._control = threading.RLock()
        self._audio: Audio | None = None
        self._sink: ClipSink | None = None
        self._audio_before_sink: Audio | None = None
        self._clip: int | None = None  # the clip playing (or paused); None when stopped
        self._clips = 0

    # -- what the player reports -------------------------------------------
    @property
    def audio(self) -> Audio | None:
        return self._audio

    @property
    def duration(self) -> float:
        return 0.0 if self._audio is None else self._audio.duration

    @property
    def streaming(self) -> bool:
        sink = self._sink
        return sink is not None and sink.current

    @property
    def device_rate(self) -> int | None:
        return None  # the far side resamples for its device

    @property
    def first_sample_at(self) -> float | None:
        clip = self._clip
        return None if clip is None else self._first_sample_at(clip)

    @property
    def ready_at(self) -> float | None:
        return None

    @property
    def underruns(self) -> int:
        return 0

    # -- control -------------------------------------------------------------
    def play(self, audio: Audio) -> None:
        """Play `audio` from the start (stopping what played); returns at once."""
        with self._control:
            self.stop()
            self._audio, self._sink = audio, None
            if audio.frames == 0 or not self._prepare():
                return
            clip = self._new_clip()
            if self._replay(clip, audio):
                return
            self._begin(clip, audio.rate, audio.channels)
            self._frames(clip, np.asarray(audio.samples, dtype=np.float32))
            self._finish(clip, audio)

    def open_stream(self, rate: int, channels: int = 1) -> ClipSink:
        """A sink whose frames play as they arrive (see ClipSink)."""
        with self._control:
            self.stop()
            if not self._prepare():
                return ClipSink(self, -1, rate, channels, live=False)
            clip = self._new_clip()
            self._begin(clip, rate, channels)
            sink = ClipSink(self, clip, rate, channels, live=True)
            self._sink, self._audio_before_sink = sink, self._audio
            return sink

    def load(self, audio: Audio) -> None:
        """Keep `audio` for replay/save without playing it."""
        self._loaded(audio)

    def replay(self) -> None:
        if self._audio is not None:
            self.play(self._audio)

    def stop(self) -> None:
        """Stop; position goes back to 0."""
        with self._control:
            clip, self._clip = self._clip, None
            if clip is not None:
                self._halt(clip)

    def pause(self) -> None:
        with self._control:
            if self._clip is not None and not self._clip_over:
                self._pause(self._clip)

    def resume(self) -> None:
        with self._control:
            if self._clip is not None and not self._clip_over:
                self._resume(self._clip)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the clip has played out (or the output went silent);
        False when `timeout` passed first. A paused clip does not finish."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._clip is not None and not self._clip_over and self.state != "silent":
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    # -- bookkeeping the sinks call -------------------------------------------
    def _new_clip(self) -> int:
        self._clips += 1
        self._clip = self._clips
        return self._clip

    def _loaded(self, audio: Audio) -> None:
        self._audio = audio
        self._sink = None

    def _streaming(self, sink: ClipSink) -> None:
        if sink is self._sink and sink.current:
            self._audio = sink.audio

    def _cancel_stream(self, sink: ClipSink) -> None:
        with self._control:
            if sink is self._sink:
                self._sink = None
                self._audio = self._audio_before_sink
            if sink.current:
                self.stop()

    # -- hooks -------------------------------------------------------------------
    @property
    def state(self) -> str:
        raise NotImplementedError

    @property
    def _clip_over(self) -> bool:
        """True once the current clip has played out."""
        raise NotImplementedError

    def _prepare(self) -> bool:
        raise NotImplementedError

    def _begin(self, clip: int, rate: int, channels: int) -> None:
        raise NotImplementedError

    def _frames(self, clip: int, frames: np.ndarray) -> None:
        raise NotImplementedError

    def _finish(self, clip: int, audio: Audio) -> None:
        raise NotImplementedError

    def _halt(self, clip: int) -> None:
        raise NotImplementedError

    def _pause(self, clip: int) -> None:
        raise NotImplementedError

    def _resume(self, clip: int) -> None:
        raise NotImplementedError

    def _first_sample_at(self, clip: int) -> float | None:
        return None

    def _replay(self, clip: int, audio: Audio) -> bool:
        return False
