"""`speak` on the calling thread, with no event loop: how `say --no-play` sends.

A one-shot command pays for every module it imports: asyncio (with ssl,
concurrent.futures and subprocess) adds ~35 ms to what `say` loads anyway, a
third of its whole run. So a request to a plain http:// server goes out on a
blocking socket (`blocking_wire.BlockingWire`: LeanClient's request bytes,
parser, clock and one-line errors), and `speak`, whose only awaits are its
client's `send`, is driven to its end by `blocking_wire.run_to_end`. What
LeanClient would hand to httpx (https, a proxy, a redirect, a cookie, a
connection that cannot be opened, which httpx then opens again and names the
reason) is sent by an HttpClient in an event loop made for that one request:
the same exchange, the same errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tts_tui.core.blocking_wire import BlockingWire, Fallback, run_to_end
from tts_tui.core.lean_client import LeanClient

if TYPE_CHECKING:
    from tts_tui.core.exchange import Exchange
    from tts_tui.core.model import Service
    from tts_tui.core.speech import SpeechResult


class BlockingClient:
    """HttpClient's `send` for a thread without an event loop: the coroutine it
    returns never suspends (see the module's docstring). `sent_by_httpx`
    counts the requests it handed to httpx."""

    def __init__(self) -> None:
        self.wire = BlockingWire(LeanClient())
        self.sent_by_httpx = 0

    async def send(self, exchange: Exchange, **options: Any) -> Exchange:
        try:
            return await self.wire.send(exchange, **options)
        except Fallback:  # nothing of this request was kept: httpx sends it as it would have
            pass
        import asyncio

        self.sent_by_httpx += 1
        return asyncio.run(_send_with_httpx(exchange, options))

    def close(self) -> None:
        self.wire.close()


async def _send_with_httpx(exchange: Exchange, options: dict[str, Any]) -> Exchange:
    from tts_tui.core.client import HttpClient

    http = HttpClient()
    try:
        return await http.send(exchange, **options)
    finally:
        await http.aclose()


def speak_blocking(service: Service, text: str, *, voice: str | None = None) -> SpeechResult:
    """`speech.speak(service, text, voice=voice)` with no player, run on this
    thread (which must not be running an event loop)."""
    from tts_tui.core.speech import speak

    client = BlockingClient()
    try:
        return run_to_end(speak(service, text, client=client, voice=voice))  # type: ignore[arg-type]
    finally:
        client.close()
