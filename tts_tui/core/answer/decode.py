"""One exchange's answer, read while it arrives.

`AnswerDecoder` sits on the HTTP client's callbacks: once the headers and
the first bytes are in, it picks the reader (`pick.pick_reader`), feeds it
every chunk, hands the frames to a sink as they come, and stamps the time of
the first audio (`ttfa_ms`). `finish` reads what is left once the body is
complete and returns the whole audio.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from tts_tui.core.answer import media_type
from tts_tui.core.answer.decoders import SNIFF_BYTES, preload
from tts_tui.core.answer.pick import ReadHint, pick_reader, same_format
from tts_tui.core.answer.readers import Reader
from tts_tui.core.errors import TtsError
from tts_tui.core.exchange import Exchange

if TYPE_CHECKING:
    import numpy as np

    from tts_tui.core.audio import Audio


class Sink(Protocol):
    """Where frames go. A sink may say `wants_frames = False` (nobody listens
    while the answer downloads): WAV and PCM answers are then only counted,
    and their samples made when the audio's are first read."""

    def write(self, frames: np.ndarray, rate: int, channels: int) -> None: ...


class AnswerDecoder:
    """Reads `exchange`'s answer into `sink`. `clock` is the exchange whose
    `t0` the first audio is timed from and whose `ttfa_ms` it sets (the main
    exchange, when this one fetches the audio it pointed to)."""

    def __init__(self, exchange: Exchange, hint: ReadHint, sink: Sink, *, clock: Exchange | None = None) -> None:
        self.exchange = exchange
        self.hint = hint
        self.sink = sink
        self.clock = clock or exchange
        self.reader: Reader | None = None
        self.error: TtsError | None = None  # a failure while streaming, reported when the body ends
        self._head = bytearray()
        self._accepting = False
        self._ending = False
        preload(hint.format)  # while the request is in flight

    # -- the client's callbacks ---------------------------------------------
    def on_headers(self, exchange: Exchange) -> None:
        self._accepting = exchange.status is not None and 200 <= exchange.status < 300
        if self._accepting and exchange.content_type:
            preload(media_type.parse(exchange.content_type).audio_format)

    def on_chunk(self, chunk: bytes) -> None:
        if not self._accepting or self.error is not None:
            return
        try:
            if self.reader is None:
                self._head += chunk
                if len(self._head) < SNIFF_BYTES:
                    return
                chunk, self._head = bytes(self._head), bytearray()
                self._pick(chunk)
            assert self.reader is not None
            self._deliver(self.reader.feed(chunk))
        except TtsError as exc:  # a broken header, an error event: said once the body ends
            self.error = exc
            self.close()

    # -- once the body is complete ------------------------------------------
    @property
    def fetch_url(self) -> str | None:
        """Where the audio is, when the answer is JSON that points to it."""
        return self.reader.fetch_url if self.reader is not None else None

    def finish(self) -> Audio | None:
        """The whole audio, or None when it is at `fetch_url`. Raises TtsError
        when the answer holds no audio."""
        if self.error is not None:
            raise self.error
        self._ending = True  # a body shorter than a sniff is first read here: its audio came after it
        if self.reader is None:
            self._pick(bytes(self._head))
            assert self.reader is not None
            self._deliver(self.reader.feed(bytes(self._head)))
        self._deliver(self.reader.finish())
        stream = self.reader.stream
        self.exchange.reader = self.reader.name
        found = getattr(self.reader, "found", None)
        if found:
            self.exchange.notes.append(f'the answer is JSON with its audio at "{found}": read from there '
                                       f'(response = "{found}" says so in the config)')
        if self.reader.fetch_url is not None:
            return None
        audio = stream.audio()
        self._note_format(audio.format)
        for ex in {id(self.exchange): self.exchange, id(self.clock): self.clock}.values():
            ex.rate, ex.channels = audio.rate, audio.channels
        return audio

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()

    # -- the stages ---------------------------------------------------------
    def _pick(self, head: bytes) -> None:
        ex = self.exchange
        picked = pick_reader(ex.content_type, head, self.hint)
        self.reader = picked.reader
        self.reader.stream.count_only = not getattr(self.sink, "wants_frames", True)
        ex.reader = picked.reader.name
        ex.notes.extend(picked.notes)

    def _deliver(self, frames: np.ndarray | None) -> None:
        stream = self.reader.stream if self.reader is not None else None
        assert stream is not None
        if frames is not None and len(frames):
            assert stream.rate is not None and stream.channels is not None
            self.sink.write(frames, stream.rate, stream.channels)
        elif not (stream.count_only and stream.frames):  # counted frames are first audio too
            return
        clock = self.clock
        if clock.ttfa_ms is None and clock.t0 is not None:
            clock.ttfa_ms = (time.perf_counter() - clock.t0) * 1000.0
            clock.first_audio_after_body = self._ending or clock is not self.exchange

    def _note_format(self, got: str) -> None:
        asked = self.hint.format
        if asked and got and not same_format(asked, got):
            self.clock.notes.append(f"the service asks for {asked}, but the server sent {got}: played as {got}")
