"""The exchange detail: request and response, the error, timings, curl."""

from __future__ import annotations

import json

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static, TabbedContent, TabPane

from tts_tui.core.exchange import Exchange
from tts_tui.core.export import to_curl
from tts_tui.core.masking import mask_headers, mask_text


def pretty_body(body: bytes, content_type: str, *, secrets: list[str], audio: bool) -> str:
    """JSON pretty-printed, text as text, audio summarised."""
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


def headers_text(headers: dict[str, str]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in mask_headers(headers).items()) or "(none)"


class ExchangeScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    ExchangeScreen { align: center middle; }
    ExchangeScreen > Vertical { width: 96%; height: 90%; border: round $primary; background: $surface; }
    ExchangeScreen #error { color: $error; padding: 0 1; height: auto; }
    ExchangeScreen Static { padding: 0 1; }
    ExchangeScreen #copy { dock: bottom; width: auto; margin: 0 1; }
    """
    BINDINGS = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("c", "copy_curl", "Copy as curl", id="copy_curl"),
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
            box.border_subtitle = "c: copy as curl · esc: close"
            if ex.error:
                yield Static(f"✗ {ex.error}", id="error", markup=False)
            with TabbedContent():
                with TabPane("Request"):
                    with VerticalScroll():
                        yield Static(f"{req.method} {req.masked_url()}\n\n{headers_text(req.headers)}", markup=False)
                        yield Static(pretty_body(req.body or b"", "", secrets=req.secrets, audio=False), markup=False, id="request-body")
                with TabPane("Response"):
                    with VerticalScroll():
                        status = "no answer" if ex.status is None else f"HTTP {ex.status}"
                        yield Static(f"{status}\n\n{headers_text(ex.response_headers)}", markup=False)
                        yield Static(
                            pretty_body(ex.body, ex.content_type, secrets=req.secrets, audio=audio),
                            markup=False,
                            id="response-body",
                        )
                with TabPane("Timing"):
                    yield Static(self._timing(), markup=False, id="timing")
                with TabPane("curl"):
                    with VerticalScroll():
                        yield Static(to_curl(req), markup=False, id="curl")
            yield Button("Copy as curl", id="copy")

    def _timing(self) -> str:
        m = self.exchange.metrics()
        lines = []
        for key in ("connect_ms", "ttfb_ms", "ttfa_ms", "total_ms", "bytes", "audio_s", "rtf", "status", "content_type", "format"):
            value = m.get(key)
            lines.append(f"{key:<13} {'' if value is None else value}")
        return "\n".join(lines)

    @on(Button.Pressed, "#copy")
    def action_copy_curl(self) -> None:
        self.app.copy_to_clipboard(to_curl(self.exchange.request))
        self.notify("curl command copied (secrets masked)")
