"""The listener link's framing, sample conversion, proofs and output values."""

from __future__ import annotations

import numpy as np
import pytest

from tts_tui.core.playback import link_protocol as lp
from tts_tui.core.playback.output_spec import DEFAULT_PORT, OutputError, effective_output, parse_output


def test_frames_come_out_whole_however_the_bytes_are_split() -> None:
    wire = lp.frame(lp.START, {"n": 1, "clip": 1, "format": "s16le", "rate": 24000, "channels": 1})
    wire += lp.frame(lp.AUDIO, b"\x01\x00\x02\x00") + lp.frame(lp.END, {"n": 2, "clip": 1})
    for step in (1, 3, 7, len(wire)):
        reader = lp.FrameReader()
        frames = []
        for at in range(0, len(wire), step):
            frames += reader.feed(wire[at:at + step])
        assert [kind for kind, _ in frames] == [lp.START, lp.AUDIO, lp.END]
        assert frames[0][1]["rate"] == 24000 and frames[1][1] == b"\x01\x00\x02\x00"


@pytest.mark.parametrize("garbage, problem", [
    (b"X\x00\x00\x00\x02{}", "unknown frame kind"),
    (b"S\xff\xff\xff\xff", "larger than"),
    (b"S\x00\x00\x00\x03abc", "not JSON"),
    (b"S\x00\x00\x00\x02[]", "not a JSON object"),
])
def test_garbage_is_a_protocol_error(garbage: bytes, problem: str) -> None:
    with pytest.raises(lp.ProtocolError, match=problem):
        lp.FrameReader().feed(garbage)


def test_preamble_names_the_version_and_refuses_anything_else() -> None:
    assert lp.check_preamble(lp.PREAMBLE) == lp.VERSION
    assert lp.check_preamble(b"TTSL\x02") == 2
    with pytest.raises(lp.ProtocolError):
        lp.check_preamble(b"GET /")


def test_s16le_round_trip_clips_and_keeps_channels() -> None:
    frames = np.array([[0.0, 1.5], [-1.0, 0.25]], np.float32)
    data = lp.to_s16le(frames)
    assert len(data) == 8
    back = lp.from_s16le(data, 2)
    assert back.shape == (2, 2)
    assert back[0, 1] == pytest.approx(32767 / 32768)  # clipped to full scale, not wrapped
    assert back[1, 1] == pytest.approx(0.25, abs=1e-4)
    with pytest.raises(ValueError):
        lp.from_s16le(data[:-2], 2)  # not whole stereo frames


def test_proofs_need_the_token_and_the_nonce() -> None:
    mine = lp.proof("secret", "sender", "abc")
    assert lp.proof_ok("secret", "sender", "abc", mine)
    assert not lp.proof_ok("other", "sender", "abc", mine)
    assert not lp.proof_ok("secret", "listener", "abc", mine)  # a listener's proof cannot be replayed as a sender's
    assert not lp.proof_ok("secret", "sender", "abd", mine)
    assert not lp.proof_ok("secret", "sender", "abc", None)


@pytest.mark.parametrize("start, problem", [
    ({"format": "opus", "rate": 48000, "channels": 1}, "unknown audio format"),
    ({"format": "s16le", "rate": 0, "channels": 1}, "not a sample rate"),
    ({"format": "s16le", "rate": 24000, "channels": 0}, "not a channel count"),
    ({"format": "s16le", "rate": True, "channels": 1}, "not a sample rate"),
])
def test_a_clip_that_cannot_play_says_why(start: dict, problem: str) -> None:
    assert problem in (lp.clip_problem(start) or "")
    assert lp.clip_problem({"format": "s16le", "rate": 24000, "channels": 2}) is None


@pytest.mark.parametrize("value, kind, port, token, rest", [
    ("default", "default", DEFAULT_PORT, None, ""),
    ("none", "none", DEFAULT_PORT, None, ""),
    ("listen", "listen", DEFAULT_PORT, None, ""),
    ("listen:9000", "listen", 9000, None, ""),
    ("listen:9000:s3cr:et", "listen", 9000, "s3cr:et", ""),
    ("pipe:ffplay -nodisp -autoexit -", "pipe", DEFAULT_PORT, None, "ffplay -nodisp -autoexit -"),
    ("MacBook", "device", DEFAULT_PORT, None, "MacBook"),
])
def test_output_values(value: str, kind: str, port: int, token: str | None, rest: str) -> None:
    spec = parse_output(value)
    assert (spec.kind, spec.port, spec.token) == (kind, port, token)
    assert rest in (spec.command or spec.device or "")
    if token:
        assert token not in spec.describe()  # shown without the token


@pytest.mark.parametrize("value", ["listen:http", "listen:70000", "pipe:"])
def test_bad_output_values_say_what_is_wrong(value: str) -> None:
    with pytest.raises(OutputError):
        parse_output(value)


def test_the_environment_overrides_the_config(monkeypatch) -> None:
    monkeypatch.setenv("TTS_TUI_OUTPUT", "listen:9001")
    assert effective_output("default") == "listen:9001"
    monkeypatch.setenv("TTS_TUI_OUTPUT", "")
    assert effective_output("default") == "default"
