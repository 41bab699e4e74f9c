"""The bench's counted requests: C connections, one thread, one SocketLoop.

`LoopWire.send` is LeanClient's `send` for tasks on a `SocketLoop`: the same
request bytes (`LeanClient.plan`), the same response parser (`_Answer`,
completed through a `Completion`), the same clock (t0 = the request's first
byte written, less the connect's length) and the same one-line errors as
`BlockingWire`, on non-blocking sockets the loop waits on. At most
`connections` requests are in flight; a task that wants to send while all
are busy waits its turn (first come, first served) with its request already
made, and a task whose answer is complete hands its connection to the next
in line before it goes on: the next request is written before the previous
answer is decoded, counted and filed, and that work is done while the
server answers.

As BlockingWire, whatever LeanClient would hand to its HttpClient (https,
a proxy, a connection that cannot be opened, a redirect...) raises
`Fallback` before a byte of that request is kept; so does a request still
waiting for a connection when `stop` is called.
"""

from __future__ import annotations

import errno
import select
import socket
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from tts_tui.core.blocking_wire import READ_SIZE, Fallback, _shut, callers_error, open_answer
from tts_tui.core.blocking_wire import _connect as connect_blocking
from tts_tui.core.client import CONNECT_TIMEOUT_MAX, MAX_BYTES, _connect_timeout, _host_port
from tts_tui.core.exchange import Exchange
from tts_tui.core.lean_client import Completion, LeanClient, _Answer, _is_ip, has_data
from tts_tui.core.socket_loop import SocketLoop, Task

_perf = time.perf_counter


class LoopWire:
    """`send` as LeanClient's, for the tasks of one SocketLoop, at most
    `connections` at once. `sent` counts the requests it wrote. Used on the
    loop's thread only."""

    def __init__(self, lean: LeanClient, loop: SocketLoop, connections: int) -> None:
        self.lean = lean
        self.loop = loop
        self.sent = 0
        self.stopped = False
        self._free = connections  # connections not carrying a request
        self._queue: deque[Task] = deque()  # tasks waiting for one, in order
        self._idle: dict[tuple[str, int], list[socket.socket]] = {}
        self._view = memoryview(bytearray(READ_SIZE))  # one buffer: each read is copied out before the next

    def stop(self) -> None:
        """Every task waiting for a connection, and every one that asks from
        now on, gets Fallback (it sent nothing); those in flight finish."""
        self.stopped = True
        while self._queue:
            self.loop.hand(self._queue.popleft(), False)

    def close(self) -> None:
        for socks in self._idle.values():
            for sock in socks:
                self._shut(sock)
        self._idle.clear()

    async def send(
        self,
        exchange: Exchange,
        *,
        timeout: float = 60.0,
        max_bytes: int = MAX_BYTES,
        on_headers: Callable[[Exchange], None] | None = None,
        on_chunk: Callable[[bytes], None] | None = None,
        keep_body: bool = True,
    ) -> Exchange:
        """As `LeanClient.send`; raises Fallback where LeanClient would hand
        the request to its HttpClient, or when the wire was stopped before
        this request had a connection."""
        ex = exchange
        target, wire, sent_headers, answer, done = open_answer(self.lean, ex, on_headers, on_chunk, max_bytes,
                                                               keep_body)
        await self._take_turn()
        try:
            if self.lean._full_client_only:  # a redirect or a cookie came while this one waited its turn
                raise Fallback
            await self._exchange(ex, answer, done, target, wire, sent_headers, timeout)
            self.lean.learn_from(answer)
            if answer.redirect:
                raise Fallback
        except Fallback:  # before the turn goes on: no request waiting for it goes out
            self.stop()
            raise
        finally:
            handed = self._hand_on()
        if ex.error:
            ex.error = ex.request.mask(ex.error)
        if done.error is not None:
            raise callers_error(ex, done)
        if handed:  # the next request goes out before this answer is decoded and filed
            await self.loop.pause()
        return ex

    async def _exchange(self, ex: Exchange, answer: _Answer, done: Completion, target: tuple[str, int],
                        wire: bytes, sent_headers: dict[str, str], timeout: float) -> None:
        """Connect if need be, write, read until the answer is complete, failed
        or past its deadline; the connection is kept only after a whole answer
        that leaves it clean."""
        where = _host_port(ex.request.url)
        ex.t0 = answer.start = _perf()  # its turn came: the deadline counts from here, not from the wait
        deadline = answer.start + timeout
        sock = self._idle_socket(target)
        if sock is None:
            connect_timeout = min(timeout, CONNECT_TIMEOUT_MAX)
            try:
                sock, answer.connect_s = await self._connect(target, connect_timeout)
            except TimeoutError:
                answer.finish()
                ex.error = _connect_timeout(where, connect_timeout)
                return
        ex.sent_headers = dict(sent_headers)
        # the clock counts the connect, then from the request's first byte on (as LeanClient._send)
        ex.t0 = answer.start = _perf() - answer.connect_s
        try:
            try:
                await self._write(sock, wire, deadline)
                self.sent += 1
            except TimeoutError:
                raise
            except OSError as exc:  # the server went away: read what it said, if anything
                answer.lost(exc)
            await self._read(sock, answer, done, deadline)
        except TimeoutError:
            answer.timed_out(where, timeout)
        finally:
            if done._done and done.error is None and answer.reusable and not answer.failed and not answer.redirect:
                self._idle.setdefault(target, []).append(sock)
            else:  # cut short, redirected, or not reusable
                self._shut(sock)

    async def _take_turn(self) -> None:
        """Wait until a connection is free (first come, first served); Fallback once stopped."""
        if self.stopped:
            raise Fallback
        if self._free:
            self._free -= 1
            return
        task = self.loop.current
        assert task is not None
        self._queue.append(task)
        try:
            turn = await self.loop.handed()
        except BaseException:  # closed while waiting
            if task in self._queue:
                self._queue.remove(task)
            raise
        if not turn:  # stopped while waiting
            raise Fallback

    def _hand_on(self) -> bool:
        """This task's turn goes to the next task in line (True), or back to the free ones."""
        if self._queue and not self.stopped:
            self.loop.hand(self._queue.popleft(), True)
            return True
        self._free += 1
        return False

    def _idle_socket(self, target: tuple[str, int]) -> socket.socket | None:
        socks = self._idle.get(target)
        while socks:
            sock = socks.pop()
            if not has_data(sock):  # anything to read on an idle socket is the server's close
                return sock
            self._shut(sock)
        return None

    def _shut(self, sock: socket.socket) -> None:
        self.loop.forget(sock)  # before its number is free for another socket
        _shut(sock)

    async def _connect(self, target: tuple[str, int], seconds: float) -> tuple[socket.socket, float]:
        """A connected non-blocking socket (TCP_NODELAY) and the seconds its
        connect took (a host name's lookup included, on a thread of its own).
        TimeoutError past `seconds`; Fallback when it cannot connect."""
        host, port = target
        if not _is_ip(host):
            sock, took = await self.loop.in_thread(lambda: connect_blocking(target, seconds))
            sock.setblocking(False)
            return sock, took
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            began = _perf()
            code = sock.connect_ex((host, port))
            if code in (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK):
                # done within connect() (loopback, a LAN: the usual case) is taken at once, without
                # a round of the loop, where other tasks' work would count as this connect's time
                if not select.select([], [sock], [], 0)[1] and not await self.loop.writable(sock, began + seconds):
                    raise TimeoutError
                code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            took = _perf() - began
            if code:
                raise Fallback  # the HttpClient connects again and says why
        except BaseException:
            self.loop.forget(sock)
            sock.close()
            raise
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, took

    async def _write(self, sock: socket.socket, data: bytes, deadline: float) -> None:
        """All of `data`; TimeoutError past `deadline`, OSError if the server went away."""
        view = memoryview(data)
        while view:
            try:
                view = view[sock.send(view):]
            except BlockingIOError:
                if not await self.loop.writable(sock, deadline):
                    raise TimeoutError from None

    async def _read(self, sock: socket.socket, answer: _Answer, done: Completion, deadline: float) -> None:
        """Feed the answer every read until it is complete or failed; TimeoutError past `deadline`."""
        view, recv_into, readable = self._view, sock.recv_into, self.loop.readable
        while not done._done:
            if not await readable(sock, deadline):
                raise TimeoutError
            try:
                size = recv_into(view)
            except BlockingIOError:
                continue
            except OSError as exc:
                answer.lost(exc)
                return
            if not size:
                answer.lost(None)
                return
            answer.feed(view[:size].tobytes())


def run_on(loop: SocketLoop, coroutine: Any) -> Any:
    """Run one coroutine to its end on `loop` (on this thread): its result or exception."""
    outcome: list[Any] = []

    async def task() -> None:
        try:
            outcome.append((False, await coroutine))
        except BaseException as exc:
            outcome.append((True, exc))

    loop.spawn(task())
    loop.run()
    if not outcome:
        raise RuntimeError("the loop stopped before the coroutine ended")
    raised, value = outcome[0]
    if raised:
        raise value
    return value
