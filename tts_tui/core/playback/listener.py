"""The laptop side of the listener link: plays what a remote tts-tui sends.

`Listener` binds 127.0.0.1 only (an SSH tunnel reaches it; the network does
not), plays each clip through a local DevicePlayer while its frames arrive,
reports its state back, and writes one line per clip through `report`. It
never sends audio on to another listener: it plays on a device or nowhere.

One sender plays at a time. A second one is told "busy" while a clip plays;
when the first is idle, the newcomer takes the link over (the first gets a
BYE and reconnects on its next clip). A wrong token, a wrong version, garbage
or a sender that vanishes ends that connection with a reason, never the
listener.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import threading
import time
import wave
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tts_tui import __version__
from tts_tui.core.audio import Audio
from tts_tui.core.device_player import DevicePlayer
from tts_tui.core.device_stream import StreamSink
from tts_tui.core.playback import link_protocol as lp
from tts_tui.core.playback.output_spec import DEFAULT_PORT

HANDSHAKE_TIMEOUT = 5.0  # a connection that sends no hello in this time is dropped
STATUS_INTERVAL = 0.05  # seconds between statuses while a clip plays
IDLE_LINGER = 3600.0  # the listener keeps its device open: the next clip starts within a period


@dataclass
class ClipRecord:
    """One clip a listener received (what its line says)."""

    who: str
    clip: int
    rate: int
    channels: int
    frames: int = 0
    ended: bool = False
    cut: str | None = None  # why it stopped short: "stopped", "the sender went away", an error
    saved: Path | None = None
    played: float = 0.0  # seconds the device took, as far as it got
    pcm: bytearray = field(default_factory=bytearray, repr=False)

    @property
    def duration(self) -> float:
        return self.frames / self.rate if self.rate else 0.0


class Listener:
    """Serve the listener link on 127.0.0.1:`port` (0: a free port, see `.port`)."""

    def __init__(
        self,
        port: int = DEFAULT_PORT,
        *,
        device: str = "default",
        save_dir: Path | str | None = None,
        token: str | None = None,
        report: Callable[[str], None] | None = None,
        player: DevicePlayer | None = None,
    ) -> None:
        self.requested_port = port
        self.token = token
        self.save_dir = Path(save_dir).expanduser() if save_dir else None
        self.report = report if report is not None else (lambda line: None)
        self.player = player or DevicePlayer(device, linger=IDLE_LINGER)
        self.clips: list[ClipRecord] = []
        self.refused: list[str] = []  # one reason per connection refused
        self._server: socket.socket | None = None
        self._session: _Session | None = None
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return self._server.getsockname()[1] if self._server else self.requested_port

    @property
    def device(self) -> str:
        """Where the sound goes: the device's name, or why it is silent."""
        reason = self.player.silent_reason
        if reason:
            return f"silent: {reason}"
        return self.player.device_name or "the default device"

    def start(self) -> None:
        """Bind and start accepting; returns at once. Raises OSError when the
        port is taken."""
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            server.bind(("127.0.0.1", self.requested_port))
            server.listen(8)
        except OSError:
            server.close()
            raise
        self._server = server
        self.player.open_now()  # the device opens now, not with the first clip, and has a name
        accept = threading.Thread(target=self._accept_loop, args=(server,), name="tts-listener-accept", daemon=True)
        self._threads.append(accept)
        accept.start()

    def serve_forever(self) -> None:
        """Block until `close()` (or KeyboardInterrupt)."""
        while not self._closed.wait(0.5):
            pass

    def close(self) -> None:
        self._closed.set()
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)  # wakes the accept loop's select at once
            with contextlib.suppress(OSError):
                server.close()
        for thread in self._threads:
            thread.join(1.0)  # the port is free again when close() returns
        session = self._session
        if session is not None:
            session.end("the listener stopped")
        self.player.close()

    def __enter__(self) -> Listener:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connections --------------------------------------------------------------
    def _spawn(self, target: Callable[..., None], name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()

    def _accept_loop(self, server: socket.socket) -> None:
        while not self._closed.is_set():
            try:
                ready, _, _ = select.select([server], [], [], 0.25)
                if not ready:
                    continue
                conn, _ = server.accept()
            except (OSError, ValueError):
                if self._closed.is_set():
                    return
                time.sleep(0.05)  # e.g. out of file descriptors: try again
                continue
            self._spawn(self._serve_connection, "tts-listener-session", conn)

    def _serve_connection(self, conn: socket.socket) -> None:
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            source = _FrameSource(conn)
            hello = self._handshake(conn, source)
            if hello is None:
                return
            who = str(hello.get("who") or "someone")[:80]
            session = self._take_link(conn, who, welcomed=self.token is not None)
            if session is None:
                return
            session.run(source)
        except Exception as exc:  # the listener outlives any one connection
            self.report(f"error: a connection failed: {type(exc).__name__}: {exc}")
        finally:
            with contextlib.suppress(OSError):
                conn.close()

    def _handshake(self, conn: socket.socket, source: _FrameSource) -> dict[str, Any] | None:
        """Read the preamble and HELLO (and with a token, send WELCOME and check
        AUTH); refuse with an ERROR frame when they are wrong."""
        conn.settimeout(HANDSHAKE_TIMEOUT)
        try:
            version = lp.check_preamble(source.read_exactly(lp.PREAMBLE_SIZE))
            if version != lp.VERSION:
                return self._refuse(conn, "version", f"this listener speaks link version {lp.VERSION}, the sender "
                                    f"{version}: install the same tts-tui version on both ends")
            kind, hello = source.next()
            if kind != lp.HELLO:
                raise lp.ProtocolError("the first frame is not a hello")
            if self.token is not None:
                mine = lp.nonce()
                conn.sendall(lp.frame(lp.WELCOME, {
                    **self._welcome(), "nonce": mine,
                    "proof": lp.proof(self.token, "listener", str(hello.get("nonce") or "")),
                }))
                kind, auth = source.next()
                if kind != lp.AUTH or not lp.proof_ok(self.token, "sender", mine, auth.get("proof")):
                    return self._refuse(conn, "token", "the listener refused: wrong token")
        except lp.ProtocolError as exc:
            return self._refuse(conn, "protocol", f"garbage on the link: {exc}")
        except (TimeoutError, socket.timeout):
            self.refused.append("no hello in time")
            return None
        except (OSError, EOFError):
            return None
        conn.settimeout(None)
        return hello

    def _welcome(self) -> dict[str, Any]:
        return {"device": self.player.device_name or "", "silent": self.player.silent_reason,
                "version": lp.VERSION, "listener": f"tts-tui {__version__}"}

    def _refuse(self, conn: socket.socket, code: str, message: str) -> None:
        self.refused.append(message)
        self.report(f"refused a connection: {message}")
        with contextlib.suppress(OSError):
            conn.sendall(lp.frame(lp.ERROR, {"code": code, "error": message}))
        return None

    def _take_link(self, conn: socket.socket, who: str, *, welcomed: bool) -> _Session | None:
        with self._lock:
            current = self._session
            if current is not None and current.busy:
                self._refuse(conn, "busy", f"the listener is busy playing for {current.who}")
                return None
            if current is not None:
                current.end(f"taken over by {who}")
            session = _Session(self, conn, who)
            self._session = session
        if not welcomed:
            session.send(lp.frame(lp.WELCOME, self._welcome()))
        return session

    def _session_over(self, session: _Session) -> None:
        with self._lock:
            if self._session is session:
                self._session = None

    def clip_line(self, record: ClipRecord) -> str:
        """The line a finished (or cut) clip prints."""
        layout = {1: "mono", 2: "stereo"}.get(record.channels, f"{record.channels} ch")
        parts = [record.who, f"clip {record.clip}", f"s16le {record.rate} Hz {layout}",
                 f"{record.duration:.2f} s", f"♪ {self.device}"]
        if record.cut:
            parts.append(f"cut: {record.cut}")
        if record.saved:
            parts.append(f"saved {record.saved}")
        return " · ".join(parts)

    def save(self, record: ClipRecord) -> None:
        """Write the clip to `save_dir` as WAV (errors become the clip's line, not a crash)."""
        if self.save_dir is None or not record.frames:
            return
        stamp = time.strftime("%Y%m%d-%H%M%S")
        who = re.sub(r"[^A-Za-z0-9._-]+", "_", record.who)
        path = self.save_dir / f"{stamp}-{who}-clip{record.clip}.wav"
        n = 2
        while path.exists():
            path = self.save_dir / f"{stamp}-{who}-clip{record.clip}-{n}.wav"
            n += 1
        try:
            self.save_dir.mkdir(parents=True, exist_ok=True)
            with wave.open(str(path), "wb") as out:
                out.setnchannels(record.channels)
                out.setsampwidth(2)
                out.setframerate(record.rate)
                out.writeframes(bytes(record.pcm))
        except OSError as exc:
            record.cut = (record.cut + "; " if record.cut else "") + f"not saved: {exc.strerror or exc}"
            return
        record.saved = path


class _FrameSource:
    """Frames from a connection, one at a time or as they come."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self.reader = lp.FrameReader()
        self.pending: list[tuple[bytes, Any]] = []
        self._raw = b""

    def read_exactly(self, size: int) -> bytes:
        """The first bytes of the connection (the preamble), before any frame."""
        while len(self._raw) < size:
            chunk = self.conn.recv(size - len(self._raw))
            if not chunk:
                raise EOFError
            self._raw += chunk
        return self._raw

    def next(self) -> tuple[bytes, Any]:
        """The next frame (blocking, within the socket's timeout)."""
        while not self.pending:
            data = self.conn.recv(65536)
            if not data:
                raise EOFError
            self.pending += self.reader.feed(data)
        return self.pending.pop(0)

    def feed(self, data: bytes) -> list[tuple[bytes, Any]]:
        """Frames already read, then those `data` completes."""
        frames, self.pending = self.pending, []
        return frames + self.reader.feed(data)


class _Session:
    """One sender's connection, served in its own thread."""

    def __init__(self, listener: Listener, conn: socket.socket, who: str) -> None:
        self.listener, self.conn, self.who = listener, conn, who
        self.player = listener.player
        self._send_lock = threading.Lock()
        self._over = threading.Event()
        self.record: ClipRecord | None = None  # the clip being received or played
        self.kept: tuple[ClipRecord, Audio] | None = None  # the last clip, for "seek to 0"
        self.sink: StreamSink | None = None
        self.clip: int | None = None  # the clip statuses are about
        self.clip_error: str | None = None
        self.playing_since = 0.0
        self.first_at: float | None = None
        self.ack = 0
        self._last_status = 0.0
        self._last_sent: tuple[Any, ...] | None = None

    @property
    def busy(self) -> bool:
        """A clip is playing (or paused) for this sender."""
        return self.clip is not None and not self._over.is_set()

    def send(self, data: bytes) -> None:
        with self._send_lock:
            try:
                self.conn.sendall(data)
            except OSError:
                self._over.set()

    def end(self, reason: str) -> None:
        """Close this session from another thread (take-over, shutdown)."""
        if self._over.is_set():
            return
        self.send(lp.frame(lp.BYE, {"reason": reason}))
        self._over.set()
        with contextlib.suppress(OSError):
            self.conn.shutdown(socket.SHUT_RDWR)

    def run(self, reader: _FrameSource) -> None:
        why = "the sender went away"
        try:
            for kind, payload in reader.feed(b""):
                self.handle(kind, payload)
            while not self._over.is_set():
                ready, _, _ = select.select([self.conn], [], [], STATUS_INTERVAL / 2)
                if ready:
                    data = self.conn.recv(65536)
                    if not data:
                        break
                    for kind, payload in reader.feed(data):
                        if kind == lp.BYE:
                            why = "the sender closed"
                            self._over.set()
                            break
                        self.handle(kind, payload)
                self.tick()
        except lp.ProtocolError as exc:
            why = f"garbage on the link: {exc}"
            self.listener.refused.append(why)
            self.send(lp.frame(lp.ERROR, {"code": "protocol", "error": why}))
        except (OSError, ValueError):
            pass
        finally:
            self._over.set()
            self._cut(why)
            self.listener._session_over(self)

    # -- frames ---------------------------------------------------------------
    def handle(self, kind: bytes, payload: Any) -> None:
        if isinstance(payload, dict) and isinstance(payload.get("n"), int):
            self.ack = max(self.ack, payload["n"])
        if kind == lp.START:
            self.start(payload)
        elif kind == lp.AUDIO:
            self.audio(payload)
        elif kind == lp.END:
            self.finish(payload)
        elif kind == lp.CONTROL:
            self.control(payload)
        # WELCOME, STATUS, ERROR from a sender mean nothing here: ignored
        self.tick(force=True)

    def start(self, payload: dict[str, Any]) -> None:
        self._cut("a new clip started")
        clip = payload.get("clip")
        self.clip = clip if isinstance(clip, int) else -1
        self.first_at, self.clip_error = None, None
        problem = lp.clip_problem(payload)
        if problem is not None:
            self.clip_error = problem
            self.listener.report(f"{self.who} · clip {self.clip} refused: {problem}")
            return
        rate, channels = int(payload["rate"]), int(payload["channels"])
        self.record = ClipRecord(self.who, self.clip, rate, channels)
        self.listener.clips.append(self.record)
        self.sink = self.player.open_stream(rate, channels)

    def audio(self, data: bytes) -> None:
        record, sink = self.record, self.sink
        if record is None or record.ended or self.clip_error:
            return  # after a stop or a refused clip: dropped
        try:
            frames = lp.from_s16le(data, record.channels)
        except ValueError as exc:
            self._refuse_clip(str(exc))
            return
        record.pcm += data
        record.frames += len(frames)
        if sink is not None:
            sink.write(frames)

    def finish(self, payload: dict[str, Any]) -> None:
        record, sink = self.record, self.sink
        if record is None or record.ended or payload.get("clip") != record.clip:
            return
        record.ended = True
        if sink is not None:
            sink.end()
            self.kept = (record, sink.audio)
        self.listener.save(record)
        self.listener.report(self.listener.clip_line(record))

    def control(self, payload: dict[str, Any]) -> None:
        op = payload.get("op")
        if op == "seek" and self.kept is not None and payload.get("clip") == self.kept[0].clip:
            self.clip, self.clip_error, self.first_at = self.kept[0].clip, None, None
            self.sink = None
            self.player.play(self.kept[1])
            return
        if payload.get("clip") != self.clip:
            return
        if op == "pause":
            self.player.pause()
        elif op == "resume":
            self.player.resume()
        elif op == "stop":
            self.player.stop()
            self._cut("stopped")

    def _refuse_clip(self, problem: str) -> None:
        self.clip_error = problem
        if self.sink is not None:
            self.sink.cancel()
        self.listener.report(f"{self.who} · clip {self.clip} refused: {problem}")

    def _cut(self, why: str) -> None:
        """The clip being received ends short: what arrived plays out, and is
        printed and saved as it is."""
        record, sink = self.record, self.sink
        self.record = self.sink = None
        if record is None or record.ended:
            return
        record.ended, record.cut = True, why
        if sink is not None and why != "stopped":
            sink.end()
        self.listener.save(record)
        self.listener.report(self.listener.clip_line(record))

    # -- statuses -----------------------------------------------------------------
    def tick(self, *, force: bool = False) -> None:
        """Send a status when something changed, and every STATUS_INTERVAL while a clip plays."""
        if self.clip is None:
            return
        state, position, error = self._state()
        if self.first_at is None:
            self.first_at = (self.sink.first_sample_at if self.sink is not None else self.player.first_sample_at)
        now = time.perf_counter()
        key = (self.clip, self.ack, state, error)
        if not force and key == self._last_sent and now - self._last_status < STATUS_INTERVAL:
            return
        self._last_sent, self._last_status = key, now
        record = self.record if self.record is not None and self.record.clip == self.clip else (
            self.kept[0] if self.kept is not None and self.kept[0].clip == self.clip else None)
        if record is not None and error is None:
            record.played = max(record.played, position)
        age = None if self.first_at is None else now - self.first_at
        self.send(lp.frame(lp.STATUS, {"clip": self.clip, "ack": self.ack, "state": state, "position": position,
                                       "age": age, "device": self.player.device_name, "error": error}))
        if state in ("stopped", "error"):
            self.clip = None  # told: no more statuses about this clip

    def _state(self) -> tuple[str, float, str | None]:
        if self.clip_error is not None:
            return "error", 0.0, self.clip_error
        reason = self.player.silent_reason
        if reason is not None:
            record = self.record
            over = record is None or record.ended
            return ("stopped" if over else "buffering"), 0.0, reason
        sink = self.sink
        if sink is not None and not sink.current and self.record is not None and not self.record.ended:
            return "buffering", 0.0, None  # the device took another job (cannot happen with one sender)
        state = self.player.state
        if state == "stopped" and self.record is not None and not self.record.ended:
            state = "buffering"  # nothing arrived yet
        return state, self.player.position, None
