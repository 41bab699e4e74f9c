"""The sender side of the listener link: an output that plays on a listener
at 127.0.0.1:PORT (through `ssh -R`, the laptop's `tts-tui listen`).

Nothing here blocks its caller on the network. The TCP connect is to the
loopback address, so it is refused or accepted at once (the far end of an
SSH tunnel answers later, through the hello); everything after it (hello,
audio, controls) goes through an outbox that the link's writer thread sends,
and a reader thread takes the listener's statuses. A listener that goes away
(the tunnel closed, the laptop asleep) turns into `silent_reason`, with the
audio kept; the next play, stream or warm-up connects again.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import select
import socket
import threading
import time
from collections import deque
from typing import Any

import numpy as np

from tts_tui.core.audio import Audio
from tts_tui.core.playback import link_protocol as lp
from tts_tui.core.playback.clip_output import ClipOutput
from tts_tui.core.playback.output_spec import DEFAULT_PORT

CONNECT_TIMEOUT = 1.0  # loopback: refused or accepted at once; more only under a full backlog
HELLO_TIMEOUT = 8.0  # the hello crosses the tunnel: one round trip, on a slow link too
STALE_SECONDS = 3.0  # a playing listener reports 20 times a second; this long without a word: gone
STATUS_FINAL = ("stopped", "error")
TUNNEL_HINT = 'run "tts-tui ssh HOST" from your laptop'


def sender_name() -> str:
    """user@host, for the listener's clip lines (no DNS: the local name only)."""
    try:
        user = getpass.getuser()
    except Exception:
        user = "someone"
    return f"{user}@{socket.gethostname()}"


class _Link:
    """One connection to a listener: handshake, outbox, statuses."""

    def __init__(self, sock: socket.socket, token: str | None, on_frame: Any, port: int) -> None:
        self.sock, self.token, self.port = sock, token, port
        self.state = "handshake"  # -> "ready" -> "down"
        self.down_reason: str | None = None
        self.down_code: str | None = None  # ERROR code, "bye", or None (a broken connection)
        self.welcome: dict[str, Any] = {}
        self.rtt = 0.0
        self.last_heard = self.last_sent = time.monotonic()
        self.expecting = False  # a clip plays there: statuses must keep coming
        self.device: str | None = None  # the listener's device, as its last status named it
        self._on_frame = on_frame
        self._outbox: deque[tuple[int | None, bytes]] = deque()
        self._wake = threading.Condition()
        self._closing = False
        self._ready = threading.Event()
        self._nonce = lp.nonce()
        self._auth: bytes | None = None
        self._hello = lp.PREAMBLE + lp.frame(lp.HELLO, {"who": sender_name(), "nonce": self._nonce})

    def start(self) -> None:
        """Start the handshake (call once the owner holds this link: its events name it)."""
        threading.Thread(target=self._write_loop, name="tts-link-writer", daemon=True).start()
        threading.Thread(target=self._read_loop, name="tts-link-reader", daemon=True).start()

    @property
    def alive(self) -> bool:
        return self.state != "down"

    def send(self, data: bytes, clip: int | None = None) -> None:
        """Queue a frame; `clip` tags audio so `purge` can drop it."""
        with self._wake:
            self._outbox.append((clip, data))
            self._wake.notify()

    def purge(self, clip: int) -> None:
        """Drop the queued audio of `clip` (a stopped clip need not cross a slow link)."""
        with self._wake:
            self._outbox = deque(item for item in self._outbox if item[0] != clip)

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def close(self, reason: str = "sender closed") -> None:
        """Send what is queued and a BYE, then close (in the writer thread)."""
        with self._wake:
            if self._closing:
                return
            self._closing = True
            self._outbox.append((None, lp.frame(lp.BYE, {"reason": reason})))
            self._wake.notify()

    def fail(self, reason: str, code: str | None = None) -> None:
        """The link is over: say why, wake everyone, close the socket."""
        with self._wake:
            if self.state == "down":
                return
            self.state, self.down_reason, self.down_code = "down", reason, code
            self._outbox.clear()
            self._wake.notify_all()
        self._ready.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self.sock.close()
        self._on_frame(self, None, None)

    # -- threads --------------------------------------------------------------
    def _write_loop(self) -> None:
        try:
            sent_at = time.perf_counter()
            self.sock.sendall(self._hello)
            if not self._ready.wait(HELLO_TIMEOUT):
                self.fail("the listener did not answer the hello (is it a tts-tui listener?)")
                return
            if self.state == "down":
                return
            self.rtt = getattr(self, "_welcomed_at", sent_at) - sent_at
            if self._auth is not None:  # before anything else, without waiting for an answer
                self.sock.sendall(self._auth)
            while True:
                with self._wake:
                    while not self._outbox and not self._closing and self.state != "down":
                        self._wake.wait()
                    if self.state == "down":
                        return
                    if not self._outbox:  # closing, all sent
                        break
                    _, data = self._outbox.popleft()
                self.sock.sendall(data)
                self.last_sent = time.monotonic()
            self.fail("closed", code="closed")
        except OSError as exc:
            self.fail(f"the listener went away ({exc.strerror or exc})")

    def _read_loop(self) -> None:
        reader = lp.FrameReader()
        try:
            while self.state != "down":
                ready, _, _ = select.select([self.sock], [], [], 0.25)
                if not ready:
                    self._check_stale()
                    continue
                data = self.sock.recv(65536)
                if not data:
                    self.fail("the listener went away (the tunnel or the listener closed)")
                    return
                self.last_heard = time.monotonic()
                for kind, payload in reader.feed(data):
                    self._handle(kind, payload)
        except lp.ProtocolError as exc:
            self.fail(f"the listener sent something this tts-tui cannot read ({exc})")
        except (OSError, ValueError) as exc:  # ValueError: select on a closed socket
            self.fail(f"the listener went away ({getattr(exc, 'strerror', None) or exc})")

    def _handle(self, kind: bytes, payload: Any) -> None:
        if kind == lp.WELCOME:
            their_nonce = payload.get("nonce")
            if self.token is None and their_nonce:
                self.fail(f'the listener on 127.0.0.1:{self.port} requires a token: use audio.output = '
                          f'"listen:{self.port}:TOKEN"', code="token")
                return
            if self.token is not None:
                if not lp.proof_ok(self.token, "listener", self._nonce, payload.get("proof")):
                    self.fail(f"the listener on 127.0.0.1:{self.port} does not know the token (another "
                              "user's listener on that port, or a wrong token); nothing was sent", code="token")
                    return
                self._auth = lp.frame(lp.AUTH, {"proof": lp.proof(self.token, "sender", str(their_nonce))})
            self.welcome = payload
            self._welcomed_at = time.perf_counter()
            self.state = "ready"
            self._ready.set()
        elif kind == lp.ERROR:
            self.fail(str(payload.get("error") or "refused"), code=str(payload.get("code") or "refused"))
        elif kind == lp.BYE:
            self.fail(str(payload.get("reason") or "the listener said goodbye"), code="bye")
        elif kind == lp.STATUS:
            self.device = payload.get("device") or self.device
            self._on_frame(self, kind, payload)

    def _check_stale(self) -> None:
        now = time.monotonic()
        if self.expecting and now - max(self.last_heard, self.last_sent) > STALE_SECONDS:
            self.fail(f"the listener stopped answering for {STALE_SECONDS:.0f} s (the tunnel may be down)")


class RemoteOutput(ClipOutput):
    """Plays on a listener at 127.0.0.1:`port`. `fallback_for`, when given, is
    the local device's reason for being silent: this output is then the
    "default" chain's second choice, and its reasons say both."""

    def __init__(self, port: int = DEFAULT_PORT, token: str | None = None, *, fallback_for: str | None = None) -> None:
        super().__init__()
        self.port, self.token = port, token
        self.fallback_for = fallback_for
        self._link: _Link | None = None
        self._reason: str | None = None  # why the last attempt failed (None: fine, or not tried)
        self._n = 0  # the last command number sent
        self._expect = 0  # statuses acking less than this predate our last command
        self._status: dict[str, Any] | None = None  # the current clip's latest status, acked
        self._status_at = 0.0
        self._hoped = "stopped"  # the state to show until a status acks our last command
        self._sent_frames = 0
        self._rate = 1
        self._first_at: dict[int, float] = {}
        self._kept_audio: Audio | None = None  # the clip the listener holds, for seek
        self._kept_clip: int | None = None
        self._kept_link: _Link | None = None

    # -- what the playback bar shows ----------------------------------------------
    @property
    def silent_reason(self) -> str | None:
        link = self._link
        if link is not None and link.alive:
            silent = link.welcome.get("silent")
            return f"the listener on the laptop is silent: {silent}" if silent else None
        return self._reason

    @property
    def available(self) -> bool:
        """True unless the last attempt failed (a play or warm-up tries again)."""
        if self._link is None and self._reason is None:
            self._connect()
        return self.silent_reason is None

    @property
    def device_name(self) -> str | None:
        link = self._link
        device = None if link is None else link.device or link.welcome.get("device")
        if not device:
            return None
        via = "via ssh" if os.environ.get("SSH_CONNECTION") else f"via listener :{self.port}"
        return f"{via} → {device}"

    @property
    def state(self) -> str:
        if self.silent_reason is not None:
            return "silent"
        if self._clip is None:
            return "stopped"
        status = self._status
        if status is None:
            return self._hoped
        state = str(status.get("state"))
        return "stopped" if state in STATUS_FINAL else state if state in ("playing", "paused", "buffering") else "buffering"

    @property
    def position(self) -> float:
        if self._clip is None:
            return 0.0
        status = self._status
        if status is None:
            return 0.0
        position = float(status.get("position") or 0.0)
        if status.get("state") == "playing":
            position += time.perf_counter() - self._status_at
        return min(position, self._sent_frames / self._rate)

    @property
    def _clip_over(self) -> bool:
        status = self._status
        return status is not None and status.get("state") in STATUS_FINAL

    # -- control --------------------------------------------------------------
    def warm(self) -> None:
        """Connect now (returns at once), so the first clip skips the handshake."""
        with self._control:
            self._connect()

    def close(self) -> None:
        """Stop, then say goodbye to the listener (queued frames are sent first)."""
        with self._control:
            self.stop()
            link, self._link = self._link, None
            if link is not None:
                link.close()

    def refresh(self) -> None:
        """Forget the last failure, so the next play connects again."""
        with self._control:
            if self._link is not None and not self._link.alive:
                self._link = None
            self._reason = None

    # -- hooks ------------------------------------------------------------------------
    def _connect(self) -> _Link | None:
        """The live link, connecting a new one when there is none (never waits
        for the handshake)."""
        link = self._link
        if link is not None and link.alive:
            return link
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=CONNECT_TIMEOUT)
        except OSError as exc:
            self._link = None
            self._reason = self._no_listener(exc)
            return None
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small frames: no Nagle delay
        self._reason = None
        self._link = link = _Link(sock, self.token, self._on_link_event, self.port)
        link.start()
        return link

    def _no_listener(self, exc: OSError) -> str:
        if self.fallback_for is not None:
            if self.fallback_for == "no audio output device":
                return f"no output device and no listener ({TUNNEL_HINT})"
            return f"{self.fallback_for}, and no listener ({TUNNEL_HINT})"
        return f"no listener on 127.0.0.1:{self.port} ({exc.strerror or exc}; {TUNNEL_HINT})"

    def _on_link_event(self, link: _Link, kind: bytes | None, payload: Any) -> None:
        """Called from the link's reader thread: a status, or None when the link is down."""
        if link is not self._link:
            return
        if kind is None:
            link.expecting = False
            mid_clip = self._clip is not None and not self._clip_over
            if link.down_code in ("bye", "closed") and not mid_clip:
                self._link, self._reason = None, None  # let go while idle (taken over, closed): not a fault
                return
            reason = link.down_reason or "the listener went away"
            if mid_clip:
                reason = f"{reason} mid-clip; the audio is kept (F8 replays), the next speak connects again"
            self._reason = reason
            return
        if payload.get("clip") != self._clip or int(payload.get("ack") or 0) < self._expect:
            return  # about an older clip, or sent before our last command
        if payload.get("age") is not None and self._clip not in self._first_at:
            self._first_at = {self._clip: time.perf_counter() - float(payload["age"]) - link.rtt / 2}
        self._status, self._status_at = payload, time.perf_counter()
        if payload.get("state") in STATUS_FINAL:
            link.expecting = False

    def _command(self, kind: bytes, clip: int, hoped: str | None, **fields: Any) -> None:
        link = self._link
        if link is None or not link.alive:
            return
        self._n += 1
        if hoped is not None:  # a command that changes the state: older statuses are stale
            self._expect, self._status, self._hoped = self._n, None, hoped
        link.send(lp.frame(kind, {"n": self._n, "clip": clip, **fields}))

    def _prepare(self) -> bool:
        return self._connect() is not None

    def _begin(self, clip: int, rate: int, channels: int) -> None:
        self._sent_frames, self._rate = 0, rate
        self._kept_audio = self._kept_clip = None
        self._command(lp.START, clip, "buffering", format="s16le", rate=rate, channels=channels)
        if self._link is not None:
            self._link.expecting = True

    def _frames(self, clip: int, frames: np.ndarray) -> None:
        link = self._link
        if link is None or not link.alive:
            return
        step = max(1, lp.AUDIO_CHUNK_BYTES // (2 * frames.shape[1]))
        for start in range(0, len(frames), step):
            link.send(lp.frame(lp.AUDIO, lp.to_s16le(frames[start:start + step])), clip)
        self._sent_frames += len(frames)

    def _finish(self, clip: int, audio: Audio) -> None:
        self._command(lp.END, clip, None)
        self._kept_audio, self._kept_clip, self._kept_link = audio, clip, self._link

    def _halt(self, clip: int) -> None:
        link = self._link
        if link is not None:
            link.purge(clip)
            link.expecting = False
        self._command(lp.CONTROL, clip, None, op="stop")
        self._status = None

    def _pause(self, clip: int) -> None:
        self._command(lp.CONTROL, clip, "paused", op="pause")

    def _resume(self, clip: int) -> None:
        self._command(lp.CONTROL, clip, "playing", op="resume")
        if self._link is not None:
            self._link.expecting = True

    def _first_sample_at(self, clip: int) -> float | None:
        return self._first_at.get(clip)

    def _replay(self, clip: int, audio: Audio) -> bool:
        """The listener still holds this audio: ask it to play it from 0
        instead of sending it again (a slow link pays once)."""
        link = self._link
        if audio is not self._kept_audio or link is None or link is not self._kept_link or not link.alive:
            return False
        self._clip = self._kept_clip  # the listener knows the clip by its first number
        self._sent_frames, self._rate = audio.frames, audio.rate
        self._command(lp.CONTROL, self._clip, "buffering", op="seek", to=0)
        self._first_at.pop(self._clip, None)
        link.expecting = True
        return True
