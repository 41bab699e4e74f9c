"""Small modal dialogs: confirm, ask for a name, pick from a list."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList
from textual.widgets.option_list import Option

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 64; max-width: 90%; height: auto; max-height: 80%;
    border: round $primary; background: $surface; padding: 1 2;
}}
{name} .buttons {{ height: auto; margin-top: 1; align-horizontal: right; }}
{name} Button {{ margin-left: 1; }}
{name} OptionList {{ height: auto; max-height: 16; }}
"""


class ConfirmScreen(ModalScreen[bool]):
    DEFAULT_CSS = DIALOG_CSS.format(name="ConfirmScreen")
    BINDINGS = [Binding("escape", "dismiss(False)", "Cancel"), Binding("y", "dismiss(True)", "Yes", show=False)]

    def __init__(self, question: str, yes: str = "Yes", no: str = "Cancel") -> None:
        super().__init__()
        self.question, self.yes, self.no = question, yes, no

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            with Horizontal(classes="buttons"):
                yield Button(self.no, id="no")
                yield Button(self.yes, id="yes", variant="error")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text (a service name)."""

    DEFAULT_CSS = DIALOG_CSS.format(name="PromptScreen")
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, question: str, value: str = "") -> None:
        super().__init__()
        self.question, self.value = question, value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            yield Input(self.value, id="answer")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("OK", id="ok", variant="primary")

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self._finish()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "ok":
            self._finish()
        else:
            self.dismiss(None)

    def _finish(self) -> None:
        value = self.query_one(Input).value.strip()
        self.dismiss(value or None)


class PickScreen(ModalScreen[str | None]):
    """Pick one item (a voice, a preset) from a filterable list."""

    DEFAULT_CSS = DIALOG_CSS.format(name="PickScreen")
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, title: str, items: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.items = items  # (id, label)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.title_text)
            yield Input(placeholder="filter", id="filter")
            yield OptionList(*self._options(""), id="items")

    def _options(self, needle: str) -> list[Option]:
        needle = needle.lower()
        return [
            Option(label if label == ident else f"{ident}  [dim]{label}[/]", id=ident)
            for ident, label in self.items
            if needle in ident.lower() or needle in label.lower()
        ]

    @on(Input.Changed, "#filter")
    def _filter(self, event: Input.Changed) -> None:
        items = self.query_one(OptionList)
        items.clear_options()
        items.add_options(self._options(event.value))

    @on(Input.Submitted, "#filter")
    def _first(self) -> None:
        items = self.query_one(OptionList)
        if items.option_count:
            self.dismiss(items.get_option_at_index(items.highlighted or 0).id)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
