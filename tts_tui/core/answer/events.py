"""What one streamed event (an SSE event, an NDJSON line) carries: audio, an
end mark, or an error.

Shapes read, as servers send them:
- OpenAI: `{"type": "speech.audio.delta", "audio": "<base64>"}`, then
  `{"type": "speech.audio.done"}`;
- objects with base64 audio under `audio`, `audio_base64`, `audio_chunk`,
  `chunk`, `data`, `delta` or `b64_json`, at the top or one level down
  (`{"delta": {"audio": ...}}`, `{"data": {"audio": ...}}`);
- a bare base64 string as the event's data;
- `[DONE]`, or `type`/`event` of `done`, `end`, `complete`... as the end;
- `{"type": "error", ...}` or an `error` key: the server's error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from tts_tui.core.errors import AudioError

AUDIO_KEYS = ("audio", "audio_base64", "audio_b64", "audio_chunk", "audio_data", "chunk", "data", "delta", "b64_json")
_END_TYPES = {"speech.audio.done", "done", "end", "complete", "completed", "finished", "stop", "audio.done"}
_BASE64 = re.compile(r"[A-Za-z0-9+/=_\-\s]+")
MAX_DEPTH = 2


@dataclass
class EventAudio:
    """The audio bytes one event carried, and whether it marked the end."""

    audio: bytes = b""
    done: bool = False


def read_event(text: str, name: str = "", *, where: str = "an event") -> EventAudio:
    """The audio (and end mark) in one event's data `text`. Raises AudioError
    for an error event and for data that is neither JSON nor base64."""
    stripped = text.strip()
    if stripped == "[DONE]" or name.lower() in _END_TYPES:
        return EventAudio(done=True)
    if not stripped:
        return EventAudio()
    try:
        event = json.loads(stripped)
    except (ValueError, RecursionError):
        if _BASE64.fullmatch(stripped):
            return EventAudio(decode_base64(stripped, where))
        excerpt = stripped if len(stripped) <= 80 else stripped[:80] + "…"
        raise AudioError(f"{where} is neither JSON nor base64 audio: {excerpt}",
                         hint="the server streams something other than audio events") from None
    if isinstance(event, str):
        return EventAudio(decode_base64(event, where))
    if not isinstance(event, dict):
        return EventAudio()
    kind = str(event.get("type") or event.get("event") or "").lower()
    if kind == "error" or "error" in event:
        detail = event.get("error")
        message = detail.get("message") if isinstance(detail, dict) else detail
        raise AudioError(f"the server sent an error event: {message or stripped[:80]}")
    audio = audio_in_object(event, where)
    return EventAudio(audio or b"", done=kind in _END_TYPES or event.get("done") is True)


def audio_in_object(obj: dict[str, Any], where: str, depth: int = 0) -> bytes | None:
    """Base64 audio under one of AUDIO_KEYS, at most MAX_DEPTH levels down."""
    for key in AUDIO_KEYS:
        value = obj.get(key)
        if isinstance(value, str) and value:
            return decode_base64(value, where)
        if isinstance(value, dict) and depth < MAX_DEPTH:
            found = audio_in_object(value, where, depth + 1)
            if found is not None:
                return found
    return None


def decode_base64(value: str, where: str) -> bytes:
    """Base64 (standard or URL-safe, padding optional, a data: URI too)."""
    import base64  # here: an answer that is audio from its first byte (most of them) needs none
    import binascii

    if value.startswith("data:"):
        value = value.partition(",")[2]
    value = "".join(value.split())
    try:
        if "-" in value or "_" in value:
            return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise AudioError(f"the audio in {where} is not valid base64", hint="the server sent a broken event") from exc
