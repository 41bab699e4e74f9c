"""Audio out of a server-sent-events answer (`text/event-stream`).

Events may be split anywhere across chunks; CRLF, CR, comments and
multi-line `data:` fields are accepted. What an event carries is read by
`events.audio_in_event`: OpenAI's `speech.audio.delta` with base64 `audio`,
and the other shapes servers use.
"""

from __future__ import annotations

from tts_tui.core.answer.events import EventAudio, read_event


class SseAudioParser:
    """Audio bytes out of an SSE answer, event by event. `done` turns True at
    `speech.audio.done`, `[DONE]` or another end event."""

    def __init__(self) -> None:
        self._pending = bytearray()
        self._data: list[str] = []
        self._event = ""
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
                value = value[1:] if value.startswith(" ") else value
                if name == "data":
                    self._data.append(value)
                elif name == "event":
                    self._event = value

    def close(self) -> list[bytes]:
        """End of the stream: an event left without its blank line still counts."""
        out = self.feed(b"\n") if self._pending else []
        return out + self.feed(b"\n")

    def _dispatch(self) -> list[bytes]:
        name, self._event = self._event, ""
        if not self._data:
            return []
        text, self._data = "\n".join(self._data), []
        self.events += 1
        found: EventAudio = read_event(text, name, where="an SSE event")
        self.done = self.done or found.done
        return [found.audio] if found.audio else []


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
