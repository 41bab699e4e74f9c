"""One utterance, spoken on a feeder thread and read chunk by chunk.

The request handler writes audio to its client at the client's pace; that
must never keep an engine busy, or one client that stops reading would stall
every other request. So the feeder borrows an engine from the pool for one
piece of the text at a time (segments.py), hands the chunks to an in-memory
buffer that never blocks the engine, and gives the engine back. Before the
next piece it waits until the client has read the buffer down below
``high_water`` bytes: a slow reader holds memory, bounded, but no engine.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator

from tts_tui.server import espeak
from tts_tui.server.engine_pool import EnginePool
from tts_tui.server.segments import SEGMENT_CHARS, split_text

HIGH_WATER_BYTES = 2 * 1024 * 1024  # ~48 s of espeak's 22050 Hz PCM

_END = object()


class SpeechStream:
    """The PCM (s16le mono, :attr:`sample_rate` Hz) of one utterance.

    Iterate to get the chunks as the engines make them; errors from the engine
    (:class:`espeak.VoiceNotFound`, :class:`TtsError`) are raised by the
    iteration, before any chunk when the voice is unknown. :attr:`sample_rate`
    is set once iteration has yielded a chunk or ended. Call :meth:`cancel`
    when the client is gone: synthesis stops at the next chunk.
    """

    def __init__(
        self,
        text: str,
        voice: str,
        speed: float,
        *,
        engines: EnginePool,
        segment_chars: int = SEGMENT_CHARS,
        high_water: int = HIGH_WATER_BYTES,
    ) -> None:
        self.sample_rate: int | None = None
        self.pieces_spoken = 0  # how many pieces of the text an engine has spoken so far
        self._engines = engines
        self._segment_chars = segment_chars
        self._high_water = high_water
        self._items: deque[object] = deque()
        self._buffered = 0  # PCM bytes made but not yet taken by the reader
        self._changed = threading.Condition()
        self._cancelled = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(text, voice, speed), name="tts-synthesis", daemon=True
        )
        self._thread.start()

    def _run(self, text: str, voice: str, speed: float) -> None:
        try:
            for piece in split_text(text, self._segment_chars):
                if not piece.strip():
                    continue  # white space speaks as nothing: no need for an engine
                if not self._wait_for_room():
                    return
                with self._engines.lease() as engine:
                    self.sample_rate = engine.rate
                    if self._cancelled.is_set():
                        return
                    engine.speak(piece, voice, speed, on_chunk=self._put, cancelled=self._cancelled.is_set)
                self.pieces_spoken += 1
            if self.sample_rate is None:  # nothing to speak: the rate is still needed
                self.sample_rate = espeak.sample_rate()
        except BaseException as exc:  # handed to the reader, raised there
            self._push(exc)
        else:
            self._push(_END)

    def _wait_for_room(self) -> bool:
        with self._changed:
            while self._buffered >= self._high_water and not self._cancelled.is_set():
                self._changed.wait()
        return not self._cancelled.is_set()

    def _put(self, chunk: bytes) -> None:
        with self._changed:
            self._items.append(chunk)
            self._buffered += len(chunk)
            self._changed.notify_all()

    def _push(self, item: object) -> None:
        with self._changed:
            self._items.append(item)
            self._changed.notify_all()

    @property
    def buffered(self) -> int:
        """PCM bytes made and not yet read: what a slow reader costs in memory."""
        with self._changed:
            return self._buffered

    def __iter__(self) -> Iterator[bytes]:
        while True:
            with self._changed:
                while not self._items:
                    self._changed.wait()
                item = self._items.popleft()
                if isinstance(item, bytes):
                    self._buffered -= len(item)
                    self._changed.notify_all()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    def cancel(self) -> None:
        """Stop synthesis soon; safe to call more than once, or after the end."""
        self._cancelled.set()
        with self._changed:
            self._changed.notify_all()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the feeder thread to end (after the end or a cancel); True if it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
