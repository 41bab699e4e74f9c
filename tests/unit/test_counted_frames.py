"""With nobody taking frames while the answer downloads (say --no-play, bench),
WAV and PCM answers are counted, not converted: the audio that comes out is the
same, sample for sample, as when every chunk is decoded on arrival."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from tests.servers import FaultServer
from tts_tui.core.client import HttpClient
from tts_tui.core.model import PcmSpec, Service
from tts_tui.core.speech import speak


@pytest.fixture
def srv() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.mark.parametrize("route, fields", [
    ("/wav?seconds=0.5&rate=22050", {}),
    ("/stream?kind=wav&seconds=0.6&count=7&interval_ms=5", {}),  # streamed: placeholder sizes
    ("/drip?interval_ms=2&count=30", {}),  # pieces that split frames
    ("/pcm?seconds=0.4", {"format": "pcm"}),
    ("/status?code=200&type=application/octet-stream&body=abcdefg", {"pcm": PcmSpec(rate=8000, channels=1)}),
    ("/sse?format=pcm&count=5", {}),
])
async def test_counted_audio_is_the_decoded_audio(srv: FaultServer, route: str, fields: dict) -> None:
    svc = Service(name="t", type="http", url=srv.url(route), body='{"text": "{{ text }}"}', timeout=5, **fields)
    taken: list[np.ndarray] = []
    client = HttpClient()
    try:
        decoded = await speak(svc, "Hi.", client=client, on_frames=lambda f, rate, ch: taken.append(f))
        counted = await speak(svc, "Hi.", client=client)
    finally:
        await client.aclose()
    assert decoded.ok and counted.ok, (decoded.error, counted.error)
    a, b = decoded.audio, counted.audio
    assert a is not None and b is not None
    # known before any sample is made: length, layout, and the time of the first audio
    assert (b.frames, b.channels, b.rate, b.format) == (a.frames, a.channels, a.rate, a.format)
    assert counted.exchange.audio_s == decoded.exchange.audio_s
    assert counted.exchange.ttfa_ms is not None
    assert counted.exchange.first_audio_after_body == decoded.exchange.first_audio_after_body
    assert counted.exchange.ttfb_ms <= counted.exchange.ttfa_ms
    if not counted.exchange.first_audio_after_body:  # a body shorter than a sniff is read at its end
        assert counted.exchange.ttfa_ms <= counted.exchange.total_ms
    assert b.data == a.data
    assert b.samples.dtype == np.float32 and b.samples.shape == a.samples.shape
    assert np.array_equal(b.samples, a.samples)
    assert np.array_equal(np.concatenate(taken), a.samples)  # what streamed is what was kept
