"""The listener link, version 1: one TCP connection from a sender (the
tts-tui that speaks) to a listener (the laptop that plays).

The sender opens with a 5-byte preamble, `TTSL` and the version byte, then
both sides exchange frames: a kind byte, a big-endian uint32 payload length,
the payload. Payloads are UTF-8 JSON objects, except AUDIO, which is raw
little-endian signed 16-bit PCM, interleaved, whole frames only.

    sender -> listener                     listener -> sender
    HELLO   {"who", "nonce"}               WELCOME {"device", "silent", "version",
                                                    "nonce", "proof"}  (the last two with a token)
    AUTH    {"proof"}  (with a token)
    START   {"n", "clip", "format": "s16le", "rate", "channels"}
    AUDIO   s16le bytes of the open clip   STATUS  {"clip", "ack", "state", "position",
    END     {"n", "clip"}                           "age", "device", "error"}
    CONTROL {"n", "clip", "op": pause|resume|stop|seek, "to": 0}
    BYE     {"reason"}                     BYE     {"reason"}   (then the side closes)
                                           ERROR   {"code", "error"} (then the listener closes)

The token never crosses the link. A listener that requires one answers the
hello with its own nonce and `proof` = HMAC-SHA256(token, "listener:" + the
sender's nonce); the sender checks it (so its audio never goes to another
user's process that holds the port) and sends AUTH with HMAC-SHA256(token,
"sender:" + the listener's nonce) before anything else, without waiting.

`n` numbers the sender's commands; a STATUS carries in `ack` the last one the
listener applied, so a sender can tell a status sent before its pause from
one sent after. `age` is seconds since the clip's first sample reached the
listener's device (null before), which lets the sender place that moment on
its own clock. The preamble and the ERROR frame are frozen across versions, so
a listener can always tell a newer sender why it is refused.

ERROR codes: "version", "token", "busy", "protocol". A STATUS with state
"error" refuses one clip (bad rate, unknown format) and the link goes on.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import struct
from typing import Any

import numpy as np

MAGIC = b"TTSL"
VERSION = 1
PREAMBLE = MAGIC + bytes([VERSION])
PREAMBLE_SIZE = len(PREAMBLE)
MAX_PAYLOAD = 1 << 20  # a frame larger than this is garbage, not audio
AUDIO_CHUNK_BYTES = 16384  # a long clip leaves in pieces, so a stop can drop the rest
FORMATS = ("s16le",)
MAX_CHANNELS = 8
RATES = range(4000, 384001)

HELLO, WELCOME, AUTH, ERROR, START, AUDIO, END, CONTROL, STATUS, BYE = (
    b"H", b"W", b"T", b"E", b"S", b"A", b"N", b"C", b"P", b"B")
KINDS = {HELLO, WELCOME, AUTH, ERROR, START, AUDIO, END, CONTROL, STATUS, BYE}
CONTROL_OPS = ("pause", "resume", "stop", "seek")

_HEADER = struct.Struct(">cI")


class ProtocolError(Exception):
    """The peer sent something this version cannot read (garbage, a frame too
    large, bad JSON); the connection cannot go on."""


def frame(kind: bytes, payload: dict[str, Any] | bytes) -> bytes:
    """One frame on the wire. A dict payload is JSON-encoded."""
    body = payload if isinstance(payload, bytes | bytearray | memoryview) else json.dumps(payload).encode()
    return _HEADER.pack(kind, len(body)) + bytes(body)


def nonce() -> str:
    return secrets.token_hex(16)


def proof(token: str, role: str, their_nonce: str) -> str:
    """HMAC-SHA256(token, role + ":" + the other side's nonce), hex."""
    return hmac.new(token.encode(), f"{role}:{their_nonce}".encode(), hashlib.sha256).hexdigest()


def proof_ok(token: str, role: str, their_nonce: str, given: object) -> bool:
    return isinstance(given, str) and hmac.compare_digest(proof(token, role, their_nonce), given)


def check_preamble(data: bytes) -> int:
    """The version a sender's preamble announces; ProtocolError when it is not one."""
    if len(data) != PREAMBLE_SIZE or data[:4] != MAGIC:
        raise ProtocolError("not a tts-tui sender (bad preamble)")
    return data[4]


class FrameReader:
    """Turns received bytes into frames, however the bytes were split.

    `feed()` returns the frames the bytes complete, as (kind, payload) with
    payload a dict (JSON kinds) or bytes (AUDIO); ProtocolError on garbage.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[bytes, Any]]:
        self._buffer += data
        frames: list[tuple[bytes, Any]] = []
        while len(self._buffer) >= _HEADER.size:
            kind, size = _HEADER.unpack_from(self._buffer)
            if kind not in KINDS:
                raise ProtocolError(f"unknown frame kind {kind!r}")
            if size > MAX_PAYLOAD:
                raise ProtocolError(f"frame of {size} bytes is larger than {MAX_PAYLOAD}")
            end = _HEADER.size + size
            if len(self._buffer) < end:
                break
            body = bytes(self._buffer[_HEADER.size:end])
            del self._buffer[:end]
            frames.append((kind, body if kind == AUDIO else _json(kind, body)))
        return frames


def _json(kind: bytes, body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ProtocolError(f"frame {kind.decode()} is not JSON") from None
    if not isinstance(value, dict):
        raise ProtocolError(f"frame {kind.decode()} is not a JSON object")
    return value


def to_s16le(frames: np.ndarray) -> bytes:
    """float32 frames (n, channels) in [-1, 1] as interleaved s16le (clipped)."""
    scaled = np.clip(np.asarray(frames, dtype=np.float32), -1.0, 1.0) * 32767.0
    return np.rint(scaled).astype("<i2").tobytes()


def from_s16le(data: bytes, channels: int) -> np.ndarray:
    """Interleaved s16le as float32 frames (n, channels); ValueError when
    `data` does not hold whole frames."""
    if len(data) % (2 * channels):
        raise ValueError(f"{len(data)} bytes are not whole {channels}-channel s16 frames")
    return (np.frombuffer(data, "<i2").astype(np.float32) / 32768.0).reshape(-1, channels)


def clip_problem(start: dict[str, Any]) -> str | None:
    """Why a START cannot be played (None when it can)."""
    fmt, rate, channels = start.get("format"), start.get("rate"), start.get("channels")
    if fmt not in FORMATS:
        return f"unknown audio format {fmt!r} (this listener plays {', '.join(FORMATS)})"
    if not isinstance(rate, int) or isinstance(rate, bool) or rate not in RATES:
        return f"{rate!r} is not a sample rate"
    if not isinstance(channels, int) or isinstance(channels, bool) or not 1 <= channels <= MAX_CHANNELS:
        return f"{channels!r} is not a channel count"
    return None
