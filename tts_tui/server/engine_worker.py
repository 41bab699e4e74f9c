"""An espeak-ng engine in its own process: ``python -m tts_tui.server.engine_worker``.

espeak-ng is one global, thread-unsafe engine per process, so the server runs
a few of these to speak on several cores at once (see engine_pool.py). A
worker is a plain subprocess talking over its stdin and stdout, not a
``multiprocessing`` child: it never re-imports the embedding program's
``__main__``, and it exits by itself when its parent goes away (stdin ends).

The wire is a stream of frames, each a kind byte, a 4-byte big-endian length
and the payload:

* parent -> worker: ``S`` speak (JSON ``{"text", "voice", "speed"}``), ``C``
  cancel the utterance in progress (ignored when none is);
* worker -> parent: ``R`` ready (JSON ``{"rate"}``, sent once at start),
  ``A`` s16le mono PCM, ``E`` end of the utterance, ``X`` error (JSON
  ``{"kind": "voice"|"engine", "message", "hint"}``), which also ends it.

Every ``S`` is answered by ``A`` frames then exactly one ``E`` or ``X``.
"""

from __future__ import annotations

import json
import os
import select
import signal
import struct
import sys

from tts_tui.core.errors import TtsError
from tts_tui.server import espeak

SPEAK, CANCEL = b"S", b"C"
READY, AUDIO, END, ERROR = b"R", b"A", b"E", b"X"
_HEAD = struct.Struct(">cI")
# espeak hands over 20 ms at a time; sending ~0.2 s per frame keeps the
# per-frame cost (two syscalls each side) small. The first chunk of an
# utterance goes at once, so coalescing never delays the first audio.
COALESCE_BYTES = 8192


class WireClosed(EOFError):
    """The other end of the pipe is gone."""


def write_frame(fd: int, kind: bytes, payload: bytes = b"") -> None:
    """Write one frame whole (retrying short writes); raises OSError if the pipe is gone."""
    data = memoryview(_HEAD.pack(kind, len(payload)) + payload)
    while data:
        data = data[os.write(fd, data) :]


def _read_exact(fd: int, size: int) -> bytes:
    parts: list[bytes] = []
    while size:
        part = os.read(fd, min(size, 1 << 20))
        if not part:
            raise WireClosed
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def read_frame(fd: int) -> tuple[bytes, bytes]:
    """(kind, payload) of the next frame; raises WireClosed at the end of the stream."""
    kind, size = _HEAD.unpack(_read_exact(fd, _HEAD.size))
    return kind, _read_exact(fd, size) if size else b""


def error_payload(exc: TtsError) -> bytes:
    kind = "voice" if isinstance(exc, espeak.VoiceNotFound) else "engine"
    return json.dumps({"kind": kind, "message": exc.message, "hint": exc.hint}).encode()


def error_from_payload(payload: bytes) -> TtsError:
    """The exception an ``X`` frame stands for, as the in-process engine would raise it."""
    fields = json.loads(payload)
    cls = espeak.VoiceNotFound if fields.get("kind") == "voice" else TtsError
    return cls(fields.get("message") or "the speech engine failed", hint=fields.get("hint"))


class _Worker:
    def __init__(self, in_fd: int, out_fd: int) -> None:
        self.in_fd = in_fd
        self.out_fd = out_fd
        self.parent_gone = False

    def _cancel_requested(self) -> bool:
        # A frame waiting while we speak can only be a cancel (the parent
        # sends the next ``S`` after our ``E``), or the end of stdin.
        if self.parent_gone:
            return True
        if not select.select([self.in_fd], [], [], 0)[0]:
            return False
        try:
            read_frame(self.in_fd)
        except WireClosed:
            self.parent_gone = True
        return True

    def speak(self, text: str, voice: str, speed: float) -> None:
        pending = bytearray()
        sent_any = False

        def on_chunk(chunk: bytes) -> bool:
            nonlocal sent_any
            if self._cancel_requested():
                return False
            pending.extend(chunk)
            if not sent_any or len(pending) >= COALESCE_BYTES:
                write_frame(self.out_fd, AUDIO, bytes(pending))
                pending.clear()
                sent_any = True
            return True

        try:
            espeak.synthesize(text, voice, speed, on_chunk=on_chunk)
        except TtsError as exc:
            write_frame(self.out_fd, ERROR, error_payload(exc))
            return
        if pending:
            write_frame(self.out_fd, AUDIO, bytes(pending))
        write_frame(self.out_fd, END)

    def run(self) -> int:
        try:
            rate = espeak.sample_rate()  # loads the engine: a failure is reported, then we stop
        except TtsError as exc:
            write_frame(self.out_fd, ERROR, error_payload(exc))
            return 1
        write_frame(self.out_fd, READY, json.dumps({"rate": rate}).encode())
        while not self.parent_gone:
            try:
                kind, payload = read_frame(self.in_fd)
            except WireClosed:
                return 0
            if kind != SPEAK:
                continue  # a cancel that arrived after the utterance ended
            try:
                request = json.loads(payload)
                text, voice, speed = str(request["text"]), str(request["voice"]), float(request["speed"])
            except (ValueError, KeyError, TypeError) as exc:
                write_frame(self.out_fd, ERROR, error_payload(TtsError(f"bad engine request: {exc}")))
                continue
            self.speak(text, voice, speed)
        return 0


def main() -> int:
    # Ctrl-C in `tts-tui serve` reaches the whole process group: the parent
    # stops, which ends our stdin, and we exit then, without a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The frames own the real stdout; anything else that prints (Python or
    # espeak's C code) goes to stderr instead of corrupting them.
    out_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        return _Worker(0, out_fd).run()
    except (BrokenPipeError, ConnectionError):
        return 0  # the parent went away while we wrote


if __name__ == "__main__":
    sys.exit(main())
