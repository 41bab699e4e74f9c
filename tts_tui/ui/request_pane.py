"""The Request pane: the text, the service's fields, the body and a preview."""

from __future__ import annotations

import json
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.lazy import Lazy
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Select, Static, TabbedContent, TabPane, TextArea

from tts_tui.core.model import FORMATS, Service

# (key, label, kind, types it shows for)
FIELDS: list[tuple[str, str, str, tuple[str, ...]]] = [
    ("url", "URL", "text", ("openai", "http")),
    ("method", "Method", "method", ("http",)),
    ("voice", "Voice", "voice", ("openai", "http")),
    ("model", "Model", "text", ("openai", "http")),
    ("format", "Format", "format", ("openai", "http")),
    ("speed", "Speed", "float", ("openai", "http")),
    ("instructions", "Instructions", "text", ("openai",)),
    ("response", "Response", "text", ("http",)),
    ("timeout", "Timeout (s)", "float", ("openai", "http")),
]
# JSON-object editors: (key, label, types)
OBJECTS: list[tuple[str, str, tuple[str, ...]]] = [
    ("headers", "Headers", ("openai", "http")),
    ("query", "Query", ("http",)),
    ("params", "Params (template variables)", ("http",)),
    ("extra", "Extra body fields", ("openai",)),
]


class FieldEdited(Message):
    """A field of the selected service was edited (value already parsed)."""

    def __init__(self, key: str, value: Any, service: str | None) -> None:
        super().__init__()
        self.key = key
        self.value = value
        self.service = service


class TextEdited(Message):
    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class FieldInvalid(Message):
    def __init__(self, key: str, message: str) -> None:
        super().__init__()
        self.key = key
        self.message = message


class Rows(VerticalScroll, can_focus=False):
    """A scrolling column of fields that Tab passes through, not to: the
    fields themselves take focus and scroll into view."""


class BodyEditor(TextArea):
    """The body template's JSON editor, with the keys an editor needs.

    ctrl+e opens the body in $EDITOR (read back on exit), ctrl+t formats it
    as JSON, ctrl+g jumps to the line and column of the current error,
    ctrl+a selects everything. Each key has an id for `[ui] keys`.
    """

    BINDINGS = [
        Binding("ctrl+e", "app.edit_body", "Edit in $EDITOR", id="body_editor"),
        Binding("ctrl+t", "format_json", "Format JSON", id="body_format"),
        Binding("ctrl+g", "app.goto_error", "Go to the error", id="body_goto_error"),
        Binding("ctrl+a", "select_all", "Select all", id="body_select_all"),
    ]

    def action_format_json(self) -> None:
        """Indent the body as JSON, leaving each {{ tag }} as it is; a body that
        does not parse stays as it is and the status line says why."""
        formatted = format_json_template(self.text)
        if formatted is None:
            self.notify("the body is not JSON yet: nothing to format", severity="warning")
        elif formatted != self.text:
            self.replace(formatted, self.document.start, self.document.end)


def format_json_template(text: str) -> str | None:
    """`text` indented as JSON, its {{ }} and {% %} tags kept as written;
    None when it does not parse even with the tags stood in for."""
    import re

    tags: list[str] = []

    def stand_in(match: re.Match[str]) -> str:
        tags.append(match.group())
        return f"\ue000{len(tags) - 1}\ue000"  # private-use marks: no JSON text holds them

    masked = re.sub(r"\{\{.*?\}\}|\{%.*?%\}", stand_in, text, flags=re.S)
    # a tag outside a string stands in as a string of its own, so the rest parses
    quoted = re.sub(
        r'("(?:[^"\\]|\\.)*")|\ue000(\d+)\ue000',
        lambda m: m.group(1) or f'"\ue001{m.group(2)}\ue001"',
        masked,
    )
    try:
        doc = json.loads(quoted)
    except ValueError:
        return None
    out = json.dumps(doc, indent=2, ensure_ascii=False)
    out = re.sub(r'"\ue001(\d+)\ue001"', lambda m: tags[int(m.group(1))], out)
    return re.sub(r"\ue000(\d+)\ue000", lambda m: tags[int(m.group(1))], out)


class LateContent(VerticalScroll, can_focus=False):
    """Content of a hidden tab, mounted after the first frame (inside `Lazy`)."""

    DEFAULT_CSS = "LateContent { height: 1fr; } LateContent.-plain { overflow-y: hidden; }"

    class Ready(Message):
        """The content is mounted: the pane can fill it in."""

    def __init__(self, *children: Widget, scroll: bool = False) -> None:
        super().__init__(*children, classes="" if scroll else "-plain")

    def on_mount(self) -> None:
        self.post_message(self.Ready())


class RequestTabs(Vertical):
    """The Fields, Body, Headers and Preview tabs of a RequestPane."""

    DEFAULT_CSS = "RequestTabs { height: 1fr; }"

    class Ready(Message):
        """The tabs are mounted: the pane can fill them in."""

    def __init__(self, pane: RequestPane) -> None:
        super().__init__()
        self.pane = pane

    def compose(self) -> ComposeResult:
        with TabbedContent(id="tabs"):
            with TabPane("Fields", id="tab-fields"):
                with Rows():
                    for key, label, kind, _types in FIELDS:
                        with Horizontal(classes="row", id=f"row-{key}"):
                            yield Label(label)
                            yield from self.pane._field_widget(key, kind)
            # Hidden tabs mount after the first frame (their JSON editors are
            # the costliest widgets); `load` fills them in once they are there.
            with TabPane("Body", id="tab-body"):
                yield Lazy(
                    LateContent(
                        Label("", id="body-help"),
                        BodyEditor.code_editor("", language="json", id="body", soft_wrap=True, theme="css"),
                    )
                )
            with TabPane("Headers", id="tab-headers"):
                yield Lazy(LateContent(*self.pane._object_editors(), scroll=True))
            with TabPane("Preview", id="tab-preview"):
                with VerticalScroll():
                    yield Static("", id="preview", markup=False)

    def on_mount(self) -> None:
        self.post_message(self.Ready())


class StatusLine(Static):
    """The one-line verdict under the request: "✓ POST url · F5 speaks" or "✗ error".

    A verdict too long for the width is shortened in the URL's middle, never
    cut mid-word at the edge; an error wraps at words on two lines at most.
    """

    def __init__(self, message: str = "", **kwargs) -> None:
        super().__init__(message, markup=False, **kwargs)
        self.message = message

    def show(self, message: str, *, error: bool) -> None:
        self.message = message
        self.set_class(error, "-error")
        self.update(message)

    def render(self):  # noqa: ANN201 - Textual's signature
        from rich.text import Text

        if self.has_class("-error"):
            return Text(self.message)
        return Text(fit_status(self.message, self.content_size.width or 1000), no_wrap=True)

    def on_resize(self) -> None:
        self.refresh()


def fit_status(message: str, width: int) -> str:
    """`message` in `width` cells: the longest word (the URL) loses its middle
    first ("http://127.0.0.1:8…/speech"), then the words at the end go whole."""
    from rich.cells import cell_len

    if cell_len(message) <= width:
        return message
    words = message.split(" ")
    longest = max(range(len(words)), key=lambda i: cell_len(words[i]))
    over = cell_len(message) - width
    word = words[longest]
    if cell_len(word) - over - 1 >= 12:
        keep = len(word) - over - 1
        head = keep * 2 // 3
        words[longest] = word[:head] + "…" + word[len(word) - (keep - head):]
        return " ".join(words)
    while len(words) > 1 and cell_len(" ".join(words) + " …") > width:
        words.pop()
    text = " ".join(words)
    return text if cell_len(text) <= width else text[: max(0, width - 1)] + "…"


class RequestPane(Vertical):
    DEFAULT_CSS = """
    RequestPane #text { height: 3; min-height: 2; }
    RequestPane TabbedContent { height: 1fr; }
    RequestPane .row { height: 1; margin-bottom: 0; }
    RequestPane .row Label { width: 14; color: $text-muted; padding: 0 1 0 0; text-align: right; }
    RequestPane .row Input { width: 1fr; height: 1; border: none; padding: 0 1; background: $boost; }
    RequestPane .row Input:focus { background: $primary 20%; }
    RequestPane .row Input.-invalid { background: $error 25%; }
    RequestPane .row Select { width: 1fr; height: 1; }
    RequestPane .row Select > SelectCurrent { border: none; height: 1; padding: 0 1; background: $boost; }
    RequestPane .row Button { min-width: 5; width: 5; height: 1; border: none; }
    RequestPane .row.-hidden, RequestPane .object.-hidden { display: none; }
    RequestPane .object { height: auto; }
    RequestPane .object Label { color: $text-muted; }
    RequestPane .object TextArea { height: 4; }
    RequestPane #body { height: 1fr; }
    RequestPane #preview { height: auto; }
    RequestPane #status { height: 1; padding: 0 1; color: $success; }
    RequestPane #status.-error { color: $error; height: auto; max-height: 2; }
    """

    def __init__(self, service: Service | None = None) -> None:
        super().__init__(classes="pane", id="request")
        self.border_title = "Request"
        self.service_type = service.type if service else "openai"
        # Widgets start with the service's values: a Select announces its first
        # value when mounted, and that must not read as an edit.
        self._initial = service
        self.service_name = service.name if service else None
        self._voices: list[str] = []
        self._loaded: tuple[Service | None, str] | None = None
        self._tabs_ready = False
        self._late_ready = 0
        self._preview = ""

    def compose(self) -> ComposeResult:
        text = TextArea(id="text", soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        text.border_title = "Text"
        yield text
        # The tabs mount just after the first frame: they are most of the
        # pane's cost, and the pane's title and text show at once without them.
        yield Lazy(RequestTabs(self))
        yield StatusLine("", id="status")

    def _object_editors(self) -> list[Widget]:
        return [
            Vertical(
                Label(f"{label} (JSON object)"),
                TextArea.code_editor("{}", language="json", id=f"json-{key}", show_line_numbers=False, theme="css"),
                classes="object",
                id=f"object-{key}",
            )
            for key, label, _types in OBJECTS
        ]

    @on(RequestTabs.Ready)
    def _tabs_mounted(self) -> None:
        self._tabs_ready = True
        self.set_voices(self._voices)
        self.show_preview(self._preview)
        if self._loaded is not None:
            self.load(*self._loaded)

    @on(LateContent.Ready)
    def _late_content_ready(self) -> None:
        self._late_ready += 1
        if self._late_ready == 2 and self._loaded is not None:
            self.load(*self._loaded)

    def _field_widget(self, key: str, kind: str) -> ComposeResult:
        value = getattr(self._initial, key) if self._initial else None
        if kind in ("format", "method"):
            choices = _format_choices(self._initial) if kind == "format" else ("POST", "GET", "PUT")
            yield Select(
                [(c, c) for c in choices],
                id=f"field-{key}",
                allow_blank=False,
                compact=True,
                value=value if value in choices else choices[0],
            )
        elif kind == "voice":
            yield Input(value or "", id="field-voice", placeholder="voice id")
            yield Button("▾", id="voice-pick", tooltip="Pick from the server's voices")
        else:
            yield Input("" if value is None else _format_value(value), id=f"field-{key}")

    # --- loading a service ---------------------------------------------------

    def load(self, service: Service | None, text: str) -> None:
        """Show `service`; widgets the user is editing keep their text when equal."""
        self._loaded = (service, text)
        self._set_textarea("text", text)
        if service is None:
            return
        self._initial = service  # what the tabs start with if they mount later
        self.service_name = service.name
        self.service_type = service.type
        if not self._tabs_ready:
            return
        for key, _label, kind, types in FIELDS:
            self.query_one(f"#row-{key}").set_class(service.type not in types, "-hidden")
            value = getattr(service, key)
            widget = self.query_one(f"#field-{key}")
            if kind == "format":
                self._offer_formats(widget, service)
            if isinstance(widget, Select):
                if widget.value != value:
                    with widget.prevent(Select.Changed):
                        widget.value = value
            elif isinstance(widget, Input):
                shown = _format_value(value)
                if _parse_or_none(kind, widget.value) != value and widget.value != shown:
                    with widget.prevent(Input.Changed):
                        widget.value = shown
                    widget.remove_class("-invalid")
        if self._late_ready < 2:
            return  # the hidden tabs are not mounted yet: filled in when they are
        for key, _label, types in OBJECTS:
            self.query_one(f"#object-{key}").set_class(service.type not in types, "-hidden")
            value = getattr(service, key)
            area = self.query_one(f"#json-{key}", TextArea)
            try:
                current = json.loads(area.text or "{}")
            except ValueError:
                current = None
            if current != value:
                self._set_textarea(f"json-{key}", json.dumps(value, indent=1, ensure_ascii=False) if value else "{}")
        body = self.query_one("#body", TextArea)
        help_label = self.query_one("#body-help", Label)
        if service.type == "http":
            body.read_only = False
            help_label.update("Body template: {{ text }}, {{ voice }}, {{ speed }}, params…  (JSON-escaped)")
            self._set_textarea("body", service.body)
        else:
            body.read_only = True
            help_label.update("openai services send a fixed body; edit `Extra body fields` under Headers")
            self._set_textarea("body", "")

    def _offer_formats(self, select: Select, service: Service) -> None:
        """The format list of what this service's server accepts (see core.formats)."""
        choices = _format_choices(service)
        if getattr(select, "_offered", None) != choices:
            with select.prevent(Select.Changed):
                select.set_options([(c, c) for c in choices])
            select._offered = choices  # type: ignore[attr-defined]

    def mark_invalid(self, key: str, invalid: bool) -> None:
        """Colour field `key` as invalid (the status line says why)."""
        if self._tabs_ready:
            for widget in self.query(f"#field-{key}"):
                widget.set_class(invalid, "-invalid")

    def set_voices(self, voices: list[str]) -> None:
        self._voices = voices
        if self._tabs_ready:
            # a voice list may land while the app closes and its widgets go
            for field in self.query("#field-voice").results(Input):
                field.suggester = SuggestFromList(voices, case_sensitive=False)

    def _set_textarea(self, widget_id: str, text: str) -> None:
        area = self.query_one(f"#{widget_id}", TextArea)
        if area.text != text:
            with area.prevent(TextArea.Changed):
                area.load_text(text)

    # --- preview and status ------------------------------------------------

    def show_preview(self, text: str) -> None:
        self._preview = text
        if self._tabs_ready:
            self.query_one("#preview", Static).update(text)

    def show_status(self, message: str, *, error: bool) -> None:
        # a check may finish while the app closes and the line is gone already
        for line in self.query("#status").results(StatusLine):
            line.show(message, error=error)

    # --- edits ---------------------------------------------------------------

    @on(TextArea.Changed, "#text")
    def _text_changed(self, event: TextArea.Changed) -> None:
        self.post_message(TextEdited(event.text_area.text))

    @on(TextArea.Changed, "#body")
    def _body_changed(self, event: TextArea.Changed) -> None:
        if not event.text_area.read_only:
            self.post_message(FieldEdited("body", event.text_area.text, self.service_name))

    @on(TextArea.Changed, ".object TextArea")
    def _object_changed(self, event: TextArea.Changed) -> None:
        key = (event.text_area.id or "").removeprefix("json-")
        try:
            value = json.loads(event.text_area.text or "{}")
        except json.JSONDecodeError as exc:
            self.post_message(FieldInvalid(key, f"{key}: {exc.msg} (line {exc.lineno}, column {exc.colno})"))
            return
        if not isinstance(value, dict):
            self.post_message(FieldInvalid(key, f"{key}: must be a JSON object like {{\"name\": \"value\"}}"))
            return
        self.post_message(FieldEdited(key, value, self.service_name))

    @on(Input.Changed, ".row Input")
    def _input_changed(self, event: Input.Changed) -> None:
        if event.value != event.input.value:
            return  # stale: the input was loaded with another service's value since
        key = (event.input.id or "").removeprefix("field-")
        kind = next(k for name, _l, k, _t in FIELDS if name == key)
        try:
            value = _parse(kind, event.value)
        except ValueError:
            event.input.add_class("-invalid")
            self.post_message(FieldInvalid(key, f"{key}: {event.value!r} is not a number"))
            return
        event.input.remove_class("-invalid")
        self.post_message(FieldEdited(key, value, self.service_name))

    @on(Select.Changed, ".row Select")
    def _select_changed(self, event: Select.Changed) -> None:
        key = (event.select.id or "").removeprefix("field-")
        if event.value is not Select.BLANK and event.value == event.select.value:
            self.post_message(FieldEdited(key, event.value, self.service_name))

    @on(Button.Pressed, "#voice-pick")
    def _pick_voice(self) -> None:
        self.app.action_pick_voice()  # type: ignore[attr-defined]

    def set_voice(self, voice: str) -> None:
        if self._tabs_ready:
            self.query_one("#field-voice", Input).value = voice


def _format_choices(service: Service | None) -> tuple[str, ...]:
    if service is None:
        return FORMATS
    from tts_tui.core.formats import format_choices

    return format_choices(service)


def _parse(kind: str, text: str) -> Any:
    if kind == "float":
        return float(text.strip())
    return text


def _parse_or_none(kind: str, text: str) -> Any:
    try:
        return _parse(kind, text)
    except ValueError:
        return None


def _format_value(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    return str(value)
