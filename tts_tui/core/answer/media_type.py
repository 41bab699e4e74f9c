"""What a Content-Type header says: the media type, its parameters, and for
raw PCM the sample layout (`audio/pcm;rate=22050`, `audio/L16; rate=16000;
channels=1`, `audio/pcm_s16le`...)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tts_tui.core.answer.layout import SampleLayout

# OpenAI's `pcm` answer: 24 kHz mono signed 16-bit little-endian.
DEFAULT_PCM_RATE = 24000

_PCM_TYPES = {"audio/pcm", "audio/x-pcm", "audio/raw", "audio/x-raw", "audio/wave-pcm"}
_RTP_LINEAR = re.compile(r"audio/l(8|16|20|24)")  # RFC 2586 / 3190: big-endian (L8: unsigned)
_FFMPEG_NAME = re.compile(r"(?:pcm_)?([suf])(8|16|24|32|64)(le|be)?")
_SSE_TYPES = {"text/event-stream"}
_NDJSON_TYPES = {"application/x-ndjson", "application/ndjson", "application/jsonl",
                 "application/x-jsonlines", "application/jsonlines", "application/json-seq"}
# What a Content-Type says the bytes are, for noting disagreements.
_AUDIO_FORMATS = {
    "audio/wav": "wav", "audio/x-wav": "wav", "audio/wave": "wav", "audio/vnd.wave": "wav",
    "audio/mpeg": "mp3", "audio/mp3": "mp3", "audio/mpeg3": "mp3", "audio/x-mpeg": "mp3",
    "audio/ogg": "ogg", "audio/opus": "ogg", "audio/vorbis": "ogg", "application/ogg": "ogg",
    "audio/flac": "flac", "audio/x-flac": "flac",
    "audio/aac": "aac", "audio/x-aac": "aac", "audio/aacp": "aac", "audio/mp4": "aac", "audio/x-m4a": "aac",
}


@dataclass
class MediaType:
    """A parsed Content-Type: `type` lower-cased without parameters ("" when absent)."""

    type: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @property
    def is_sse(self) -> bool:
        return self.type in _SSE_TYPES

    @property
    def is_ndjson(self) -> bool:
        return self.type in _NDJSON_TYPES

    @property
    def is_json(self) -> bool:
        return self.type == "application/json" or self.type.endswith("+json")

    @property
    def is_text(self) -> bool:
        return self.type.startswith("text/") or self.type in ("application/xhtml+xml", "application/xml")

    @property
    def audio_format(self) -> str | None:
        """The container the type names ("wav", "mp3", "pcm"...), or None."""
        if self.pcm_layout() is not None:
            return "pcm"
        return _AUDIO_FORMATS.get(self.type)

    def param_int(self, *names: str) -> int | None:
        for name in names:
            value = self.params.get(name, "").strip()
            if value.isdigit():
                return int(value)
        return None

    def pcm_layout(self) -> SampleLayout | None:
        """The raw PCM layout this type declares, or None when it is not raw PCM.

        Rate and channels come from the parameters (`rate`, `sample_rate`,
        `samplerate`; `channels`), else 24 kHz mono. `audio/L16` is
        big-endian; `audio/pcm_s16le`, `audio/pcm;format=f32le` name theirs.
        """
        kind, width, big = "int", 2, False
        subtype = self.type.partition("/")[2]
        linear = _RTP_LINEAR.fullmatch(self.type)
        named = _FFMPEG_NAME.fullmatch(subtype) if self.type.startswith("audio/pcm_") else None
        if linear:
            bits = int(linear.group(1))
            width = (bits + 7) // 8
            kind, big = ("uint", False) if bits == 8 else ("int", True)
        elif named:
            kind, width, big = _from_name(named)
        elif self.type in _PCM_TYPES:
            spelled = self.params.get("format") or self.params.get("encoding") or ""
            match = _FFMPEG_NAME.fullmatch(spelled.lower())
            if match:
                kind, width, big = _from_name(match)
            elif spelled.lower() in ("float", "f32", "ieee-float"):
                kind, width = "float", 4
            bits = self.param_int("bits", "bit_depth", "bitdepth", "sample_size")
            if bits in (8, 16, 24, 32) and not match:
                width = bits // 8
                kind = "uint" if bits == 8 else kind
            big = big or self.params.get("endianness", "").lower() in ("big", "be", "big-endian")
        else:
            return None
        return SampleLayout(kind, width, self.channels or 1, self.rate or DEFAULT_PCM_RATE, big_endian=big)

    @property
    def rate(self) -> int | None:
        """The sample rate the parameters state, or None."""
        return self.param_int("rate", "sample_rate", "samplerate", "sample-rate")

    @property
    def channels(self) -> int | None:
        """The channel count the parameters state, or None."""
        return self.param_int("channels", "channel", "ch")


def _from_name(match: re.Match[str]) -> tuple[str, int, bool]:
    letter, bits, order = match.group(1), int(match.group(2)), match.group(3)
    kind = {"s": "int", "u": "uint", "f": "float"}[letter]
    return kind, bits // 8, order == "be"


def parse(content_type: str) -> MediaType:
    """`audio/L16; rate=16000; channels=1` -> MediaType("audio/l16", {"rate": "16000", "channels": "1"})."""
    main, _, rest = (content_type or "").partition(";")
    params: dict[str, str] = {}
    for part in rest.split(";"):
        name, eq, value = part.partition("=")
        if eq:
            params[name.strip().lower()] = value.strip().strip('"')
    return MediaType(main.strip().lower(), params)
