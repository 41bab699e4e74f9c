"""One long text spoken as pipelined chunks, heard as one gapless clip.

    plan the chunks        split.chunks: the first sentence alone, growing
                           groups after it, none over the service's input limit
    send them ahead        chunk i+1 (and i+2) are requested while chunk i
                           plays; at most `ahead` requests are in flight
    join the answers       ChunkJoiner: frames go out in chunk order on ONE
                           player stream (resampled to the first chunk's
                           rate), with the seam silence evened out

The first audio therefore comes after the first sentence's synthesis, not the
whole text's, and the device never reopens between chunks (no click).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import numpy as np

from tts_tui.core.audio import Audio
from tts_tui.core.device_stream import fit_channels
from tts_tui.core.errors import TtsError
from tts_tui.core.exchange import Exchange
from tts_tui.core.frame_sink import FramesCallback, open_live_stream
from tts_tui.core.model import Service
from tts_tui.core.speech import SpeechResult, prepare, speak
from tts_tui.core.split import chunks as split_chunks

if TYPE_CHECKING:
    from tts_tui.core.client import HttpClient
    from tts_tui.core.player import Player

OPENAI_INPUT_LIMIT = 4096  # api.openai.com refuses a longer `input`
# Requests in flight at once, and how many chunks past the one playing may be
# requested: enough that the next chunk is ready before this one ends, few
# enough that a long chapter does not flood the server.
AHEAD = 2
# The silence between two chunks is at least this long (espeak-ng, which trims
# its answers, leaves 0.31 s between sentences inside one answer), and never
# longer than what the server left at the end of the first chunk.
SEAM_PAUSE_S = 0.3
SILENCE = 10 ** (-50 / 20)  # below -50 dBFS counts as silence at a seam


def input_limit(service: Service) -> int | None:
    """The most characters one request may carry: `max_chars`, else OpenAI's
    own limit for api.openai.com, else None (no known limit)."""
    if service.max_chars:
        return service.max_chars
    host = urlsplit(service.url.strip()).hostname or ""
    if service.type == "openai" and (host == "api.openai.com" or host.endswith(".openai.com")):
        return OPENAI_INPUT_LIMIT
    return None


def plan(service: Service, text: str, split: str | None = None) -> list[str]:
    """The chunks `speak_long` would send (`split` overrides the service's)."""
    return split_chunks(text, split or service.split, input_limit(service))


@dataclass
class Utterance:
    """A text spoken in chunks: one result per chunk sent, the joined audio,
    and the utterance's own timings (from its start: ttfa to the first audio
    handed on, total to the last byte of the last chunk)."""

    service: str
    chunks: list[str]
    results: list[SpeechResult] = field(default_factory=list)
    audio: Audio | None = None
    error: str | None = None
    ttfa_ms: float | None = None
    total_ms: float | None = None
    streamed: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and self.audio is not None

    @property
    def exchanges(self) -> list[Exchange]:
        return [ex for result in self.results for ex in result.exchanges]

    @property
    def exchange(self) -> Exchange | None:
        """The first chunk's exchange (the only one for a one-chunk text)."""
        return self.results[0].exchange if self.results else None

    def metrics(self) -> dict[str, Any]:
        """The utterance as `--json` prints it: its timings, then each chunk's metrics."""
        audio_s = self.audio.duration if self.audio is not None else None
        total = self.total_ms
        return {
            "service": self.service,
            "chunks": len(self.chunks),
            "ttfa_ms": None if self.ttfa_ms is None else round(self.ttfa_ms, 1),
            "total_ms": None if total is None else round(total, 1),
            "audio_s": None if audio_s is None else round(audio_s, 3),
            "rtf": round(total / 1000 / audio_s, 4) if total is not None and audio_s else None,
            "bytes": sum(ex.bytes for ex in self.exchanges),
            "rate": self.audio.rate if self.audio is not None else None,
            "error": self.error,
            "parts": [{"chars": len(text), **result.exchange.metrics()}
                      for text, result in zip(self.chunks, self.results)],
        }


async def speak_long(
    service: Service,
    text: str,
    *,
    client: HttpClient,
    voice: str | None = None,
    split: str | None = None,
    play: Player | None = None,
    on_frames: FramesCallback | None = None,
    ahead: int = AHEAD,
    on_chunk: Callable[[int, SpeechResult], None] | None = None,
) -> Utterance:
    """Speak `text` in the chunks `plan` gives, pipelined; never raises for
    network or audio faults (template and config errors raise before anything
    is sent, for every chunk).

    With one chunk this is `speak` itself. Otherwise the first chunk that
    fails stops the utterance (`error` names it; the chunks not yet sent are
    not sent). `play` and `on_frames` get the joined audio as it comes, in
    order; `streamed` says the player already plays it. `on_chunk(i, result)`
    runs as each chunk's answer completes.
    """
    pieces = plan(service, text, split)
    if not pieces:
        raise TtsError("there is no text to speak", hint="type some text first")
    requests = [prepare(service, piece, voice=voice) for piece in pieces]  # every template error first
    utterance = Utterance(service.name, pieces)
    started = time.perf_counter()
    if len(pieces) == 1:
        result = await speak(service, pieces[0], client=client, voice=voice, request=requests[0],
                             play=play, on_frames=on_frames)
        utterance.results = [result]
        _finish_single(utterance, result)
        if on_chunk is not None:
            on_chunk(0, result)
        return utterance

    joiner = ChunkJoiner(play, on_frames)
    if play is not None:
        play.warm()  # open the device while the first chunk is synthesised
    await client.warm_network()  # else the second chunk overtakes the first while it warms up
    results: list[SpeechResult | None] = [None] * len(pieces)
    slots = asyncio.Semaphore(max(1, ahead))

    async def one(index: int) -> None:
        try:
            result = await speak(service, pieces[index], client=client, voice=voice, request=requests[index],
                                 on_frames=joiner.writer(index))
        finally:
            slots.release()
        results[index] = result
        if on_chunk is not None:
            on_chunk(index, result)
        if not result.ok:
            joiner.stop()
            raise _ChunkFailed(index, result.error or "no audio")
        joiner.finish(index)

    tasks: list[asyncio.Task[None]] = []
    try:
        for index in range(len(pieces)):
            await joiner.reached(index - max(1, ahead))  # no further ahead of what plays
            await slots.acquire()
            if joiner.stopped:
                break
            tasks.append(asyncio.create_task(one(index)))
        await asyncio.gather(*tasks)
    except _ChunkFailed as failed:
        utterance.error = f"chunk {failed.index + 1} of {len(pieces)} failed: {failed.message}"
    except BaseException:
        _cancel(tasks)
        joiner.cancel()
        raise
    finally:
        _cancel(tasks)
        await asyncio.gather(*tasks, return_exceptions=True)
    ended = time.perf_counter()
    utterance.results = [r for r in results if r is not None]
    # timed like an exchange: from the first request, not from setting up the client
    started = min((ex.t0 for ex in utterance.exchanges if ex.t0 is not None), default=started)
    utterance.total_ms = (ended - started) * 1000.0
    if utterance.error is not None:
        joiner.cancel()
        return utterance
    utterance.audio = joiner.end()
    utterance.streamed = joiner.streamed
    if joiner.first_audio_at is not None:
        utterance.ttfa_ms = (joiner.first_audio_at - started) * 1000.0
    return utterance


def _finish_single(utterance: Utterance, result: SpeechResult) -> None:
    ex = result.exchange
    utterance.error = None if result.ok else (ex.error or "no audio")
    utterance.audio, utterance.streamed = result.audio, result.streamed
    utterance.ttfa_ms, utterance.total_ms = ex.ttfa_ms, ex.total_ms


def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        if not task.done():
            task.cancel()


class _ChunkFailed(Exception):
    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index, self.message = index, message


class ChunkJoiner:
    """The frames of several answers, in chunk order, as one clip.

    Each chunk writes through `writer(i)` while it downloads; frames of the
    chunk now playing go straight out, later chunks' frames wait until every
    chunk before them has ended (`finish`). Everything goes to ONE player
    stream opened at the first chunk's rate and channels; a chunk at another
    rate is resampled with soxr. At a seam, the silence is evened out: at
    least SEAM_PAUSE_S, at most the longer of that and the first chunk's own
    trailing silence (leading silence of the next chunk is what gets cut).

    Call `end()` once every chunk finished, or `cancel()`: one of them, once.
    """

    def __init__(self, player: Player | None = None, on_frames: FramesCallback | None = None) -> None:
        self._player, self._on_frames = player, on_frames
        self._stream: Any = None
        self.rate: int | None = None
        self.channels: int | None = None
        self._current = 0
        self._waiting: dict[int, list[tuple[np.ndarray, int, int]]] = {}
        self._finished: set[int] = set()
        self._resampler: Any = None
        self._resampler_rate: int | None = None
        self._kept: list[np.ndarray] = []
        self._trail = 0  # silent frames at the end of what went out
        self._lead = 0  # leading silent frames of the current chunk, held back
        self._leading = False
        self._progress = asyncio.Event()
        self.stopped = False
        self.first_audio_at: float | None = None

    @property
    def streamed(self) -> bool:
        return self._stream is not None

    # -- the chunks' side -------------------------------------------------------------
    def writer(self, index: int) -> FramesCallback:
        """The `on_frames` callback for chunk `index`."""
        def write(frames: np.ndarray, rate: int, channels: int) -> None:
            if index == self._current:
                self._take(frames, rate, channels)
            else:
                self._waiting.setdefault(index, []).append((frames, rate, channels))
        return write

    def finish(self, index: int) -> None:
        """Chunk `index` has all its frames; chunks after it may now go out."""
        self._finished.add(index)
        while self._current in self._finished:
            self._close_chunk()
            self._current += 1
            self._leading = True
            for frames, rate, channels in self._waiting.pop(self._current, []):
                self._take(frames, rate, channels)
        self._progress.set()

    async def reached(self, index: int) -> None:
        """Return once chunk `index` is the one going out (or past it), or `stop` was called."""
        while self._current < index and not self.stopped:
            self._progress.clear()
            await self._progress.wait()

    def stop(self) -> None:
        """A chunk failed: nothing more is worth sending."""
        self.stopped = True
        self._progress.set()

    # -- the listener's side ----------------------------------------------------------
    def end(self) -> Audio:
        """Every chunk is in: the whole clip (the player keeps it for replay)."""
        samples = np.concatenate(self._kept) if self._kept else np.zeros((0, self.channels or 1), np.float32)
        audio = Audio(samples, self.rate or 24000, "pcm")
        if self._stream is not None:
            self._stream.end(audio)
        return audio

    def cancel(self) -> None:
        if self._stream is not None:
            self._stream.cancel()

    # -- inside -----------------------------------------------------------------------
    def _take(self, frames: np.ndarray, rate: int, channels: int) -> None:
        if self.rate is None:
            self.rate, self.channels = rate, channels
            self._stream = self._open(rate, channels)
        frames = np.asarray(frames, dtype=np.float32).reshape(-1, channels)
        if rate != self.rate:
            frames = self._resample(frames, rate, channels, last=False)
        if channels != self.channels:
            frames = fit_channels(frames, self.channels or 1)
        self._out(frames)

    def _resample(self, frames: np.ndarray, rate: int, channels: int, *, last: bool) -> np.ndarray:
        if self._resampler is None or self._resampler_rate != rate:
            import soxr

            self._resampler = soxr.ResampleStream(rate, self.rate, channels, dtype="float32")
            self._resampler_rate = rate
        return self._resampler.resample_chunk(frames, last=last)

    def _close_chunk(self) -> None:
        """The current chunk ended: flush its resampler, and a chunk that was
        all silence still counts as silence at the seam."""
        if self._resampler is not None:
            tail = self._resampler.resample_chunk(np.zeros((0, self.channels or 1), np.float32), last=True)
            self._resampler = self._resampler_rate = None
            if len(tail):
                self._out(fit_channels(tail, self.channels or 1))
        if self._leading and self._lead:
            self._emit(np.zeros((min(self._lead, self._seam_room()), self.channels or 1), np.float32))
        self._lead = 0

    def _out(self, frames: np.ndarray) -> None:
        if not len(frames):
            return
        if self._leading:
            loud = np.flatnonzero(np.abs(frames).max(axis=1) > SILENCE)
            if not len(loud):
                self._lead += len(frames)
                return
            self._lead += int(loud[0])
            self._leading = False
            assert self.rate is not None
            pause = int(SEAM_PAUSE_S * self.rate)
            seam = min(self._trail + self._lead, max(pause, self._trail))
            seam = max(seam, pause)
            if seam > self._trail:
                self._emit(np.zeros((seam - self._trail, frames.shape[1]), np.float32))
            frames = frames[int(loud[0]):]
            self._lead = 0
        self._emit(frames)

    def _seam_room(self) -> int:
        assert self.rate is not None
        return max(0, max(int(SEAM_PAUSE_S * self.rate), self._trail) - self._trail)

    def _emit(self, frames: np.ndarray) -> None:
        if not len(frames):
            return
        loud = np.flatnonzero(np.abs(frames).max(axis=1) > SILENCE)
        self._trail = self._trail + len(frames) if not len(loud) else len(frames) - int(loud[-1]) - 1
        self._kept.append(frames)
        if self._stream is not None:
            self._stream.write(frames)
        if self.first_audio_at is None:
            self.first_audio_at = time.perf_counter()
        if self._on_frames is not None:
            self._on_frames(frames, self.rate or 0, self.channels or 1)

    def _open(self, rate: int, channels: int) -> Any:
        return open_live_stream(self._player, rate, channels)
