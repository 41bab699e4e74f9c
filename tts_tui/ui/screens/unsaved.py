"""Quitting with edits the config file cannot take (read-only, disk full,
a file that does not parse): the user chooses, nothing goes silently."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

# Each returns what is still wrong ("cannot save ...: Permission denied") or None when done.
Attempt = Callable[[], "str | None"]
SaveCopy = Callable[[str], "str | None"]


class UnsavedScreen(ModalScreen["bool | None"]):
    """Retry, save elsewhere, or quit and lose the edits.

    Dismissed with True once the edits are saved (in the file or in a copy),
    False to quit without them, None to go back to the app. An attempt that
    fails again keeps the dialog open and shows the new reason. ctrl+q in the
    dialog is "quit and lose" (the app's own binding calls `lose`).
    """

    DEFAULT_CSS = """
    UnsavedScreen { align: center middle; }
    UnsavedScreen > Vertical { width: 76; max-width: 96%; height: auto; max-height: 90%; border: round $error; background: $surface; padding: 1 2; }
    UnsavedScreen #reason { color: $text-error; height: auto; margin-bottom: 1; }
    UnsavedScreen #copy { margin-top: 1; }
    UnsavedScreen .buttons { height: auto; margin-top: 1; align-horizontal: right; }
    UnsavedScreen Button { margin-left: 1; }
    """
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Back"),
        Binding("ctrl+r", "retry", "Retry"),
    ]
    AUTO_FOCUS = "#retry"

    def __init__(self, file_name: str, reason: str, retry: Attempt, save_copy: SaveCopy, copy_path: str) -> None:
        super().__init__()
        self.file_name, self.reason = file_name, reason
        self._retry, self._save_copy, self.copy_path = retry, save_copy, copy_path

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Your edits are not saved"
            yield Label(f"Edits made here are not in {self.file_name}:", markup=False)
            yield Label(self.reason, id="reason", markup=False)
            yield Label("Save them elsewhere (enter), to copy into the file later:", markup=False)
            yield Input(self.copy_path, id="copy")
            with Horizontal(classes="buttons"):
                yield Button("Back (esc)", id="back")
                yield Button("Quit and lose them (ctrl+q)", id="lose", variant="error")
                yield Button("Save elsewhere", id="elsewhere")
                yield Button("Retry (ctrl+r)", id="retry", variant="primary")

    def action_retry(self) -> None:
        self._attempt(self._retry)

    def lose(self) -> None:
        self.dismiss(False)

    def _attempt(self, attempt: Attempt) -> None:
        problem = attempt()
        if problem is None:
            self.dismiss(True)
        else:
            self.query_one("#reason", Label).update(problem)

    @on(Input.Submitted, "#copy")
    def _submitted(self) -> None:
        self._save_elsewhere()

    def _save_elsewhere(self) -> None:
        path = self.query_one("#copy", Input).value.strip()
        if not path:
            self.query_one("#reason", Label).update("name a file to save the edits to")
            return
        self._attempt(lambda: self._save_copy(path))

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        button = event.button.id
        if button == "back":
            self.dismiss(None)
        elif button == "lose":
            self.lose()
        elif button == "elsewhere":
            self._save_elsewhere()
        else:
            self.action_retry()
