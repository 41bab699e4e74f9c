"""What a user asks of a service: speak a text, check that it works.

`speak` is the one pipeline both faces use, and reads as its stages:

    prepare the request    services / templates (errors before anything is sent)
    send it                client.HttpClient, which times the exchange
    read the answer        answer.AnswerDecoder: the Content-Type and first
                           bytes pick the reader, frames come while bytes arrive
    hand frames on         frame_sink.FrameSink: the device, and the caller
    fetch, if it pointed   a JSON answer may name a URL that holds the audio
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tts_tui.core.answer import media_type
from tts_tui.core.answer.decode import AnswerDecoder
from tts_tui.core.answer.pick import ReadHint
from tts_tui.core.answer.readers import suggest_response
from tts_tui.core.client import HttpClient, describe_http_error
from tts_tui.core.errors import AudioError, TtsError
from tts_tui.core.exchange import Exchange, PreparedRequest, human_bytes
from tts_tui.core.frame_sink import FramesCallback, FrameSink
from tts_tui.core.model import Service
from tts_tui.core.services import service_type

if TYPE_CHECKING:
    from tts_tui.core.audio import Audio
    from tts_tui.core.player import Player

CHECK_TEXT = "Check."


@dataclass
class SpeechResult:
    """The main exchange, the audio (None on failure) and every exchange made.
    `streamed`: the audio already went to the player while it downloaded."""

    exchange: Exchange
    audio: Audio | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    streamed: bool = False

    @property
    def ok(self) -> bool:
        return self.exchange.error is None and self.audio is not None

    @property
    def error(self) -> str | None:
        return self.exchange.error


def prepare(service: Service, text: str, *, voice: str | None = None) -> PreparedRequest:
    """The exact request `speak` would send. Raises TemplateError/ConfigError."""
    if not text.strip():
        raise TtsError("there is no text to speak", hint="type some text first")
    return service_type(service).speech_request(service, valid_text(text), voice=voice)


def valid_text(text: str) -> str:
    """`text` as UTF-8 can carry it: bytes that were not UTF-8 (a shell's
    `$'caf\\xe9'`, read with surrogateescape) become U+FFFD, for every service
    type alike."""
    try:
        text.encode("utf-8")  # what every text without surrogates does, at C speed
        return text
    except UnicodeEncodeError:
        pass
    text = re.sub("[\ud800-\udc7f\udd00-\udfff]", "\ufffd", text)  # not an escaped byte: nothing to recover
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def read_hint(service: Service, request: PreparedRequest) -> ReadHint:
    """What the config expects the answer to be (the answer may say otherwise)."""
    asked = service.format
    if service.type != "openai" and service.format != "pcm":
        asked = media_type.parse(service.content_type).audio_format or ""
    sse = "sse" in (service.stream_format, str(service.extra.get("stream_format")).lower())
    return ReadHint(service.response, asked or None, service.pcm, sse, request.url)


async def speak(
    service: Service,
    text: str,
    *,
    client: HttpClient,
    voice: str | None = None,
    request: PreparedRequest | None = None,
    on_frames: FramesCallback | None = None,
    exchange: Exchange | None = None,
    play: Player | None = None,
) -> SpeechResult:
    """Speak `text` with `service`; never raises for network or audio faults.

    Template and config errors raise before anything is sent. Every other
    failure ends in `result.exchange.error`. `on_frames` receives decoded audio
    as it arrives, whatever the format. `exchange`, when given, is filled in
    (so a caller can log it even if the task is cancelled).

    `play`: when given and not silent, the answer plays while it downloads
    (the device is warmed up while the request is in flight); then
    `result.streamed` is True, the player keeps the audio, and the caller must
    not play it again. On failure or cancellation the stream stops with a fade.

    `ttfa_ms` is from the request to the first decoded samples handed on (to
    the device, when playing). When they could only come after the last byte,
    `exchange.first_audio_after_body` says so.
    """
    request = request or prepare(service, text, voice=voice)
    if exchange is None:
        ex = Exchange(request, service=service.name)
    else:  # the caller's, filled in
        ex = exchange
        ex.request, ex.service = request, service.name
    result = SpeechResult(ex, exchanges=[ex])
    sink = FrameSink(play, on_frames)
    sink.warm()
    hint = read_hint(service, request)
    try:
        audio, url = await _receive(ex, hint, sink, client, service.timeout)
        if url is not None:  # the answer named the URL that holds the audio
            audio = await _fetch(url, ex, hint, sink, client, service, result)
    except BaseException:
        sink.cancel()
        raise
    if audio is None:
        sink.cancel()
        return result
    sink.end(audio)
    result.streamed = sink.streamed
    if ex.ttfa_ms is None and ex.t0 is not None:  # silent audio that decoded to no frames
        ex.ttfa_ms = ex.total_ms
    ex.audio_s, ex.format = audio.duration, audio.format
    result.audio = audio
    return result


async def _receive(ex: Exchange, hint: ReadHint, sink: FrameSink, client: HttpClient, timeout: float,
                   *, clock: Exchange | None = None) -> tuple[Audio | None, str | None]:
    """Send `ex` and read its answer into `sink`: (the audio, or the URL that
    holds it). (None, None) and `ex.error` on failure."""
    answer = AnswerDecoder(ex, hint, sink, clock=clock)
    try:
        await client.send(ex, timeout=timeout, on_headers=answer.on_headers, on_chunk=answer.on_chunk)
        if ex.error:
            return None, None
        audio = answer.finish()
        return audio, answer.fetch_url
    except TtsError as exc:
        ex.error = _answer_error(ex, answer, exc)
        return None, None
    finally:
        answer.close()


async def _fetch(url: str, ex: Exchange, hint: ReadHint, sink: FrameSink, client: HttpClient,
                 service: Service, result: SpeechResult) -> Audio | None:
    """The audio at the URL the answer named, as its own exchange."""
    fetch = Exchange(PreparedRequest("GET", url, secrets=ex.request.secrets), service=service.name)
    result.exchanges.append(fetch)
    # read as a body whatever the service's `response` says; a URL inside it is not followed
    audio, _ = await _receive(fetch, ReadHint(format=hint.format, pcm=hint.pcm), sink,
                              client, service.timeout, clock=ex)
    if audio is None:
        ex.error = f"fetching the audio URL failed: {fetch.error}"
    return audio


def _answer_error(ex: Exchange, answer: AnswerDecoder, exc: TtsError) -> str:
    """The one line for an answer that holds no audio: what the server said,
    and for JSON that holds audio, the setting that reads it."""
    reader = answer.reader.name if answer.reader is not None else None
    if not isinstance(exc, AudioError) or reader != "raw":  # a reader that knew what it read said why
        return str(exc)
    status, body = ex.status, ex.body  # a reader was picked: the answer's head came
    if not body:
        return f"HTTP {status} but the answer is empty (no audio)"
    setting = suggest_response(body)
    if setting is not None:
        return f'HTTP {status} but the answer is JSON that holds the audio: set response = "{setting}"'
    if not ex.content_type or media_type.parse(ex.content_type).type.startswith("audio/"):
        return str(exc)
    detail = describe_http_error(status, ex.content_type, body)
    kind = media_type.parse(ex.content_type).type or "unknown type"
    return f"{detail} — the answer is {kind}, not audio"


@dataclass
class CheckResult:
    """Whether a service answered `check` with audio, in one line (`message`)."""

    service: str
    ok: bool
    message: str
    exchange: Exchange | None = None
    voices: int | None = None


async def check(service: Service, *, client: HttpClient) -> CheckResult:
    """Connectivity plus one short synthesis; never raises for faults."""
    from tts_tui.core.voices import list_voices

    voices: int | None
    try:
        voices = len(await list_voices(service, client=client))
    except TtsError:
        voices = None  # many servers have no voice list; the synthesis decides
    try:
        result = await speak(service, CHECK_TEXT, client=client)
    except TtsError as exc:
        return CheckResult(service.name, False, str(exc), voices=voices)
    ex = result.exchange
    if not result.ok:
        return CheckResult(service.name, False, ex.error or "no audio", ex, voices)
    return CheckResult(service.name, True, summary(ex), ex, voices)


def summary(ex: Exchange) -> str:
    """One line: status, timings, audio length, as the CLI and log show it."""
    parts = [f"HTTP {ex.status}"]
    if ex.ttfb_ms is not None:
        parts.append(f"ttfb {ex.ttfb_ms:.0f} ms")
    if ex.ttfa_ms is not None:
        parts.append(f"ttfa {ex.ttfa_ms:.0f} ms" + (" (after the last byte)" if ex.first_audio_after_body else ""))
    if ex.total_ms is not None:
        parts.append(f"total {ex.total_ms:.0f} ms")
    if ex.audio_s is not None:
        rate = f" {ex.rate} Hz" if ex.rate else ""
        parts.append(f"{ex.audio_s:.2f} s {ex.format or 'audio'}{rate}")
    if ex.rtf is not None:
        parts.append(f"rtf {ex.rtf:.3f}")
    parts.append(human_bytes(ex.bytes))
    return " · ".join(parts)
