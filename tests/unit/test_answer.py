"""The answer decides how it is read: Content-Type, its parameters and the
first bytes pick the reader; the config is only a hint."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest

from tests.servers import make_wav
from tts_tui.core.answer.decode import AnswerDecoder
from tts_tui.core.answer.media_type import parse
from tts_tui.core.answer.pick import ReadHint, pick_reader
from tts_tui.core.exchange import Exchange, PreparedRequest
from tts_tui.core.errors import AudioError, TtsError
from tts_tui.core.model import PcmSpec

WAV_HEAD = b"RIFF\xff\xff\xff\xffWAVEfmt "


def pcm_bytes(values: list[int], order: str = "<") -> bytes:
    return np.array(values, dtype=f"{order}i2").tobytes()


@pytest.mark.parametrize(
    ("content_type", "layout"),
    [("audio/pcm;rate=22050", ("s16le", 22050, 1)),
     ("audio/L16; rate=16000; channels=1", ("s16be", 16000, 1)),
     ("audio/L16;rate=8000;channels=2", ("s16be", 8000, 2)),
     ("audio/pcm_s16le", ("s16le", 24000, 1)),
     ("audio/pcm_f32le; rate=44100", ("f32le", 44100, 1)),
     ("audio/pcm; format=s24le; sample_rate=48000", ("s24le", 48000, 1)),
     ("audio/raw; rate=16000", ("s16le", 16000, 1)),
     ("audio/L8; rate=8000", ("u8", 8000, 1)),
     ("audio/pcm", ("s16le", 24000, 1))],
)
def test_pcm_content_types_give_their_layout(content_type: str, layout: tuple) -> None:
    got = parse(content_type).pcm_layout()
    assert got is not None
    assert (got.name, got.rate, got.channels) == layout


@pytest.mark.parametrize("content_type", ["audio/wav", "audio/mpeg", "application/json", "text/html", ""])
def test_other_types_are_not_pcm(content_type: str) -> None:
    assert parse(content_type).pcm_layout() is None


def test_l16_is_big_endian_on_the_wire() -> None:
    layout = parse("audio/L16; rate=16000").pcm_layout()
    assert layout is not None
    frames = layout.convert(pcm_bytes([16384, -16384], ">"))
    assert frames[:, 0].tolist() == [0.5, -0.5]


@pytest.mark.parametrize(
    ("content_type", "head", "hint", "reader"),
    [
        ("text/event-stream", b'data: {"type"', ReadHint(format="wav"), "sse"),  # SSE whatever the config says
        ("text/event-stream; charset=utf-8", b"data: xx", ReadHint(), "sse"),
        ("application/x-ndjson", b'{"audio": "AA', ReadHint(), "ndjson"),
        ("audio/pcm;rate=22050", b"\x00\x01" * 8, ReadHint(format="pcm"), "pcm"),
        ("audio/pcm", WAV_HEAD, ReadHint(format="pcm"), "raw"),  # the bytes win over the type
        ("text/html", WAV_HEAD, ReadHint(), "raw"),
        ("application/json", b'{"audio": "UklGR', ReadHint(), "json"),
        ("application/json", WAV_HEAD, ReadHint(response="json:audio"), "raw"),
        ("application/json", b'{"x": 1}    ', ReadHint(response="url:x"), "url"),
        ("application/octet-stream", b"\x00\x01" * 8, ReadHint(format="pcm"), "pcm"),
        ("application/octet-stream", b"\x00\x01" * 8, ReadHint(pcm=PcmSpec(16000, 1)), "pcm"),
        ("text/html", b"<html><body>", ReadHint(format="pcm"), "raw"),  # an error page is not PCM
        ("text/plain", b"data: {}\n\n   ", ReadHint(sse=True), "sse"),  # asked for SSE and it looks like SSE
    ],
)
def test_the_answer_picks_the_reader(content_type: str, head: bytes, hint: ReadHint, reader: str) -> None:
    assert pick_reader(content_type, head, hint).reader.name == reader


def test_bytes_that_disagree_with_the_content_type_are_noted() -> None:
    picked = pick_reader("audio/mpeg", WAV_HEAD, ReadHint())
    assert picked.reader.name == "raw"
    assert picked.notes == ["the Content-Type says audio/mpeg, but the bytes are WAV: read as WAV"]


def test_the_pcm_block_wins_over_a_stated_rate_and_says_so() -> None:
    picked = pick_reader("audio/pcm;rate=22050", b"\x00" * 16, ReadHint(pcm=PcmSpec(24000, 1)))
    assert picked.reader.layout.rate == 24000  # type: ignore[attr-defined]
    assert len(picked.notes) == 1 and "22050" in picked.notes[0] and "24000" in picked.notes[0]
    quiet = pick_reader("audio/pcm", b"\x00" * 16, ReadHint(pcm=PcmSpec(16000, 1)))
    assert quiet.reader.layout.rate == 16000 and quiet.notes == []  # type: ignore[attr-defined]


class Frames:
    """A sink that keeps what it is handed."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []
        self.rate = 0

    def write(self, frames: np.ndarray, rate: int, channels: int) -> None:
        self.parts.append(frames)
        self.rate = rate


def read_answer(content_type: str, body: bytes, hint: ReadHint, chunk: int = 7) -> tuple[Exchange, Frames, object]:
    ex = Exchange(PreparedRequest("POST", "http://127.0.0.1:1/x"))
    ex.status, ex.content_type, ex.t0 = 200, content_type, 0.0
    sink = Frames()
    answer = AnswerDecoder(ex, hint, sink)
    answer.on_headers(ex)
    for i in range(0, len(body), chunk):
        answer.on_chunk(body[i : i + chunk])
    return ex, sink, answer.finish()


def sse_event(obj: object) -> bytes:
    return f"data: {json.dumps(obj)}\n\n".encode()


@pytest.mark.parametrize(
    "make_event",
    [lambda b64: {"type": "speech.audio.delta", "audio": b64},
     lambda b64: {"audio": b64, "index": 0},
     lambda b64: {"chunk": b64},
     lambda b64: {"delta": {"audio": b64}},
     lambda b64: b64],
    ids=["openai", "audio-key", "chunk-key", "nested-delta", "bare-base64"],
)
def test_sse_shapes_give_the_same_audio(make_event) -> None:
    samples = list(range(-400, 400, 4))
    raw = pcm_bytes(samples)
    body = b": hello\n\n" + b"".join(
        sse_event(make_event(base64.b64encode(raw[i : i + 50]).decode())) for i in range(0, len(raw), 50)
    ) + b"data: [DONE]\n\n"
    ex, sink, audio = read_answer("text/event-stream", body, ReadHint(format="wav"))
    assert ex.reader == "sse" and audio.format == "pcm" and audio.rate == 24000
    assert (np.concatenate(sink.parts)[:, 0] * 32768).round().astype(int).tolist() == samples


def test_ndjson_lines_are_read_as_they_come() -> None:
    raw = pcm_bytes(list(range(200)))
    lines = b"".join(json.dumps({"audio": base64.b64encode(raw[i : i + 100]).decode()}).encode() + b"\n"
                     for i in range(0, len(raw), 100))
    ex, sink, audio = read_answer("application/x-ndjson", lines, ReadHint(pcm=PcmSpec(16000, 1)))
    assert ex.reader == "ndjson" and audio.rate == 16000 and audio.frames == 200
    assert len(sink.parts) > 1  # frames came line by line, not at the end


def test_an_error_event_is_the_exchange_error() -> None:
    body = sse_event({"type": "error", "error": {"message": "voice not found"}})
    with pytest.raises(AudioError, match="voice not found"):
        read_answer("text/event-stream", body, ReadHint())


def test_json_without_audio_is_not_audio() -> None:
    with pytest.raises(TtsError, match="not audio"):
        read_answer("application/json", b'{"ok": true}', ReadHint())


def test_first_audio_is_timed_and_never_after_the_body_when_it_streams() -> None:
    raw = pcm_bytes(list(range(1000)))
    ex, _, _ = read_answer("audio/pcm;rate=16000", raw, ReadHint())
    assert ex.ttfa_ms is not None and not ex.first_audio_after_body
    body = json.dumps({"audio": base64.b64encode(make_wav(0.1)).decode()}).encode()
    ex, _, audio = read_answer("application/json", body, ReadHint(response="json:audio"))
    assert audio.duration == pytest.approx(0.1, abs=0.001)
    assert ex.ttfa_ms is not None and ex.first_audio_after_body  # base64 in JSON: only once it is all in


# -- what each reader does with what it picked --------------------------------------------


def mp3_frames(seconds: float = 0.5) -> bytes:
    """An mp3 stream with no ID3 tag: it starts with a bare frame sync, as SSE deltas do."""
    from tests.servers import encode_piped

    data = encode_piped("mp3", seconds, 24000)
    if data[:3] == b"ID3":  # skip the tag: its size is syncsafe, after 6 bytes
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
        data = data[10 + size :]
    assert data[0] == 0xFF
    return data


@pytest.mark.parametrize(("asked", "format_"), [("mp3", "mp3"), ("wav", "pcm")])
def test_mp3_inside_sse_is_mp3_only_when_the_service_asks_for_mp3(asked: str, format_: str) -> None:
    """Voxtral-style SSE carries mp3; a frame sync alone is weak evidence, PCM can start with it."""
    raw = mp3_frames()
    body = b"".join(sse_event({"audio": base64.b64encode(raw[i : i + 700]).decode()}) for i in range(0, len(raw), 700))
    _, _, audio = read_answer("text/event-stream", body, ReadHint(format=asked))
    assert audio.format == format_
    if format_ == "mp3":
        assert audio.rate == 24000 and audio.duration == pytest.approx(0.5, abs=0.1)


@pytest.mark.parametrize(
    ("content_type", "block", "noted"),
    [("audio/pcm;sample_rate=22050", PcmSpec(24000, 1), True),
     ("audio/pcm;samplerate=22050", PcmSpec(24000, 1), True),
     ("audio/pcm;sample-rate=22050", PcmSpec(24000, 1), True),
     ("audio/pcm;channels=2", PcmSpec(24000, 1), True),
     ("audio/pcm;rate=24000;channels=1", PcmSpec(24000, 1), False),
     ("audio/pcm;rate=16000", PcmSpec(16000, 2), False)],  # channels not stated: nothing to disagree with
)
def test_a_note_only_where_the_pcm_block_overrides_what_the_server_stated(content_type, block, noted) -> None:
    picked = pick_reader(content_type, b"\x00" * 64, ReadHint(pcm=block))
    assert (picked.reader.layout.rate, picked.reader.layout.channels) == (block.rate, block.channels)  # type: ignore[attr-defined]
    assert bool(picked.notes) is noted


@pytest.mark.parametrize(
    ("asked", "sent", "noted"),
    [("opus", "OggS", False), ("wav", "mp3", True), ("mp3", "mp3", False), ("flac", "wav", True)],
)
def test_the_format_asked_for_and_the_format_sent_are_compared(asked: str, sent: str, noted: bool) -> None:
    from tests.servers import encode_piped, make_wav

    body = {"OggS": lambda: encode_piped("opus", 0.3, 24000), "mp3": lambda: encode_piped("mp3", 0.3, 24000),
            "wav": lambda: make_wav(0.3)}[sent]()
    ex, _, audio = read_answer("application/octet-stream", body, ReadHint(format=asked), chunk=4096)
    assert audio.duration == pytest.approx(0.3, abs=0.1)
    assert any("the service asks for" in note for note in ex.notes) is noted


def test_each_picked_reader_reads_its_body() -> None:
    from tests.servers import make_wav

    wav = make_wav(0.2)
    ex, _, audio = read_answer("text/html", wav, ReadHint())  # the bytes win over the label
    assert (ex.reader, audio.format, audio.rate) == ("raw", "wav", 22050)
    raw = mp3_frames(0.3)
    ex, _, audio = read_answer("application/octet-stream", raw, ReadHint())  # nothing said: sniffed
    assert (ex.reader, audio.format) == ("raw", "mp3")
    ex, _, audio = read_answer("application/octet-stream", pcm_bytes([1000] * 480), ReadHint(format="pcm"))
    assert (ex.reader, audio.rate, audio.frames) == ("pcm", 24000, 480)  # OpenAI's pcm: 24 kHz mono
    ex, _, audio = read_answer("audio/pcm", pcm_bytes([1000] * 480), ReadHint(pcm=PcmSpec(16000, 2)))
    assert (audio.rate, audio.channels, audio.frames) == (16000, 2, 240)


def test_json_with_leading_whitespace_is_json() -> None:
    from tests.servers import make_wav

    body = b"\n  " + json.dumps({"audio": base64.b64encode(make_wav(0.1)).decode()}).encode()
    ex, _, audio = read_answer("text/plain", body, ReadHint())
    assert ex.reader == "json" and audio.duration == pytest.approx(0.1, abs=0.001)


def test_an_audio_url_in_json_is_resolved_against_the_request() -> None:
    ex = Exchange(PreparedRequest("POST", "http://127.0.0.1:9/api/tts"))
    ex.status, ex.content_type, ex.t0 = 200, "application/json", 0.0
    hint = ReadHint(response="url:result.file", request_url=ex.request.url)
    answer = AnswerDecoder(ex, hint, Frames())
    answer.on_headers(ex)
    answer.on_chunk(json.dumps({"result": {"file": "/files/a.wav"}}).encode())
    assert answer.finish() is None
    assert answer.fetch_url == "http://127.0.0.1:9/files/a.wav" and ex.reader == "url"
