"""Raw sample layouts, and the WAV header that declares one.

A `SampleLayout` says how to turn raw bytes into float32 frames: the sample
encoding (signed or unsigned integers, floats), width, byte order, channels
and rate. Raw PCM answers get one from their Content-Type or the config; WAV
answers from their `fmt ` chunk.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tts_tui.core.errors import AudioError

if TYPE_CHECKING:
    import numpy as np

PLACEHOLDER_SIZES = (0, 0xFFFFFFFF)  # streamed WAVs do not know their length
MAX_RATE = 768_000
MAX_CHANNELS = 32


@dataclass
class SampleLayout:
    """How raw sample bytes become float32 frames of shape (frames, channels)."""

    kind: str  # "int" (signed) | "uint" | "float" | "other" (a WAV codec only a decoder library reads)
    width: int  # bytes per sample
    channels: int
    rate: int
    big_endian: bool = False
    data_start: int = 0  # WAV: where the samples start
    data_end: int | None = None  # WAV: where they end; None: to the end of the bytes (streamed)

    @property
    def block(self) -> int:
        return self.width * self.channels

    @property
    def name(self) -> str:
        """ffmpeg-style name: s16le, s16be, u8, f32le..."""
        letter = {"int": "s", "uint": "u", "float": "f"}.get(self.kind, "?")
        order = "" if self.width == 1 else "be" if self.big_endian else "le"
        return f"{letter}{self.width * 8}{order}"

    def convert(self, raw: bytes | bytearray | memoryview) -> np.ndarray:
        """Whole frames of `raw` as float32 of shape (frames, channels).
        Converting bytes in pieces gives the same samples as converting them
        whole (every step is per sample)."""
        import numpy as np  # here, not at import: a WAV only counted or saved needs none

        raw = bytes(raw)
        raw = raw[: len(raw) // self.block * self.block]
        order = ">" if self.big_endian else "<"
        if self.kind == "float":
            values = np.frombuffer(raw, dtype=f"{order}f{self.width}").astype(np.float32)
        elif self.width == 1:
            signed = np.frombuffer(raw, dtype=np.int8 if self.kind == "int" else np.uint8).astype(np.float32)
            values = signed / 128.0 if self.kind == "int" else (signed - 128.0) / 128.0
        elif self.width == 3:
            triples = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
            wide = np.zeros((len(triples), 4), dtype=np.uint8)
            # the three bytes go to the top of a little-endian int32
            wide[:, 1:] = triples[:, ::-1] if self.big_endian else triples
            values = wide.view("<i4").reshape(-1).astype(np.float32) / 2.0**31
        else:
            dtype = f"{order}{'i' if self.kind == 'int' else 'u'}{self.width}"
            values = np.frombuffer(raw, dtype=dtype).astype(np.float32)
            if self.kind == "uint":
                values -= float(2 ** (8 * self.width - 1))
            values /= float(2 ** (8 * self.width - 1))
        return values.reshape(-1, self.channels)


def check_rate_channels(rate: int, channels: int, where: str) -> None:
    """Refuse a rate or channel count no audio has (a 0 would divide by zero later)."""
    if not 1 <= rate <= MAX_RATE or not 1 <= channels <= MAX_CHANNELS:
        raise AudioError(f"{where} declares {rate} Hz and {channels} channel(s)",
                         hint=f"a rate is 1..{MAX_RATE} Hz and channels 1..{MAX_CHANNELS}")


def parse_wav(data: bytes | bytearray, *, final: bool) -> SampleLayout | None:
    """Walk the RIFF chunks up to `data`. None when more bytes are needed (or,
    when `final`, when a decoder library should try: RIFX, no usable header)."""
    if bytes(data[:4]) == b"RIFX":
        return None
    fmt: SampleLayout | None = None
    pos = 12
    while pos + 8 <= len(data):
        cid, size = bytes(data[pos : pos + 4]), struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if cid == b"fmt ":
            if body + min(size, 40) > len(data):
                break
            fmt = _parse_fmt(bytes(data[body : body + min(size, 40)]))
        elif cid == b"data":
            if fmt is None:
                raise AudioError("the WAV answer has its data before its format", hint="the server wrote a broken WAV header")
            fmt.data_start = body
            fmt.data_end = None if size in PLACEHOLDER_SIZES else body + size
            return fmt
        pos = body + size + (size & 1)
    if final and fmt is None and len(data) < 44:
        raise AudioError(f"the WAV answer is cut short ({len(data)} bytes, no complete header)",
                         hint="the server closed the connection early")
    return None


def _parse_fmt(body: bytes) -> SampleLayout:
    if len(body) < 16:
        raise AudioError("the WAV answer has a broken format chunk", hint="the server wrote a broken WAV header")
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", body)
    if tag == 0xFFFE and len(body) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag opens the GUID
        tag = struct.unpack_from("<H", body, 24)[0]
    if channels == 0 or rate == 0:
        raise AudioError("the WAV answer declares 0 channels or a 0 Hz rate", hint="the server wrote a broken WAV header")
    width = block_align // channels if block_align and block_align % channels == 0 else (bits + 7) // 8
    kind = "other"
    if tag == 1 and width in (1, 2, 3, 4):
        kind = "uint" if width == 1 else "int"  # 8-bit WAV is unsigned
    elif tag == 3 and width in (4, 8):
        kind = "float"
    return SampleLayout(kind, width, channels, rate)
