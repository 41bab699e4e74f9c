"""Where decoded frames go while an answer downloads: the player's stream
(so it plays before the last byte), and the caller's own callback (the TUI's
waveform)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from tts_tui.core.audio import Audio
    from tts_tui.core.device_stream import StreamSink
    from tts_tui.core.player import Player

FramesCallback = Callable[["np.ndarray", int, int], None]  # frames, rate, channels


class FrameSink:
    """Frames in, sound out. With no player, or a silent one, frames only go
    to `on_frames`; the caller then plays (or saves) the whole audio.

    Call `end(audio)` once the answer is complete, or `cancel()` on failure:
    exactly one of them, once.
    """

    def __init__(self, player: Player | None = None, on_frames: FramesCallback | None = None) -> None:
        self._player = player
        self._on_frames = on_frames
        self._stream: StreamSink | None = None
        self._tried = player is None

    def warm(self) -> None:
        """Open the device while the server thinks."""
        if self._player is not None:
            self._player.warm()

    @property
    def wants_frames(self) -> bool:
        """False when no one takes frames while the answer downloads (no player,
        no callback): then WAV and PCM answers need only be counted."""
        return self._player is not None or self._on_frames is not None

    @property
    def streamed(self) -> bool:
        """True when the frames went to a device as they came."""
        return self._stream is not None

    def write(self, frames: np.ndarray, rate: int, channels: int) -> None:
        if not self._tried:
            self._tried = True
            self._stream = self._open(rate, channels)
        if self._stream is not None:
            self._stream.write(frames)
        if self._on_frames is not None:
            self._on_frames(frames, rate, channels)

    def end(self, audio: Audio) -> None:
        if self._stream is not None:
            self._stream.end(audio)

    def cancel(self) -> None:
        if self._stream is not None:
            self._stream.cancel()

    def _open(self, rate: int, channels: int) -> StreamSink | None:
        return open_live_stream(self._player, rate, channels)


def open_live_stream(player: Player | None, rate: int, channels: int) -> StreamSink | None:
    """A player stream that reaches a device, or None when there is none (no
    player, or a silent one: the caller then plays or saves the whole audio)."""
    if player is None or not player.available:
        return None
    stream = player.open_stream(rate, channels)
    if not stream.live:
        stream.cancel()
        return None
    return stream
