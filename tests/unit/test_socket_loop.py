"""SocketLoop: tasks resumed by their sockets, their deadlines, a thread's
call, or `stop` from another thread. Real socket pairs, real threads; every
case runs on epoll and on the `selectors` fallback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tts_tui.core.socket_loop import SelectorsPoller, SocketLoop


@pytest.fixture(params=["epoll", "selectors"])
def loop(request: pytest.FixtureRequest) -> Iterator[SocketLoop]:
    made = SocketLoop(SelectorsPoller() if request.param == "selectors" else None)
    yield made
    made.close()


@pytest.fixture
def pairs() -> Iterator[list[tuple[socket.socket, socket.socket]]]:
    made = [socket.socketpair() for _ in range(3)]
    for ours, _ in made:
        ours.setblocking(False)
    yield made
    for ours, theirs in made:
        ours.close()
        theirs.close()


def test_each_task_hears_its_own_socket_and_a_silent_one_its_deadline(loop: SocketLoop, pairs) -> None:
    (a, a_peer), (b, b_peer), _ = pairs
    heard: list[tuple[str, bool, bytes]] = []

    async def reader(name: str, sock: socket.socket, seconds: float) -> None:
        ready = await loop.readable(sock, time.perf_counter() + seconds)
        heard.append((name, ready, sock.recv(100) if ready else b""))

    b_peer.send(b"hello")
    loop.spawn(reader("silent", a, 0.2))
    loop.spawn(reader("spoken to", b, 30))
    loop.run()
    assert heard == [("spoken to", True, b"hello"), ("silent", False, b"")]


def test_a_socket_read_many_times_stays_watched_and_hears_the_peer_close(loop: SocketLoop, pairs) -> None:
    (a, a_peer), _, _ = pairs
    got: list[bytes] = []

    async def reader() -> None:
        while True:
            assert await loop.readable(a, time.perf_counter() + 30)
            data = a.recv(100)
            got.append(data)
            if not data:
                return

    def peer() -> None:
        for word in (b"one", b"two", b"three"):
            a_peer.send(word)
            time.sleep(0.02)  # each its own read
        a_peer.shutdown(socket.SHUT_WR)

    thread = threading.Thread(target=peer)
    thread.start()
    loop.spawn(reader())
    loop.run()
    thread.join()
    assert b"".join(got) == b"onetwothree" and got[-1] == b""


def test_an_idle_socket_closed_by_its_peer_is_read_as_closed_later(loop: SocketLoop, pairs) -> None:
    # the close comes while no task waits on the socket (an idle connection):
    # the loop goes on serving the others, and the next wait on it sees the close
    (a, a_peer), (b, b_peer), _ = pairs
    order: list[str] = []

    async def first() -> None:
        a_peer.send(b"x")
        assert await loop.readable(a, time.perf_counter() + 30)
        a.recv(10)
        a_peer.close()  # now idle: its close is news nobody waits for
        b_peer.send(b"y")
        assert await loop.readable(b, time.perf_counter() + 30)
        order.append(b.recv(10).decode())
        assert await loop.readable(a, time.perf_counter() + 30)
        order.append(repr(a.recv(10)))

    loop.spawn(first())
    loop.run()
    assert order == ["y", "b''"]


def test_stop_from_another_thread_closes_every_task_at_its_await(loop: SocketLoop, pairs) -> None:
    (a, _), (b, _), _ = pairs
    cleaned: list[str] = []

    async def waiter(name: str, sock: socket.socket) -> None:
        try:
            await loop.readable(sock, time.perf_counter() + 60)
        finally:
            cleaned.append(name)

    loop.spawn(waiter("a", a))
    loop.spawn(waiter("b", b))
    timer = threading.Timer(0.2, loop.stop)
    timer.start()
    loop.run()  # returns once stopped, not at the 60 s deadline
    timer.join()
    assert sorted(cleaned) == ["a", "b"] and loop.failures == []


def test_a_call_on_a_thread_returns_or_raises_in_its_task_while_others_run(loop: SocketLoop, pairs) -> None:
    (a, a_peer), _, _ = pairs
    release = threading.Event()
    events: list[str] = []

    def slow() -> str:
        release.wait(30)
        return "done"

    def broken() -> None:
        raise OSError("no such host")

    async def caller() -> None:
        events.append(await loop.in_thread(slow))
        with pytest.raises(OSError, match="no such host"):
            await loop.in_thread(broken)
        events.append("raised")

    async def other() -> None:
        a_peer.send(b"z")
        assert await loop.readable(a, time.perf_counter() + 30)
        events.append(a.recv(10).decode())  # served while `slow` blocks its thread
        release.set()

    loop.spawn(caller())
    loop.spawn(other())
    loop.run()
    assert events == ["z", "done", "raised"]


def test_a_task_handed_a_value_runs_after_those_ready(loop: SocketLoop) -> None:
    order: list[str] = []
    waiting = []

    async def waiter() -> None:
        waiting.append(loop.current)
        order.append(f"waiter got {await loop.handed()}")

    async def giver() -> None:
        loop.hand(waiting[0], 7)
        await loop.pause()  # the waiter goes first
        order.append("giver after pause")

    loop.spawn(waiter())
    loop.spawn(giver())
    loop.run()
    assert order == ["waiter got 7", "giver after pause"]


def test_an_exception_escaping_a_task_is_kept_not_raised_by_run(loop: SocketLoop) -> None:
    ran: list[str] = []

    async def broken() -> None:
        raise ValueError("a bug")

    async def fine() -> None:
        ran.append("fine")

    loop.spawn(broken())
    loop.spawn(fine())
    loop.run()
    assert ran == ["fine"] and [str(e) for e in loop.failures] == ["a bug"]
