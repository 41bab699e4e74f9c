"""F1: every key, what it does, and the id to remap it in the config."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

# One line per paragraph: the Static wraps them to the dialog's width (hard
# line breaks here would be wrapped a second time at 80 columns).
INTRO = (
    "tts-tui — a workbench for TTS HTTP endpoints.\n\n"
    "Type the text, pick a service, press {speak} to speak. Every exchange lands in the "
    "Log (enter opens it). Edits are saved to the config file within a second, and "
    "edits made to the file elsewhere show up here.\n\n"
    "Remap any key in the config:\n"
    "  [ui.keys]\n"
    '  speak = "f9"\n\n'
)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 80; max-width: 96%; height: 90%; border: round $primary; background: $surface; padding: 0 1; }
    HelpScreen .-nowrap { text-wrap: nowrap; text-overflow: ellipsis; }
    """
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    def __init__(self, rows: list[tuple[str, str, str]], speak_key: str = "F5") -> None:
        super().__init__()
        self.rows = rows  # (keys, description, id)
        self.speak_key = speak_key

    def compose(self) -> ComposeResult:
        width = max((len(k) for k, _d, _i in self.rows), default=8)
        table = "\n".join(f"  {keys:<{width}}  {desc:<28} {ident}" for keys, desc, ident in self.rows)
        with Vertical() as box:
            box.border_title = "Help"
            box.border_subtitle = "esc: close"
            with VerticalScroll():
                yield Static(INTRO.format(speak=self.speak_key), markup=False, id="help-intro")
                # the table is not wrapped: a row cut at the edge stays one row
                yield Static(f"  {'key':<{width}}  {'action':<28} id\n" + table, markup=False, id="help-keys", classes="-nowrap")
