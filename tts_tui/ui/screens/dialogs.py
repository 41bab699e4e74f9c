"""Small modal dialogs: confirm, ask for a name, pick from a list."""

from __future__ import annotations

from collections.abc import Callable

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, TextArea
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
    """Ask for one line of text (a service name).

    `check(value)` returns what is wrong with a value ("a service named 'x'
    already exists") or None: a wrong value keeps the dialog open and says so.
    """

    DEFAULT_CSS = DIALOG_CSS.format(name="PromptScreen") + """
    PromptScreen #problem { color: $text-error; height: auto; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    AUTO_FOCUS = "#answer"

    def __init__(self, question: str, value: str = "", check: Callable[[str], str | None] | None = None) -> None:
        super().__init__()
        self.question, self.value = question, value
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            yield Input(self.value, id="answer")
            yield Label("", id="problem", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("OK", id="ok", variant="primary")

    def on_key(self, event: events.Key) -> None:
        # A key typed before the field has focus (just after the dialog
        # opens) would be lost: it goes to the field.
        if self.focused is None and event.is_printable and event.character:
            answer = self.query_one("#answer", Input)
            answer.focus()
            answer.insert_text_at_cursor(event.character)
            event.stop()

    @on(Input.Changed, "#answer")
    def _changed(self) -> None:
        self.query_one("#problem", Label).update("")

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
        problem = "a name cannot be empty" if not value else self.check(value) if self.check else None
        if problem:
            self.query_one("#problem", Label).update(f"✗ {problem}")
            self.query_one("#answer", Input).focus()
            return
        self.dismiss(value)


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


class PasteScreen(ModalScreen[str | None]):
    """Paste a block of text (a curl command, several lines); OK returns it."""

    DEFAULT_CSS = DIALOG_CSS.format(name="PasteScreen") + """
    PasteScreen TextArea { height: 8; }
    PasteScreen #problem { color: $text-error; height: auto; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]
    AUTO_FOCUS = "#paste"

    def __init__(self, question: str, check: Callable[[str], str | None] | None = None) -> None:
        super().__init__()
        self.question = question
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question)
            yield TextArea("", id="paste", soft_wrap=True, tab_behavior="focus")
            yield Label("", id="problem", markup=False)
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button("OK", id="ok", variant="primary")

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id != "ok":
            self.dismiss(None)
            return
        text = self.query_one("#paste", TextArea).text.strip()
        problem = "paste a command first" if not text else self.check(text) if self.check else None
        if problem:
            self.query_one("#problem", Label).update(f"✗ {problem}")
            return
        self.dismiss(text)
