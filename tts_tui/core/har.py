"""HAR 1.2 export of exchanges, for browsers' and proxies' HAR viewers.

Secrets never reach the file: request and response headers named like secrets,
query parameters named like secrets, and every literal secret value (an API key
echoed in a body or an error) are masked. Audio bodies are left out unless
asked for, since a few seconds of audio is megabytes of base64.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import tempfile
from collections.abc import Iterable
from datetime import datetime, timezone
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tts_tui.core.errors import TtsError
from tts_tui.core.exchange import Exchange
from tts_tui.core.masking import mask_headers, mask_text

# The client speaks HTTP/1.1 only (see client.py), so this is what went on the wire.
HTTP_VERSION = "HTTP/1.1"


def to_har(
    exchanges: Iterable[Exchange], *, include_audio: bool = False, creator_version: str | None = None
) -> dict[str, Any]:
    """A HAR 1.2 document (`{"log": {...}}`) with one entry per exchange, in order.

    Callers can rely on: every entry's `time` equals the sum of its
    non-negative `timings` (connect, send, wait, receive; blocked, dns and ssl
    are -1); a failed exchange has a `_error` message and, when no answer came
    back, response status 0; audio (and other binary) bodies are omitted with a
    `comment` unless `include_audio`, then base64 with `encoding: "base64"`;
    text bodies are kept as text. Secrets are masked everywhere.
    """
    if creator_version is None:
        from tts_tui import __version__ as creator_version
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "tts-tui", "version": creator_version},
            "pages": [],
            "entries": [_entry(ex, include_audio) for ex in exchanges],
        }
    }


def write_har(
    path: Path | str,
    exchanges: Iterable[Exchange],
    *,
    include_audio: bool = False,
    creator_version: str | None = None,
) -> Path:
    """Write `to_har(...)` to `path` atomically (a reader never sees half a file).

    Parent folders are created. Returns the path written; raises TtsError with
    a one-line message when the file cannot be written.
    """
    target = Path(path).expanduser()
    doc = to_har(exchanges, include_audio=include_audio, creator_version=creator_version)
    payload = json.dumps(doc, indent=2, ensure_ascii=False).encode("utf-8")
    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise TtsError(f"cannot write {target}: {exc.strerror or exc}", hint="choose a folder you can write to") from exc
    return target


def _entry(ex: Exchange, include_audio: bool) -> dict[str, Any]:
    req = ex.request
    url = req.masked_url()

    def clean(text: str) -> str:
        # an error message may quote the URL; the raw one may hold a key
        return mask_text(text.replace(req.url, url), req.secrets)

    timings = _timings(ex)
    entry: dict[str, Any] = {
        "startedDateTime": datetime.fromtimestamp(ex.started_at, tz=timezone.utc).isoformat(timespec="milliseconds"),
        "time": sum(v for v in timings.values() if v >= 0),
        "request": _request(ex, url, clean),
        "response": _response(ex, include_audio, clean),
        "cache": {},
        "timings": timings,
        "_service": ex.service,
        "_metrics": {**ex.metrics(), "error": clean(ex.error) if ex.error else None},
    }
    if ex.error is not None:
        entry["_error"] = clean(ex.error)
    return entry


def _pairs(items: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in items]


def _masked_headers(headers: dict[str, str], clean: Any) -> list[dict[str, str]]:
    return _pairs((name, clean(value)) for name, value in mask_headers(headers).items())


def _request(ex: Exchange, url: str, clean: Any) -> dict[str, Any]:
    req = ex.request
    out: dict[str, Any] = {
        "method": req.method,
        "url": url,
        "httpVersion": HTTP_VERSION,
        "cookies": [],
        "headers": _masked_headers(req.headers, clean),
        "queryString": _pairs(parse_qsl(urlsplit(url).query, keep_blank_values=True)),
        "headersSize": -1,
        "bodySize": len(req.body or b""),
    }
    if req.body:
        mime = next((v for k, v in req.headers.items() if k.lower() == "content-type"), "")
        out["postData"] = {"mimeType": mime, "params": [], "text": req.masked_body()}
    return out


def _response(ex: Exchange, include_audio: bool, clean: Any) -> dict[str, Any]:
    if ex.status is None:
        return {
            "status": 0, "statusText": "", "httpVersion": "", "cookies": [], "headers": [],
            "content": {"size": 0, "mimeType": "x-unknown"},
            "redirectURL": "", "headersSize": -1, "bodySize": -1,
        }
    try:
        phrase = HTTPStatus(ex.status).phrase
    except ValueError:
        phrase = ""
    return {
        "status": ex.status,
        "statusText": phrase,
        "httpVersion": HTTP_VERSION,
        "cookies": [],
        "headers": _masked_headers(ex.response_headers, clean),
        "content": _content(ex, include_audio, clean),
        "redirectURL": "",
        "headersSize": -1,
        "bodySize": ex.bytes,
    }


def _content(ex: Exchange, include_audio: bool, clean: Any) -> dict[str, Any]:
    content: dict[str, Any] = {"size": ex.bytes, "mimeType": ex.content_type or "x-unknown"}
    text = _as_text(ex)
    if ex.body_dropped:
        content["comment"] = f"audio dropped from the log to save memory ({ex.bytes} bytes)"
    elif text is not None:
        content["text"] = clean(text)
    elif include_audio:
        content["text"] = base64.b64encode(ex.body).decode("ascii")
        content["encoding"] = "base64"
    elif ex.body:
        kind = "audio" if _is_audio(ex) else "binary body"
        content["comment"] = f"{kind} omitted ({ex.bytes} bytes); export with audio included to keep it"
    if ex.truncated:
        content["comment"] = (content.get("comment", "") + " (the answer was cut)").lstrip()
    return content


def _is_audio(ex: Exchange) -> bool:
    return ex.format is not None or ex.content_type.lower().startswith("audio/")


def _as_text(ex: Exchange) -> str | None:
    """The body as text when it is text (JSON, HTML, an error), else None."""
    if not ex.body or _is_audio(ex):
        return None if ex.body else ""
    try:
        return ex.body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _timings(ex: Exchange) -> dict[str, float]:
    """HAR phases from our marks: connect, then wait to the headers, then receive.

    The request is sent as part of what we time as waiting (httpx has no
    separate mark worth the noise), so `send` is 0. A reused connection has no
    connect phase (-1, as browsers write it).
    """
    total = ex.total_ms or 0.0
    connect = ex.connect_ms or 0.0
    ttfb = ex.ttfb_ms if ex.ttfb_ms is not None else total
    wait = max(0.0, min(ttfb, total) - connect)
    receive = max(0.0, total - connect - wait)
    return {
        "blocked": -1,
        "dns": -1,
        "connect": round(connect, 3) if connect > 0 else -1,
        "send": 0,
        "wait": round(wait, 3),
        "receive": round(receive, 3),
        "ssl": -1,
    }
