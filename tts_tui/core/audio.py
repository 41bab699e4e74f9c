"""Audio answers: sniff the format from the bytes, decode, stream, save.

The format is read from the bytes, never from Content-Type. WAV and raw PCM are
parsed here (streamed WAV carries placeholder sizes and extra chunks that
libsndfile may refuse); FLAC, Ogg (Vorbis/Opus) and MP3 go through soundfile.
numpy and soundfile are imported at module import: keep this module off the
first-paint path (import it in a worker).
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tts_tui.core.errors import AudioError
from tts_tui.core.model import PcmSpec

WORKING_FORMATS = "wav, pcm, flac, mp3, opus"
_PLACEHOLDER_SIZES = (0, 0xFFFFFFFF)
# Extensions save() knows, and the format whose bytes they hold.
_EXT_FORMAT = {".wav": "wav", ".mp3": "mp3", ".ogg": "ogg", ".oga": "ogg", ".opus": "ogg",
               ".flac": "flac", ".pcm": "pcm", ".raw": "pcm"}
_FORMAT_EXT = {"wav": ".wav", "mp3": ".mp3", "ogg": ".ogg", "flac": ".flac", "pcm": ".wav"}


@dataclass
class Audio:
    """Decoded audio plus the bytes it came from (what `save` writes back)."""

    samples: np.ndarray  # float32, shape (frames, channels)
    rate: int
    format: str  # "wav" | "mp3" | "ogg" | "flac" | "pcm"
    data: bytes = b""

    @property
    def frames(self) -> int:
        return int(self.samples.shape[0])

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration(self) -> float:
        """Length in seconds (0.0 for empty audio)."""
        return self.frames / self.rate if self.rate else 0.0


def sniff(data: bytes) -> str | None:
    """The audio format the bytes start with, or None when they are not audio.

    "wav", "mp3", "ogg", "flac" or "aac" (ADTS or an MP4 container, which cannot
    be decoded here). Text, JSON, HTML and empty input give None.
    """
    return _sniff(data, strong_only=False)


def _sniff(data: bytes, *, strong_only: bool) -> str | None:
    head = bytes(data[:12])
    if head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:3] == b"ID3":
        return "mp3"
    if head[4:8] == b"ftyp" or head[:4] == b"ADIF":
        return "aac"
    # A bare frame sync is weak evidence: raw PCM can start with the same bits.
    if strong_only or len(head) < 3 or head[0] != 0xFF:
        return None
    b1, b2 = head[1], head[2]
    if b1 & 0xF6 == 0xF0:  # 12-bit sync + layer 00: ADTS (0xFFF1 / 0xFFF9)
        return "aac"
    version, layer = (b1 >> 3) & 3, (b1 >> 1) & 3
    if b1 & 0xE0 == 0xE0 and version != 1 and layer != 0 and b2 >> 4 != 15 and (b2 >> 2) & 3 != 3:
        return "mp3"
    return None


def describe_non_audio(data: bytes) -> str:
    """A short human description of bytes that are not audio: kind and excerpt."""
    if not data:
        return "an empty answer (0 bytes)"
    text = bytes(data[:400]).decode("utf-8", errors="replace")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    if printable < 0.9 * len(text):
        return f"unrecognised binary data ({len(data)} bytes, starting {bytes(data[:8]).hex(' ')})"
    stripped = text.lstrip("\ufeff \r\n\t")
    first = stripped[:1]
    kind = "JSON" if first and first in "{[" else "HTML" if first == "<" else "text"
    excerpt = " ".join(stripped.split())
    if not excerpt:
        return f"blank text ({len(data)} bytes)"
    if len(excerpt) > 120 or len(data) > 400:
        excerpt = excerpt[:120].rstrip() + "…"
    return f"{kind}: {excerpt}"


def _not_audio(data: bytes) -> AudioError:
    if not data:
        return AudioError("the answer is empty (0 bytes)", hint="the server sent no audio; check its log")
    return AudioError(
        f"the answer is not audio but {describe_non_audio(data)}",
        hint='check the URL and body; if the audio is inside JSON, set response = "json:PATH"',
    )


def decode(data: bytes, *, pcm: PcmSpec | None = None, expected_format: str | None = None) -> Audio:
    """Decode a whole answer. The bytes decide the format; raw PCM (s16le) is
    assumed only when `pcm` is given or `expected_format == "pcm"` (default
    24000 Hz mono) and the bytes carry no container magic.

    Raises AudioError for AAC, non-audio (with an excerpt) and broken files. A
    truncated WAV decodes the whole frames that are there.
    """
    data = bytes(data)
    pcm = _pcm_spec(pcm, expected_format)
    fmt = _sniff(data, strong_only=pcm is not None)
    if fmt is None and pcm is not None:
        if not data:
            raise AudioError("the answer is empty (0 bytes of PCM)", hint="check the service's text and voice")
        layout = _Layout("int", 2, pcm.channels, pcm.rate)
        return Audio(layout.convert(data[: len(data) // layout.block * layout.block]), pcm.rate, "pcm", data)
    if fmt is None:
        raise _not_audio(data)
    if fmt == "aac":
        raise AudioError("AAC cannot be decoded here", hint=f"set the service's format to one of: {WORKING_FORMATS}")
    if fmt == "wav":
        layout = _parse_wav(data, final=True)
        if layout is not None and layout.kind != "other":
            end = len(data) if layout.data_end is None else min(layout.data_end, len(data))
            usable = (end - layout.data_start) // layout.block * layout.block
            raw = data[layout.data_start : layout.data_start + usable]
            return Audio(layout.convert(raw), layout.rate, "wav", data)
    return _decode_with_soundfile(data, fmt)


def _pcm_spec(pcm: PcmSpec | None, expected_format: str | None) -> PcmSpec | None:
    if pcm is None and expected_format == "pcm":
        return PcmSpec()
    return pcm


def _decode_with_soundfile(data: bytes, fmt: str) -> Audio:
    import soundfile

    try:
        samples, rate = soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile reports everything as RuntimeError subclasses
        detail = str(exc).split(":", 1)[-1].strip() or type(exc).__name__
        raise AudioError(
            f"cannot decode the {fmt.upper()} answer ({len(data)} bytes): {detail}",
            hint="the file may be truncated or use an unsupported codec; save it to inspect",
        ) from exc
    return Audio(np.ascontiguousarray(samples, dtype=np.float32), int(rate), fmt, data)


@dataclass
class _Layout:
    """How to turn raw sample bytes into float32 frames."""

    kind: str  # "int" | "float" | "other" (libsndfile must decode it)
    width: int  # bytes per sample
    channels: int
    rate: int
    data_start: int = 0
    data_end: int | None = None  # None: to the end of the bytes (streamed WAV)

    @property
    def block(self) -> int:
        return self.width * self.channels

    def convert(self, raw: bytes | bytearray | memoryview) -> np.ndarray:
        """Whole frames of `raw` as float32 of shape (frames, channels)."""
        raw = bytes(raw)
        if self.kind == "float":
            values = np.frombuffer(raw, dtype="<f4" if self.width == 4 else "<f8").astype(np.float32)
        elif self.width == 1:  # 8-bit WAV is unsigned
            values = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
        elif self.width == 3:
            wide = np.zeros((len(raw) // 3, 4), dtype=np.uint8)
            wide[:, 1:] = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3)
            values = wide.view("<i4").reshape(-1).astype(np.float32) / 2.0**31
        else:
            dtype = "<i2" if self.width == 2 else "<i4"
            values = np.frombuffer(raw, dtype=dtype).astype(np.float32) / float(2 ** (8 * self.width - 1))
        return values.reshape(-1, self.channels)


def _parse_wav(data: bytes | bytearray, *, final: bool) -> _Layout | None:
    """Walk the RIFF chunks up to `data`. None when more bytes are needed (or,
    when `final`, when libsndfile should try: RIFX, no usable header)."""
    if bytes(data[:4]) == b"RIFX":
        return None
    fmt: _Layout | None = None
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
            fmt.data_end = None if size in _PLACEHOLDER_SIZES else body + size
            return fmt
        pos = body + size + (size & 1)
    if final:
        if fmt is None and len(data) < 44:
            raise AudioError(f"the WAV answer is cut short ({len(data)} bytes, no complete header)",
                             hint="the server closed the connection early")
        return None
    return None


def _parse_fmt(body: bytes) -> _Layout:
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
        kind = "int"
    elif tag == 3 and width in (4, 8):
        kind = "float"
    return _Layout(kind, width, channels, rate)


class StreamDecoder:
    """Decode an answer while its bytes arrive.

    `feed` returns float32 frames as soon as they are complete for WAV (after
    its header) and raw PCM, carrying partial frames over to the next chunk.
    It returns None until the format is known, and always for formats that
    are buffered (mp3/ogg/flac) or WAV codecs only libsndfile reads. `finish`
    decodes all the bytes, exactly as `decode` would.
    """

    def __init__(self, *, pcm: PcmSpec | None = None, expected_format: str | None = None) -> None:
        self._pcm = _pcm_spec(pcm, expected_format)
        self._expected = expected_format
        self._given_pcm = pcm
        self._buf = bytearray()
        self._layout: _Layout | None = None
        self._next = 0  # offset of the first byte not yet returned
        self.streaming: bool | None = None  # None until the header has been read
        self.rate: int | None = None
        self.channels: int | None = None
        self.format: str | None = None

    @property
    def bytes_received(self) -> int:
        return len(self._buf)

    def feed(self, chunk: bytes) -> np.ndarray | None:
        """Add bytes; the frames they complete, or None (see the class doc).
        Raises AudioError when a WAV header is broken beyond reading."""
        self._buf += chunk
        if self.streaming is None:
            self._decide()
        if not self.streaming or self._layout is None:
            return None
        layout = self._layout
        end = len(self._buf) if layout.data_end is None else min(layout.data_end, len(self._buf))
        usable = max(0, end - self._next) // layout.block * layout.block
        raw = self._buf[self._next : self._next + usable]
        self._next += usable
        return layout.convert(raw)

    def _decide(self) -> None:
        buf = self._buf
        if len(buf) < 12 and not (self._pcm is not None and not _could_be_magic(bytes(buf))):
            return
        fmt = _sniff(buf, strong_only=self._pcm is not None)
        if fmt == "wav":
            layout = _parse_wav(buf, final=False)
            if layout is None:
                if bytes(buf[:4]) == b"RIFX":
                    self.format, self.streaming = "wav", False
                return
            self._layout, self._next = layout, layout.data_start
            self.streaming = layout.kind != "other"
        elif fmt is None and self._pcm is not None:
            fmt = "pcm"
            self._layout = _Layout("int", 2, self._pcm.channels, self._pcm.rate)
            self.streaming = True
        else:
            self.streaming = False
        self.format = fmt
        if self._layout is not None:
            self.rate, self.channels = self._layout.rate, self._layout.channels

    def finish(self) -> Audio:
        """The whole answer decoded (raises AudioError like `decode`)."""
        return decode(bytes(self._buf), pcm=self._given_pcm, expected_format=self._expected)


def _could_be_magic(head: bytes) -> bool:
    return any(magic.startswith(head) or head.startswith(magic) for magic in (b"RIFF", b"RIFX", b"RF64", b"OggS", b"fLaC", b"ID3"))


def save(audio: Audio, path: Path | str) -> Path:
    """Write `audio` to `path` (parent folders created, written atomically).

    The original bytes are written when the extension matches the format (a
    streamed WAV gets its placeholder sizes fixed); with no extension the
    format's own is added (raw PCM becomes .wav). Otherwise the samples are
    encoded with soundfile: .wav .flac .ogg .opus .mp3, or .pcm/.raw (s16le).
    Returns the path written. Raises AudioError on any failure.
    """
    target = Path(path).expanduser()
    ext = target.suffix.lower()
    if not ext:
        target = target.with_name(target.name + _FORMAT_EXT.get(audio.format, ".wav"))
        ext = target.suffix
    if ext not in _EXT_FORMAT:
        raise AudioError(f"cannot save as {ext!r}", hint="use .wav, .flac, .ogg, .opus, .mp3 or .pcm")
    if _EXT_FORMAT[ext] == audio.format and audio.data:
        payload = _fixed_wav_sizes(audio.data) if audio.format == "wav" else audio.data
    else:
        payload = _encode(audio, ext)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise AudioError(f"cannot save {target}: {exc.strerror or exc}", hint="choose a folder you can write to") from exc
    return target


def _encode(audio: Audio, ext: str) -> bytes:
    samples = np.clip(audio.samples, -1.0, 1.0)
    if ext in (".pcm", ".raw"):
        return (samples * 32768.0).round().clip(-32768, 32767).astype("<i2").tobytes()
    import soundfile

    rate = audio.rate
    container, subtype = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS"),
                          ".oga": ("OGG", "VORBIS"), ".opus": ("OGG", "OPUS"), ".mp3": ("MP3", "MPEG_LAYER_III")}[ext]
    if subtype == "OPUS" and rate not in (8000, 12000, 16000, 24000, 48000):
        import soxr

        samples, rate = soxr.resample(samples, rate, 48000), 48000
    buffer = io.BytesIO()
    try:
        soundfile.write(buffer, samples, rate, format=container, subtype=subtype)
    except Exception as exc:  # libsndfile errors are RuntimeError subclasses
        raise AudioError(f"cannot encode {ext} audio: {exc}", hint="save as .wav instead") from exc
    return buffer.getvalue()


def _fixed_wav_sizes(data: bytes) -> bytes:
    """A streamed WAV with placeholder or too-large sizes, made exact, so every
    player reads the file. Other WAVs are returned unchanged."""
    try:
        layout = _parse_wav(data, final=True)
    except AudioError:
        return data
    if layout is None or data[:4] != b"RIFF":
        return data
    if layout.data_end is not None and layout.data_end <= len(data) and struct.unpack_from("<I", data, 4)[0] not in _PLACEHOLDER_SIZES:
        return data
    end = layout.data_end if layout.data_end is not None and layout.data_end <= len(data) else len(data)
    out = bytearray(data[:end])
    struct.pack_into("<I", out, layout.data_start - 4, end - layout.data_start)
    struct.pack_into("<I", out, 4, len(out) - 8)
    return bytes(out)


def peaks(audio: Audio, width: int) -> list[float]:
    """`width` values in 0..1: the loudest sample (any channel) per bucket of
    time, for drawing a waveform. Buckets past the end of short audio are 0."""
    if width <= 0:
        return []
    level = np.abs(audio.samples).max(axis=1) if audio.frames else np.zeros(0, dtype=np.float32)
    edges = np.linspace(0, len(level), width + 1).astype(int)
    result = []
    for start, stop in zip(edges[:-1], edges[1:]):
        result.append(float(min(1.0, level[start:stop].max())) if stop > start else 0.0)
    return result
