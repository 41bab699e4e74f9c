"""What a speech request asks for, read from OpenAI's or the generic body."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import parse_qs

from tts_tui.server import encode, espeak

MIN_SPEED = 0.25
MAX_SPEED = 4.0


class BadRequest(ValueError):
    """The request cannot be served; ``message`` is shown to the client as is."""

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param


@dataclass(frozen=True)
class SpeechRequest:
    text: str
    voice: str = espeak.DEFAULT_VOICE
    speed: float = 1.0
    fmt: str = "wav"
    sse: bool = False


def parse_json_object(body: bytes) -> dict[str, object]:
    """The body as a JSON object; BadRequest when it is empty, not JSON or not an object."""
    if not body.strip():
        raise BadRequest("the request body is empty: send a JSON object")
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the request body is not valid JSON: {exc}") from None
    except RecursionError:
        # The decoder recurses per level; a body of nothing but brackets
        # exhausts it. No speech request nests more than a couple of levels.
        raise BadRequest("the request body is nested too deeply: send a flat JSON object") from None
    if not isinstance(value, dict):
        raise BadRequest("the request body must be a JSON object")
    return value


def _text(value: object, param: str) -> str:
    if value is None:
        raise BadRequest(f"{param} is required", param=param)
    if not isinstance(value, str):
        raise BadRequest(f"{param} must be a string", param=param)
    if not value.strip():
        raise BadRequest(f"{param} is empty: give some text to speak", param=param)
    return value


def _voice(value: object) -> str:
    if value is None:
        return espeak.DEFAULT_VOICE
    if isinstance(value, dict):  # OpenAI's custom-voice form: {"id": "..."}
        value = value.get("id")
    if not isinstance(value, str):
        raise BadRequest("voice must be a string such as en-us", param="voice")
    return value


def _speed(value: object) -> float:
    if value is None:
        return 1.0
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise BadRequest(f"speed must be a number, got {value!r}", param="speed") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest("speed must be a number between 0.25 and 4.0", param="speed")
    if not MIN_SPEED <= value <= MAX_SPEED:
        raise BadRequest(f"speed must be between 0.25 and 4.0, got {value}", param="speed")
    return float(value)


def from_openai(body: dict[str, object]) -> SpeechRequest:
    """POST /v1/audio/speech; unknown fields (and ``instructions``) are ignored."""
    text = _text(body.get("input"), "input")
    try:
        fmt = encode.check_format(body.get("response_format") or "mp3")
    except ValueError as exc:
        raise BadRequest(str(exc), param="response_format") from None
    stream_format = body.get("stream_format") or "audio"
    if stream_format not in ("audio", "sse"):
        raise BadRequest("stream_format must be audio or sse", param="stream_format")
    return SpeechRequest(
        text=text,
        voice=_voice(body.get("voice")),
        speed=_speed(body.get("speed")),
        fmt=fmt,
        sse=stream_format == "sse",
    )


def from_generic(body: dict[str, object]) -> SpeechRequest:
    """POST /api/tts with ``{"text", "voice", "speed"}``: always streamed WAV."""
    return SpeechRequest(
        text=_text(body.get("text"), "text"),
        voice=_voice(body.get("voice")),
        speed=_speed(body.get("speed")),
    )


def from_query(query: str) -> SpeechRequest:
    """GET /api/tts?text=...&voice=...&speed=...: always streamed WAV."""
    fields = {name: values[-1] for name, values in parse_qs(query, keep_blank_values=True).items()}
    return from_generic(dict(fields))
