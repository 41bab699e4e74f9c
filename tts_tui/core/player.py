"""Playback through PortAudio, and a "silent" state when there is none.

sounddevice is imported on first use, never at module import: it loads
PortAudio (an OSError when libportaudio2 is missing) and probes every host API.
No PortAudio, no output device, a device that will not open, or
`output = "none"` are all normal: the player goes silent with a reason the
playback bar can show, and keeps the audio so it can be saved or replayed.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np

from tts_tui.core.audio import Audio

FADE_SECONDS = 0.005  # a ramp this long on pause/stop/resume avoids clicks
SINK_PREBUFFER_SECONDS = 0.15  # a streamed answer starts once this much is queued
_INVALID_SAMPLE_RATE = -9997


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence C-level stderr: ALSA and JACK print probe noise that would draw
    over a full-screen terminal UI. The reason we keep is `silent_reason`."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _fit_channels(frames: np.ndarray, channels: int) -> np.ndarray:
    if frames.shape[1] == channels:
        return frames
    mono = frames if frames.shape[1] == 1 else frames.mean(axis=1, keepdims=True)
    return np.ascontiguousarray(np.repeat(mono, channels, axis=1), dtype=np.float32)


class _Playback:
    """One open output stream and the frames queued for it. The PortAudio
    thread calls `callback`; every shared field is guarded by `lock`."""

    def __init__(self, rate: int, channels: int, prebuffer_seconds: float) -> None:
        self.rate, self.channels = rate, channels
        self.lock = threading.Lock()
        self.chunks: deque[np.ndarray] = deque()
        self.queued = 0  # frames waiting in `chunks`
        self.consumed = 0  # frames handed to the device
        self.ended = False
        self.prebuffer = int(rate * prebuffer_seconds)
        self.paused = False
        self.fade: str | None = None  # "pause" | "stop": ramp down in the next block
        self.fade_in = 0
        self.fade_len = max(1, int(rate * FADE_SECONDS))
        self.faded = threading.Event()
        self.finished = threading.Event()
        self.first_sample_at: float | None = None
        self.stream: Any = None
        self.stop_exc: type[BaseException] = Exception

    def push(self, frames: np.ndarray, *, last: bool = False) -> None:
        with self.lock:
            if len(frames):
                self.chunks.append(frames)
                self.queued += len(frames)
            self.ended = self.ended or last

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
        with self.lock:
            if self.paused or (self.queued < self.prebuffer and not self.ended):
                outdata.fill(0)  # paused, or an underrun: silence, not garbage
                if self.fade:
                    self.paused, self.fade = True, None
                    self.faded.set()
                return
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
            if self.ended and not self.chunks:
                raise self.stop_exc


class StreamSink:
    """Frames written here play as they arrive (underruns play silence).
    From `Player.open_stream`; a silent player gives a sink that only keeps
    the frames, so `end()` still leaves the audio ready to replay or save."""

    def __init__(self, player: Player, rate: int, channels: int, playback: _Playback | None) -> None:
        self._player, self.rate, self.channels = player, rate, channels
        self._playback = playback
        self._kept: list[np.ndarray] = []
        self._resampler: Any = None
        if playback is not None and playback.rate != rate:
            import soxr

            self._resampler = soxr.ResampleStream(rate, playback.rate, channels, dtype="float32")

    @property
    def first_sample_at(self) -> float | None:
        """perf_counter() when the first frame went to the device (for ttfa)."""
        return None if self._playback is None else self._playback.first_sample_at

    def write(self, frames: np.ndarray) -> None:
        """Queue float32 frames of shape (n, channels) at the sink's rate."""
        frames = np.asarray(frames, dtype=np.float32).reshape(-1, self.channels)
        self._kept.append(frames)
        self._queue(frames, last=False)

    def end(self) -> None:
        """No more frames: playback finishes when the queue drains."""
        self._queue(np.zeros((0, self.channels), dtype=np.float32), last=True)
        samples = np.concatenate(self._kept) if self._kept else np.zeros((0, self.channels), np.float32)
        self._player._loaded(Audio(samples, self.rate, "pcm"))

    def _queue(self, frames: np.ndarray, *, last: bool) -> None:
        playback = self._playback
        if playback is None:
            return
        if self._resampler is not None:
            frames = self._resampler.resample_chunk(frames, last=last)
        playback.push(_fit_channels(frames, playback.channels), last=last)


class Player:
    """Plays Audio on one output; never raises for device problems.

    `output` is "default", "none", a device index, or part of a device name.
    """

    def __init__(self, output: str | int = "default") -> None:
        self.output = output
        self.device_name: str | None = None
        self._sd: Any = None
        self._resolved = False
        self._candidates: list[int] = []
        self._fixed_reason: str | None = None  # no PortAudio / no device / "none"
        self._open_reason: str | None = None  # the last open failed
        self._playback: _Playback | None = None
        self._audio: Audio | None = None
        self._control = threading.RLock()

    # -- what the playback bar shows ------------------------------------
    @property
    def available(self) -> bool:
        """True when audio can reach a device (resolving it on first use)."""
        return self.silent_reason is None

    @property
    def silent_reason(self) -> str | None:
        """Why nothing will be heard, or None."""
        self._resolve()
        return self._fixed_reason or self._open_reason

    @property
    def state(self) -> str:
        """ "stopped" | "playing" | "paused" | "silent"."""
        if self.silent_reason is not None:
            return "silent"
        playback = self._playback
        if playback is None or playback.finished.is_set():
            return "stopped"
        return "paused" if playback.paused else "playing"

    @property
    def position(self) -> float:
        """Seconds of the current audio handed to the device (0 when stopped)."""
        playback = self._playback
        return 0.0 if playback is None else playback.consumed / playback.rate

    @property
    def duration(self) -> float:
        return 0.0 if self._audio is None else self._audio.duration

    @property
    def device_rate(self) -> int | None:
        """The rate the device was opened at (differs from the audio's when resampling)."""
        playback = self._playback
        return None if playback is None else playback.rate

    @property
    def audio(self) -> Audio | None:
        """The last audio played or loaded (kept even when silent)."""
        return self._audio

    @property
    def first_sample_at(self) -> float | None:
        """perf_counter() when the current playback's first frame went out."""
        return None if self._playback is None else self._playback.first_sample_at

    # -- control ----------------------------------------------------------
    def play(self, audio: Audio) -> None:
        """Start playing `audio` (stopping what was playing) and return at once."""
        with self._control:
            self.stop()
            self._audio = audio
            self._resolve()
            if self._fixed_reason is not None or audio.frames == 0:
                return
            playback = self._open(audio.rate, audio.channels, prebuffer_seconds=0.0)
            if playback is None:
                return
            samples = audio.samples
            if playback.rate != audio.rate:
                import soxr

                samples = soxr.resample(samples, audio.rate, playback.rate)
            playback.push(_fit_channels(np.asarray(samples, dtype=np.float32), playback.channels), last=True)
            self._start(playback)

    def open_stream(self, rate: int, channels: int = 1) -> StreamSink:
        """A sink to play frames while they still download (see StreamSink)."""
        with self._control:
            self.stop()
            playback = self._open(rate, channels, prebuffer_seconds=SINK_PREBUFFER_SECONDS)
            sink = StreamSink(self, rate, channels, playback)
            if playback is not None:
                self._start(playback)
            return sink

    def load(self, audio: Audio) -> None:
        """Keep `audio` for replay/save without playing it."""
        self._loaded(audio)

    def _loaded(self, audio: Audio) -> None:
        self._audio = audio

    def wait(self, timeout: float | None = None) -> bool:
        """Block until playback ends; False if `timeout` passed first.
        Returns True at once when nothing is playing (or the player is silent)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            playback = self._playback
            if playback is None:
                return True
            left = 0.1 if deadline is None else min(0.1, deadline - time.monotonic())
            if left <= 0:
                return False
            if playback.finished.wait(left):
                return True
            if not playback.paused and not _active(playback.stream):
                playback.finished.set()  # the device went away mid-play
                return True

    def pause(self) -> None:
        self._fade_out(self._playback, "pause")

    def resume(self) -> None:
        playback = self._playback
        if playback is not None and playback.paused:
            with playback.lock:
                playback.paused, playback.fade_in = False, playback.fade_len

    def stop(self) -> None:
        """Stop with a short fade; position goes back to 0."""
        with self._control:
            playback, self._playback = self._playback, None
            if playback is None:
                return
            if not playback.finished.is_set():
                self._fade_out(playback, "stop")
            with contextlib.suppress(Exception):
                playback.stream.stop()  # lets the faded block play out; abort could cut it
            with contextlib.suppress(Exception):
                playback.stream.close()
            playback.finished.set()

    def replay(self) -> None:
        """Play the last audio again from the start."""
        if self._audio is not None:
            self.play(self._audio)

    def close(self) -> None:
        self.stop()

    def refresh(self) -> None:
        """Look for devices again (e.g. after JACK was started)."""
        with self._control:
            self.stop()
            if self._sd is not None:
                with contextlib.suppress(Exception), _quiet_stderr():
                    self._sd._terminate()
                    self._sd._initialize()
            self._resolved, self._fixed_reason, self._open_reason = False, None, None

    @staticmethod
    def _fade_out(playback: _Playback | None, why: str) -> None:
        if playback is None or playback.paused or playback.finished.is_set():
            return
        with playback.lock:
            playback.faded.clear()
            playback.fade = why
        if not playback.faded.wait(0.3):  # the callback is not running: pause anyway
            with playback.lock:
                playback.paused, playback.fade = True, None

    # -- devices ----------------------------------------------------------
    def _resolve(self) -> None:
        if self._resolved:
            return
        self._resolved = True
        wanted = str(self.output).strip()
        if wanted.lower() == "none":
            self._fixed_reason = "output is set to none"
            return
        os.environ.setdefault("JACK_NO_START_SERVER", "1")  # never spawn a server behind the user's back
        try:
            with _quiet_stderr():
                import sounddevice as sd

                devices = list(sd.query_devices())
        except OSError:
            self._fixed_reason = "PortAudio is not installed (apt-get install libportaudio2)"
            return
        except ImportError:
            self._fixed_reason = "sounddevice is not installed (pip install sounddevice)"
            return
        except Exception as exc:  # PortAudioError from the host APIs
            self._fixed_reason = f"audio system error: {exc}"
            return
        self._sd = sd
        outputs = [d for d in devices if d["max_output_channels"] > 0]
        names = ", ".join(f"{d['index']}: {d['name']}" for d in outputs) or "none found"
        if wanted.lower() in ("", "default") and not outputs:
            self._fixed_reason = "no audio output device"
        elif wanted.lower() in ("", "default"):
            default = sd.default.device[1]
            first = [default] if any(d["index"] == default for d in outputs) else []
            self._candidates = first + [d["index"] for d in outputs if d["index"] != default]
        elif wanted.lstrip("-").isdigit():
            self._candidates = [d["index"] for d in outputs if d["index"] == int(wanted)]
            if not self._candidates:
                self._fixed_reason = f"no output device number {wanted} (outputs: {names})"
        else:
            self._candidates = [d["index"] for d in outputs if wanted.lower() in d["name"].lower()]
            if not self._candidates:
                self._fixed_reason = f"no output device named {wanted!r} (outputs: {names})"

    def _open(self, rate: int, channels: int, *, prebuffer_seconds: float) -> _Playback | None:
        """Open the first candidate that accepts the audio's rate and channels,
        else its default rate (we resample), else stereo. None when silent."""
        self._resolve()
        self._open_reason = None
        if self._fixed_reason is not None:
            return None
        sd = self._sd
        problem = "no output device would open"
        for index in self._candidates:
            try:
                info = sd.query_devices(index)
                most = int(info["max_output_channels"])
                device_rate = int(info["default_samplerate"])
                tries = [(rate, min(channels, most)), (rate, min(2, most)),
                         (device_rate, min(channels, most)), (device_rate, min(2, most))]
            except Exception as exc:
                problem = str(exc)
                continue
            for try_rate, try_channels in dict.fromkeys(tries):
                playback = _Playback(try_rate, try_channels, prebuffer_seconds)
                playback.stop_exc = sd.CallbackStop
                try:
                    with _quiet_stderr():
                        sd.check_output_settings(device=index, samplerate=try_rate, channels=try_channels, dtype="float32")
                        playback.stream = sd.OutputStream(
                            device=index, samplerate=try_rate, channels=try_channels, dtype="float32",
                            callback=playback.callback, finished_callback=playback.finished.set,
                        )
                except Exception as exc:  # PortAudioError: refused rate/channels, busy device
                    problem = f"{info['name']}: {exc}"
                    continue
                host = sd.query_hostapis(info["hostapi"])["name"]
                self.device_name = f"{info['name']} ({host})"
                return playback
        self._open_reason = f"cannot open the output device ({problem})"
        return None

    def _start(self, playback: _Playback) -> None:
        try:
            playback.stream.start()
        except Exception as exc:
            self._open_reason = f"cannot start the output device ({exc})"
            with contextlib.suppress(Exception):
                playback.stream.close()
            return
        self._playback = playback


def _active(stream: Any) -> bool:
    try:
        return bool(stream.active)
    except Exception:
        return False
