"""Audio out of an OpenAI `stream_format = "sse"` answer (server-sent events)."""

from __future__ import annotations

import base64
import binascii
import json

from tts_tui.core.errors import AudioError


class SseAudioParser:
    """Audio bytes out of an OpenAI `stream_format = "sse"` answer.

    Events may be split anywhere across chunks; CRLF, CR, comments and
    multi-line `data:` fields are accepted. `speech.audio.delta` events give
    their base64 `audio`; `speech.audio.done` (or `[DONE]`) sets `done`.
    """

    def __init__(self) -> None:
        self._pending = bytearray()
        self._data: list[str] = []
        self.done = False
        self.events = 0

    def feed(self, chunk: bytes) -> list[bytes]:
        """The decoded audio of every event this chunk completes."""
        self._pending += chunk
        out: list[bytes] = []
        while True:
            cut = _line_end(self._pending)
            if cut is None:
                return out
            end, after = cut
            line = self._pending[:end].decode("utf-8", errors="replace")
            del self._pending[:after]
            if line == "":
                out.extend(self._dispatch())
            elif not line.startswith(":"):
                name, _, value = line.partition(":")
                if name == "data":
                    self._data.append(value[1:] if value.startswith(" ") else value)

    def close(self) -> list[bytes]:
        """End of the stream: an event left without its blank line still counts."""
        out = self.feed(b"\n") if self._pending else []
        return out + self.feed(b"\n")

    def _dispatch(self) -> list[bytes]:
        if not self._data:
            return []
        text, self._data = "\n".join(self._data), []
        self.events += 1
        if text.strip() == "[DONE]":
            self.done = True
            return []
        try:
            event = json.loads(text)
        except ValueError as exc:
            excerpt = text if len(text) < 80 else text[:80] + "…"
            raise AudioError(f"an SSE event is not JSON: {excerpt}", hint='set stream_format = "" if the server sends raw audio') from exc
        if not isinstance(event, dict):
            return []
        kind = event.get("type")
        if kind == "speech.audio.done":
            self.done = True
        elif kind == "speech.audio.delta":
            try:
                return [base64.b64decode(event.get("audio") or "", validate=False)]
            except (binascii.Error, TypeError) as exc:
                raise AudioError("an SSE audio delta is not valid base64", hint="the server sent a broken event") from exc
        elif kind == "error" or "error" in event:
            detail = event.get("error")
            message = detail.get("message") if isinstance(detail, dict) else detail
            raise AudioError(f"the server sent an error event: {message or text[:80]}")
        return []


def _line_end(buf: bytearray) -> tuple[int, int] | None:
    """(end of the first line, start of the next), or None if incomplete. A CR
    at the very end waits: the LF of its CRLF may be in the next chunk."""
    lf, cr = buf.find(b"\n"), buf.find(b"\r")
    if cr == -1:
        return None if lf == -1 else (lf, lf + 1)
    if lf != -1 and lf < cr:
        return lf, lf + 1
    if cr + 1 == len(buf):
        return None
    return cr, cr + 2 if buf[cr + 1] == 0x0A else cr + 1
