"""F1: every key, what it does, and the id to remap it in the config."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

INTRO = """\
tts-tui — a workbench for TTS HTTP endpoints.

Type the text, pick a service, press F5 to speak. Every exchange lands in the
Log (enter opens it). Edits are saved to the config file within a second, and
edits made to the file elsewhere show up here.

Remap any key in the config:
  [ui.keys]
  speak = "f9"

"""


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical { width: 80; max-width: 96%; height: 90%; border: round $primary; background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,f1,q", "dismiss", "Close")]

    def __init__(self, rows: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.rows = rows  # (keys, description, id)

    def compose(self) -> ComposeResult:
        width = max((len(k) for k, _d, _i in self.rows), default=8)
        table = "\n".join(f"  {keys:<{width}}  {desc:<28} {ident}" for keys, desc, ident in self.rows)
        with Vertical() as box:
            box.border_title = "Help"
            box.border_subtitle = "esc: close"
            with VerticalScroll():
                yield Static(INTRO + f"  {'key':<{width}}  {'action':<28} id\n" + table, markup=False)
