"""Coroutines on one thread, each resumed when its socket is ready: the bench's loop.

A minimal scheduler, not asyncio: no futures, callbacks, handles or
transports. A task (a coroutine) awaits one of the loop's waits
(`readable`, `writable`, `handed`, `pause`, `in_thread`), which notes what
it waits for and suspends it; `run` resumes it with the wait's outcome when
epoll (elsewhere, the `selectors` module) says so or its deadline passes.
One thread serves every connection, so one epoll call can wake several
answers at once, and no lock or handoff between threads sits between the
socket and the parser. A socket stays registered from its first wait until
`forget`: waiting for a read costs no system call of its own.

Not thread-safe, except `stop` (and the wake-up behind `in_thread`), which
other threads call.
"""

from __future__ import annotations

import select
import selectors
import socket
import threading
import time
import types
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from typing import Any

_perf = time.perf_counter
_NEVER = float("inf")
_FOREVER = 86400.0  # a poll timeout longer than this waits without one
Task = Coroutine[Any, Any, Any]


class SelectorsPoller:
    """`select.epoll`'s calls on the `selectors` module, where there is no
    epoll: events are selectors' EVENT_READ and EVENT_WRITE."""

    READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE

    def __init__(self) -> None:
        self._selector = selectors.DefaultSelector()

    def register(self, fd: int, events: int) -> None:
        self._selector.register(fd, events)

    def modify(self, fd: int, events: int) -> None:
        self._selector.modify(fd, events)

    def unregister(self, fd: int) -> None:
        self._selector.unregister(fd)

    def poll(self, timeout: float | None = None) -> list[tuple[int, int]]:
        return [(key.fd, events) for key, events in self._selector.select(timeout)]

    def close(self) -> None:
        self._selector.close()


def _default_poller() -> Any:
    """epoll where there is one: `selectors` costs ~9 µs of Python a wake-up,
    a tenth of a millisecond an answer read in ten pieces."""
    return select.epoll() if hasattr(select, "epoll") else SelectorsPoller()


@types.coroutine
def _suspend() -> Generator[None, Any, Any]:
    """Hand control back to `SocketLoop.run`; what it resumes the task with is the await's value."""
    return (yield)


class SocketLoop:
    """Runs the tasks given to `spawn` until each has ended, or until `stop`.
    `poller`: epoll by default (`SelectorsPoller` where there is none)."""

    def __init__(self, poller: Any = None) -> None:
        self._poller = poller if poller is not None else _default_poller()
        if isinstance(self._poller, SelectorsPoller):
            self._read_events, self._write_events = SelectorsPoller.READ, SelectorsPoller.WRITE
        else:
            self._read_events, self._write_events = select.EPOLLIN, select.EPOLLOUT
        self._ready: deque[tuple[Task, Any]] = deque()
        self._tasks: set[Task] = set()
        self._waiting: dict[int, Task] = {}  # socket (fd) -> the task waiting on it
        self._deadlines: dict[int, float] = {}  # the same sockets: until when their tasks wait
        self._nearest = _NEVER  # no later than the nearest of those deadlines
        self._watched: set[int] = set()  # sockets registered with the poller
        self._wake_in, self._wake_out = socket.socketpair()
        self._wake_in.setblocking(False)
        self._wake_out.setblocking(False)
        self._wake_fd = self._wake_in.fileno()
        self._poller.register(self._wake_fd, self._read_events)
        self._from_threads: list[tuple[Task, bool, Any]] = []  # (task, raised, outcome) of in_thread calls
        self._stopping = False
        self.current: Task | None = None  # the task running now
        self.failures: list[BaseException] = []  # what escaped a task (a bug: tasks catch their faults)

    def close(self) -> None:
        self._poller.close()
        self._wake_in.close()
        self._wake_out.close()

    # -- what tasks await --------------------------------------------------------
    @types.coroutine
    def readable(self, sock: socket.socket, deadline: float) -> Generator[None, Any, bool]:
        """True once `sock` has something to read (data, or the peer's close);
        False if `deadline` (perf_counter) passed first."""
        fd = sock.fileno()
        if fd not in self._watched:
            self._poller.register(fd, self._read_events)
            self._watched.add(fd)
        return (yield from self._wait(fd, deadline))

    @types.coroutine
    def writable(self, sock: socket.socket, deadline: float) -> Generator[None, Any, bool]:
        """True once `sock` can take more bytes (or its connect ended); False past `deadline`."""
        fd = sock.fileno()
        if fd in self._watched:
            self._poller.modify(fd, self._write_events)
        else:
            self._poller.register(fd, self._write_events)
            self._watched.add(fd)
        try:
            return (yield from self._wait(fd, deadline))
        finally:
            if fd in self._watched:
                self._poller.modify(fd, self._read_events)

    def _wait(self, fd: int, deadline: float) -> Generator[None, Any, bool]:
        self._waiting[fd] = self.current  # type: ignore[assignment]
        self._deadlines[fd] = deadline
        if deadline < self._nearest:
            self._nearest = deadline
        try:
            return (yield)  # type: ignore[no-any-return]
        except BaseException:  # closed while waiting (`run` drops both when it resumes a task)
            self._waiting.pop(fd, None)
            self._deadlines.pop(fd, None)
            raise

    def forget(self, sock: socket.socket) -> None:
        """Stop watching `sock`. Call it before closing the socket: its number may come back."""
        fd = sock.fileno()
        if fd in self._watched:
            self._watched.discard(fd)
            self._poller.unregister(fd)

    async def handed(self) -> Any:
        """Suspend until another task calls `hand(task, value)` with this task
        (`self.current` before the await); the await's value is `value`."""
        return await _suspend()

    def hand(self, task: Task, value: Any) -> None:
        """Resume `task`, suspended in `handed`, with `value` (after the tasks already ready)."""
        self._ready.append((task, value))

    async def pause(self) -> None:
        """Let every task that is ready run first (e.g. one just handed a connection)."""
        self._ready.append((self.current, None))  # type: ignore[arg-type]
        await _suspend()

    async def in_thread(self, fn: Callable[[], Any]) -> Any:
        """`fn()` run on a thread of its own while the loop serves the other
        tasks (a blocking call: a host name's lookup); its result, or its exception."""
        task = self.current
        assert task is not None

        def call() -> None:
            try:
                outcome: tuple[Task, bool, Any] = (task, False, fn())
            except BaseException as exc:  # handed to the task, raised there
                outcome = (task, True, exc)
            self._from_threads.append(outcome)
            self._wake()

        threading.Thread(target=call, name="socket-loop-call", daemon=True).start()
        raised, outcome = await _suspend()
        if raised:
            raise outcome
        return outcome

    # -- running -------------------------------------------------------------------
    def spawn(self, task: Task) -> None:
        """Run `task` (a coroutine whose awaits are this loop's waits) from the next `run` on."""
        self._tasks.add(task)
        self._ready.append((task, None))

    def stop(self) -> None:
        """From any thread: `run` closes every task (each at its await, as a
        cancelled coroutine: its `finally` blocks run) and returns."""
        self._stopping = True
        self._wake()

    def run(self) -> None:
        """Run the tasks until all have ended, or until `stop`."""
        ready, poll, waiting, deadlines = self._ready, self._poller.poll, self._waiting, self._deadlines
        tasks, failures = self._tasks, self.failures
        while tasks and not self._stopping:
            while ready:
                task, value = ready.popleft()
                self.current = task
                try:
                    task.send(value)
                except StopIteration:
                    tasks.discard(task)
                except BaseException as exc:
                    tasks.discard(task)
                    failures.append(exc)
            self.current = None
            if not tasks or self._stopping:
                break
            timeout = self._nearest - _perf()
            events = poll(-1 if timeout > _FOREVER else max(0.0, timeout))
            for fd, _ in events:
                task = waiting.pop(fd, None)  # type: ignore[assignment]
                if task is not None:
                    del deadlines[fd]
                    ready.append((task, True))
                elif fd == self._wake_fd:
                    self._drain_wake()
                else:  # ready while no task waits (an idle socket: the server's close): not
                    self._poller.unregister(fd)  # watched until a task waits on it again, so a
                    self._watched.discard(fd)  # level-triggered poller does not spin on it
            if _perf() >= self._nearest:
                self._expire()
        if self._stopping:
            self._close_tasks()

    def _expire(self) -> None:
        """The tasks whose deadline passed hear False; the nearest deadline is found again."""
        now = _perf()
        for fd, deadline in list(self._deadlines.items()):
            if deadline <= now:
                del self._deadlines[fd]
                self._ready.append((self._waiting.pop(fd), False))
        self._nearest = min(self._deadlines.values(), default=_NEVER)

    def _close_tasks(self) -> None:
        for task in list(self._tasks):
            self.current = task
            try:
                task.close()
            except BaseException as exc:
                self.failures.append(exc)
            finally:
                self.current = None
        self._tasks.clear()
        self._ready.clear()

    def _wake(self) -> None:
        try:
            self._wake_out.send(b"\0")
        except OSError:  # full: a wake-up is already pending; closed: the loop is gone
            pass

    def _drain_wake(self) -> None:
        try:
            while self._wake_in.recv(4096):
                pass
        except OSError:  # nothing more to read
            pass
        done, self._from_threads = self._from_threads, []
        for task, raised, outcome in done:
            self._ready.append((task, (raised, outcome)))
