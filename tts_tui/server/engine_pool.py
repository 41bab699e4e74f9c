"""A small pool of espeak-ng engines, each in its own worker process.

espeak-ng keeps one global engine per process and is not thread-safe, so one
process speaks one utterance at a time. The pool runs up to
``min(usable CPUs, 4)`` worker processes (engine_worker.py) and lends one to
each utterance: the server speaks on as many cores as it has, and a crash
inside espeak costs one request, not the program that embeds the server.

Workers start lazily, on a background thread: :meth:`EnginePool.warm_up`
starts the first, and another is started only when every running one is busy
and the pool is not full. Nothing here blocks on a worker starting except a
request that needs one. If a worker cannot be started (no Python executable
to run it, say), that slot speaks in this process instead, through
espeak.py's process-wide lock: slower under load, but it works.
"""

from __future__ import annotations

import json
import os
import queue
import select
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from tts_tui.core.errors import TtsError
from tts_tui.server import espeak
from tts_tui.server.engine_worker import (
    AUDIO,
    CANCEL,
    END,
    ERROR,
    READY,
    SPEAK,
    WireClosed,
    error_from_payload,
    read_frame,
    write_frame,
)

MAX_WORKERS = 4
START_TIMEOUT_S = 30.0
_STOP_GRACE_S = 2.0


def default_size() -> int:
    """``min(usable CPUs, 4)``: the CPUs this process may run on, not the machine's."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_WORKERS))


class Engine(Protocol):
    """One engine: speaks one utterance at a time."""

    rate: int  # Hz of the s16le mono PCM it produces
    broken: bool  # True once it can no longer be used

    def speak(
        self,
        text: str,
        voice: str,
        speed: float,
        *,
        on_chunk: Callable[[bytes], None],
        cancelled: Callable[[], bool],
    ) -> None:
        """Speak ``text``, handing PCM to ``on_chunk`` as it is made.

        ``on_chunk`` must not block: the engine is busy until speech ends.
        Stops early once ``cancelled()`` is true. Raises
        :class:`espeak.VoiceNotFound` for an unknown voice (before any audio)
        and :class:`TtsError` when the engine fails.
        """

    def close(self) -> None:
        """Release the engine; only when nobody is using it."""

    def kill(self) -> None:
        """Stop it at once, from any thread, even while it speaks."""


class InProcessEngine:
    """espeak in this process, behind espeak.py's lock (one utterance at a time)."""

    broken = False

    @property
    def rate(self) -> int:
        return espeak.sample_rate()

    def speak(self, text, voice, speed, *, on_chunk, cancelled) -> None:  # noqa: ANN001 (see Engine)
        def forward(chunk: bytes) -> bool:
            if cancelled():
                return False
            on_chunk(chunk)
            return True

        espeak.synthesize(text, voice, speed, on_chunk=forward)

    def close(self) -> None:
        pass

    def kill(self) -> None:
        pass


def _worker_env() -> dict[str, str]:
    # The worker must import this very copy of tts_tui, even when the parent
    # found it through sys.path rather than an install (benchmarks do).
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH", "")) if p)
    return env


class ProcessEngine:
    """espeak in a worker process (``python -m tts_tui.server.engine_worker``)."""

    def __init__(self, proc: subprocess.Popen[bytes], rate: int) -> None:
        self._proc = proc
        self._to_worker = proc.stdin.fileno()  # type: ignore[union-attr]
        self._from_worker = proc.stdout.fileno()  # type: ignore[union-attr]
        self.rate = rate
        self.broken = False

    @property
    def pid(self) -> int:
        return self._proc.pid

    @classmethod
    def start(cls, *, quiet: bool = True, timeout: float = START_TIMEOUT_S) -> ProcessEngine:
        """A started worker, ready to speak; raises OSError or TtsError if it cannot start."""
        proc = subprocess.Popen(
            [sys.executable, "-m", "tts_tui.server.engine_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL if quiet else None,
            env=_worker_env(),
            bufsize=0,
        )
        try:
            out = proc.stdout.fileno()  # type: ignore[union-attr]
            if not select.select([out], [], [], timeout)[0]:
                raise TtsError(f"the speech engine worker did not start within {timeout:.0f} s")
            try:
                kind, payload = read_frame(out)
            except WireClosed:
                raise TtsError(f"the speech engine worker exited at start (status {proc.wait()})") from None
            if kind == ERROR:
                raise error_from_payload(payload)
            if kind != READY:
                raise TtsError(f"the speech engine worker said {kind!r} instead of ready")
            return cls(proc, int(json.loads(payload)["rate"]))
        except BaseException:
            cls._reap(proc)
            raise

    def speak(self, text, voice, speed, *, on_chunk, cancelled) -> None:  # noqa: ANN001 (see Engine)
        request = json.dumps({"text": text, "voice": voice, "speed": speed}).encode()
        finished = False
        try:
            write_frame(self._to_worker, SPEAK, request)
            cancel_sent = False
            while True:
                kind, payload = read_frame(self._from_worker)
                if kind == AUDIO:
                    if not cancel_sent:
                        on_chunk(payload)
                elif kind == END:
                    finished = True
                    return
                elif kind == ERROR:
                    finished = True
                    raise error_from_payload(payload)
                else:
                    raise WireClosed(f"unexpected frame {kind!r}")
                if not cancel_sent and cancelled():
                    # The worker stops at its next chunk; read on to its END
                    # so it comes back to the pool between utterances.
                    write_frame(self._to_worker, CANCEL)
                    cancel_sent = True
        except (OSError, WireClosed):
            raise TtsError(f"the speech engine stopped unexpectedly{self._exit_note()}") from None
        finally:
            if not finished:  # mid-utterance: the wire's state is unknown
                self.broken = True

    def _exit_note(self) -> str:
        try:
            status = self._proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            return ""
        return f" (killed by signal {-status})" if status < 0 else f" (exit status {status})"

    def close(self) -> None:
        # Closing its stdin tells the worker to exit; kill it if it does not.
        self._reap(self._proc)

    def kill(self) -> None:
        # Leaves the pipes open: the thread using the engine reads EOF, then
        # closes them (closing here could hand their numbers to a new file).
        try:
            self._proc.kill()
            self._proc.wait(timeout=_STOP_GRACE_S)
        except (OSError, subprocess.TimeoutExpired):
            pass

    @staticmethod
    def _reap(proc: subprocess.Popen[bytes]) -> None:
        for pipe in (proc.stdin, proc.stdout):
            try:
                pipe.close()  # type: ignore[union-attr]
            except OSError:
                pass
        try:
            proc.wait(timeout=_STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


_CLOSED = object()


class EnginePool:
    """Lends engines to utterances; ``size`` workers at most (None: :func:`default_size`).

    ``size=0`` speaks in this process only (one utterance at a time). Use
    :meth:`lease` around each utterance and :meth:`close` when done; after
    close, leasing raises :class:`TtsError`. ``quiet=False`` lets workers
    write to stderr and reports a worker that cannot start.
    """

    def __init__(self, size: int | None = None, *, quiet: bool = True) -> None:
        self.size = default_size() if size is None else max(0, size)
        self.quiet = quiet
        self._capacity = max(1, self.size)
        self._idle: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._engines: set[Engine] = set()  # every live engine, idle or lent
        self._starters: set[threading.Thread] = set()
        self._closed = False

    def warm_up(self) -> None:
        """Start the first engine in the background, if none is running or starting."""
        with self._lock:
            if not self._closed and not self._engines and not self._starters:
                self._start_in_background()

    @contextmanager
    def lease(self) -> Iterator[Engine]:
        """An engine for one utterance; waits while every engine is busy."""
        engine = self._acquire()
        try:
            yield engine
        finally:
            self._release(engine)

    def _acquire(self) -> Engine:
        with self._lock:
            if self._closed:
                raise TtsError("the server is stopping")
            if self._idle.empty() and len(self._engines) + len(self._starters) < self._capacity:
                self._start_in_background()
        engine = self._idle.get()
        if engine is _CLOSED:
            self._idle.put(_CLOSED)  # for the next one waiting
            raise TtsError("the server is stopping")
        return engine  # type: ignore[return-value]

    def _release(self, engine: Engine) -> None:
        with self._lock:
            keep = not engine.broken and not self._closed
            if keep:
                self._idle.put(engine)
                return
            self._engines.discard(engine)
            if engine.broken and not self._closed:
                self._start_in_background()  # others may be waiting for this slot
        engine.close()

    def _start_in_background(self) -> None:
        # Called with the lock held.
        starter = threading.Thread(target=self._start_one, name="tts-engine-start", daemon=True)
        self._starters.add(starter)
        starter.start()

    def _new_engine(self) -> Engine:
        if self.size == 0:
            return InProcessEngine()
        try:
            return ProcessEngine.start(quiet=self.quiet)
        except Exception as exc:  # noqa: BLE001 (whatever the cause, a waiting request needs an engine)
            if not self.quiet:
                print(
                    f"warning: a speech engine worker did not start ({exc}); "
                    "speaking in the server's process, one request at a time",
                    file=sys.stderr,
                )
            return InProcessEngine()

    def _start_one(self) -> None:
        engine = self._new_engine()
        with self._lock:
            self._starters.discard(threading.current_thread())
            if not self._closed:
                self._engines.add(engine)
                self._idle.put(engine)
                return
        engine.close()

    def close(self) -> None:
        """Stop every worker (killing those still speaking) and wait for them; safe twice."""
        with self._lock:
            self._closed = True
            idle: list[Engine] = []
            while not self._idle.empty():
                item = self._idle.get()
                if item is not _CLOSED:
                    idle.append(item)  # type: ignore[arg-type]
            lent = [engine for engine in self._engines if engine not in idle]
            self._engines.clear()
            starters = list(self._starters)
            self._idle.put(_CLOSED)
        for engine in idle:
            engine.close()
        for engine in lent:
            engine.kill()  # its user sees EOF, gives it back, and the release closes it
        for starter in starters:
            starter.join(timeout=START_TIMEOUT_S)
