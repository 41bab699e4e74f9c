"""The Player: one object the TUI, `say` and the answer path play through,
whatever the output is.

`audio.output` (or `TTS_TUI_OUTPUT`, which overrides it) picks the output:

- a local device (`"default"`, a name, an index) or `"none"`: DevicePlayer;
- `"listen[:PORT[:TOKEN]]"`: a listener, such as the laptop end of
  `tts-tui ssh` (RemoteOutput);
- `"pipe:COMMAND"`: a streamed WAV on a command's standard input (PipeOutput).

`"default"` is a chain: the local device when there is one, else a listener on
the default port, else silent with a reason that says how to get sound. Every
output has the same interface (state, position, silent_reason, device_name,
play/open_stream/pause/resume/stop/replay/wait/close), never raises for a
missing device or listener, and never blocks its caller on the network.

A device that goes away turns the player silent with the reason, the audio
kept. `rescan()` looks for devices again (JACK started after the app); the
next `warm()` (a speak) does it in the background when the player is silent
for lack of a device. Once PortAudio in this process is broken by a lost
stream (see device_player), the device plays from a fresh process instead
(device_process).
"""

from __future__ import annotations

import threading
from typing import Any

from tts_tui.core.audio import Audio
from tts_tui.core.device_player import LINGER_SECONDS, DevicePlayer, _quiet_stderr, broken  # noqa: F401
from tts_tui.core.device_stream import (  # noqa: F401 - re-exported: the answer path and tests use them
    START_PREBUFFER_SECONDS,
    StreamSink,
    _Playback,
)
from tts_tui.core.playback.output_spec import OutputError, OutputSpec, effective_output, parse_output

RESCAN_WAIT = 3.0  # how long a play waits for a re-scan under way; then it is silent this time
RESCANNING = "re-scanning audio devices…"


class Player:
    """Plays Audio on the configured output; control methods may be called
    from any thread. `output`: an `audio.output` value (see the module doc);
    `TTS_TUI_OUTPUT`, when set, wins over it."""

    def __init__(self, output: str | int = "default", *, linger: float = LINGER_SECONDS) -> None:
        self.output = effective_output(output)
        self.linger = linger
        self._bad_output: str | None = None
        try:
            self.spec = parse_output(self.output)
        except OutputError as exc:
            self.spec, self._bad_output = OutputSpec("none"), str(exc)
        self._device: DevicePlayer | None = None
        self._other: Any = None  # RemoteOutput | PipeOutput, when the output is one
        self._process: Any = None  # DeviceProcess: the device played from a fresh process
        self._problem: str | None = None  # why the last re-scan found nothing to play on
        self._rescan_lock = threading.Lock()
        self._rescanning: threading.Thread | None = None
        if self.spec.kind in ("default", "device", "none"):
            self._device = DevicePlayer(self.spec.device or self.spec.kind, linger=linger)
        elif self.spec.kind == "listen":
            from tts_tui.core.playback.remote_output import RemoteOutput

            self._other = RemoteOutput(self.spec.port, self.spec.token)
        else:
            from tts_tui.core.playback.pipe_output import PipeOutput

            self._other = PipeOutput(self.spec.command)

    # -- which output plays ------------------------------------------------------
    def _out(self, *, resolve: bool = False) -> Any:
        """The output in charge: the device, or (for "default" once no device
        was found) the listener fallback. `resolve` searches the devices first
        (may block); without it this never blocks."""
        if self._other is not None:
            return self._other
        device = self._device
        assert device is not None
        if self.spec.kind != "default" or broken() is not None:
            return device  # (a broken PortAudio is the device's problem: no listener fallback)
        if resolve:
            device.resolve()
        reason = device.no_device_reason
        if reason is None:
            return device
        from tts_tui.core.playback.remote_output import RemoteOutput

        fallback = RemoteOutput(fallback_for=reason)
        if device.audio is not None:
            fallback.load(device.audio)
        self._other = fallback
        return fallback

    @property
    def kind(self) -> str:
        """ "device" | "listener" | "pipe" | "none": where the sound goes now."""
        out = self._out()
        if out is self._device or self._process is not None:
            return "none" if self.spec.kind == "none" else "device"
        return "pipe" if self.spec.kind == "pipe" else "listener"

    # -- what the playback bar shows ------------------------------------------------
    @property
    def available(self) -> bool:
        """True when audio can be heard (resolving the device on first use)."""
        if self._bad_output:
            return False
        return self._out(resolve=True).available

    @property
    def silent_reason(self) -> str | None:
        """Why nothing will be heard, or None; never blocks on the network."""
        if self._bad_output:
            return self._bad_output
        if self._rescanning is not None and self._rescanning.is_alive():
            return RESCANNING
        if self._problem and self._other is None:
            return self._problem
        return self._out().silent_reason

    @property
    def state(self) -> str:
        """ "stopped" | "playing" | "buffering" | "paused" | "silent"."""
        if self._bad_output or (self._rescanning is not None and self._rescanning.is_alive()):
            return "silent"
        if self._problem and self._other is None:
            return "silent"
        return self._out().state

    @property
    def position(self) -> float:
        """Seconds of the current audio played (on a listener: as it last reported)."""
        return self._out().position

    @property
    def duration(self) -> float:
        return self._out().duration

    @property
    def device_name(self) -> str | None:
        """The device, e.g. "system (JACK Audio Connection Kit)" or
        "via ssh → MacBook Pro Speakers"; None until known."""
        process = self._process
        if process is not None:
            return f"{process.device_name} (fresh process)"
        return self._out().device_name

    @property
    def device_rate(self) -> int | None:
        return self._out().device_rate

    @property
    def audio(self) -> Audio | None:
        return self._out().audio

    @property
    def first_sample_at(self) -> float | None:
        return self._out().first_sample_at

    @property
    def ready_at(self) -> float | None:
        return self._out().ready_at

    @property
    def streaming(self) -> bool:
        return self._out().streaming

    @property
    def underruns(self) -> int:
        return self._out().underruns

    # -- control ------------------------------------------------------------------------
    def warm(self) -> None:
        """Get the output ready in the background (open the device, connect to
        the listener, re-scan when silent for lack of a device); returns at once."""
        if self._needs_rescan():
            self.rescan_in_background()
            return
        if self._device is not None and self._other is None and self.spec.kind == "default":
            if self._device.no_device_reason is None:
                self._device.warm()  # the fallback, if needed, is decided by the search it runs
                return
        self._out().warm()

    def play(self, audio: Audio) -> None:
        """Start playing `audio` (stopping what was playing) and return soon
        (a re-scan under way is waited for RESCAN_WAIT at most)."""
        self._wait_rescan()
        self._out(resolve=True).play(audio)

    def open_stream(self, rate: int, channels: int = 1) -> Any:
        """A StreamSink-like object whose frames play as they arrive."""
        self._wait_rescan()
        return self._out(resolve=True).open_stream(rate, channels)

    def load(self, audio: Audio) -> None:
        self._out().load(audio)

    def wait(self, timeout: float | None = None) -> bool:
        return self._out().wait(timeout)

    def pause(self) -> None:
        self._out().pause()

    def resume(self) -> None:
        self._out().resume()

    def stop(self) -> None:
        self._out().stop()

    def replay(self) -> None:
        """Play the last audio again; when silent for lack of a device, a
        re-scan starts in the background and the next replay plays."""
        if self._needs_rescan():
            self.rescan_in_background()
            return
        self._wait_rescan()
        self._out(resolve=True).replay()

    def close(self) -> None:
        """Stop and let go of the output; returns within about 1.5 s whatever
        the device does (a dead one is abandoned, never waited for)."""
        rescanning = self._rescanning
        if rescanning is not None:
            rescanning.join(0.5)
        if self._other is not None:
            self._other.close()
        if self._process is not None:
            self._process.close()
        if self._device is not None:
            self._device.close()

    # -- finding devices again --------------------------------------------------------
    def _needs_rescan(self) -> bool:
        """Silent for lack of a device (it went away, does not answer, was
        never found) on a device output: a re-scan may bring it back."""
        if self._device is None or self.spec.kind == "none" or self._bad_output:
            return False
        if self._rescanning is not None and self._rescanning.is_alive():
            return False
        if self._process is not None:
            return not self._process.alive or self._other is None or self._other.silent_reason is not None
        return self._problem is not None or self._device.lost

    def rescan_in_background(self) -> None:
        """Start `rescan()` in a thread (once at a time); returns at once.
        Meanwhile the state is silent with RESCANNING."""
        with self._rescan_lock:
            if self._rescanning is not None and self._rescanning.is_alive():
                return
            self._rescanning = threading.Thread(target=self.rescan, name="tts-player-rescan", daemon=True)
            self._rescanning.start()

    def _wait_rescan(self) -> None:
        rescanning = self._rescanning
        if rescanning is not None and rescanning is not threading.current_thread():
            rescanning.join(RESCAN_WAIT)

    def rescan(self) -> bool:
        """Look for output devices again: JACK started after the app, a
        headset plugged in, a device that went away and came back. Blocks up
        to about 10 s: call it off the UI thread (or `rescan_in_background`).
        True when a device plays now; else `silent_reason` says why."""
        if self._device is None:  # a listener or a command: try it afresh
            if self._other is not None:
                self._other.refresh()
            return self.silent_reason is None
        device = self._device
        other, process = self._other, self._process
        self._other = self._process = None
        self._problem = None
        if other is not None:
            other.close()
        if process is not None:
            process.close()
        if device.rescan():
            return True
        if broken() is None:
            return False  # no device: the "default" chain may still find a listener
        from tts_tui.core.device_process import DeviceProcess
        from tts_tui.core.playback.remote_output import RemoteOutput

        process = DeviceProcess(str(self.spec.device or "default"))
        if not process.start():
            self._problem = process.problem
            return False
        remote = RemoteOutput(process.port, process.token)
        if device.audio is not None:
            remote.load(device.audio)
        remote.warm()
        self._other, self._process = remote, process
        return True

    def refresh(self) -> None:
        """Look for devices (and listeners) again; see `rescan`."""
        self.rescan()
