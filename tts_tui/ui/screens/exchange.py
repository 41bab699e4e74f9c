"""The exchange detail: request and response, the error, timings, curl."""

from __future__ import annotations

import json

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Static, TabbedContent, TabPane

from tts_tui.core.exchange import Exchange, human_bytes
from tts_tui.core.export import to_curl
from tts_tui.core.masking import mask_headers, mask_text
from tts_tui.ui.exchange_list import DROPPED_NOTE


# (label, the Exchange attribute at which the phase ends, block, colour)
PHASES = (
    ("connect", "connect_ms", "▓", "yellow"),
    ("wait (to TTFB)", "ttfb_ms", "░", "blue"),
    ("to first audio", "ttfa_ms", "▒", "magenta"),
    ("download (to total)", "total_ms", "█", "green"),
)


def timeline_phases(ex: Exchange) -> list[tuple[str, str, str, float, float]]:
    """(label, block, colour, start ms, end ms) for each timing reached, in time order.

    Every phase ends at its own mark and starts at the previous one, so when the
    first audio comes after the last byte (decoded once complete) it is drawn last.
    """
    marks = [(getattr(ex, attr), label, block, colour) for label, attr, block, colour in PHASES if getattr(ex, attr) is not None]
    marks.sort(key=lambda m: m[0])
    out = []
    start = 0.0
    for end, label, block, colour in marks:
        out.append((label, block, colour, start, end))
        start = end
    return out


def timeline_text(ex: Exchange, width: int) -> Text:
    """The timeline bar (each phase in its own block, proportional to time) and its figures."""
    phases = timeline_phases(ex)
    out = Text(no_wrap=True, overflow="crop")
    if not phases:
        out.append("no timings: " + (ex.error or "no answer yet"), style="dim")
        return out
    span = phases[-1][4] or 1.0
    width = max(10, width)
    left, right = "0 ms", f"{span:.0f} ms"
    out.append(left + " " * max(1, width - len(left) - len(right)) + right + "\n", style="dim")
    x = 0
    for _label, block, colour, _start, end in phases:
        x_end = round(end / span * width)
        out.append(block * (x_end - x), style=colour)
        x = x_end
    for label, block, colour, start, end in phases:
        out.append("\n")
        out.append(f"{block} ", style=colour)
        out.append(f"{label:<20}{end - start:>8.0f} ms   {start:>6.0f} → {end:.0f} ms")
    return out


class Timeline(Widget):
    """The exchange's timing phases as a bar as wide as the widget."""

    DEFAULT_CSS = "Timeline { height: auto; padding: 0 1; }"

    def __init__(self, exchange: Exchange, **kwargs) -> None:
        super().__init__(**kwargs)
        self.exchange = exchange

    def render(self) -> Text:
        return timeline_text(self.exchange, (self.content_size.width or 62) - 2)


def pretty_body(body: bytes, *, secrets: list[str], audio: bool, size: int = 0, dropped: bool = False) -> str:
    """JSON pretty-printed, text as text, audio summarised."""
    if dropped:
        return f"(audio, {size:,} bytes: {DROPPED_NOTE}; only the newest exchanges keep theirs)"
    if not body:
        return "(empty)"
    if audio:
        return f"(audio, {len(body):,} bytes; save it from the Playback bar)"
    text = body[:20_000].decode("utf-8", "replace")
    try:
        text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        pass
    if len(body) > 20_000:
        text += f"\n… ({len(body):,} bytes in all)"
    return mask_text(text, secrets)


def headers_text(headers: dict[str, str], secrets: list[str]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in mask_headers(headers, secrets).items()) or "(none)"


class ExchangeScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    ExchangeScreen { align: center middle; }
    ExchangeScreen > Vertical { width: 96%; height: 90%; border: round $primary; background: $surface; }
    ExchangeScreen #error { color: $error; padding: 0 1; height: auto; }
    ExchangeScreen #notes { color: $warning; padding: 0 1; height: auto; }
    ExchangeScreen Static { padding: 0 1; }
    ExchangeScreen TabbedContent { height: 1fr; }
    ExchangeScreen TabPane { height: 1fr; padding: 0; }
    ExchangeScreen TabPane > VerticalScroll { height: 1fr; }
    ExchangeScreen #copy { width: auto; height: 1; min-width: 0; border: none; margin: 0 1; }
    """
    BINDINGS = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("c", "copy_curl", "Copy as curl", id="copy_curl"),
        Binding("a", "again", "Speak it again", id="exchange_again"),
        Binding("e", "load_back", "Load its text into the editor", id="exchange_load"),
    ]

    def __init__(self, exchange: Exchange) -> None:
        super().__init__()
        self.exchange = exchange

    def compose(self) -> ComposeResult:
        ex = self.exchange
        req = ex.request
        audio = ex.format is not None
        with Vertical() as box:
            box.border_title = f"{req.method} {req.masked_url()}"
            box.border_subtitle = "a: speak again · e: load text · c: curl · esc: close"
            if ex.error:
                yield Static(f"✗ {ex.error}", id="error", markup=False)
            if ex.notes:
                yield Static("\n".join(f"ℹ {note}" for note in ex.notes), id="notes", markup=False)
            with TabbedContent():
                with TabPane("Request"):
                    with VerticalScroll():
                        # the headers that went on the wire (Host, User-Agent... included) once sent
                        sent = ex.sent_headers or req.headers
                        yield Static(f"{req.method} {req.masked_url()}\n\n{headers_text(sent, req.secrets)}", markup=False, id="request-head")
                        yield Static(pretty_body(req.body or b"", secrets=req.secrets, audio=False), markup=False, id="request-body")
                with TabPane("Response"):
                    with VerticalScroll():
                        yield Static(f"{ex.status_line}\n\n{headers_text(ex.response_headers, req.secrets)}", markup=False, id="response-head")
                        yield Static(
                            pretty_body(
                                ex.body, secrets=req.secrets, audio=audio,
                                size=ex.bytes, dropped=ex.body_dropped,
                            ),
                            markup=False,
                            id="response-body",
                        )
                with TabPane("Timing"):
                    with VerticalScroll():
                        yield Timeline(ex, id="timeline")
                        yield Static(self._timing(), markup=False, id="timing")
                with TabPane("curl"):
                    with VerticalScroll():
                        yield Static(to_curl(req), markup=False, id="curl")
            yield Button("Copy as curl", id="copy")

    def _timing(self) -> str:
        m = self.exchange.metrics()
        lines = [""]
        for key in ("connect_ms", "ttfb_ms", "ttfa_ms", "total_ms", "bytes", "audio_s", "rtf", "status", "content_type",
                    "format", "rate", "channels", "reader"):
            value = m.get(key)
            if key == "bytes":
                value = f"{value:,} ({human_bytes(value)})"
            lines.append(f"{key:<13} {'' if value is None else value}")
        if self.exchange.first_audio_after_body:
            lines.append("first audio   only after the last byte: this answer could not be played while it came")
        if self.exchange.body_dropped:
            lines.append(f"body          {DROPPED_NOTE}")
        return "\n".join(lines)

    def action_again(self) -> None:
        """Speak this exchange's text again with its service (as configured now)."""
        self.dismiss()
        self.app.speak_again(self.exchange)  # type: ignore[attr-defined]

    def action_load_back(self) -> None:
        """Put this exchange's text (and service) back in the editor."""
        self.dismiss()
        self.app.load_back(self.exchange)  # type: ignore[attr-defined]

    @on(Button.Pressed, "#copy")
    def action_copy_curl(self) -> None:
        self.app.copy_to_clipboard(to_curl(self.exchange.request))
        self.notify("curl command copied (secrets masked)")
