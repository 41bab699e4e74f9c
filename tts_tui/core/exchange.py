"""One HTTP exchange, as the log pane, `--json`, curl and HAR exports see it."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from tts_tui.core.masking import mask_headers, mask_text, mask_url

_ids = itertools.count(1)


def human_bytes(n: int, *, short: bool = False) -> str:
    """1536 -> "1.5 KB" ("1.5 K" when short, for narrow table columns)."""
    k, m = ("K", "M") if short else ("KB", "MB")
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} {k}"
    return f"{n / 1024 / 1024:.1f} {m}"


@dataclass
class PreparedRequest:
    """A request exactly as it will be sent. `secrets` are values to mask on display."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    secrets: list[str] = field(default_factory=list)

    def mask(self, text: str) -> str:
        """`text` with every secret of this request masked (an error, a server's echo)."""
        return mask_text(text, self.secrets)

    def masked_headers(self) -> dict[str, str]:
        return mask_headers(self.headers, self.secrets)

    def masked_url(self) -> str:
        return mask_url(self.url, self.secrets)

    def masked_body(self) -> str:
        if not self.body:
            return ""
        return mask_text(self.body.decode("utf-8", "replace"), self.secrets)


@dataclass
class Exchange:
    """A request, what came back, and how long each part took.

    Timings follow DESIGN section 5; a value is None when that point was never
    reached (no headers, no audio...). `error` holds the one-line message of a
    failed exchange; `body` holds the raw response bytes (audio or error text),
    possibly cut at the size cap.
    """

    request: PreparedRequest
    service: str = ""
    id: int = field(default_factory=lambda: next(_ids))
    started_at: float = field(default_factory=time.time)
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    content_type: str = ""
    body: bytes = b""
    bytes: int = 0
    connect_ms: float | None = None
    ttfb_ms: float | None = None
    ttfa_ms: float | None = None
    total_ms: float | None = None
    audio_s: float | None = None
    format: str | None = None
    error: str | None = None
    truncated: bool = False
    t0: float | None = None  # time.perf_counter() when the request started; timings count from it
    body_dropped: bool = False  # the audio body was cleared to bound memory (old log entries)
    # How the answer was read: by which reader ("raw", "pcm", "sse", "ndjson",
    # "json", "url"), at what rate, and where it disagreed with the config.
    reader: str | None = None
    rate: int | None = None
    channels: int | None = None
    notes: list[str] = field(default_factory=list)
    first_audio_after_body: bool = False  # no sample could be decoded before the last byte
    reason: str = ""  # the status line's reason phrase ("Bad Request")
    text: str = ""  # the text spoken, when the workbench sent it (history: speak again, load back)
    part: str = ""  # "2/5" for the second of five chunks of one long text ("" for a whole text)
    # The request headers as they went on the wire, with those the HTTP stack
    # adds (Host, User-Agent, Content-Length); empty until they are sent.
    sent_headers: dict[str, str] = field(default_factory=dict)

    @property
    def status_line(self) -> str:
        """The status with its reason phrase, "HTTP 400 Bad Request"; "no answer" when none came."""
        if self.status is None:
            return "no answer"
        reason = self.reason
        if not reason:
            from http import HTTPStatus

            try:
                reason = HTTPStatus(self.status).phrase
            except ValueError:
                reason = ""
        return f"HTTP {self.status} {reason}".rstrip()

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def rtf(self) -> float | None:
        if self.total_ms is None or not self.audio_s:
            return None
        return self.total_ms / 1000.0 / self.audio_s

    def metrics(self) -> dict[str, Any]:
        """The DESIGN section 5 metrics, as `--json` prints them."""
        def r(v: float | None, nd: int = 1) -> float | None:
            return None if v is None else round(v, nd)

        return {
            "service": self.service,
            "status": self.status,
            "connect_ms": r(self.connect_ms),
            "ttfb_ms": r(self.ttfb_ms),
            "ttfa_ms": r(self.ttfa_ms),
            "total_ms": r(self.total_ms),
            "bytes": self.bytes,
            "audio_s": r(self.audio_s, 3),
            "rtf": r(self.rtf, 4),
            "content_type": self.content_type,
            "format": self.format,
            "rate": self.rate,
            "channels": self.channels,
            "reader": self.reader,
            "first_audio_after_body": self.first_audio_after_body,
            "notes": list(self.notes),
            "error": self.error,
        }
