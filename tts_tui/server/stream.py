"""One utterance, spoken on a worker thread and read chunk by chunk.

espeak runs under a process-wide lock. If a request handler wrote each chunk
to its socket from inside the synthesis callback, a client that reads slowly
(one that plays as it reads, say) would hold that lock for the length of the
audio and stall every other request. Instead the worker queues the chunks
(espeak is ~1000x faster than real time, so it finishes and lets go of the
lock almost at once) and the handler thread sends them at the client's pace.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

from tts_tui.server import espeak

_END = object()


class SpeechStream:
    """The PCM (s16le mono, :func:`espeak.sample_rate` Hz) of one utterance.

    Iterate to get the chunks as espeak makes them; errors from the engine
    (:class:`espeak.VoiceNotFound`, :class:`TtsError`) are raised by the
    iteration, before any chunk when the voice is unknown. Call :meth:`cancel`
    when the client is gone: synthesis stops at the next chunk.
    """

    def __init__(
        self,
        text: str,
        voice: str,
        speed: float,
        *,
        max_buffered_chunks: int = 16384,
        stall_timeout: float = 60.0,
    ) -> None:
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max_buffered_chunks)
        self._cancelled = threading.Event()
        self._stall_timeout = stall_timeout
        self._thread = threading.Thread(
            target=self._run, args=(text, voice, speed), name="tts-synthesis", daemon=True
        )
        self._thread.start()

    def _run(self, text: str, voice: str, speed: float) -> None:
        try:
            espeak.synthesize(text, voice, speed, on_chunk=self._put)
        except BaseException as exc:  # handed to the reader, raised there
            self._put(exc)
        else:
            self._put(_END)

    def _put(self, item: object) -> bool:
        # A full queue means the reader stopped reading; give up after a while
        # rather than hold espeak's lock for ever.
        deadline = time.monotonic() + self._stall_timeout
        while not self._cancelled.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                if time.monotonic() > deadline:
                    self._cancelled.set()
        return False

    def __iter__(self) -> Iterator[bytes]:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]

    def cancel(self) -> None:
        """Stop synthesis soon; safe to call more than once, or after the end."""
        self._cancelled.set()
