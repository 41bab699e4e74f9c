"""What a user asks of a service: speak a text, list its voices, check it works.

This is the one pipeline both faces use: build the request (templates are
checked before anything is sent), send it, pull the audio out of the answer,
decode it, and fill in the exchange's metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tts_tui.core.audio import Audio, SseAudioParser, StreamDecoder, decode, sniff
from tts_tui.core.client import HttpClient, describe_http_error
from tts_tui.core.errors import TtsError
from tts_tui.core.exchange import Exchange, PreparedRequest, human_bytes
from tts_tui.core.model import PcmSpec, Service
from tts_tui.core.services import Voice, extract_audio, service_type

CHECK_TEXT = "Check."

FramesCallback = Callable[[np.ndarray, int, int], None]  # frames, rate, channels


@dataclass
class SpeechResult:
    """The main exchange, the audio (None on failure) and every exchange made."""

    exchange: Exchange
    audio: Audio | None = None
    exchanges: list[Exchange] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exchange.error is None and self.audio is not None

    @property
    def error(self) -> str | None:
        return self.exchange.error


def pcm_spec(service: Service) -> PcmSpec | None:
    """How to read raw PCM from this service (OpenAI's pcm is 24 kHz mono s16le)."""
    if service.pcm is not None:
        return service.pcm
    if service.format == "pcm" or service.stream_format == "sse":
        return PcmSpec()
    return None


def prepare(service: Service, text: str, *, voice: str | None = None) -> PreparedRequest:
    """The exact request `speak` would send. Raises TemplateError/ConfigError."""
    if not text.strip():
        raise TtsError("there is no text to speak", hint="type some text first")
    return service_type(service).speech_request(service, text, voice=voice)


async def speak(
    service: Service,
    text: str,
    *,
    client: HttpClient,
    voice: str | None = None,
    request: PreparedRequest | None = None,
    on_frames: FramesCallback | None = None,
    exchange: Exchange | None = None,
) -> SpeechResult:
    """Speak `text` with `service`; never raises for network or audio faults.

    Template and config errors raise before anything is sent. Every other
    failure ends in `result.exchange.error`. `on_frames` receives decoded audio
    as it streams in (WAV, PCM, SSE), for playback that starts early.
    `exchange`, when given, is filled in (so a caller can log it even if the
    task is cancelled).
    """
    request = request or prepare(service, text, voice=voice)
    ex = exchange or Exchange(request, service=service.name)
    ex.request = request
    ex.service = service.name
    result = SpeechResult(ex, exchanges=[ex])
    pcm = pcm_spec(service)
    streaming = service.response == "body"
    sse = SseAudioParser() if service.stream_format == "sse" else None
    decoder = StreamDecoder(pcm=pcm, expected_format="pcm" if pcm else None)
    answer_ok = False

    def elapsed_ms() -> float:
        return (time.perf_counter() - (ex.t0 or time.perf_counter())) * 1000

    def on_headers(e: Exchange) -> None:
        nonlocal answer_ok
        answer_ok = e.status is not None and 200 <= e.status < 300

    def feed(audio_bytes: bytes) -> None:
        frames = decoder.feed(audio_bytes)
        if frames is not None and len(frames):
            if ex.ttfa_ms is None:
                ex.ttfa_ms = elapsed_ms()
            if on_frames is not None and decoder.rate and decoder.channels:
                on_frames(frames, decoder.rate, decoder.channels)

    stream_error: TtsError | None = None

    def on_chunk(chunk: bytes) -> None:
        nonlocal stream_error
        if not (answer_ok and streaming) or stream_error is not None:
            return
        try:
            if sse is not None:
                for piece in sse.feed(chunk):
                    feed(piece)
            else:
                feed(chunk)
        except TtsError as exc:  # an SSE error event, a broken header: say so at the end
            stream_error = exc

    await client.send(ex, timeout=service.timeout, on_headers=on_headers, on_chunk=on_chunk)
    if ex.error:
        return result
    if stream_error is not None and (sse is not None or sniff(ex.body) is not None):
        ex.error = str(stream_error)
        return result
    try:
        if sse is not None:
            for piece in sse.close():
                feed(piece)
            if decoder.bytes_received == 0:
                raise TtsError(_not_audio(ex.status or 200, ex.content_type, ex.body))
            audio = decoder.finish()
        else:
            audio = await _audio_from_answer(service, ex, result, client, pcm)
    except TtsError as exc:
        ex.error = str(exc)
        return result
    if ex.ttfa_ms is None:
        ex.ttfa_ms = elapsed_ms()
    ex.audio_s = audio.duration
    ex.format = audio.format
    result.audio = audio
    return result


async def _audio_from_answer(
    service: Service, ex: Exchange, result: SpeechResult, client: HttpClient, pcm: PcmSpec | None
) -> Audio:
    if service.response == "body" and sniff(ex.body) is None and pcm is None:
        raise TtsError(_not_audio(ex.status or 200, ex.content_type, ex.body))
    data, url = extract_audio(service, ex.body, ex.request.url)
    if url is not None:
        fetch = Exchange(PreparedRequest("GET", url, secrets=ex.request.secrets), service=service.name)
        result.exchanges.append(fetch)
        await client.send(fetch, timeout=service.timeout)
        if fetch.error:
            raise TtsError(f"fetching the audio URL failed: {fetch.error}")
        data = fetch.body
    assert data is not None
    if sniff(data) is None and pcm is None:
        raise TtsError(_not_audio(200, "", data))
    return decode(data, pcm=pcm, expected_format="pcm" if pcm else None)


def _not_audio(status: int, content_type: str, body: bytes) -> str:
    if not body:
        return f"HTTP {status} but the answer is empty (no audio)"
    detail = describe_http_error(status, content_type, body)
    kind = content_type.split(";")[0].strip() or "unknown type"
    return f"{detail} — the answer is {kind}, not audio".replace(f"HTTP {status} ", f"HTTP {status} ", 1)


async def list_voices(service: Service, *, client: HttpClient) -> list[Voice]:
    """The service's voices; [] when it has no list. Raises RequestError on failure."""
    kind = service_type(service)
    request = kind.voices_request(service)
    if request is None:
        return []
    data = await client.get_json(request, timeout=min(service.timeout, 15))
    return kind.parse_voices(service, data)


@dataclass
class CheckResult:
    service: str
    ok: bool
    message: str
    exchange: Exchange | None = None
    voices: int | None = None


async def check(service: Service, *, client: HttpClient) -> CheckResult:
    """Connectivity plus one short synthesis; never raises for faults."""
    voices: int | None = None
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
        parts.append(f"ttfa {ex.ttfa_ms:.0f} ms")
    if ex.total_ms is not None:
        parts.append(f"total {ex.total_ms:.0f} ms")
    if ex.audio_s is not None:
        parts.append(f"{ex.audio_s:.2f} s {ex.format or 'audio'}")
    if ex.rtf is not None:
        parts.append(f"rtf {ex.rtf:.3f}")
    parts.append(human_bytes(ex.bytes))
    return " · ".join(parts)

