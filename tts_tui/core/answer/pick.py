"""Pick the reader for an answer from what the server sent.

The Content-Type (with its parameters) and the first bytes decide; the
config is a hint, used only where the answer itself says nothing (raw PCM
with a bare Content-Type, JSON with audio at a path). When the answer and the
config disagree, a note says so and the answer wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from tts_tui.core.answer import media_type
from tts_tui.core.answer.decoders import AudioStream, container
from tts_tui.core.answer.layout import SampleLayout
from tts_tui.core.answer.readers import JsonReader, NdjsonReader, PcmReader, Reader, SseReader
from tts_tui.core.model import PcmSpec

_SAME_FORMAT = {"vorbis": "ogg", "m4a": "aac"}
_SSE_START = (b"data:", b"event:", b"id:", b":")


@dataclass
class ReadHint:
    """What the config expects of the answer. A hint, never an order."""

    response: str = "body"  # "body" | "json:PATH" | "url:PATH"
    format: str | None = None  # the format the service asks for (wav, mp3, pcm...)
    pcm: PcmSpec | None = None  # the user's [pcm] block: wins for rate and channels
    sse: bool = False  # the request asks for server-sent events
    request_url: str = ""


@dataclass
class Pick:
    """The reader chosen for an answer, and the notes on why (config and answer disagreed...)."""

    reader: Reader
    notes: list[str] = field(default_factory=list)


def pick_reader(content_type: str, head: bytes, hint: ReadHint) -> Pick:
    """The reader for an answer whose Content-Type is `content_type` and whose
    body starts with `head` (at least 12 bytes, unless the body is shorter)."""
    media = media_type.parse(content_type)
    mode, _, path = hint.response.partition(":")
    notes: list[str] = []
    magic = container(head, strong_only=True)
    start = bytes(head).lstrip()

    if media.is_sse or (hint.sse and not magic and not media.audio_format and start.startswith(_SSE_START)):
        return Pick(SseReader(_inner_stream(hint)))
    if media.is_ndjson:
        return Pick(NdjsonReader(_inner_stream(hint)))
    if magic:
        if mode != "body":
            notes.append(f'response = "{hint.response}", but the answer is {magic.upper()} audio: read as audio')
        said = media.audio_format
        if said and not same_format(said, magic):
            notes.append(f"the Content-Type says {media.type}, but the bytes are {magic.upper()}: read as {magic.upper()}")
        return Pick(Reader(AudioStream()), notes)
    declared = media.pcm_layout()
    if declared is not None:
        if hint.pcm is not None and _overrides(media, hint.pcm):
            notes.append(f"the Content-Type says {content_type.strip()}, but the [pcm] block's "
                         f"{hint.pcm.rate} Hz, {hint.pcm.channels} channel(s) is used")
        return Pick(PcmReader(_with_config_pcm(declared, hint.pcm)), notes)
    if mode in ("json", "url"):
        return Pick(JsonReader(_inner_stream(hint), mode, path, hint.request_url))
    if start[:1] in (b"{", b"[") and (media.is_json or not media.audio_format):
        return Pick(JsonReader(_inner_stream(hint), "auto", "", hint.request_url))
    if (hint.pcm is not None or hint.format == "pcm") and not media.is_text and not media.is_json:
        return Pick(PcmReader(_with_config_pcm(default_pcm(), hint.pcm)))
    return Pick(Reader(AudioStream()))


def same_format(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    return _SAME_FORMAT.get(a, a) == _SAME_FORMAT.get(b, b)


def default_pcm() -> SampleLayout:
    """OpenAI's raw PCM: 24 kHz mono signed 16-bit little-endian."""
    return SampleLayout("int", 2, 1, media_type.DEFAULT_PCM_RATE)


def _inner_stream(hint: ReadHint) -> AudioStream:
    """The decoder for audio carried inside events or JSON: a container when
    the bytes have one, else raw PCM (the [pcm] block, else OpenAI's). A bare
    MPEG/ADTS frame sync counts only when the service asks for mp3 or aac."""
    return AudioStream(_with_config_pcm(default_pcm(), hint.pcm), weak_sync=hint.format in ("mp3", "aac"))


def _overrides(media: media_type.MediaType, pcm: PcmSpec) -> bool:
    """True when the [pcm] block replaces a rate or channel count the server stated."""
    return (media.rate is not None and media.rate != pcm.rate) or (
        media.channels is not None and media.channels != pcm.channels)


def _with_config_pcm(layout: SampleLayout, pcm: PcmSpec | None) -> SampleLayout:
    """The [pcm] block wins for rate and channels."""
    if pcm is None:
        return layout
    return replace(layout, rate=pcm.rate, channels=pcm.channels)
