"""Streaming playback: audio plays while it still downloads.

Real parts only: a FaultServer on 127.0.0.1 sends audio in slow pieces, and
the player plays into the JACK dummy server (tests/playback_env.py).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.playback_env import require_jack
from tests.servers import FaultServer, make_pcm
from tts_tui.core.audio import Audio
from tts_tui.core.client import HttpClient
from tts_tui.core.model import Service
from tts_tui.core.player import Player, _Playback
from tts_tui.core.speech import speak
from tts_tui.core.workbench import Workbench


@pytest.fixture(scope="module")
def server():
    with FaultServer() as srv:
        yield srv


@pytest.fixture
def player():
    require_jack()
    made = Player("default")
    yield made
    made.close()


@pytest.fixture
async def client():
    made = HttpClient()
    yield made
    await made.aclose()


def service(srv: FaultServer, kind: str = "wav", **query: object) -> Service:
    extra = {"sse": {"stream_format": "sse"}, "pcm": {"format": "pcm"}}.get(kind, {})
    return Service(name="t", type="http", url=srv.url("/stream", kind=kind, **query),
                   body='{"text": "{{ text }}"}', timeout=10, **extra)


def tone(seconds: float, rate: int) -> np.ndarray:
    """What the server sends, as float32 frames (the same tone as make_pcm)."""
    return (np.frombuffer(make_pcm(seconds, rate), "<i2").astype(np.float32) / 32768.0)[:, None]


class StateLog:
    """The player's state sampled every 5 ms while a request runs."""

    def __init__(self, player: Player) -> None:
        self.player = player
        self.seen: list[tuple[float, str, float]] = []
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.seen.append((time.perf_counter(), self.player.state, self.player.position))
            await asyncio.sleep(0.005)

    def stop(self) -> None:
        self._task.cancel()

    def runs(self) -> list[str]:
        """The states in order, repeats collapsed."""
        out: list[str] = []
        for _, state, _ in self.seen:
            if not out or out[-1] != state:
                out.append(state)
        return out


async def until_async(check, timeout: float = 30.0) -> bool:
    """Wait for `check()` on the event loop; the deadline only ends a hang."""
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return check()


# -- streamed formats play before the download ends ------------------------------


@pytest.mark.playback
@pytest.mark.parametrize("kind, rate", [("wav", 22050), ("pcm", 24000), ("sse", 24000)])
async def test_a_stream_plays_long_before_its_download_ends(server, player, client, kind, rate) -> None:
    # 1.2 s of audio in 6 pieces 100 ms apart (twice real time): the download
    # takes ~0.5 s, and the last piece waits until the test has seen the device play
    gate = f"plays-{kind}"
    svc = service(server, kind, seconds=1.2, count=6, interval_ms=100, hold=gate)
    log = StateLog(player)
    task = asyncio.ensure_future(speak(svc, "hello", client=client, play=player))
    try:
        playing = await until_async(lambda: player.state == "playing" or task.done())
        played_before_the_end = playing and not task.done()
    finally:
        server.gate(gate).set()
    result = await task
    log.stop()
    ex = result.exchange
    assert result.ok, result.error
    assert result.streamed
    assert ex.total_ms > 450
    # Order, not speed (benchmarks/playback_overhead.py measures that): the
    # first sample went to the device before the last byte came, and the
    # device was already playing before the download ended (the server held
    # its last piece until then), some of it heard by the end.
    assert not ex.first_audio_after_body
    assert ex.ttfa_ms < ex.total_ms
    assert played_before_the_end, player.state
    assert player.position > 0
    assert "buffering" not in log.runs()[log.runs().index("playing"):]  # faster than real time: no underrun
    assert np.array_equal(result.audio.samples, tone(1.2, rate))
    assert player.audio is result.audio  # kept for replay and save, with its bytes
    if kind == "wav":  # (once is enough: each second waited for is a second of test time)
        assert player.wait(timeout=3.0)
        assert player.position == pytest.approx(1.2, abs=0.01)  # every frame was played


@pytest.mark.playback
async def test_an_underrun_plays_a_gap_then_goes_on_with_nothing_lost(server, player, client) -> None:
    # 0.4 s of audio at once, then a 0.7 s stall, then the other 0.6 s; at the
    # device's rate, so no resampler holds frames back
    svc = service(server, "wav", seconds=1.0, rate=48000, count=5, interval_ms=20, stall_after=2, stall_ms=700)
    log = StateLog(player)
    result = await speak(svc, "hello", client=client, play=player)
    assert player.wait(timeout=3.0)
    log.stop()
    assert result.ok, result.error
    runs = log.runs()
    assert runs[runs.index("playing"):] == ["playing", "buffering", "playing"], runs
    assert player.state == "stopped"
    assert player.underruns == 1
    stalled = [pos for _, state, pos in log.seen if state == "buffering" and pos > 0]
    assert stalled and min(stalled) == pytest.approx(0.4, abs=0.01)  # ran dry exactly where the audio ran out
    assert np.array_equal(result.audio.samples, tone(1.0, 48000))
    assert player.position == pytest.approx(1.0, abs=0.01)


def test_an_underrun_ramps_down_and_back_up_without_a_click() -> None:
    # The PortAudio callback driven by hand: what reaches the device around an underrun.
    playback = _Playback(48000, 1, prebuffer_seconds=0.0)
    job = playback.rearm(1024)
    playback.push(np.full((1500, 1), 0.8, np.float32), job=job)
    out = np.empty((1024, 1), np.float32)
    heard = []
    for _ in range(2):  # 1500 frames then dry: the block ends on a ramp to zero
        playback.callback(out, 1024, None, None)
        heard.append(out.copy())
    assert playback.buffering and playback.underruns == 1
    playback.push(np.full((48000 // 4, 1), 0.8, np.float32), job=job)  # more than the prebuffer
    playback.callback(out, 1024, None, None)
    heard.append(out.copy())
    signal = np.concatenate(heard)[:, 0]
    assert np.abs(np.diff(signal)).max() < 0.01  # no step anywhere: no click
    assert signal[1499] == 0.0 and np.all(signal[1500:2048] == 0.0)  # the gap
    assert signal[2048] == 0.0 and signal[2048 + playback.fade_len] == pytest.approx(0.8)
    assert not playback.buffering


# -- formats that cannot stream, and silent players ---------------------------------


@pytest.mark.playback
async def test_mp3_plays_while_it_downloads(server, player, client) -> None:
    # mp3 is OpenAI's default format: it must stream like WAV does. The server
    # holds its last piece until the test has heard the device play: only a
    # player that starts before the download ends gets there (order by
    # causality, not a race against the clock).
    svc = service(server, "mp3", seconds=1.2, count=6, interval_ms=100, hold="mp3-plays")
    task = asyncio.ensure_future(speak(svc, "hello", client=client, play=player))
    try:
        played_before_the_end = await until_async(lambda: player.state == "playing" or task.done())
        played_before_the_end = played_before_the_end and not task.done()
    finally:
        server.gate("mp3-plays").set()
    result = await task
    ex = result.exchange
    assert result.ok, result.error
    assert played_before_the_end, player.state
    assert result.streamed and result.audio.format == "mp3"
    assert not ex.first_audio_after_body
    assert ex.ttfa_ms < ex.total_ms  # the first samples went out while the answer still came
    assert result.audio.duration == pytest.approx(1.2, abs=0.08)  # mp3 pads by a frame at most


async def test_a_silent_player_takes_ttfa_at_the_first_decoded_samples(server, client) -> None:
    player = Player("none")
    svc = service(server, "wav", seconds=1.0, count=6, interval_ms=100)
    result = await speak(svc, "hello", client=client, play=player)
    ex = result.exchange
    assert result.ok and not result.streamed
    # decoded from the first piece, not after the last (the server paces them: total > 450)
    assert not ex.first_audio_after_body
    assert ex.ttfa_ms < ex.total_ms and ex.total_ms > 450
    assert player.state == "silent"


# -- cancelling -------------------------------------------------------------------


@pytest.mark.playback
async def test_cancelling_mid_stream_stops_the_sound_cleanly(server, player, client) -> None:
    # the last piece waits until after the cancel: the download is surely still running
    svc = service(server, "wav", seconds=3.0, count=10, interval_ms=150, hold="cancelled")
    task = asyncio.ensure_future(speak(svc, "hello", client=client, play=player))
    try:
        assert await until_async(lambda: player.state == "playing" or task.done()), player.state
        assert player.state == "playing" and not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        server.gate("cancelled").set()
    assert (player.state, player.position) == ("stopped", 0.0)
    assert player.audio is None  # the partial stream is not kept as "the last audio"
    # the device is still usable
    player.play(Audio(tone(0.2, 24000), 24000, "pcm"))
    assert player.state == "playing"
    assert player.wait(timeout=30.0)


# -- the two faces: the workbench (TUI) and `say` ----------------------------------------


@pytest.mark.playback
async def test_the_workbench_shows_the_stream_growing_and_keeps_the_whole_wav(server, tmp_path: Path) -> None:
    require_jack()
    # the last piece waits until the device plays: the tail is still to play when the answer ends
    url = server.url("/stream", kind="wav", seconds=1.0, count=8, interval_ms=100, hold="workbench-tail")
    path = tmp_path / "config.toml"
    path.write_text(f'[audio]\noutput = "default"\n\n[[services]]\nname = "drip"\ntype = "http"\n'
                    f'url = "{url}"\nbody = \'{{"text": "{{{{ text }}}}"}}\'\ntimeout = 10\n')
    wb = Workbench(path)
    durations: list[float] = []

    async def watch() -> None:
        while True:
            durations.append(wb.audio.duration if wb.audio else 0.0)
            await asyncio.sleep(0.02)

    watcher = asyncio.ensure_future(watch())
    try:
        task = asyncio.ensure_future(wb.speak("hello"))
        try:
            await until_async(lambda: wb.player.state == "playing" or task.done())
        finally:
            server.gate("workbench-tail").set()
        result = await task
    finally:
        watcher.cancel()
    try:
        assert result.ok and result.streamed
        growing = sorted(set(durations) - {0.0})
        assert len(growing) >= 4 and growing[0] < 0.5  # the bar saw the audio arrive piece by piece
        assert wb.audio is result.audio and wb.audio.format == "wav"
        assert wb.player.state in ("playing", "buffering")  # still playing the tail
        saved = wb.save_audio(tmp_path / "kept.wav")
        assert saved.read_bytes()[40:44] != b"\xff\xff\xff\xff"  # the placeholder sizes were fixed
    finally:
        await wb.aclose()


@pytest.mark.playback
def test_say_plays_while_downloading_then_waits_for_the_end(server, cli, write_config) -> None:
    require_jack()
    # 4 s of audio; the download stalls 1.5 s after its first piece, so it ends
    # (~1.9 s) well before the sound can (the CLI runs in its own process: no
    # gate to open from here, so the stall is the margin)
    url = server.url("/stream", kind="wav", seconds=4.0, count=5, interval_ms=100, stall_after=1, stall_ms=1500)
    path = write_config(f'[audio]\noutput = "default"\n\n[[services]]\nname = "drip"\ntype = "http"\n'
                        f'url = "{url}"\nbody = \'{{"text": "{{{{ text }}}}"}}\'\ntimeout = 10\n')
    before = len(server.requests)
    arrived: list[float] = []

    def note_arrival() -> None:  # when the request reached the server, on this process's clock
        deadline = time.monotonic() + 60
        while len(server.requests) == before and time.monotonic() < deadline:
            time.sleep(0.005)
        arrived.append(time.monotonic())

    watcher = threading.Thread(target=note_arrival, daemon=True)
    watcher.start()
    out = cli("--config", str(path), "say", "hello", "--json")
    ended = time.monotonic()
    watcher.join()
    assert out.returncode == 0, out.stderr
    metrics = json.loads(out.stdout)
    assert metrics["played"] is True, metrics
    assert metrics["ttfa_ms"] < metrics["total_ms"]  # played before the download ended
    # it waited for the end of the audio, not just of the download: 4 s of
    # sound that began after the request arrived cannot end sooner
    assert ended - arrived[0] >= 4.0
