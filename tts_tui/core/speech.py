"""What a user asks of a service: speak a text, list its voices, check it works.

This is the one pipeline both faces use: build the request (templates are
checked before anything is sent), send it, pull the audio out of the answer,
decode it, and fill in the exchange's metrics.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from tts_tui.core.audio import Audio, StreamDecoder, decode, sniff
from tts_tui.core.sse import SseAudioParser
from tts_tui.core.client import HttpClient, describe_http_error
from tts_tui.core.errors import RequestError, TtsError
from tts_tui.core.exchange import Exchange, PreparedRequest, human_bytes
from tts_tui.core.model import PcmSpec, Service
from tts_tui.core.services import Voice, extract_audio, service_type, suggest_response

if TYPE_CHECKING:
    from tts_tui.core.device_stream import StreamSink
    from tts_tui.core.player import Player

CHECK_TEXT = "Check."

FramesCallback = Callable[[np.ndarray, int, int], None]  # frames, rate, channels


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
    play: Player | None = None,
) -> SpeechResult:
    """Speak `text` with `service`; never raises for network or audio faults.

    Template and config errors raise before anything is sent. Every other
    failure ends in `result.exchange.error`. `on_frames` receives decoded audio
    as it streams in (WAV, PCM, SSE). `exchange`, when given, is filled in (so
    a caller can log it even if the task is cancelled).

    `play`: when given and not silent, a streamed WAV/PCM/SSE answer plays
    while it downloads (the device is warmed up while the request is in
    flight). Then `result.streamed` is True, the player keeps the decoded
    audio, and the caller must not play it again; on failure or cancellation
    the stream stops with a fade. Other formats, and a silent player, are left
    to the caller to play once complete (`result.streamed` False).

    `ttfa_ms` is from the request to the first sample handed to the device
    when streamed, else to the first decoded sample.
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
    sink: StreamSink | None = None
    live = play is not None and streaming
    if play is not None and live:
        play.warm()  # opens the device while the server thinks

    def elapsed_ms() -> float:
        return (time.perf_counter() - (ex.t0 or time.perf_counter())) * 1000

    def on_headers(e: Exchange) -> None:
        nonlocal answer_ok
        answer_ok = e.status is not None and 200 <= e.status < 300

    first_decoded_ms: float | None = None

    def feed(audio_bytes: bytes) -> None:
        nonlocal sink, live, first_decoded_ms
        frames = decoder.feed(audio_bytes)
        if frames is None or not len(frames) or not decoder.rate or not decoder.channels:
            return
        if first_decoded_ms is None:
            first_decoded_ms = elapsed_ms()
        if live and sink is None and play is not None:
            if play.available:
                sink = play.open_stream(decoder.rate, decoder.channels)
            if sink is None or not sink.live:
                if sink is not None:
                    sink.cancel()
                sink, live = None, False  # silent after all: the caller plays the whole audio
        if sink is not None:
            sink.write(frames)
        elif ex.ttfa_ms is None:
            ex.ttfa_ms = elapsed_ms()
        if on_frames is not None:
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

    try:
        await client.send(ex, timeout=service.timeout, on_headers=on_headers, on_chunk=on_chunk)
        audio = await _finish(service, ex, result, client, pcm, decoder, sse, stream_error, feed)
    except BaseException:
        if sink is not None:
            sink.cancel()
        raise
    if audio is None:
        if sink is not None:
            sink.cancel()
        return result
    if sink is not None:
        sink.end(audio)
        result.streamed = True
        await _await_first_sample(sink)
        if sink.first_sample_at is not None and ex.t0 is not None:
            ex.ttfa_ms = (sink.first_sample_at - ex.t0) * 1000
        else:  # paused or stopped before the device took a frame
            ex.ttfa_ms = first_decoded_ms
    if ex.ttfa_ms is None:
        ex.ttfa_ms = elapsed_ms()
    ex.audio_s = audio.duration
    ex.format = audio.format
    result.audio = audio
    return result


async def _finish(
    service: Service, ex: Exchange, result: SpeechResult, client: HttpClient, pcm: PcmSpec | None,
    decoder: StreamDecoder, sse: SseAudioParser | None, stream_error: TtsError | None,
    feed: Callable[[bytes], None],
) -> Audio | None:
    """The whole answer decoded once the download ended; None (and `ex.error`) on failure."""
    if ex.error:
        return None
    if stream_error is not None and (sse is not None or sniff(ex.body) is not None):
        ex.error = str(stream_error)
        return None
    try:
        if sse is None:
            return await _audio_from_answer(service, ex, result, client, pcm)
        for piece in sse.close():
            feed(piece)
        if decoder.bytes_received == 0:
            raise TtsError(_not_audio(ex.status or 200, ex.content_type, ex.body))
        return decoder.finish()
    except TtsError as exc:
        ex.error = str(exc)
        return None


async def _await_first_sample(sink: StreamSink, timeout: float = 1.0) -> None:
    """ttfa is the first sample handed to the device: when the download beats
    the device to it (a short answer, a deep prebuffer), wait for it. That is
    one device period once the sink has ended, unless playback is paused or
    stopped meanwhile."""
    deadline = time.perf_counter() + timeout
    while sink.waiting_for_device and time.perf_counter() < deadline:
        await asyncio.sleep(0.002)


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
    setting = suggest_response(body)
    if setting is not None:
        return f'HTTP {status} but the answer is JSON that holds the audio: set response = "{setting}"'

    detail = describe_http_error(status, content_type, body)
    kind = content_type.split(";")[0].strip() or "unknown type"
    return f"{detail} — the answer is {kind}, not audio"


async def list_voices(service: Service, *, client: HttpClient) -> list[Voice]:
    """The service's voices; [] when it has no list. Raises RequestError on failure.

    An OpenAI-compatible server without `GET /audio/voices` (404/405) has no
    list, which is not an error; a voices URL the user configured must work.
    """
    kind = service_type(service)
    request = kind.voices_request(service)
    if request is None:
        return []
    try:
        data = await client.get_json(request, timeout=min(service.timeout, 15))
    except RequestError as exc:
        guessed = service.voices is None or not service.voices.url
        if guessed and exc.status in (404, 405):
            return []
        raise
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

