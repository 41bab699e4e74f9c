"""MP3 answers: the first samples as soon as the first frame is in, and the
same (gapless) length a player gives.

The files are made by FFmpeg (PyAV) the two ways servers write them: into a
pipe (no Xing header: what a streaming server sends) and into a seekable file
(an Info frame with a LAME tag saying the encoder delay and padding).
"""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from tests.servers import encode_piped, tone
from tts_tui.core.answer.decoders import AudioStream
from tts_tui.core.errors import AudioError


def encode_file(seconds: float, rate: int, *, channels: int = 1, codec: str = "libmp3lame",
                container: str = "mp3") -> bytes:
    """The test tone encoded into a seekable file: FFmpeg then writes the Info frame."""
    layout = "mono" if channels == 1 else "stereo"
    out_file = io.BytesIO()
    with av.open(out_file, "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        frame = av.AudioFrame.from_ndarray(tone(seconds, rate, channels).reshape(1, -1), format="s16", layout=layout)
        frame.sample_rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return out_file.getvalue()


def decode(data: bytes, step: int) -> tuple[np.ndarray, AudioStream, int | None]:
    """(all frames, the stream, how many bytes were in when the first frames came)."""
    stream, parts, first_at = AudioStream(), [], None
    for at in range(0, len(data), step):
        frames = stream.feed(data[at : at + step])
        if frames is not None:
            parts.append(frames)
            first_at = first_at or min(at + step, len(data))
    rest = stream.finish()
    if rest is not None:
        parts.append(rest)
    return np.concatenate(parts), stream, first_at


def ffmpeg_decode(data: bytes) -> np.ndarray:
    """What FFmpeg's own demuxer and decoder make of the whole file."""
    with av.open(io.BytesIO(data), format="mp3") as box:
        resampler = av.AudioResampler(format="flt")
        frames = [f.to_ndarray().reshape(-1, f.layout.nb_channels)
                  for packet in box.demux(box.streams.audio[0]) for raw in packet.decode()
                  for f in resampler.resample(raw)]
    return np.concatenate(frames)


def test_a_streamed_mp3_gives_its_first_samples_from_its_first_frame():
    data = encode_piped("mp3", 2.0, 24000, bit_rate=64000)
    frames, stream, first_at = decode(data, 1)
    # FFmpeg's demuxer read ~1.1 KB (four frames, 136 ms of this stream) before its first frame
    assert first_at is not None and first_at < 300, first_at
    assert (stream.format, stream.rate, stream.channels) == ("mp3", 24000, 1)
    assert not stream.late


@pytest.mark.parametrize("step", [1, 160, 1 << 20])
def test_a_streamed_mp3_decodes_to_what_ffmpeg_makes_of_the_whole_file(step):
    data = encode_piped("mp3", 1.0, 22050, bit_rate=64000)
    frames, _, _ = decode(data, step)
    assert np.array_equal(frames, ffmpeg_decode(data))


@pytest.mark.parametrize(("seconds", "rate", "channels"), [(0.5, 24000, 1), (1.3, 44100, 2), (0.5, 8000, 1)])
def test_a_lame_tag_trims_the_encoder_delay_and_padding(seconds, rate, channels):
    data = encode_file(seconds, rate, channels=channels)
    assert b"Info" in data[:200] and b"Lav" in data[:400]  # the Info frame with its LAME-style tag
    frames, stream, _ = decode(data, 160)
    assert frames.shape == (round(seconds * rate), channels)
    assert stream.rate == rate
    # the first 10 ms are the tone already, not the encoder's silence
    start = frames[: rate // 100, 0]
    assert np.sqrt(np.mean(start**2)) > 0.2


def test_bytes_between_frames_that_are_not_a_frame_are_skipped():
    data = encode_piped("mp3", 1.0, 24000, bit_rate=64000)
    clean, _, _ = decode(data, 500)
    cut = data.index(b"\xff\xf3", 2000)  # a frame header well inside the stream
    damaged, _, _ = decode(data[:cut] + b"\x00garbage that is no frame\x00" * 4 + data[cut:], 500)
    assert damaged.shape == clean.shape


def test_an_id3v1_tag_at_the_end_is_not_played():
    data = encode_piped("mp3", 0.5, 24000, bit_rate=64000)
    tagged, _, _ = decode(data + b"TAG" + b"\xff" * 125, 1000)
    plain, _, _ = decode(data, 1000)
    assert np.array_equal(tagged, plain)


def test_an_answer_cut_short_keeps_the_frames_before_the_cut():
    data = encode_piped("mp3", 2.0, 24000, bit_rate=64000)
    frames, _, _ = decode(data[: len(data) // 2], 300)
    assert 0.8 < len(frames) / 24000 < 1.2


def test_mpeg_layer_2_is_read_by_ffmpeg():
    data = encode_file(0.5, 44100, codec="mp2", container="mp2")
    frames, stream, _ = decode(data, 160)
    assert stream.format == "mp3" and stream.rate == 44100
    assert abs(len(frames) / 44100 - 0.5) < 0.05


def test_an_id3_tag_with_no_audio_after_it_is_an_error():
    with pytest.raises(AudioError, match="MP3 answer"):
        decode(b"ID3\x03\x00\x00\x00\x00\x00\x05hello", 100)
