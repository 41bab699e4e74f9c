"""Audio formats the embedded server answers with.

WAV and PCM are produced chunk by chunk while espeak speaks; FLAC, MP3 and
Opus need the whole utterance and are encoded with libsndfile (via soundfile).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable

FORMATS = ("wav", "pcm", "flac", "mp3", "opus")
STREAMED_FORMATS = ("wav", "pcm")
PCM_RATE = 24000  # OpenAI's raw PCM: 24 kHz mono s16le
OPUS_RATE = 24000  # libopus takes 8/12/16/24/48 kHz only, not espeak's 22050

CONTENT_TYPES = {
    "wav": "audio/wav",
    "pcm": "audio/pcm",
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "opus": "audio/ogg",
}

_STREAMING_SIZE = 0xFFFFFFFF  # "unknown length" in both RIFF and data sizes


def check_format(name: object) -> str:
    """The lower-cased format name; raises ValueError with a user-facing message."""
    if not isinstance(name, str):
        raise ValueError("response_format must be a string: wav, pcm, flac, mp3 or opus")
    fmt = name.strip().lower()
    if fmt == "aac":
        raise ValueError("aac is not supported, use wav, pcm, flac, mp3 or opus")
    if fmt not in FORMATS:
        raise ValueError(f"unsupported response_format {name!r}: use wav, pcm, flac, mp3 or opus")
    return fmt


def streaming_wav_header(sample_rate: int) -> bytes:
    """A 44-byte PCM16 mono WAV header whose sizes say "unknown length"."""
    return (
        b"RIFF"
        + struct.pack("<I", _STREAMING_SIZE)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
        + b"data"
        + struct.pack("<I", _STREAMING_SIZE)
    )


class PcmResampler:
    """Resamples s16le mono chunk by chunk, keeping filter state between chunks."""

    def __init__(self, in_rate: int, out_rate: int) -> None:
        import numpy as np
        import soxr

        self._np = np
        self._stream = (
            soxr.ResampleStream(in_rate, out_rate, 1, dtype="int16") if in_rate != out_rate else None
        )

    def feed(self, chunk: bytes) -> bytes:
        """Resampled bytes for ``chunk`` (may be empty while the filter fills)."""
        if self._stream is None:
            return chunk
        samples = self._np.frombuffer(chunk, dtype=self._np.int16)
        return self._stream.resample_chunk(samples).tobytes()

    def finish(self) -> bytes:
        """The samples still held in the filter; call once, after the last chunk."""
        if self._stream is None:
            return b""
        empty = self._np.zeros(0, dtype=self._np.int16)
        return self._stream.resample_chunk(empty, last=True).tobytes()


def stream_transform(fmt: str, sample_rate: int) -> tuple[bytes, Callable[[bytes], bytes], Callable[[], bytes]]:
    """For a streamed format: (preamble, per-chunk transform, tail at the end)."""
    if fmt == "wav":
        return streaming_wav_header(sample_rate), (lambda chunk: chunk), (lambda: b"")
    if fmt == "pcm":
        resampler = PcmResampler(sample_rate, PCM_RATE)
        return b"", resampler.feed, resampler.finish
    raise ValueError(f"{fmt} cannot be streamed")


def encode_whole(pcm: bytes, sample_rate: int, fmt: str) -> bytes:
    """The complete file for FLAC, MP3 or Opus (in Ogg) from s16le mono PCM."""
    import numpy as np
    import soundfile

    samples = np.frombuffer(pcm, dtype=np.int16)
    rate = sample_rate
    if fmt == "flac":
        container, subtype = "FLAC", "PCM_16"
    elif fmt == "mp3":
        container, subtype = "MP3", "MPEG_LAYER_III"
    elif fmt == "opus":
        import soxr

        container, subtype, rate = "OGG", "OPUS", OPUS_RATE
        samples = soxr.resample(samples, sample_rate, rate)
    else:
        raise ValueError(f"{fmt} is not encoded whole")
    if samples.size == 0:
        # libsndfile writes no valid stream for zero frames; a few ms of
        # silence keeps the answer a decodable file.
        samples = np.zeros(rate // 100, dtype=np.int16)
    out = io.BytesIO()
    soundfile.write(out, samples, rate, format=container, subtype=subtype)
    return out.getvalue()
