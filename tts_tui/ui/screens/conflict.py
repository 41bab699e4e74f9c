"""The file and the UI changed the same keys: the user chooses."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConflictScreen(ModalScreen[bool]):
    """Returns True for "keep mine", False for "take the file"."""

    DEFAULT_CSS = """
    ConflictScreen { align: center middle; }
    ConflictScreen > Vertical { width: 80; max-width: 96%; height: auto; max-height: 90%; border: round $warning; background: $surface; padding: 1 2; }
    ConflictScreen .buttons { height: auto; margin-top: 1; align-horizontal: right; }
    ConflictScreen Button { margin-left: 1; }
    ConflictScreen VerticalScroll { height: auto; max-height: 14; }
    """
    BINDINGS = [Binding("m", "dismiss(True)", "Keep mine"), Binding("f", "dismiss(False)", "Take the file")]

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self.lines = lines

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "The config file changed"
            yield Label("The file and this window changed the same settings:")
            with VerticalScroll():
                yield Static("\n".join(self.lines), markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Take the file (f)", id="theirs")
                yield Button("Keep mine (m)", id="mine", variant="primary")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "mine")
