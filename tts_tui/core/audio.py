"""Decoded audio: the `Audio` value, decoding a whole answer, saving, peaks.

Decoding itself lives in `answer.decoders` (the bytes decide the format;
answers are read while they arrive). numpy is imported where samples are
touched, not here: `say -o file.wav` with a WAV answer writes the bytes it got
and never loads numpy.
"""

from __future__ import annotations

import contextlib
import io
import os
import struct
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tts_tui.core.errors import AudioError
from tts_tui.core.model import PcmSpec

if TYPE_CHECKING:
    import numpy as np

    from tts_tui.core.answer.layout import SampleLayout

# Extensions save() knows, and the format whose bytes they hold.
_EXT_FORMAT = {".wav": "wav", ".mp3": "mp3", ".ogg": "ogg", ".oga": "ogg", ".opus": "opus",
               ".flac": "flac", ".pcm": "pcm", ".raw": "pcm", ".aac": "aac", ".m4a": "m4a"}
_FORMAT_EXT = {"wav": ".wav", "mp3": ".mp3", "ogg": ".ogg", "opus": ".opus", "flac": ".flac", "pcm": ".wav",
               "aac": ".aac", "m4a": ".m4a"}


class Audio:
    """Decoded audio plus the bytes it came from (what `save` writes back).

    `samples`: float32, shape (frames, channels). An Audio made with
    `deferred` decodes them on first access; `frames`, `channels` and
    `duration` are exact either way and never decode. `pcm_layout`: how
    `data` holds the samples, when it is raw PCM from its first byte (else None).
    """

    pcm_layout: SampleLayout | None = None

    def __init__(self, samples: np.ndarray, rate: int, format: str, data: bytes = b"") -> None:
        self._samples: np.ndarray | None = samples
        self._decode: Callable[[], np.ndarray] | None = None
        self._shape = (int(samples.shape[0]), int(samples.shape[1]))
        self.rate = rate
        self.format = format  # "wav" | "mp3" | "ogg" | "flac" | "pcm"
        self.data = data

    @classmethod
    def deferred(cls, decode: Callable[[], np.ndarray], frames: int, channels: int, rate: int, format: str,
                 data: bytes = b"", *, pcm_layout: SampleLayout | None = None) -> Audio:
        """Audio whose samples `decode()` returns when first asked for; it must
        return exactly `frames` x `channels` float32 samples."""
        audio = cls.__new__(cls)
        audio._samples, audio._decode, audio._shape = None, decode, (frames, channels)
        audio.rate, audio.format, audio.data = rate, format, data
        audio.pcm_layout = pcm_layout
        return audio

    @property
    def samples(self) -> np.ndarray:
        if self._samples is None:
            assert self._decode is not None
            self._samples, self._decode = self._decode(), None
        return self._samples

    @samples.setter
    def samples(self, value: np.ndarray) -> None:
        self._samples, self._decode = value, None
        self._shape = (int(value.shape[0]), int(value.shape[1]))

    def __repr__(self) -> str:
        return (f"Audio(frames={self.frames}, channels={self.channels}, rate={self.rate}, "
                f"format={self.format!r}, data={len(self.data)} bytes)")

    @property
    def frames(self) -> int:
        return self._shape[0]

    @property
    def channels(self) -> int:
        return self._shape[1]

    @property
    def duration(self) -> float:
        """Length in seconds (0.0 for empty audio)."""
        return self.frames / self.rate if self.rate else 0.0


def sniff(data: bytes) -> str | None:
    """The audio container the bytes start with, or None when they are not audio:
    "wav", "mp3", "opus" (Ogg Opus), "ogg", "flac", "aac" (ADTS) or "m4a" (MP4). Text, JSON, HTML
    and empty input give None."""
    from tts_tui.core.answer.decoders import container

    return container(data)


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


def decode(data: bytes, *, pcm: PcmSpec | None = None, expected_format: str | None = None) -> Audio:
    """Decode a whole answer. The bytes decide the format; raw PCM (s16le) is
    assumed only when `pcm` is given or `expected_format == "pcm"` (default
    24000 Hz mono) and the bytes carry no container magic.

    Raises AudioError for non-audio (with an excerpt) and broken files. A
    truncated WAV decodes the whole frames that are there.
    """
    from tts_tui.core.answer.decoders import AudioStream
    from tts_tui.core.answer.layout import SampleLayout

    layout = None
    if pcm is not None or expected_format == "pcm":
        spec = pcm or PcmSpec()
        layout = SampleLayout("int", 2, spec.channels, spec.rate)
    stream = AudioStream(layout)
    stream.feed(bytes(data))
    stream.finish()
    return stream.audio()


def save(audio: Audio, path: Path | str) -> Path:
    """Write `audio` to `path` (parent folders created, written atomically).

    The original bytes are written when the extension matches the format (a
    streamed WAV gets its placeholder sizes fixed); with no extension the
    format's own is added (raw PCM becomes .wav). Raw integer PCM in WAV's
    own byte order goes into .wav as it came, behind a header. Otherwise the
    samples are encoded with soundfile: .wav .flac .ogg .opus .mp3, or
    .pcm/.raw (s16le).
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
        payload = (_pcm_in_wav(audio) if ext == ".wav" else None) or _encode(audio, ext)
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
    import numpy as np

    samples = np.clip(audio.samples, -1.0, 1.0)
    if ext in (".pcm", ".raw"):
        return (samples * 32768.0).round().clip(-32768, 32767).astype("<i2").tobytes()
    import soundfile

    rate = audio.rate
    encoders = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS"),
                ".oga": ("OGG", "VORBIS"), ".opus": ("OGG", "OPUS"), ".mp3": ("MP3", "MPEG_LAYER_III")}
    if ext not in encoders:
        raise AudioError(f"cannot encode {audio.format} audio as {ext}", hint="save as .wav instead")
    container, subtype = encoders[ext]
    if subtype == "OPUS" and rate not in (8000, 12000, 16000, 24000, 48000):
        import soxr

        samples, rate = soxr.resample(samples, rate, 48000), 48000
    buffer = io.BytesIO()
    try:
        soundfile.write(buffer, samples, rate, format=container, subtype=subtype)
    except Exception as exc:  # libsndfile errors are RuntimeError subclasses
        raise AudioError(f"cannot encode {ext} audio: {exc}", hint="save as .wav instead") from exc
    return buffer.getvalue()


def _pcm_in_wav(audio: Audio) -> bytes | None:
    """A WAV file holding `audio`'s raw PCM bytes unchanged (no decoding, so
    no numpy), when WAV stores them that way: little-endian signed 16, 24 or
    32-bit, or unsigned 8-bit samples. None otherwise."""
    layout = audio.pcm_layout
    if layout is None or layout.big_endian or (layout.kind, layout.width) not in (
            ("uint", 1), ("int", 2), ("int", 3), ("int", 4)):
        return None
    import wave

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(layout.channels)
        wav.setsampwidth(layout.width)
        wav.setframerate(audio.rate)
        wav.writeframes(audio.data[: audio.frames * layout.block])
    return buffer.getvalue()


def _fixed_wav_sizes(data: bytes) -> bytes:
    """A streamed WAV with placeholder or too-large sizes, made exact, so every
    player reads the file. Other WAVs are returned unchanged."""
    from tts_tui.core.answer.layout import PLACEHOLDER_SIZES, parse_wav

    try:
        layout = parse_wav(data, final=True)
    except AudioError:
        return data
    if layout is None or data[:4] != b"RIFF":
        return data
    if layout.data_end is not None and layout.data_end <= len(data) and struct.unpack_from("<I", data, 4)[0] not in PLACEHOLDER_SIZES:
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
    import numpy as np

    level = np.abs(audio.samples).max(axis=1) if audio.frames else np.zeros(0, dtype=np.float32)
    edges = np.linspace(0, len(level), width + 1).astype(int)
    result = []
    for start, stop in zip(edges[:-1], edges[1:]):
        result.append(float(min(1.0, level[start:stop].max())) if stop > start else 0.0)
    return result
