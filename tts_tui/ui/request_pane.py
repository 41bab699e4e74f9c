"""The Request pane: the text, the service's fields, the body and a preview."""

from __future__ import annotations

import json
from typing import Any

from textual import on
from textual.app import ComposeResult
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


class LateContent(VerticalScroll):
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
                with VerticalScroll():
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
                        TextArea.code_editor("", language="json", id="body", soft_wrap=True, theme="css"),
                    )
                )
            with TabPane("Headers", id="tab-headers"):
                yield Lazy(LateContent(*self.pane._object_editors(), scroll=True))
            with TabPane("Preview", id="tab-preview"):
                with VerticalScroll():
                    yield Static("", id="preview", markup=False)

    def on_mount(self) -> None:
        self.post_message(self.Ready())


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
    RequestPane #status.-error { color: $error; }
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
        yield Static("", id="status")

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
        status = self.query_one("#status", Static)
        status.update(message)
        status.set_class(error, "-error")

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
