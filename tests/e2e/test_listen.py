"""The listener link on real sockets: a Listener on 127.0.0.1, senders that are
the real Player (output "listen:PORT") or raw sockets that misbehave on
purpose, and playback through real PortAudio into the JACK dummy server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from tests.playback_env import require_jack
from tests.servers import FaultServer
from tts_tui.core.audio import Audio, decode
from tts_tui.core.client import HttpClient
from tts_tui.core.model import Service
from tts_tui.core.playback import link_protocol as lp
from tts_tui.core.playback.listener import Listener
from tts_tui.core.player import Player
from tts_tui.core.speech import speak

ROOT = Path(__file__).resolve().parents[2]


def tone(seconds: float, rate: int = 24000) -> Audio:
    t = np.arange(int(seconds * rate)) / rate
    return Audio((0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[:, None], rate, "pcm")


def until(check, timeout: float = 30.0) -> bool:
    """Wait for `check()` to hold; the deadline only ends a hang (it returns
    as soon as the check holds, so a loaded machine just waits longer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return check()


class Lines(list):
    def __call__(self, line: str) -> None:
        self.append(line)


@pytest.fixture
def listener(tmp_path):
    require_jack()
    lines = Lines()
    made = Listener(0, save_dir=tmp_path / "saved", report=lines)
    made.lines = lines
    made.start()
    yield made
    made.close()


@pytest.fixture
def player(listener):
    made = Player(f"listen:{listener.port}")
    yield made
    made.close()


class RawSender:
    """A sender written by hand on a socket, to misbehave precisely."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.reader = lp.FrameReader()
        self.pending: list = []

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def hello(self, token: str | None = None) -> dict:
        nonce = lp.nonce()
        self.send(lp.PREAMBLE + lp.frame(lp.HELLO, {"who": "raw@test", "nonce": nonce}))
        kind, welcome = self.next()
        assert kind == lp.WELCOME, welcome
        if token is not None:
            self.send(lp.frame(lp.AUTH, {"proof": lp.proof(token, "sender", welcome["nonce"])}))
        return welcome

    def next(self) -> tuple[bytes, object]:
        while not self.pending:
            try:
                data = self.sock.recv(65536)
            except ConnectionResetError:  # closed with our garbage still unread: a reset, not a FIN
                data = b""
            if not data:
                return b"", None
            self.pending += self.reader.feed(data)
        return self.pending.pop(0)

    def until_kind(self, kind: bytes) -> object:
        while True:
            got, payload = self.next()
            if got in (kind, b""):
                return payload

    def close(self) -> None:
        self.sock.close()


# -- refusals ----------------------------------------------------------------------


def test_it_binds_127_0_0_1_only(listener) -> None:
    assert listener._server.getsockname()[0] == "127.0.0.1"


def test_a_wrong_token_is_refused_and_the_listener_goes_on(tmp_path) -> None:
    with Listener(0, token="right", report=Lines(), player=_silent()) as ears:
        raw = RawSender(ears.port)
        raw.hello(token="wrong")
        assert raw.until_kind(lp.ERROR) == {"code": "token", "error": "the listener refused: wrong token"}
        assert raw.next() == (b"", None)  # then closed
        good = Player(f"listen:{ears.port}:right")
        good.play(tone(0.1))
        assert until(lambda: good.state != "buffering"), good.state
        assert good.silent_reason.startswith("the listener on the laptop is silent")  # accepted: it has no device
        good.close()
        wrong = Player(f"listen:{ears.port}:wrong")
        wrong.play(tone(0.1))
        assert until(lambda: wrong.state == "silent")
        assert "does not know the token" in wrong.silent_reason  # nothing was sent to it
        assert wrong.audio is not None  # kept


def test_a_sender_without_the_token_is_told_to_add_it() -> None:
    with Listener(0, token="t0k", report=Lines(), player=_silent()) as ears:
        bare = Player(f"listen:{ears.port}")
        bare.play(tone(0.1))
        assert until(lambda: bare.state == "silent")
        assert f'"listen:{ears.port}:TOKEN"' in bare.silent_reason


def test_a_wrong_version_is_refused_with_a_reason() -> None:
    with Listener(0, report=Lines(), player=_silent()) as ears:
        raw = RawSender(ears.port)
        raw.send(b"TTSL\x07" + lp.frame(lp.HELLO, {"who": "future"}))
        error = raw.until_kind(lp.ERROR)
        assert error["code"] == "version" and "version 1" in error["error"] and "7" in error["error"]


@pytest.mark.parametrize("garbage", [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"TTSL\x01Z\x00\x00\x00\x01x",
                                     b"TTSL\x01" + lp.frame(lp.START, {"clip": 1})])
def test_garbage_is_refused_and_the_listener_goes_on(garbage: bytes) -> None:
    with Listener(0, report=Lines(), player=_silent()) as ears:
        raw = RawSender(ears.port)
        raw.send(garbage)
        assert raw.until_kind(lp.ERROR)["code"] == "protocol"
        assert raw.next() == (b"", None)
        again = RawSender(ears.port)
        assert "device" in again.hello()


def test_a_malformed_clip_is_refused_and_the_next_one_plays() -> None:
    lines = Lines()
    with Listener(0, report=lines, player=_silent()) as ears:
        raw = RawSender(ears.port)
        raw.hello()
        raw.send(lp.frame(lp.START, {"n": 1, "clip": 1, "format": "s16le", "rate": 0, "channels": 1}))
        status = raw.until_kind(lp.STATUS)
        assert (status["state"], status["clip"]) == ("error", 1) and "not a sample rate" in status["error"]
        raw.send(lp.frame(lp.START, {"n": 2, "clip": 2, "format": "s16le", "rate": 8000, "channels": 1}))
        raw.send(lp.frame(lp.AUDIO, b"\x00\x01" * 800) + lp.frame(lp.END, {"n": 3, "clip": 2}))
        assert until(lambda: any("clip 2 · s16le 8000 Hz mono · 0.10 s" in line for line in lines)), lines
        assert any("clip 1 refused: 0 is not a sample rate" in line for line in lines)


# -- senders and listeners that go away -------------------------------------------------


def test_a_sender_that_dies_mid_clip_leaves_a_cut_clip_and_a_working_listener(tmp_path) -> None:
    lines = Lines()
    with Listener(0, report=lines, save_dir=tmp_path, player=_silent()) as ears:
        raw = RawSender(ears.port)
        raw.hello()
        raw.send(lp.frame(lp.START, {"n": 1, "clip": 1, "format": "s16le", "rate": 16000, "channels": 1}))
        raw.send(lp.frame(lp.AUDIO, lp.to_s16le(tone(0.25, 16000).samples)))
        raw.until_kind(lp.STATUS)
        raw.sock.close()  # gone, no END, no BYE
        assert until(lambda: any("cut: the sender went away" in line for line in lines)), lines
        saved = list(tmp_path.glob("*.wav"))
        assert len(saved) == 1
        with wave.open(str(saved[0])) as kept:
            assert kept.getnframes() == 4000 and kept.getframerate() == 16000  # what arrived, all of it
        RawSender(ears.port).hello()  # the next sender is welcome


@pytest.mark.playback
@pytest.mark.parametrize("how", ["stops", "is killed"])
def test_a_listener_that_goes_mid_clip_makes_the_player_silent_with_the_audio_kept(how: str) -> None:
    require_jack()
    port = _free_port()
    if how == "stops":  # says BYE first
        ears = Listener(port, report=Lines())
        ears.start()
    else:  # SIGKILL: the kernel closes the socket, as when a tunnel drops
        proc = _listen_command(port)
    player = Player(f"listen:{port}")
    clip = tone(60.0)  # far longer than any wait below: the silence can only come from the listener going
    player.play(clip)
    assert until(lambda: player.position > 0.1)
    if how == "stops":
        ears.close()
    else:
        proc.kill()
        proc.wait()
    assert until(lambda: player.state == "silent", timeout=30.0)  # before the clip could have ended
    assert "mid-clip" in player.silent_reason and "the audio is kept" in player.silent_reason
    assert player.audio is clip
    assert player.wait(timeout=1.0)  # nothing to wait for any more
    # it comes back: the next play uses it
    again = Listener(port, report=Lines())
    again.start()
    try:
        player.play(tone(0.3))
        assert until(lambda: player.state == "playing"), player.silent_reason
        assert player.wait(timeout=30.0)
        assert player.position == pytest.approx(0.3, abs=0.02)
    finally:
        player.close()
        again.close()


@pytest.mark.playback
def test_two_senders_the_second_is_told_busy_then_takes_over_when_idle(listener, player) -> None:
    player.play(tone(3.0))  # long enough to still play after the second sender's handshake on a loaded machine
    assert until(lambda: player.state == "playing")
    raw = RawSender(listener.port)
    raw.send(lp.PREAMBLE + lp.frame(lp.HELLO, {"who": "second@test", "nonce": "n"}))
    error = raw.until_kind(lp.ERROR)
    assert error["code"] == "busy" and "busy playing for" in error["error"]
    assert player.state == "playing"  # the first one did not notice
    assert player.wait(timeout=30.0)
    second = Player(f"listen:{listener.port}")
    try:
        second.play(tone(0.2))
        assert until(lambda: second.state == "playing")
        assert until(lambda: player._out()._link is None)  # the idle first sender was let go ...
        assert player.silent_reason is None  # ... which is not a fault
        assert second.wait(timeout=30.0)
        player.play(tone(0.2))  # and it takes the link back on its next clip
        assert until(lambda: player.state == "playing"), player.silent_reason
    finally:
        second.close()


# -- playing through the listener -------------------------------------------------------------


@pytest.mark.playback
def test_play_pause_stop_replay_and_position_through_the_listener(listener, player) -> None:
    clip = tone(2.0)  # still playing when paused, however late this thread wakes
    player.play(clip)
    assert until(lambda: player.state == "playing")
    assert player.device_name == f"via listener :{listener.port} → system (JACK Audio Connection Kit)"
    assert until(lambda: player.position > 0.15)
    player.pause()
    assert player.state == "paused"
    time.sleep(0.2)
    held = player.position
    time.sleep(0.2)
    assert player.position == pytest.approx(held, abs=0.02)  # the listener holds too
    assert listener.player.state == "paused"
    player.resume()
    assert player.wait(timeout=30.0)
    assert player.position == pytest.approx(2.0, abs=0.02)
    player.replay()  # the listener still holds it: asked to seek to 0, not sent again
    assert until(lambda: player.state == "playing" and player.position > 0.05)
    player.stop()
    assert (player.state, player.position) == ("stopped", 0.0)
    assert until(lambda: listener.player.state == "stopped")
    assert len(listener.clips) == 1 and listener.clips[0].frames == clip.frames  # replay sent nothing new


@pytest.mark.playback
async def test_a_streamed_answer_plays_on_the_listener_while_it_downloads(listener, player) -> None:
    with FaultServer() as server:
        svc = Service(name="t", type="http", url=server.url("/stream", kind="wav", seconds=1.5, count=8, interval_ms=120),
                      body='{"text": "{{ text }}"}', timeout=10)
        client = HttpClient()
        positions: list[tuple[float, float]] = []
        try:
            result = await speak(svc, "hello", client=client, play=player,
                                 on_frames=lambda *_: positions.append((time.monotonic(), player.position)))
        finally:
            await client.aclose()
    assert result.ok and result.streamed
    assert any(position > 0 for _, position in positions[:-1])  # heard before the last piece arrived
    assert result.exchange.ttfa_ms < result.exchange.total_ms
    assert player.wait(timeout=30.0)
    assert player.position == pytest.approx(result.audio.duration, abs=0.03)
    assert until(lambda: len(listener.lines) == 1)
    assert "s16le" in listener.lines[0] and "1.50 s" in listener.lines[0]


def test_the_listen_command_warns_without_a_token_prints_clips_and_saves_them(tmp_path) -> None:
    port = _free_port()
    proc = _listen_command(port, "--save", str(tmp_path), "--device", "none", wait=False)
    try:
        first = [proc.stdout.readline() for _ in range(3)]
        assert first[0].startswith(f"listening on 127.0.0.1:{port}")
        assert "no token: anyone who can reach" in first[1]
        sender = Player(f"listen:{port}")
        sender.play(tone(0.4, 22050))
        line = proc.stdout.readline()
        assert " · clip 1 · s16le 22050 Hz mono · 0.40 s · " in line and "saved" in line
        sender.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    saved = decode(next(tmp_path.glob("*.wav")).read_bytes())
    assert saved.duration == pytest.approx(0.4, abs=0.001)


def test_the_listen_command_on_a_taken_port_is_one_error_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = subprocess.run([sys.executable, "-m", "tts_tui", "listen", "--port", str(taken.getsockname()[1])],
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=30)
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot listen on 127.0.0.1:") and done.stderr.count("\n") == 1


# -- other outputs ----------------------------------------------------------------------------


def test_no_listener_is_a_reason_not_a_hang() -> None:
    player = Player(f"listen:{_free_port()}")
    started = time.monotonic()
    player.play(tone(0.2))
    assert time.monotonic() - started < 10  # a reason at once, not a hang (the tone lasts 0.2 s)
    assert player.state == "silent" and "no listener on 127.0.0.1:" in player.silent_reason
    assert 'run "tts-tui ssh HOST" from your laptop' in player.silent_reason
    assert player.audio is not None and player.wait(0.01)


def test_the_environment_variable_picks_the_output(monkeypatch) -> None:
    port = _free_port()
    monkeypatch.setenv("TTS_TUI_OUTPUT", f"listen:{port}")
    player = Player("none")
    assert player.kind == "listener"
    player.play(tone(0.1))
    assert f"127.0.0.1:{port}" in player.silent_reason


def test_pipe_output_streams_a_wav_to_the_command(tmp_path) -> None:
    target = tmp_path / "out.wav"
    player = Player(f"pipe:cat > {target}")
    assert player.device_name == f"pipe: cat > {target}"
    sink = player.open_stream(16000, 1)
    clip = tone(0.5, 16000)
    for start in range(0, clip.frames, 1600):
        sink.write(clip.samples[start:start + 1600])
    sink.end(clip)
    assert player.wait(timeout=30.0)
    heard = decode(target.read_bytes())  # a streamed WAV: sizes unknown, read to the end
    assert heard.rate == 16000 and heard.frames == clip.frames
    assert np.allclose(heard.samples, clip.samples, atol=1e-3)
    player.play(tone(0.25, 8000))  # a whole clip gets exact sizes
    assert player.wait(timeout=30.0)
    with wave.open(str(target)) as whole:
        assert (whole.getframerate(), whole.getnframes()) == (8000, 2000)


def test_a_pipe_command_that_is_not_there_is_a_reason(tmp_path) -> None:
    player = Player("pipe:no-such-player-xyz -")
    player.play(tone(0.2))
    assert until(lambda: player.state == "silent")
    assert player.silent_reason.startswith("pipe command not found") and "no-such-player-xyz" in player.silent_reason
    assert player.audio is not None


def _listen_command(port: int, *args: str, wait: bool = True) -> subprocess.Popen:
    """`tts-tui listen --port PORT ARGS` in a subprocess; with `wait`, once it listens."""
    proc = subprocess.Popen([sys.executable, "-m", "tts_tui", "listen", "--port", str(port), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    if wait:
        assert proc.stdout.readline().startswith("listening on"), proc.stderr.read()
    return proc


def _silent():
    from tts_tui.core.device_player import DevicePlayer

    return DevicePlayer("none")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
