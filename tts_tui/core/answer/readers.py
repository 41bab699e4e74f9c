"""Readers: one per shape of answer, each turning body chunks into frames.

Every reader has the same small surface, so the pipeline does not care which
one the answer picked:

    frames = reader.feed(chunk)   # float32 frames the chunk completes, or None
    frames = reader.finish()      # the rest, once the body is complete
    reader.stream                 # the AudioStream: rate, channels, format, bytes
    reader.fetch_url              # set by the URL reader: where the audio is

The audio inside an answer (the body itself, SSE deltas, NDJSON lines, a JSON
field) always goes through one `AudioStream`, which sniffs its container.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from tts_tui.core.answer.decoders import AudioStream
from tts_tui.core.answer.events import AUDIO_KEYS, decode_base64, read_event
from tts_tui.core.answer.layout import SampleLayout
from tts_tui.core.answer.sse import SseAudioParser
from tts_tui.core.errors import AudioError, RequestError
from tts_tui.core.json_path import json_path

if TYPE_CHECKING:
    import numpy as np

MAX_JSON_DEPTH = 64


class Reader:
    """A body read as raw audio bytes (the most common answer)."""

    name = "raw"

    def __init__(self, stream: AudioStream) -> None:
        self.stream = stream
        self.fetch_url: str | None = None

    def feed(self, chunk: bytes) -> np.ndarray | None:
        return self.stream.feed(chunk)

    def finish(self) -> np.ndarray | None:
        return self.stream.finish()

    def close(self) -> None:
        self.stream.close()


class PcmReader(Reader):
    """A body of raw samples in a layout the Content-Type or config gave."""

    name = "pcm"

    def __init__(self, layout: SampleLayout) -> None:
        super().__init__(AudioStream(layout, weak_sync=False))
        self.layout = layout


class SseReader(Reader):
    """`text/event-stream`: audio in base64 events, decoded as they come."""

    name = "sse"

    def __init__(self, stream: AudioStream) -> None:
        super().__init__(stream)
        self._parser = SseAudioParser()

    def feed(self, chunk: bytes) -> np.ndarray | None:
        return _join(self.stream.feed(piece) for piece in self._parser.feed(chunk))

    def finish(self) -> np.ndarray | None:
        head = _join(self.stream.feed(piece) for piece in self._parser.close())
        if not self.stream.data:
            raise AudioError(f"the event stream held no audio ({self._parser.events} events)",
                             hint="check the service's text and voice; the server sent no audio deltas")
        return _join([head, self.stream.finish()])


class NdjsonReader(Reader):
    """Newline-delimited JSON objects, each with a base64 audio chunk."""

    name = "ndjson"

    def __init__(self, stream: AudioStream) -> None:
        super().__init__(stream)
        self._pending = bytearray()
        self.lines = 0

    def feed(self, chunk: bytes) -> np.ndarray | None:
        self._pending += chunk
        out = []
        while (cut := self._pending.find(b"\n")) != -1:
            line = self._pending[:cut].decode("utf-8", "replace")
            del self._pending[: cut + 1]
            out.append(self._line(line))
        return _join(out)

    def finish(self) -> np.ndarray | None:
        head = self._line(self._pending.decode("utf-8", "replace")) if self._pending.strip() else None
        self._pending.clear()
        if not self.stream.data:
            raise AudioError(f"the JSON lines held no audio ({self.lines} lines)",
                             hint=f"each line should carry base64 audio under one of: {', '.join(AUDIO_KEYS[:5])}")
        return _join([head, self.stream.finish()])

    def _line(self, line: str) -> np.ndarray | None:
        if not line.strip():
            return None
        self.lines += 1
        found = read_event(line, where=f"JSON line {self.lines}")
        return self.stream.feed(found.audio) if found.audio else None


class JsonReader(Reader):
    """A whole JSON answer holding the audio: base64 at a path (`json:PATH`),
    a URL at a path (`url:PATH`, then `fetch_url` is set), or found by the
    usual keys when the config names no path. Nothing plays before the
    answer is complete."""

    name = "json"

    def __init__(self, stream: AudioStream, mode: str, path: str, request_url: str) -> None:
        super().__init__(stream)
        self.mode, self.path, self._request_url = mode, path, request_url
        self._body = bytearray()
        self._lines: NdjsonReader | None = None
        self.found: str | None = None  # where "auto" found the audio, as a response setting
        if mode == "url":
            self.name = "url"

    def feed(self, chunk: bytes) -> np.ndarray | None:
        if self._lines is not None:
            return self._lines.feed(chunk)
        self._body += chunk
        if self.mode == "auto" and self._lines is None and self._is_json_lines():
            # one JSON object a line, labelled application/json (Kokoro does): stream it
            self.name, self._lines = "ndjson", NdjsonReader(self.stream)
            body, self._body = bytes(self._body), bytearray()
            return self._lines.feed(body)
        return None

    def _is_json_lines(self) -> bool:
        cut = self._body.find(b"\n")
        if cut == -1 or not self._body[cut:].strip():
            return False
        try:
            first = json.loads(self._body[:cut])
        except (ValueError, RecursionError):
            return False
        return isinstance(first, dict) and any(isinstance(first.get(k), str) for k in AUDIO_KEYS)

    def finish(self) -> np.ndarray | None:
        if self._lines is not None:
            return self._lines.finish()
        data = parse_json(bytes(self._body), self.mode, self.path)
        mode, path = self.mode, self.path
        if mode == "auto":
            found = find_audio(data)
            if found is None:
                raise AudioError(f"the answer is JSON, not audio: {_excerpt(self._body)}",
                                 hint='if the audio is inside, set response = "json:PATH" or "url:PATH"')
            self.found = found
            mode, path = found.split(":", 1)
        value = json_path(data, path)
        if not isinstance(value, str) or not value:
            raise RequestError(f"the answer has no string at {path!r}", hint=f"keys there: {_keys_hint(data)}")
        if mode == "url":
            self.name = "url"
            self.fetch_url = urljoin(self._request_url, value)
            return None
        self.stream.late = True
        audio = decode_base64(value, f"the answer's {path!r}")
        return _join([self.stream.feed(audio), self.stream.finish()])


def parse_json(body: bytes, mode: str, path: str) -> Any:
    try:
        return json.loads(body)
    except RecursionError:
        raise RequestError(f"the JSON answer is nested too deeply ({len(body)} bytes)",
                           hint="the server sent a malformed answer") from None
    except (ValueError, UnicodeDecodeError):
        setting = f"{mode}:{path}" if mode != "auto" else "json"
        raise RequestError(
            f'response = "{setting}" expects JSON, but the answer is not JSON: {_excerpt(body)!r}',
            hint='use response = "body" if the server returns audio bytes',
        ) from None


def find_audio(data: Any) -> str | None:
    """Where a JSON answer holds its audio, as a `response` setting: base64
    audio (or a data: URI) first, then an audio URL, a few levels deep:
    `json:audio`, `json:result.audio.data`, `url:audio_url`."""
    from tts_tui.core.answer.decoders import container

    urls: list[str] = []

    def walk(node: Any, path: str, depth: int) -> str | None:
        if depth > 4:
            return None
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, value in items:
            here = f"{path}.{key}" if path else str(key)
            if isinstance(value, str):
                raw = value.partition(",")[2] if value.startswith("data:") else value
                if len(raw) >= 64:
                    try:
                        head = decode_base64(raw[:64], "")
                    except AudioError:
                        head = b""
                    if container(head + bytes(64)):
                        return f"json:{here}"
                hints = (".wav", ".mp3", ".ogg", ".opus", ".flac", ".m4a", ".aac", "audio")
                if _looks_like_url(value) and any(h in value.lower() or h in str(key).lower() for h in hints):
                    urls.append(f"url:{here}")
            elif isinstance(value, (dict, list)):
                found = walk(value, here, depth + 1)
                if found:
                    return found
        return None

    return walk(data, "", 0) or (urls[0] if urls else None)


def suggest_response(body: bytes) -> str | None:
    """For a JSON answer that holds audio, the `response` setting that reads it."""
    try:
        return find_audio(json.loads(body))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _looks_like_url(value: str) -> bool:
    return value.startswith(("http://", "https://", "/"))


def _keys_hint(data: Any) -> str:
    if isinstance(data, dict):
        return ", ".join(list(data)[:10]) or "(empty object)"
    return type(data).__name__


def _excerpt(body: bytes | bytearray, limit: int = 80) -> str:
    text = " ".join(bytes(body[: limit * 2]).decode("utf-8", "replace").split())
    return text if len(text) <= limit else text[:limit] + "…"


def _join(parts: Any) -> np.ndarray | None:
    frames = [p for p in parts if p is not None and len(p)]
    if not frames:
        return None
    if len(frames) == 1:
        return frames[0]
    import numpy as np

    return np.concatenate(frames)
