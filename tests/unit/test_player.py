"""Playback: real PortAudio into the JACK dummy server, and the silent states."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tests.playback_env import require_jack
from tts_tui.core.audio import Audio
from tts_tui.core.player import Player, _Playback

ROOT = Path(__file__).resolve().parents[2]


def tone(seconds: float = 0.5, rate: int = 22050, channels: int = 1) -> Audio:
    t = np.arange(int(seconds * rate)) / rate
    wave = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    return Audio(np.repeat(wave[:, None], channels, axis=1), rate, "pcm")


@pytest.fixture
def player():
    require_jack()
    made = Player("default")
    yield made
    made.close()


# -- silent states (no JACK needed) ------------------------------------------

def test_output_none_is_silent_but_keeps_the_audio() -> None:
    player = Player("none")
    audio = tone()
    player.play(audio)
    assert player.state == "silent"
    assert not player.available
    assert player.silent_reason == "output is set to none"
    assert player.audio is audio and player.duration == pytest.approx(0.5)
    assert player.wait(timeout=0.01) is True
    assert player.position == 0.0
    player.pause(), player.resume(), player.replay(), player.stop()  # none of these raise


@pytest.mark.parametrize("output", ["no-such-speaker-xyz", "97"])
def test_an_unknown_device_is_silent_and_named(output: str) -> None:
    player = Player(output)
    player.play(tone())
    assert player.state == "silent"
    assert output in (player.silent_reason or "")


def test_without_portaudio_the_player_is_silent_and_audio_still_works(tmp_path: Path) -> None:
    # A missing libportaudio2 cannot be produced for real on a machine that has
    # it, so a stand-in `sounddevice` raises what the real one raises then.
    (tmp_path / "sounddevice.py").write_text("raise OSError('PortAudio library not found')\n")
    script = textwrap.dedent(
        """
        import io, json, sys
        import numpy as np, soundfile
        from tts_tui.core import player as player_module
        imported_early = "sounddevice" in sys.modules
        from tts_tui.core.audio import Audio, decode, save
        buffer = io.BytesIO()
        soundfile.write(buffer, np.zeros((2205, 1), np.float32), 22050, format="WAV")
        audio = decode(buffer.getvalue())
        player = player_module.Player("default")
        player.play(audio)
        saved = save(player.audio, sys.argv[1])
        print(json.dumps({"state": player.state, "reason": player.silent_reason,
                          "imported_early": imported_early, "saved": saved.stat().st_size,
                          "duration": player.duration, "waited": player.wait(0.01)}))
        """
    )
    env = {"PYTHONPATH": f"{tmp_path}:{ROOT}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "kept.wav")],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["state"] == "silent"
    # "default" then looks for a listener (tts-tui ssh), and the reason says both
    assert result["reason"] == ('PortAudio is not installed (apt-get install libportaudio2), '
                                'and no listener (run "tts-tui ssh HOST" from your laptop)')
    assert result["imported_early"] is False
    assert result["saved"] > 4000 and result["duration"] == pytest.approx(0.1)
    assert result["waited"] is True


def test_fade_out_ends_the_block_at_zero_without_a_jump() -> None:
    # The PortAudio callback driven by hand: what a pause writes to the device.
    playback = _Playback(48000, 1, prebuffer_seconds=0.0)
    playback.push(np.full((48000, 1), 0.8, np.float32), last=True)
    out = np.empty((1024, 1), np.float32)
    playback.callback(out, 1024, None, None)
    assert np.all(out == np.float32(0.8))
    playback.fade = "pause"
    playback.callback(out, 1024, None, None)
    ramp = out[: playback.fade_len, 0]
    assert ramp[0] == pytest.approx(0.8) and ramp[-1] == 0.0
    assert np.abs(np.diff(ramp)).max() < 0.01  # no step anywhere: no click
    assert np.all(out[playback.fade_len :] == 0.0)
    assert playback.paused and playback.faded.is_set()
    playback.callback(out, 1024, None, None)
    assert np.all(out == 0.0) and playback.consumed == 1024 + playback.fade_len


# -- real playback through JACK ----------------------------------------------

@pytest.mark.playback
def test_plays_22050_hz_by_resampling_to_the_48k_device(player: Player) -> None:
    assert player.available, player.silent_reason
    audio = tone(1.5, rate=22050)  # still playing after the sleeps below, however late they wake
    started = time.monotonic()
    player.play(audio)
    assert player.state == "playing"
    assert player.device_rate == 48000  # JACK refused 22050: resampled
    assert "JACK" in (player.device_name or "")
    time.sleep(0.1)
    early = player.position
    time.sleep(0.15)
    assert 0.0 < early < player.position < 1.5
    assert player.wait(timeout=30.0)
    elapsed = time.monotonic() - started
    assert elapsed >= 1.45  # played in real time, not faster (a lower bound: load cannot trip it)
    assert player.state == "stopped"
    assert player.position == pytest.approx(1.5, abs=0.01)
    assert player.first_sample_at is not None


@pytest.mark.playback
def test_pause_holds_the_position_and_resume_continues(player: Player) -> None:
    player.play(tone(2.0, rate=48000, channels=2))  # still playing when paused, however late the sleep wakes
    time.sleep(0.15)
    player.pause()
    assert player.state == "paused"
    held = player.position
    assert player.wait(timeout=0.3) is False  # a paused player does not finish
    assert player.position == held
    player.resume()
    assert player.state == "playing"
    resumed_at = time.monotonic()
    assert player.wait(timeout=30.0)
    assert time.monotonic() - resumed_at >= 2.0 - held - 0.1  # it went on from where it was held
    assert player.position == pytest.approx(2.0, abs=0.01)


@pytest.mark.playback
def test_stop_and_replay(player: Player) -> None:
    player.play(tone(60.0))
    time.sleep(0.1)
    player.stop()
    assert (player.state, player.position) == ("stopped", 0.0)
    assert player.wait(timeout=0.01) is True
    player.replay()
    assert player.state == "playing"
    player.play(tone(0.3))  # a new play replaces the old one
    # the 0.3 s clip ended it, not the 60 s one it replaced (which would outlast
    # this wait; the wait itself returns as soon as the short clip ends)
    assert player.wait(timeout=30.0)
    assert player.duration == pytest.approx(0.3)
    assert player.position == pytest.approx(0.3, abs=0.01)


@pytest.mark.playback
def test_a_device_chosen_by_name_or_index_plays() -> None:
    require_jack()
    for output in ("system", "0"):
        player = Player(output)
        player.play(tone(0.2, rate=24000))
        assert player.state == "playing", player.silent_reason
        assert player.wait(timeout=3.0)
        player.close()


@pytest.mark.playback
def test_stream_sink_plays_while_frames_arrive(player: Player) -> None:
    audio = tone(0.5, rate=24000)
    sink = player.open_stream(24000, 1)
    assert player.state == "buffering"  # nothing queued yet: waiting for the prebuffer
    for start in range(0, audio.frames, 2400):  # 0.1 s pieces, a little slower than real time
        sink.write(audio.samples[start : start + 2400])
        time.sleep(0.11)
        if start == 4800:
            assert player.position > 0.0  # playing before the last bytes arrived
    sink.end()
    assert player.wait(timeout=3.0)
    assert player.position == pytest.approx(0.5, abs=0.01)
    assert sink.first_sample_at is not None
    assert player.audio is not None and player.audio.duration == pytest.approx(0.5)
