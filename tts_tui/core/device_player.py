"""Playback through the local device (PortAudio), and a "silent" state when there is none.

`Player` (player.py) uses this for device outputs; `tts-tui listen` uses it
directly, so a listener never sends its audio on to another listener.

sounddevice is imported on first use, never at module import: it loads
PortAudio (an OSError when libportaudio2 is missing) and probes every host API.
No PortAudio, no output device, a device that will not open, or
`output = "none"` are all normal: the player goes silent with a reason the
playback bar can show, and keeps the audio so it can be saved or replayed.

Opening a device is slow (about 60 ms for a JACK client), so the player keeps
its output stream open, playing silence, for `linger` seconds after a job, and
`warm()` opens it in the background while a request is still in flight (at
the rate of the last audio, else the device's own). Audio at another rate than
the open stream's is resampled rather than paying for a reopen.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from tts_tui.core.audio import Audio
from tts_tui.core.device_stream import (
    START_PREBUFFER_SECONDS,
    StreamSink,
    _fit_channels,
    _Playback,
)

LINGER_SECONDS = 30.0  # an idle output stream stays open this long for the next play


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


class DevicePlayer:
    """Plays Audio on a local device; never raises for device problems.

    `output` is "default", "none", a device index, or part of a device name.
    Control methods may be called from any thread.
    """

    def __init__(self, output: str | int = "default", *, linger: float = LINGER_SECONDS) -> None:
        self.output = output
        self.linger = linger
        self.device_name: str | None = None
        self._sd: Any = None
        self._resolved = False
        self._resolve_lock = threading.Lock()
        self._candidates: list[int] = []
        self._fixed_reason: str | None = None  # no PortAudio / no device / "none"
        self._open_reason: str | None = None  # the last open failed
        self._device: _Playback | None = None  # the open output stream, busy or idle
        self._playback: _Playback | None = None  # the current job's stream (None once stopped)
        self._audio: Audio | None = None
        self._sink: StreamSink | None = None  # the stream being written, while it is
        self._audio_before_sink: Audio | None = None
        self._control = threading.RLock()
        self._warming: threading.Thread | None = None
        self._linger_timer: threading.Timer | None = None
        self._last_rate: int | None = None  # warm() opens at it: a service keeps its rate

    # -- what the playback bar shows ------------------------------------
    @property
    def available(self) -> bool:
        """True when audio can reach a device (resolving it on first use)."""
        self._resolve()
        return self._fixed_reason is None and self._open_reason is None

    @property
    def no_device_reason(self) -> str | None:
        """Why no device can ever play here (no PortAudio, no output device,
        "none"), once the search ran; None otherwise. Never blocks."""
        return self._fixed_reason if self._resolved else None

    def resolve(self) -> None:
        """Search the devices now, if not done yet (may block: PortAudio's probe)."""
        self._resolve()

    @property
    def silent_reason(self) -> str | None:
        """Why nothing will be heard, or None. Never blocks on a search that
        `warm()` runs in the background (None until it is done)."""
        if not self._resolved and self._resolve_lock.locked():
            return None
        self._resolve()
        return self._fixed_reason or self._open_reason

    @property
    def state(self) -> str:
        """ "stopped" | "playing" | "buffering" | "paused" | "silent".

        "buffering": a stream waits for enough audio, before its first frame
        or after an underrun (the device plays silence meanwhile)."""
        if self.silent_reason is not None:
            return "silent"
        playback = self._playback
        if playback is None or playback.finished.is_set():
            return "stopped"
        if playback.paused:
            return "paused"
        return "buffering" if playback.buffering else "playing"

    @property
    def position(self) -> float:
        """Seconds of the current audio handed to the device (0 when stopped)."""
        playback = self._playback
        return 0.0 if playback is None else playback.consumed / playback.rate

    @property
    def duration(self) -> float:
        """Length of `audio`; while a stream downloads, of what arrived so far."""
        return 0.0 if self._audio is None else self._audio.duration

    @property
    def device_rate(self) -> int | None:
        """The rate the device was opened at (differs from the audio's when resampling)."""
        playback = self._playback or self._device
        return None if playback is None else playback.rate

    @property
    def audio(self) -> Audio | None:
        """The last audio played or loaded (kept even when silent); while a
        stream downloads, the part that arrived (format "pcm")."""
        return self._audio

    @property
    def first_sample_at(self) -> float | None:
        """perf_counter() when the current playback's first frame went out."""
        return None if self._playback is None else self._playback.first_sample_at

    @property
    def ready_at(self) -> float | None:
        """perf_counter() when the current playback first had enough audio
        queued to start; the device takes it at its next period."""
        return None if self._playback is None else self._playback.ready_at

    @property
    def streaming(self) -> bool:
        """True while a sink from `open_stream` is being written and played."""
        sink = self._sink
        return sink is not None and sink.current

    @property
    def underruns(self) -> int:
        """Times the current stream ran dry before its end."""
        return 0 if self._playback is None else self._playback.underruns

    # -- control ----------------------------------------------------------
    def warm(self) -> None:
        """Find and open the output device in a background thread, so that a
        stream starting soon plays within one device period. Returns at once;
        does nothing when the device is open, or the player is silent."""
        with self._control:
            warming = self._warming is not None and self._warming.is_alive()
            if warming or self._fixed_reason is not None or _usable(self._device):
                return
            self._warming = threading.Thread(target=self._warm_up, name="tts-player-warm-up", daemon=True)
            self._warming.start()

    def open_now(self) -> None:
        """Open the output device in this thread (a listener does this at
        start, so it can name its device). Silent devices are left silent."""
        self._join_warm_up()
        self._warm_up()

    def _warm_up(self) -> None:
        self._resolve()
        with self._control:
            if self._fixed_reason is None:
                self._claim(self._last_rate, 2)

    def play(self, audio: Audio) -> None:
        """Start playing `audio` (stopping what was playing) and return at once."""
        self._join_warm_up()
        with self._control:
            self.stop()
            self._audio = audio
            self._resolve()
            if self._fixed_reason is not None or audio.frames == 0:
                return
            self._last_rate = audio.rate
            playback = self._claim(audio.rate, audio.channels)
            if playback is None:
                return
            samples = audio.samples
            if playback.rate != audio.rate:
                import soxr

                samples = soxr.resample(samples, audio.rate, playback.rate)
            frames = _fit_channels(np.asarray(samples, dtype=np.float32), playback.channels)
            playback.rearm(0, frames, last=True)
            self._playback = playback

    def open_stream(self, rate: int, channels: int = 1) -> StreamSink:
        """A sink to play frames while they still download (see StreamSink).

        Stops what was playing. The stream reports "buffering" until
        START_PREBUFFER_SECONDS of audio are queued (or the sink ends), and
        after an underrun until REBUFFER_SECONDS are. May block while `warm()`
        finishes opening the device."""
        self._join_warm_up()
        with self._control:
            self.stop()
            self._resolve()
            self._last_rate = rate
            playback = None if self._fixed_reason is not None else self._claim(rate, channels)
            if playback is None:
                return StreamSink(self, rate, channels, None)
            job = playback.rearm(max(1, int(playback.rate * START_PREBUFFER_SECONDS)))
            self._playback = playback
            sink = StreamSink(self, rate, channels, playback, job)
            self._sink, self._audio_before_sink = sink, self._audio
            return sink

    def load(self, audio: Audio) -> None:
        """Keep `audio` for replay/save without playing it."""
        self._loaded(audio)

    def _loaded(self, audio: Audio) -> None:
        self._audio = audio
        self._sink = None

    def _streaming(self, sink: StreamSink) -> None:
        if sink is self._sink and sink.current:
            self._audio = sink.audio

    def _cancel_stream(self, sink: StreamSink) -> None:
        with self._control:
            if sink is self._sink:
                self._sink = None
                self._audio = self._audio_before_sink
            if sink.current and self._playback is not None:
                self.stop()

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
        """Stop with a short fade; position goes back to 0. The device stays
        open (playing silence) for the next play, `linger` seconds at most."""
        with self._control:
            playback, self._playback = self._playback, None
            if playback is None:
                return
            if not playback.finished.is_set():
                self._fade_out(playback, "stop")
            playback.release()

    def replay(self) -> None:
        """Play the last audio again from the start."""
        if self._audio is not None:
            self.play(self._audio)

    def close(self) -> None:
        """Stop and close the device (after the last block has played out)."""
        self._join_warm_up()
        with self._control:
            self.stop()
            if self._linger_timer is not None:
                self._linger_timer.cancel()
                self._linger_timer = None
            self._close_device()

    def refresh(self) -> None:
        """Look for devices again (e.g. after JACK was started)."""
        self.close()
        with self._control:
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

    # -- the open stream ----------------------------------------------------
    def _join_warm_up(self) -> None:
        warming = self._warming
        if warming is not None and warming is not threading.current_thread():
            warming.join(10.0)

    def _claim(self, rate: int | None, channels: int) -> _Playback | None:
        """The open stream (opening one if needed), idle and ready for a job;
        None when silent. Call with `_control` held."""
        if self._device is not None and not _usable(self._device):
            self._close_device()  # the server went away while it lingered
        if self._device is None:
            playback = self._open(rate, channels)
            if playback is None or not self._start(playback):
                return None
            self._device = playback
        self._schedule_linger_check()
        return self._device

    def _close_device(self) -> None:
        device, self._device = self._device, None
        if device is None:
            return
        device.release()
        with contextlib.suppress(Exception):
            device.stream.stop()  # lets the last block play out; abort could cut it
        with contextlib.suppress(Exception):
            device.stream.close()
        device.finished.set()

    def _schedule_linger_check(self) -> None:
        if self._linger_timer is None:
            self._linger_timer = threading.Timer(max(0.05, min(self.linger, 2.0)), self._linger_check)
            self._linger_timer.daemon = True
            self._linger_timer.start()

    def _linger_check(self) -> None:
        with self._control:
            self._linger_timer = None
            device = self._device
            if device is None:
                return
            if device.idle and time.monotonic() - device.idle_since >= self.linger:
                self._close_device()
            else:
                self._schedule_linger_check()

    # -- devices ----------------------------------------------------------
    def _resolve(self) -> None:
        if self._resolved:
            return
        with self._resolve_lock:  # warm() may be doing it in the background
            if not self._resolved:
                try:
                    self._find_devices()
                finally:
                    self._resolved = True

    def _find_devices(self) -> None:
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

    def _open(self, rate: int | None, channels: int) -> _Playback | None:
        """Open the first candidate that accepts the audio's rate and channels,
        else its default rate (we resample), else stereo. `rate=None` opens at
        the device's own rate. The stream is idle (silence) until a job.
        None when silent."""
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
                tries = [(device_rate, min(channels, most)), (device_rate, min(2, most))]
                if rate is not None:
                    tries = [(rate, min(channels, most)), (rate, min(2, most)), *tries]
            except Exception as exc:
                problem = str(exc)
                continue
            for try_rate, try_channels in dict.fromkeys(tries):
                playback = _Playback(try_rate, try_channels, 0.0)
                playback.release()  # idle until the first job
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

    def _start(self, playback: _Playback) -> bool:
        try:
            playback.stream.start()
        except Exception as exc:
            self._open_reason = f"cannot start the output device ({exc})"
            with contextlib.suppress(Exception):
                playback.stream.close()
            return False
        return True


def _usable(playback: _Playback | None) -> bool:
    return playback is not None and _active(playback.stream)


def _active(stream: Any) -> bool:
    try:
        return bool(stream.active)
    except Exception:
        return False
