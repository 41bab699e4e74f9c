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

A device can go away (JACK stopped, a USB headset pulled) or stop answering.
No caller ever waits on one for long: every PortAudio call that can block
(loading it and listing devices, opening, starting, stopping, closing a
stream) runs in a worker thread with a bound, and a stream whose callback
stopped coming is noticed by reading the state. Then the player turns silent
with the reason ("the output device went away" / "does not answer"), keeps
the audio, and abandons that stream: it is never stopped or closed, because
PortAudio's JACK host API waits ten minutes in Pa_StopStream and
Pa_CloseStream for a server that is gone, and its Pa_Terminate aborts the
process (an assert in pa_jack.c). For the same reason PortAudio in this
process is then `broken()`: it can not be re-initialised, and a re-scan must
play from a fresh process (Player.rescan does).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from tts_tui.core.audio import Audio
from tts_tui.core.device_stream import (
    START_PREBUFFER_SECONDS,
    StreamSink,
    fit_channels,
    _Playback,
)

LINGER_SECONDS = 30.0  # an idle output stream stays open this long for the next play
# Bounds on PortAudio calls (a worker thread waits; past the bound it is abandoned).
SEARCH_TIMEOUT = 10.0  # loading PortAudio and listing devices (ALSA probes every card)
OPEN_TIMEOUT = 5.0  # opening and starting a stream (a JACK client takes about 60 ms)
CLOSE_TIMEOUT = 1.0  # stopping and closing one
# A started stream whose callback has not run for this long lost its device
# (a period is 21 ms at 1024 frames and 48 kHz; a loaded machine can stall a second).
NO_CALLBACK_SECONDS = 2.0
WENT_AWAY = "the output device went away"
NO_ANSWER = "the output device does not answer"

# Streams abandoned after their device was lost: never closed (see the module
# doc), and kept referenced so their callback never points at freed memory.
_abandoned: list[Any] = []
_broken: list[str] = []  # why PortAudio in this process can no longer be re-initialised


def broken() -> str | None:
    """Why PortAudio can not be re-initialised in this process (a stream lost
    its device, or a call never returned), or None."""
    return _broken[0] if _broken else None


def _break_portaudio(sd: Any, reason: str) -> None:
    """Never call Pa_Terminate again in this process, not even at exit (where
    sounddevice's atexit handler would): it would hang or abort."""
    if not _broken:
        _broken.append(reason)
    if sd is not None:
        sd._initialized = 0


def _bounded(call: Callable[[], Any], seconds: float, name: str) -> tuple[bool, Any]:
    """Run `call` in a daemon thread and wait at most `seconds`: (True, its
    result), or (False, None) when it did not return in time (the thread is
    abandoned). Its exceptions are raised here."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the caller
            box["error"] = exc

    worker = threading.Thread(target=run, name=f"tts-portaudio-{name}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        return False, None
    if "error" in box:
        raise box["error"]
    return True, box.get("value")


def _import_sounddevice() -> Any:
    import sounddevice as sd

    if not getattr(sd, "_tts_exit_hook", False):
        sd._tts_exit_hook = True
        atexit.register(_before_portaudio_exit, sd)  # runs before sounddevice's own handler (LIFO)
    return sd


def _before_portaudio_exit(sd: Any) -> None:
    """At exit, skip Pa_Terminate when its JACK client may be dead (JACK
    stopped since PortAudio started): pa_jack.c would abort the process. The
    server closes a client whose process ended anyway."""
    if broken() is not None or _jack_client_alive(sd) is False:
        sd._initialized = 0


_quiet_lock = threading.Lock()
_quiet_users = 0
_quiet_saved: int | None = None


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence C-level stderr: ALSA and JACK print probe noise that would draw
    over a full-screen terminal UI. The reason we keep is `silent_reason`.
    Threads may overlap: stderr comes back when the last one leaves. Used
    around `_bounded` calls, never inside their worker, so an abandoned call
    can not keep stderr silenced (the CLI prints its errors there)."""
    global _quiet_users, _quiet_saved
    with _quiet_lock:
        if _quiet_users == 0:
            try:
                _quiet_saved = os.dup(2)
                with open(os.devnull, "wb") as devnull:
                    os.dup2(devnull.fileno(), 2)
            except OSError:
                _quiet_saved = None
        _quiet_users += 1
    try:
        yield
    finally:
        with _quiet_lock:
            _quiet_users -= 1
            if _quiet_users == 0 and _quiet_saved is not None:
                os.dup2(_quiet_saved, 2)
                os.close(_quiet_saved)
                _quiet_saved = None


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
        self._check_lost()
        if not self._resolved and self._resolve_lock.locked():
            return None
        self._resolve()
        return self._fixed_reason or self._open_reason

    @property
    def lost(self) -> bool:
        """True when silent because the device went away or does not answer
        (or none was found): a re-scan may bring it back."""
        self._check_lost()
        reason = self._open_reason or ""
        return (reason.startswith((WENT_AWAY, NO_ANSWER)) or self._fixed_reason == "no audio output device"
                or (self._fixed_reason or "").startswith(("no output device", "the audio system")))

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
            frames = fit_channels(np.asarray(samples, dtype=np.float32), playback.channels)
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
            self._check_lost()  # the device went away mid-play: finished is set

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
        """Stop and close the device (after the last block has played out).
        Returns within about CLOSE_TIMEOUT + 0.3 s whatever the device does."""
        self._join_warm_up(CLOSE_TIMEOUT)
        with self._control:
            self._check_lost()
            self.stop()
            if self._linger_timer is not None:
                self._linger_timer.cancel()
                self._linger_timer = None
            self._close_device()

    def rescan(self) -> bool:
        """Look for devices again (JACK started after the app, a headset
        plugged in): close the open stream, then restart PortAudio, which
        lists devices only when it starts. Blocks for up to about
        SEARCH_TIMEOUT (call it off the UI thread). False when PortAudio in
        this process can no longer restart (see `broken()`): a fresh process
        must play then."""
        self.close()
        with self._control:
            sd = self._sd
            if broken() is None and sd is not None:
                if _jack_client_alive(sd) is False:
                    _break_portaudio(sd, WENT_AWAY)  # JACK stopped while no stream was open
                else:
                    def restart() -> None:
                        sd._terminate()
                        sd._initialize()

                    try:
                        with _quiet_stderr():
                            done, _ = _bounded(restart, SEARCH_TIMEOUT, "rescan")
                    except Exception:  # PortAudioError: the search below says what is wrong
                        done = True
                    if not done:
                        _break_portaudio(sd, "the audio system does not answer")
            if broken() is not None:
                return False
            self._resolved, self._fixed_reason, self._open_reason = False, None, None
            self.device_name = None
        self._resolve()
        return self._fixed_reason is None

    def refresh(self) -> None:
        """Look for devices again; see `rescan`."""
        self.rescan()

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
    def _join_warm_up(self, bound: float = OPEN_TIMEOUT + 0.5) -> None:
        warming = self._warming
        if warming is not None and warming is not threading.current_thread():
            warming.join(bound)  # its PortAudio calls are bounded too

    def _check_lost(self) -> None:
        """Notice a stream that lost its device: inactive though nobody
        stopped it (JACK went away), or no callback for NO_CALLBACK_SECONDS
        (the device hangs). Cheap and never blocks: reads two fields."""
        device = self._device
        if device is None or device.stream is None:
            return
        if not _active(device.stream):
            reason = WENT_AWAY
        elif time.monotonic() - device.heartbeat > NO_CALLBACK_SECONDS:
            reason = NO_ANSWER
        else:
            return
        if self._control.acquire(timeout=0.05):  # else the next look marks it
            try:
                if self._device is device:
                    self._lose(reason)
            finally:
                self._control.release()

    def _lose(self, reason: str) -> None:
        """Silent with `reason`, the audio kept; the stream is abandoned,
        never stopped or closed. Call with `_control` held."""
        device, self._device = self._device, None
        if self._playback is device:
            self._playback = None
        self._open_reason = reason
        if device is not None:
            _abandoned.append(device.stream)
            device.finished.set()
            device.faded.set()
        _break_portaudio(self._sd, reason)

    def _claim(self, rate: int | None, channels: int) -> _Playback | None:
        """The open stream (opening one if needed), idle and ready for a job;
        None when silent. Call with `_control` held."""
        self._check_lost()  # the server went away while it lingered
        if self._open_reason is not None and self._open_reason.startswith((WENT_AWAY, NO_ANSWER)):
            return None  # only a re-scan brings it back
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
        stream = device.stream

        def stop_and_close() -> None:
            with contextlib.suppress(Exception):
                stream.stop()  # lets the last block play out; abort could cut it
            with contextlib.suppress(Exception):
                stream.close()

        done, _ = _bounded(stop_and_close, CLOSE_TIMEOUT, "close")
        device.finished.set()
        if not done:  # the device stopped answering while it lingered
            _abandoned.append(stream)
            self._open_reason = NO_ANSWER
            _break_portaudio(self._sd, NO_ANSWER)

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

        def search() -> tuple[Any, list[Any]]:
            sd = self._sd or _import_sounddevice()
            return sd, list(sd.query_devices())

        try:
            with _quiet_stderr():
                done, found = _bounded(search, SEARCH_TIMEOUT, "search")
            if not done:
                self._fixed_reason = "the audio system does not answer (PortAudio's device search hangs)"
                return
            sd, devices = found
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
                def open_stream() -> Any:
                    sd.check_output_settings(device=index, samplerate=try_rate, channels=try_channels, dtype="float32")
                    return sd.OutputStream(
                        device=index, samplerate=try_rate, channels=try_channels, dtype="float32",
                        callback=playback.callback, finished_callback=playback.finished.set,
                    )

                try:
                    with _quiet_stderr():
                        done, playback.stream = _bounded(open_stream, OPEN_TIMEOUT, "open")
                except Exception as exc:  # PortAudioError: refused rate/channels, busy device
                    problem = f"{info['name']}: {exc}"
                    continue
                if not done:
                    self._open_reason = NO_ANSWER
                    _break_portaudio(sd, NO_ANSWER)
                    return None
                host = sd.query_hostapis(info["hostapi"])["name"]
                self.device_name = f"{info['name']} ({host})"
                return playback
        self._open_reason = f"cannot open the output device ({problem})"
        return None

    def _start(self, playback: _Playback) -> bool:
        stream = playback.stream
        try:
            with _quiet_stderr():
                done, _ = _bounded(stream.start, OPEN_TIMEOUT, "start")
        except Exception as exc:
            self._open_reason = f"cannot start the output device ({exc})"
            with contextlib.suppress(Exception):
                _bounded(stream.close, CLOSE_TIMEOUT, "close")
            return False
        if not done:
            _abandoned.append(stream)
            self._open_reason = NO_ANSWER
            _break_portaudio(self._sd, NO_ANSWER)
            return False
        playback.heartbeat = time.monotonic()  # the first callback comes within a period
        return True


def _usable(playback: _Playback | None) -> bool:
    return playback is not None and _active(playback.stream)


def _jack_client_alive(sd: Any) -> bool | None:
    """Whether PortAudio's JACK client still has its server: None when
    PortAudio holds no JACK client. A stream opened (never started) on a JACK
    device tells: pa_jack.c refuses it at once when its server is gone."""
    try:
        apis = [i for i, api in enumerate(sd.query_hostapis()) if "JACK" in api["name"]]
        if not apis:
            return None
        devices = [d for d in sd.query_devices() if d["hostapi"] in apis and d["max_output_channels"] > 0]
    except Exception:
        return None
    if not devices:
        return None
    device = devices[0]

    def probe() -> None:
        stream = sd.OutputStream(device=device["index"], samplerate=device["default_samplerate"],
                                 channels=1, dtype="float32", callback=lambda *_: None)
        stream.close()

    try:
        with _quiet_stderr():
            done, _ = _bounded(probe, CLOSE_TIMEOUT + OPEN_TIMEOUT, "probe")
    except Exception:
        return False
    return done


def _active(stream: Any) -> bool:
    try:
        return bool(stream.active)
    except Exception:
        return False
