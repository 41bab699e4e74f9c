"""Audio sniffing, decoding, streaming and saving, on real encoded bytes."""

from __future__ import annotations

import base64
import io
import json
import random
import struct
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tts_tui.core.answer.decoders import AudioStream
from tts_tui.core.answer.layout import SampleLayout
from tts_tui.core.answer.sse import SseAudioParser
from tts_tui.core.audio import Audio, decode, peaks, save, sniff
from tts_tui.core.errors import AudioError
from tts_tui.core.model import PcmSpec

RATE = 22050


def tone(seconds: float = 0.5, rate: int = RATE, channels: int = 1, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    wave = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.stack([wave * (1.0 - 0.5 * c) for c in range(channels)], axis=1).astype(np.float32)


def encode(samples: np.ndarray, fmt: str, subtype: str | None = None, rate: int = RATE) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def pcm16(samples: np.ndarray) -> bytes:
    return (samples * 32767).round().astype("<i2").tobytes()


def streamed_wav(samples: np.ndarray, size: int = 0xFFFFFFFF, rate: int = RATE, trailer: bytes = b"") -> bytes:
    """A WAV as streaming servers write it: unknown sizes, LIST and fact chunks before data."""
    channels = samples.shape[1]
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * 2 * channels, 2 * channels, 16)
    info = b"INFOISFT\x05\x00\x00\x00tts!\x00"  # odd-sized LIST: a pad byte follows it
    body = pcm16(samples)
    return (b"RIFF" + struct.pack("<I", size) + b"WAVE"
            + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"LIST" + struct.pack("<I", len(info)) + info + b"\x00"
            + b"fact" + struct.pack("<I", 4) + struct.pack("<I", len(samples))
            + b"data" + struct.pack("<I", size if size in (0, 0xFFFFFFFF) else len(body)) + body + trailer)


# -- sniffing ----------------------------------------------------------------

@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda: encode(tone(), "WAV", "PCM_16"), "wav"),
        (lambda: encode(tone(), "FLAC"), "flac"),
        (lambda: encode(tone(), "OGG", "VORBIS"), "ogg"),
        (lambda: encode(tone(), "MP3"), "mp3"),
        (lambda: b"ID3\x04\x00\x00\x00\x00\x00\x00" + encode(tone(), "MP3"), "mp3"),
        (lambda: bytes([0xFF, 0xF1, 0x50, 0x80, 0x02, 0x1F, 0xFC]) + bytes(64), "aac"),
        (lambda: bytes([0xFF, 0xF9, 0x50, 0x80, 0x02, 0x1F, 0xFC]) + bytes(64), "aac"),
        (lambda: b'{"error": {"message": "voice not found"}}', None),
        (lambda: b"<!DOCTYPE html><html><body>502 Bad Gateway</body></html>", None),
        (lambda: b"Internal Server Error", None),
        (lambda: b"", None),
    ],
)
def test_sniff_reads_the_format_from_the_bytes(make, expected) -> None:
    assert sniff(make()) == expected


# -- decoding ----------------------------------------------------------------

@pytest.mark.parametrize(
    ("fmt", "subtype", "tolerance"),
    [("WAV", "PCM_16", 1e-4), ("WAV", "PCM_24", 1e-6), ("WAV", "PCM_32", 1e-6), ("WAV", "FLOAT", 0),
     ("WAV", "DOUBLE", 1e-7), ("WAV", "PCM_U8", 1e-2), ("WAVEX", "PCM_16", 1e-4), ("WAV", "ULAW", 2e-2)],
)
def test_wav_subtypes_decode_to_the_same_samples(fmt: str, subtype: str, tolerance: float) -> None:
    samples = tone(channels=2)
    audio = decode(encode(samples, fmt, subtype))
    assert (audio.format, audio.rate, audio.samples.shape) == ("wav", RATE, samples.shape)
    assert audio.samples.dtype == np.float32
    assert np.abs(audio.samples - samples).max() <= tolerance
    assert audio.duration == pytest.approx(0.5)


@pytest.mark.parametrize("size", [0xFFFFFFFF, 0])
def test_streamed_wav_with_placeholder_sizes_and_extra_chunks_decodes(size: int) -> None:
    samples = tone()
    audio = decode(streamed_wav(samples, size=size))
    assert audio.samples.shape == samples.shape
    assert np.abs(audio.samples - samples).max() < 1e-4


def test_truncated_wav_decodes_the_whole_frames_that_arrived() -> None:
    data = encode(tone(channels=2), "WAV", "PCM_16")
    cut = data[: 44 + 4 * 1000 + 3]  # 1000 stereo frames and part of the next
    audio = decode(cut)
    assert audio.samples.shape == (1000, 2)
    assert audio.data == cut


def test_wav_cut_inside_its_header_is_a_clear_error() -> None:
    with pytest.raises(AudioError, match="cut short"):
        decode(encode(tone(), "WAV", "PCM_16")[:30])


@pytest.mark.parametrize(("fmt", "subtype", "rate"),
                         [("FLAC", "PCM_16", RATE), ("OGG", "VORBIS", RATE), ("OGG", "OPUS", 48000), ("MP3", None, RATE)])
def test_compressed_formats_decode(fmt: str, subtype: str | None, rate: int) -> None:
    audio = decode(encode(tone(rate=rate), fmt, subtype, rate=rate))
    assert audio.format == ("opus" if subtype == "OPUS" else fmt.lower())
    assert audio.rate == rate
    assert audio.duration == pytest.approx(0.5, abs=0.06)
    assert np.abs(audio.samples).max() > 0.3  # it is the tone, not silence


def test_raw_pcm_needs_to_be_expected_and_uses_openai_defaults() -> None:
    data = pcm16(tone(rate=24000)) + b"\x01"  # an odd byte left over
    audio = decode(data, expected_format="pcm")
    assert (audio.format, audio.rate, audio.channels, audio.frames) == ("pcm", 24000, 1, 12000)
    stereo = decode(pcm16(tone(rate=16000, channels=2)), pcm=PcmSpec(rate=16000, channels=2))
    assert (stereo.rate, stereo.samples.shape) == (16000, (8000, 2))
    with pytest.raises(AudioError, match="not audio"):
        decode(data)


def test_pcm_that_starts_like_an_mp3_frame_sync_stays_pcm() -> None:
    data = bytes([0xFF, 0xFB, 0x90, 0x64]) + pcm16(tone(0.1))
    assert sniff(data) == "mp3"
    assert decode(data, expected_format="pcm").format == "pcm"


def test_a_wav_answer_is_decoded_as_wav_even_when_pcm_was_expected() -> None:
    audio = decode(encode(tone(), "WAV", "PCM_16"), expected_format="pcm")
    assert (audio.format, audio.rate) == ("wav", RATE)


def av_encode(samples: np.ndarray, fmt: str, codec: str, rate: int = RATE) -> bytes:
    """Encode with FFmpeg into a pipe (no seeking back), as a streaming server does."""
    import av

    class Pipe(io.RawIOBase):
        def __init__(self) -> None:
            self.data = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b) -> int:  # type: ignore[override]
            self.data += b
            return len(b)

    pipe = Pipe()
    with av.open(pipe, "w", format=fmt) as box:
        stream = box.add_stream(codec, rate=rate)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples.T.astype(np.float32).copy(), format="fltp", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            box.mux(packet)
        for packet in stream.encode(None):
            box.mux(packet)
    return bytes(pipe.data)


def test_adts_aac_decodes() -> None:
    audio = decode(av_encode(tone(2.0), "adts", "aac"))
    assert (audio.format, audio.rate) == ("aac", RATE)
    assert audio.duration == pytest.approx(2.0, abs=0.1)
    assert np.abs(audio.samples).max() > 0.3


def test_flac_from_a_pipe_with_no_length_decodes() -> None:
    data = av_encode(tone(2.0), "flac", "flac")
    assert data[:4] == b"fLaC" and int.from_bytes(data[21:26], "big") & 0xFFFFFFFFF == 0  # total samples: 0
    audio = decode(data)
    assert (audio.format, audio.rate) == ("flac", RATE)
    assert audio.duration == pytest.approx(2.0, abs=0.01)


def test_garbage_after_a_magic_number_is_a_clear_error() -> None:
    with pytest.raises(AudioError, match="MP3 answer"):
        decode(b"ID3" + bytes(3000))


@pytest.mark.parametrize(
    ("body", "shown"),
    [(b'{"detail": "Voice \'bob\' not found"}', "JSON: {\"detail\": \"Voice 'bob' not found\"}"),
     (b"<html>\n<body><h1>500 Internal Server Error</h1>" + b" " * 2000 + b"</body></html>", "HTML: <html> <body><h1>500"),
     (b"upstream timed out", "text: upstream timed out"),
     (b"", "empty")],
)
def test_non_audio_answers_say_what_they_are(body: bytes, shown: str) -> None:
    with pytest.raises(AudioError) as caught:
        decode(body)
    assert shown in caught.value.message
    assert len(caught.value.message) < 200


# -- streaming ---------------------------------------------------------------

def stream_all(data: bytes, pieces: list[bytes], pcm: SampleLayout | None = None) -> tuple[np.ndarray, AudioStream]:
    stream = AudioStream(pcm)
    frames = [f for f in (stream.feed(p) for p in pieces) if f is not None]
    rest = stream.finish()
    if rest is not None:
        frames.append(rest)
    assert b"".join(pieces) == data == bytes(stream.data)
    return np.concatenate(frames), stream


def random_split(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(data)), 40))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)])]


PCM24K = SampleLayout("int", 2, 1, 24000)


@pytest.mark.parametrize(
    ("data", "pcm"),
    [(streamed_wav(tone(0.1)), None),
     (streamed_wav(tone(0.1), size=0, trailer=b""), None),
     (encode(tone(0.1, channels=2), "WAV", "PCM_24"), None),
     (encode(tone(0.1), "WAV", "FLOAT"), None),
     (streamed_wav(tone(0.1), size=1, trailer=b"LIST\x04\x00\x00\x00abcd"), None),  # real size, then a chunk
     (pcm16(tone(0.1, rate=24000)), PCM24K),
     (pcm16(tone(0.1, rate=8000, channels=2)), SampleLayout("int", 2, 2, 8000))],
    ids=["wav-ffff", "wav-0", "wav24-stereo", "wav-float", "wav-trailing-chunk", "pcm", "pcm-stereo"],
)
def test_streamed_frames_are_what_decode_gives_whatever_the_splits(data: bytes, pcm: SampleLayout | None) -> None:
    spec = None if pcm is None else PcmSpec(pcm.rate, pcm.channels)
    whole = decode(data, pcm=spec)
    one_by_one, stream = stream_all(data, [data[i : i + 1] for i in range(len(data))], pcm)
    assert np.array_equal(one_by_one, whole.samples)
    assert (stream.format, stream.rate, stream.channels) == (whole.format, whole.rate, whole.channels)
    for seed in range(3):
        split, _ = stream_all(data, random_split(data, seed), pcm)
        assert np.array_equal(split, whole.samples)
    assert np.array_equal(stream.samples(), whole.samples)


def test_wav_plays_before_the_answer_ends() -> None:
    data = streamed_wav(tone())
    stream = AudioStream()
    assert stream.feed(data[:20]) is None  # header not complete yet
    first = stream.feed(data[20:2000])
    assert first is not None and len(first) > 800
    assert stream.rate == RATE and stream.format == "wav"


@pytest.mark.parametrize(("fmt", "codec", "ext"), [("mp3", "libmp3lame", "mp3"), ("ogg", "libopus", "opus"),
                                                   ("OGG", "VORBIS", "ogg"), ("flac", "flac", "flac"),
                                                   ("adts", "aac", "aac")])
def test_compressed_answers_yield_frames_before_their_last_byte(fmt: str, codec: str, ext: str) -> None:
    rate = 48000 if codec == "libopus" else RATE
    # noise makes pages and frames of a realistic size (a pure tone packs seconds into one Ogg page)
    speechlike = tone(6.0, rate=rate) + np.random.default_rng(1).normal(0, 0.05, (6 * rate, 1)).astype(np.float32)
    if fmt.isupper():  # libsndfile's encoders
        data = encode(speechlike, fmt, codec, rate=rate)
    else:
        data = av_encode(speechlike, fmt, codec, rate=rate)
    stream = AudioStream()
    fed = 0
    for i in range(0, len(data), 512):
        fed += 512
        if stream.feed(data[i : i + 512]) is not None:
            break
    assert fed < len(data) * 0.6, f"no frame before {fed} of {len(data)} bytes"
    stream.feed(data[fed:])
    stream.finish()
    assert stream.format == ext and stream.rate == rate and not stream.late
    assert stream.frames / rate == pytest.approx(6.0, abs=0.1)


def test_mp4_with_its_index_at_the_end_decodes_whole_and_says_so(tmp_path: Path) -> None:
    import av

    path = tmp_path / "end.m4a"
    with av.open(str(path), "w", format="mp4") as box:  # a seekable file: the index goes last
        stream = box.add_stream("aac", rate=RATE)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(tone(1.0).T.copy(), format="fltp", layout="mono")
        frame.sample_rate = RATE
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            box.mux(packet)
    data = path.read_bytes()
    decoder = AudioStream()
    assert all(decoder.feed(data[i : i + 700]) is None for i in range(0, len(data), 700))
    decoder.finish()
    assert decoder.late and decoder.format == "m4a"
    assert decoder.frames / RATE == pytest.approx(1.0, abs=0.1)


def test_finish_reports_non_audio() -> None:
    stream = AudioStream()
    assert stream.feed(b'{"error": "quota exceeded"}') is None
    with pytest.raises(AudioError, match="quota exceeded"):
        stream.finish()


# -- server-sent events ------------------------------------------------------

def sse_body(chunks: list[bytes]) -> bytes:
    events = [": keep-alive comment\r\n\r\n"]
    for i, chunk in enumerate(chunks):
        payload = json.dumps({"type": "speech.audio.delta", "audio": base64.b64encode(chunk).decode()})
        if i == 1:  # a data field over two lines (JSON allows the newline)
            head, tail = payload.split(", ", 1)
            events.append(f"event: message\r\ndata: {head},\r\ndata: {tail}\r\n\r\n")
        else:
            events.append(f"data: {payload}\n\n")
    events.append('data: {"type": "speech.audio.done", "usage": {"input_tokens": 4}}\r\n\r\n')
    return "".join(events).encode()


def test_sse_parser_returns_the_audio_of_events_split_anywhere() -> None:
    audio_chunks = [pcm16(tone(0.05)), pcm16(tone(0.05, freq=660)), b"\x01\x02\x03"]
    body = sse_body(audio_chunks)
    for pieces in ([body], [body[i : i + 1] for i in range(len(body))], random_split(body, 7)):
        parser = SseAudioParser()
        got = [part for piece in pieces for part in parser.feed(piece)]
        assert b"".join(got) == b"".join(audio_chunks)
        assert parser.done


def test_sse_parser_not_done_until_the_done_event_and_close_flushes() -> None:
    parser = SseAudioParser()
    event = json.dumps({"type": "speech.audio.delta", "audio": base64.b64encode(b"abcd").decode()})
    assert parser.feed(f"data: {event}".encode()) == []
    assert not parser.done
    assert parser.close() == [b"abcd"]


def test_sse_error_event_is_an_audio_error() -> None:
    parser = SseAudioParser()
    with pytest.raises(AudioError, match="rate limit"):
        parser.feed(b'data: {"type": "error", "error": {"message": "rate limit"}}\n\n')


# -- saving and peaks --------------------------------------------------------

def test_save_writes_the_original_bytes_when_the_extension_matches(tmp_path: Path) -> None:
    data = encode(tone(), "FLAC")
    audio = decode(data)
    written = save(audio, tmp_path / "deep" / "dir" / "take.flac")
    assert written.read_bytes() == data
    assert save(audio, tmp_path / "noext") == tmp_path / "noext.flac"
    assert (tmp_path / "noext.flac").read_bytes() == data


def test_saved_streamed_wav_gets_real_sizes(tmp_path: Path) -> None:
    audio = decode(streamed_wav(tone()))
    path = save(audio, tmp_path / "streamed.wav")
    samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    assert rate == RATE and np.abs(samples - audio.samples).max() < 1e-4


@pytest.mark.parametrize("name", ["out.wav", "out.flac", "out.ogg", "out.opus", "out.mp3"])
def test_save_encodes_when_the_extension_differs(tmp_path: Path, name: str) -> None:
    audio = decode(pcm16(tone(rate=24000)), expected_format="pcm")
    path = save(audio, tmp_path / name)
    back = decode(path.read_bytes())
    assert back.duration == pytest.approx(0.5, abs=0.06)
    assert np.abs(back.samples).max() > 0.3


def test_save_pcm_without_extension_makes_a_wav_and_raw_gives_bytes(tmp_path: Path) -> None:
    data = pcm16(tone(rate=24000))
    audio = decode(data, expected_format="pcm")
    assert save(audio, tmp_path / "take").suffix == ".wav"
    assert sniff((tmp_path / "take.wav").read_bytes()) == "wav"
    assert save(audio, tmp_path / "take.pcm").read_bytes() == data


def stream_audio(data: bytes, layout: SampleLayout, *, count_only: bool = False) -> Audio:
    stream = AudioStream(layout)
    stream.count_only = count_only
    stream.feed(data)
    stream.finish()
    return stream.audio()


@pytest.mark.parametrize("count_only", [False, True])
@pytest.mark.parametrize("layout", [SampleLayout("int", 2, 1, 24000), SampleLayout("int", 2, 2, 16000),
                                    SampleLayout("int", 3, 1, 48000), SampleLayout("uint", 1, 1, 8000)])
def test_raw_integer_pcm_goes_into_a_wav_as_it_came(tmp_path: Path, layout: SampleLayout, count_only: bool) -> None:
    data = random.Random(7).randbytes(layout.block * 1000)
    tail = b"\x01" if layout.block > 1 else b""  # part of a frame at the end, which is not audio
    audio = stream_audio(data + tail, layout, count_only=count_only)
    with wave.open(str(save(audio, tmp_path / "take.wav"))) as wav:
        assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (layout.channels, layout.width,
                                                                                layout.rate)
        assert wav.readframes(wav.getnframes()) == data


@pytest.mark.parametrize("layout", [SampleLayout("int", 2, 1, 24000, big_endian=True),
                                    SampleLayout("float", 4, 1, 24000), SampleLayout("int", 1, 1, 8000)])
def test_pcm_a_wav_cannot_hold_as_it_is_is_encoded(tmp_path: Path, layout: SampleLayout) -> None:
    audio = stream_audio(layout_bytes(tone(rate=layout.rate), layout), layout)
    back, rate = soundfile.read(save(audio, tmp_path / "take.wav"), dtype="float32", always_2d=True)
    assert rate == layout.rate and np.abs(back - audio.samples).max() < 2 / 32768


def layout_bytes(samples: np.ndarray, layout: SampleLayout) -> bytes:
    if layout.kind == "float":
        return samples.astype("<f4").tobytes()
    if layout.width == 1:
        return (samples * 127).round().astype(np.int8).tobytes()
    return (samples * 32767).round().astype(">i2" if layout.big_endian else "<i2").tobytes()


def test_save_failures_are_audio_errors(tmp_path: Path) -> None:
    audio = decode(encode(tone(), "WAV", "PCM_16"))
    with pytest.raises(AudioError, match=r"\.xyz"):
        save(audio, tmp_path / "take.xyz")
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(AudioError, match="cannot save"):
        save(audio, tmp_path / "file" / "take.wav")


def test_peaks_follow_the_loudness() -> None:
    samples = np.concatenate([np.zeros((RATE, 1), np.float32), tone(1.0)])
    result = peaks(Audio(samples, RATE, "pcm"), 10)
    assert len(result) == 10
    assert max(result[:5]) == 0.0
    assert all(0.45 < p <= 0.5 for p in result[5:])
    short = peaks(Audio(tone(0.001), RATE, "pcm"), 100)  # fewer frames than buckets
    assert len(short) == 100 and all(0.0 <= p <= 1.0 for p in short)
    assert peaks(Audio(np.zeros((0, 1), np.float32), RATE, "pcm"), 4) == [0.0] * 4
