"""`say --no-play` speaks without an event loop and tells the same story.

`speak_blocking` (core/blocking_client.py) runs `speak` on the calling thread
over a blocking socket, and hands what the lean path would not send (a
redirect, a port it cannot connect to) to httpx in a loop of its own. Each
case speaks once through HttpClient and once through `speak_blocking`, against
the same real server on 127.0.0.1, and compares what a user sees.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator

import pytest

from tests.servers import FaultServer
from tests.unit.test_lean_client import ROUTES, seen, service
from tts_tui.core.blocking_client import speak_blocking
from tts_tui.core.client import HttpClient
from tts_tui.core.model import Service
from tts_tui.core.speech import speak


@pytest.fixture
def srv() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


def through_httpx(svc: Service) -> dict[str, object]:
    async def run() -> dict[str, object]:
        http = HttpClient()
        try:
            return seen(await speak(svc, "Hello.", client=http))
        finally:
            await http.aclose()

    return asyncio.run(run())


@pytest.mark.parametrize("route", ROUTES + ["/stream?kind=mp3&seconds=0.5&count=5&interval_ms=5"])
def test_the_same_answer_gives_the_same_speech(srv: FaultServer, route: str) -> None:
    svc = service(srv.url(route))
    assert seen(speak_blocking(svc, "Hello.")) == through_httpx(svc)


def test_the_same_request_goes_on_the_wire(srv: FaultServer) -> None:
    svc = service(srv.url("/echo?a=1&b=x%20y"), headers={"X-Api-Key": "k", "Accept": "audio/wav"})
    through_httpx(svc)
    speak_blocking(svc, "Hello.")
    by_httpx, blocking = srv.requests[-2:]
    assert (blocking.method, blocking.target, blocking.body) == (by_httpx.method, by_httpx.target, by_httpx.body)
    assert sorted((k.lower(), v) for k, v in blocking.headers) == sorted((k.lower(), v) for k, v in by_httpx.headers)


def test_an_answer_cut_at_the_deadline_says_so(srv: FaultServer) -> None:
    svc = service(srv.url("/endless?interval_ms=20"), timeout=0.5)
    ours, full = seen(speak_blocking(svc, "Hello.")), through_httpx(svc)
    for side in (full, ours):  # how many bytes came before the cut varies
        side["error"] = re.sub(r"\d+ bytes", "N bytes", str(side["error"]))
        side["bytes"] = side["body"] = side["samples"] = None
    assert ours["error"] == "the answer did not finish within 0.5 s (cut after N bytes)"
    assert ours == full


def test_a_closed_port_is_named_as_httpx_names_it(srv: FaultServer) -> None:
    port = srv.port
    srv.stop()
    svc = service(f"http://127.0.0.1:{port}/wav")
    ours = seen(speak_blocking(svc, "Hello."))
    assert ours["error"] == f"connection refused by 127.0.0.1:{port} — is the server running?"
    assert ours == through_httpx(svc)


def test_a_redirect_is_followed_by_httpx(srv: FaultServer) -> None:
    result = speak_blocking(service(srv.url("/redirect?to=/wav")), "Hello.")
    # the blocking socket met the redirect; httpx sent the request again and followed it
    assert [r.path for r in srv.requests] == ["/redirect", "/redirect", "/wav"]
    assert (result.exchange.status, result.exchange.error, result.exchange.format) == (200, None, "wav")
    assert result.audio is not None and result.audio.duration == pytest.approx(0.2, abs=0.01)  # /wav: 0.2 s


def test_audio_a_json_answer_points_at_is_fetched_on_the_same_path(srv: FaultServer) -> None:
    svc = service(srv.url("/url-json"))
    result = speak_blocking(svc, "Hello.")
    assert [r.path for r in srv.requests] == ["/url-json", "/wav"]
    assert len(result.exchanges) == 2 and result.ok
    assert seen(result) == through_httpx(svc)
