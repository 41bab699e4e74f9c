"""The Playback bar: state, position, waveform and output device."""

from __future__ import annotations

from textual.containers import Vertical
from textual.widgets import Static

BLOCKS = " ▁▂▃▄▅▆▇█"
ICONS = {"playing": "▶", "buffering": "⏳", "paused": "⏸", "stopped": "■", "silent": "🔇"}


def waveform(peaks: list[float]) -> str:
    """Peaks (0..1) as block characters."""
    return "".join(BLOCKS[min(len(BLOCKS) - 1, round(p * (len(BLOCKS) - 1)))] for p in peaks)


def clock(seconds: float) -> str:
    minutes, secs = divmod(max(0.0, seconds), 60)
    return f"{int(minutes)}:{secs:04.1f}"


def fit_parts(parts: list[str], width: int) -> str:
    """The parts joined with " · ", dropping whole parts from the end (never
    cutting one mid-word) until the line fits; the first part always stays."""
    from rich.cells import cell_len

    kept = list(parts)
    while len(kept) > 1 and cell_len(" · ".join(kept)) > width:
        kept.pop()
    return " · ".join(kept)


class PlaybackBar(Vertical):
    DEFAULT_CSS = """
    PlaybackBar #playback-state { height: 1; padding: 0 1; }
    PlaybackBar #playback-wave { height: 1; padding: 0 1; color: $accent; }
    """

    def __init__(self) -> None:
        super().__init__(classes="pane", id="playback")
        self.border_title = "Playback"
        # keys named in the hints, as remapped (the app sets them)
        self.keys = {"speak": "F5", "play_pause": "F6", "stop": "F7", "replay": "F8", "save_audio": "ctrl+s"}
        self._shown: tuple[str, str, str] | None = None

    def compose(self):
        self.state_line = Static("■ stopped · no audio yet · F5 speaks", id="playback-state", markup=False)
        self.wave_line = Static("", id="playback-wave", markup=False)
        yield self.state_line
        yield self.wave_line

    def show(
        self,
        *,
        state: str,
        position: float,
        duration: float,
        reason: str | None,
        device: str | None,
        peaks: list[float],
        source: str | None,
    ) -> None:
        icon = ICONS.get(state, "■")
        silent = state == "silent" and reason
        # Silent: the reason first, where a narrow terminal still shows it
        # (a tunnel that dropped, how to get sound), not after the clock.
        parts = [f"{icon} silent: {reason}" if silent else f"{icon} {state}"]
        if state == "buffering" and position:
            parts[0] += " (underrun)"  # the stream ran dry mid-way: a gap, then it goes on
        if duration:
            parts.append(f"{clock(position)} / {clock(duration)}")
        if source:
            parts.append(source)
        if device and not silent:
            parts.append(f"♪ {device}")  # "system (JACK ...)", "via ssh → MacBook Pro Speakers", "pipe: aplay"
        if not duration:
            parts.append("waiting for audio" if state == "buffering" else f"no audio yet · {self.keys['speak']} speaks")
        keys = self.keys
        subtitle = f"{keys['play_pause']} play/pause · {keys['stop']} stop · {keys['replay']} replay · {keys['save_audio']} save"
        shown = (fit_parts(parts, self.state_line.content_size.width or 1000), waveform(peaks), subtitle)
        if shown == self._shown:
            return  # nothing changed: no repaint, no bytes to the terminal
        self._shown = shown
        self.state_line.update(shown[0])
        self.wave_line.update(shown[1])
        self.border_subtitle = subtitle

    def on_resize(self) -> None:
        self._shown = None  # fit the line to the new width at the next show
