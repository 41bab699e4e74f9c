"""Audio bytes in, float32 frames out, while the bytes still arrive.

`AudioStream` sniffs the container from the first bytes and hands the rest to
the decoder that reads it:

- WAV and raw PCM are parsed here (streamed WAV carries placeholder sizes and
  extra chunks; raw PCM has no header at all, so its layout comes from the
  Content-Type or the config);
- MP3 is cut into frames here (`mp3.py`) and each frame decoded by FFmpeg's
  mp3 decoder as soon as its last byte is in, trimmed as its LAME tag says;
- everything else (Ogg Opus/Vorbis, FLAC, ADTS AAC, MP4, WAV codecs other
  than PCM) goes through FFmpeg (PyAV), fed from a pipe in a thread so frames
  come out as soon as the demuxer has a whole packet. Files written without a
  known length (FLAC from a pipe, Ogg) are normal there. A container that
  cannot be read from a pipe (MP4 with its index at the end) is decoded whole
  once the last byte is in.

PyAV costs 0.1-0.5 s to import: it is imported only when such an answer is
asked for or arrives (`preload`), in a thread, while the request is in flight.
numpy too is imported only once samples are made: an answer read with
`count_only` (WAV and raw PCM) never needs it.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

from tts_tui.core.answer.layout import SampleLayout, check_rate_channels, parse_wav
from tts_tui.core.errors import AudioError

if TYPE_CHECKING:
    import threading

    import numpy as np

    from tts_tui.core.audio import Audio

SNIFF_BYTES = 36  # enough for every magic number below, and an Ogg page's codec
_FEED_WAIT_S = 5.0  # a decoder never holds the caller longer than this per chunk


_PRELOADING: threading.Thread | None = None


def preload(fmt: str | None) -> None:
    """Start importing what decoding `fmt` needs (PyAV and numpy, ~0.1-0.5 s
    cold) in a thread, once per process, so that a compressed answer's first
    frame does not wait for it: called as soon as the request or the answer's
    headers say which format comes. WAV and raw PCM need neither."""
    global _PRELOADING
    if _PRELOADING is not None or not fmt or fmt.lower() in ("wav", "pcm"):
        return

    def load() -> None:
        try:
            import av  # noqa: F401
            import numpy  # noqa: F401
        except Exception:  # noqa: BLE001 - a broken install: the decoder says so, in one line, when it needs them
            pass

    import threading  # here: a WAV or PCM answer starts no thread

    _PRELOADING = threading.Thread(target=load, name="tts-tui-preload", daemon=True)
    _PRELOADING.start()


def container(head: bytes, *, strong_only: bool = False) -> str | None:
    """The container the bytes start with: "wav", "opus" (Ogg Opus), "ogg"
    (Ogg Vorbis, FLAC...), "flac", "mp3", "aac" (ADTS/ADIF), "m4a" (MP4), or
    None. A bare MPEG/ADTS frame sync is weak evidence (raw PCM can start with
    the same bits): ignored when `strong_only`."""
    head = bytes(head[:SNIFF_BYTES])
    if head[:4] in (b"RIFF", b"RIFX", b"RF64") and head[8:12] == b"WAVE":
        return "wav"
    if head[:4] == b"OggS":
        return "opus" if head[28:36] == b"OpusHead" else "ogg"
    if head[:4] == b"fLaC":
        return "flac"
    if head[:3] == b"ID3":
        return "mp3"
    if head[4:8] == b"ftyp":
        return "m4a"
    if head[:4] == b"ADIF":
        return "aac"
    if strong_only or len(head) < 3 or head[0] != 0xFF:
        return None
    if head[1] & 0xF6 == 0xF0:  # 12-bit sync + layer 00: ADTS (0xFFF1 / 0xFFF9)
        return "aac"
    from tts_tui.core.answer.mp3 import parse_header  # read when the first byte says MPEG: not for a WAV

    return "mp3" if parse_header(head[:4]) is not None else None


def could_become_magic(head: bytes) -> bool:
    """True while `head` is too short to rule out a container's magic."""
    head = bytes(head)
    return any(m.startswith(head) or head.startswith(m) for m in (b"RIFF", b"RIFX", b"RF64", b"OggS", b"fLaC", b"ID3"))


class AudioStream:
    """Decode one audio answer while its bytes arrive.

    `feed` returns the float32 frames (shape (n, channels)) the new bytes
    complete, or None; `finish` returns the frames still held back once the
    last byte is in and raises AudioError when the bytes were not audio.
    `pcm`: the layout of raw PCM, used when the bytes carry no container
    (None: such bytes are not audio). `weak_sync`: whether a bare MPEG/ADTS
    frame sync counts as mp3/aac (False when PCM is expected: PCM can start
    with those bits).

    `rate`, `channels` and `format` are known from the first frames on;
    `data` holds every byte (what saving writes back); `late` is True when
    the frames could only be decoded after the last byte.

    `count_only` (set before the first `feed`): nobody needs frames while the
    answer downloads. WAV and raw PCM frames are then only counted, `feed`
    returns None for them, and `frames` still grows as they arrive; their
    samples are converted once, when asked for, and are the same values.
    Other formats decode as usual.
    """

    def __init__(self, pcm: SampleLayout | None = None, *, weak_sync: bool | None = None) -> None:
        self._pcm = pcm
        self._weak = pcm is None if weak_sync is None else weak_sync
        self.data = bytearray()
        self._decoder: _Decoder | None = None
        self.format: str | None = None
        self.rate: int | None = None
        self.channels: int | None = None
        self.late = False
        self.count_only = False
        self._frames: list[np.ndarray] = []
        self._kept = 0
        self._closed = False

    @property
    def frames(self) -> int:
        """Frames decoded (or counted) so far."""
        counted = self._decoder.counted if self._decoder is not None else 0
        return self._kept + counted

    def samples(self) -> np.ndarray:
        """Every frame decoded so far, in one array."""
        import numpy as np

        span = self._counted_span()
        if span is not None:
            layout, start, frames = span
            return layout.convert(self.data[start : start + frames * layout.block])
        if not self._frames:
            return np.zeros((0, self.channels or 1), np.float32)
        if len(self._frames) > 1:
            self._frames = [np.concatenate(self._frames)]
        return self._frames[0]

    def audio(self) -> Audio:
        """The whole audio once `finish` returned, holding a copy of `data`.
        Counted frames are converted only when its samples are first read."""
        from tts_tui.core.audio import Audio

        assert self.rate is not None
        data, fmt = bytes(self.data), self.format or "pcm"
        raw = self._pcm if self.format == "pcm" else None  # `data` is the samples as they came
        span = self._counted_span()
        if span is None:
            audio = Audio(self.samples(), self.rate, fmt, data)
            audio.pcm_layout = raw
            return audio
        layout, start, frames = span
        end = start + frames * layout.block
        return Audio.deferred(lambda: layout.convert(data[start:end]), frames, layout.channels, self.rate, fmt, data,
                              pcm_layout=raw)

    def _counted_span(self) -> tuple[SampleLayout, int, int] | None:
        """(layout, offset in `data`, frames) of counted PCM, else None."""
        return self._decoder.counted_span() if self._decoder is not None and self._decoder.counted else None

    def feed(self, chunk: bytes) -> np.ndarray | None:
        if self._closed:
            return None
        self.data += chunk
        if self._decoder is None:
            self._decoder = self._choose(final=False)
            if self._decoder is None:
                return None
            self._decoder.count_only = self.count_only
            return self._keep(self._decoder.feed(bytes(self.data)))
        return self._keep(self._decoder.feed(chunk))

    def finish(self) -> np.ndarray | None:
        """The frames held back until the end. Raises AudioError for bytes that
        are not audio (with an excerpt) and for audio no frame came out of."""
        if self._decoder is None:
            self._decoder = self._choose(final=True)
            assert self._decoder is not None
            self._decoder.count_only = self.count_only
            frames = self._keep(self._decoder.feed(bytes(self.data)))
            rest = self._keep(self._decoder.finish())
        else:
            frames, rest = None, self._keep(self._decoder.finish())
        self._closed = True
        parts = [f for f in (frames, rest) if f is not None and len(f)]
        if len(parts) > 1:
            import numpy as np

            return np.concatenate(parts)
        return parts[0] if parts else None

    def close(self) -> None:
        """Stop decoding (the download failed or was cancelled)."""
        self._closed = True
        if self._decoder is not None:
            self._decoder.abort()

    def _keep(self, frames: np.ndarray | None) -> np.ndarray | None:
        decoder = self._decoder
        if decoder is not None and decoder.rate and self.rate is None:
            check_rate_channels(decoder.rate, decoder.channels, f"the {self.format or 'audio'} answer")
            self.rate, self.channels = decoder.rate, decoder.channels
        if decoder is not None and decoder.late:
            self.late = True
        if frames is None or not len(frames):
            return None
        self._frames.append(frames)
        self._kept += len(frames)
        return frames

    def _choose(self, *, final: bool) -> _Decoder | None:
        head = bytes(self.data[:SNIFF_BYTES])
        if len(head) < SNIFF_BYTES and not final and (self._pcm is None or could_become_magic(head)
                                                      or head[:4] == b"OggS"):
            return None
        fmt = container(head, strong_only=not self._weak)
        if fmt == "wav":
            self.format = "wav"
            return _WavDecoder()
        if fmt == "mp3":
            self.format = fmt
            return _Mp3Decoder()
        if fmt is not None:
            self.format = fmt
            return _AvDecoder(fmt)
        if self._pcm is not None:
            self.format = "pcm"
            return _PcmDecoder(self._pcm)
        if final:
            raise not_audio(bytes(self.data))
        return _NotAudio()


class _Decoder:
    rate: int | None = None
    channels: int = 1
    late = False
    count_only = False  # PCM decoders count frames instead of converting them
    counted = 0  # frames counted, not converted

    def counted_span(self) -> tuple[SampleLayout, int, int] | None:
        """(layout, offset of the first sample in the bytes fed, frames counted)."""
        return None

    def feed(self, chunk: bytes) -> np.ndarray | None:
        raise NotImplementedError

    def finish(self) -> np.ndarray | None:
        return None

    def abort(self) -> None:
        pass


class _NotAudio(_Decoder):
    """Bytes with no container and no PCM expected: kept for the error message."""

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, chunk: bytes) -> None:
        self._data += chunk[: 4096 - len(self._data)]

    def finish(self) -> None:
        raise not_audio(bytes(self._data))


class _PcmDecoder(_Decoder):
    """Raw samples: whole frames out, a partial frame carried to the next chunk."""

    def __init__(self, layout: SampleLayout, limit: int | None = None, *, offset: int = 0) -> None:
        self.layout = layout
        self.rate, self.channels = layout.rate, layout.channels
        self._carry = b""
        self._carried = 0  # with count_only: bytes of a partial frame
        self._left = limit  # bytes of samples still to read (a WAV's data size)
        self._offset = offset

    def counted_span(self) -> tuple[SampleLayout, int, int] | None:
        return self.layout, self._offset, self.counted

    def feed(self, chunk: bytes) -> np.ndarray | None:
        size = len(chunk)
        if self._left is not None:
            size = min(size, max(0, self._left))
            self._left -= size
        if self.count_only:  # arithmetic only: no copy, no numpy
            whole, self._carried = divmod(self._carried + size, self.layout.block)
            self.counted += whole
            return None
        if size < len(chunk):
            chunk = chunk[:size]
        raw = self._carry + chunk
        usable = len(raw) // self.layout.block * self.layout.block
        self._carry = raw[usable:]
        return self.layout.convert(raw[:usable]) if usable else None


class _WavDecoder(_Decoder):
    """A WAV header, then its PCM samples as they come (or FFmpeg for other codecs)."""

    def __init__(self) -> None:
        self._head = bytearray()
        self._inner: _Decoder | None = None

    @property
    def rate(self) -> int | None:  # type: ignore[override]
        return self._inner.rate if self._inner else None

    @property
    def channels(self) -> int:  # type: ignore[override]
        return self._inner.channels if self._inner else 1

    @property
    def late(self) -> bool:  # type: ignore[override]
        return bool(self._inner and self._inner.late)

    @property
    def counted(self) -> int:  # type: ignore[override]
        return self._inner.counted if self._inner else 0

    def counted_span(self) -> tuple[SampleLayout, int, int] | None:
        return self._inner.counted_span() if self._inner else None

    def feed(self, chunk: bytes) -> np.ndarray | None:
        if self._inner is not None:
            return self._inner.feed(chunk)
        self._head += chunk
        layout = parse_wav(self._head, final=False)
        if layout is None:
            if bytes(self._head[:4]) == b"RIFX":
                self._inner = _AvDecoder("wav")
                return self._inner.feed(bytes(self._head))
            return None
        if layout.kind == "other":  # mu-law, ADPCM...: FFmpeg reads those
            self._inner = _AvDecoder("wav")
            return self._inner.feed(bytes(self._head))
        size = None if layout.data_end is None else layout.data_end - layout.data_start
        self._inner = _PcmDecoder(layout, size, offset=layout.data_start)
        self._inner.count_only = self.count_only
        return self._inner.feed(bytes(self._head[layout.data_start :]))

    def finish(self) -> np.ndarray | None:
        if self._inner is None:
            parse_wav(self._head, final=True)  # raises when the header is cut short
            raise AudioError("the WAV answer has no audio data", hint="the server wrote a broken WAV file")
        return self._inner.finish()

    def abort(self) -> None:
        if self._inner is not None:
            self._inner.abort()


# FFmpeg demuxer names for what `container` sniffs.
_DEMUXERS = {"mp3": "mp3", "ogg": "ogg", "opus": "ogg", "flac": "flac", "aac": "aac", "m4a": "mp4", "wav": "wav"}


class _AvDecoder(_Decoder):
    """FFmpeg through PyAV, reading from a pipe that `feed` fills.

    The demuxer and decoder run in a thread that blocks when the pipe is
    empty; `feed` waits until it does (all the bytes given so far are read
    and decoded), so the frames a chunk completes come back from that very
    call. When FFmpeg cannot read the stream from a pipe at all, the whole
    answer is decoded once it is complete (`late`).
    """

    def __init__(self, fmt: str) -> None:
        import threading

        self._fmt = fmt
        self._pipe = _Pipe()
        self._lock = threading.Lock()
        self._out: list[np.ndarray] = []
        self._failed: Exception | None = None
        self._produced = False
        self._thread = threading.Thread(target=self._run, name=f"tts-tui-decode-{fmt}", daemon=True)
        self._thread.start()

    def feed(self, chunk: bytes) -> np.ndarray | None:
        self._pipe.write(chunk)
        self._pipe.wait_drained(_FEED_WAIT_S)
        return self._take()

    def finish(self) -> np.ndarray | None:
        self._pipe.close()
        self._thread.join()
        frames = self._take()
        if self._failed is not None and not self._produced:
            # not readable from a pipe (or broken): try once more with the whole file
            self.late = True
            return self._decode_whole()
        if not self._produced:
            raise AudioError(f"no audio could be decoded from the {self._fmt.upper()} answer "
                             f"({len(self._pipe.data)} bytes)", hint="save it and open it in a player to inspect")
        return frames

    def abort(self) -> None:
        self._pipe.close(abort=True)

    def _take(self) -> np.ndarray | None:
        with self._lock:
            out, self._out = self._out, []
        if not out:
            return None
        if len(out) == 1:
            return out[0]
        import numpy as np

        return np.concatenate(out)

    def _run(self) -> None:
        try:
            self._decode(self._pipe, streaming=True)
        except Exception as exc:  # noqa: BLE001 - reported by finish()
            self._failed = exc
        finally:
            self._pipe.reader_gone()

    def _decode(self, source: Any, *, streaming: bool) -> None:
        import av

        options = {"probesize": "32", "analyzeduration": "0"} if streaming else {}
        with av.open(source, mode="r", format=_DEMUXERS[self._fmt], options=options) as box:
            if not box.streams.audio:
                raise AudioError(f"the {self._fmt.upper()} answer holds no audio stream")
            stream = box.streams.audio[0]
            resampler = av.AudioResampler(format="flt")  # packed float32, same rate and layout
            for packet in box.demux(stream):
                try:
                    frames = packet.decode()
                except av.error.InvalidDataError:
                    continue  # a damaged packet: skip it, as players do
                for frame in frames:
                    self._emit(resampler.resample(frame))
            self._emit(resampler.resample(None))

    def _emit(self, frames: list[Any]) -> None:
        import numpy as np

        for frame in frames:
            channels = frame.layout.nb_channels
            array = frame.to_ndarray().reshape(-1, channels)
            if not len(array):
                continue
            with self._lock:
                if self.rate is None:
                    self.rate, self.channels = frame.sample_rate, channels
                self._out.append(np.ascontiguousarray(array, dtype=np.float32))
                self._produced = True

    def _decode_whole(self) -> np.ndarray | None:
        data = bytes(self._pipe.data)
        try:
            self._decode(io.BytesIO(data), streaming=False)
        except Exception as exc:
            detail = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
            raise AudioError(
                f"cannot decode the {self._fmt.upper()} answer ({len(data)} bytes): {detail}",
                hint="the file may be truncated or use an unsupported codec; save it to inspect",
            ) from exc
        frames = self._take()
        if frames is None:
            raise AudioError(f"no audio could be decoded from the {self._fmt.upper()} answer ({len(data)} bytes)")
        return frames


class _Mp3Decoder(_Decoder):
    """MP3 cut into frames as it arrives (`answer/mp3.py`) and decoded one
    frame per packet, so the first samples come once the first frame is in
    rather than after the several frames FFmpeg's demuxer reads ahead. The
    gapless trim a LAME tag asks for is applied as the demuxer would. A stream
    the splitter does not cut (Layer I/II, free format) goes to the demuxer."""

    def __init__(self) -> None:
        from tts_tui.core.answer.mp3 import FrameSplitter

        self._splitter = FrameSplitter()
        self._held: bytearray | None = bytearray()  # every byte, until a frame is found
        self._size = 0
        self._inner: _AvDecoder | None = None
        self._codec: Any = None
        self._decoded = 0  # samples decoded so far: where the trim's clock stands
        self._produced = False

    @property
    def late(self) -> bool:  # type: ignore[override]
        return bool(self._inner and self._inner.late)

    def feed(self, chunk: bytes) -> np.ndarray | None:
        if self._inner is not None:
            return self._from_inner(self._inner.feed(chunk))
        self._size += len(chunk)
        if self._held is not None:
            self._held += chunk
        packets = self._splitter.feed(chunk)
        if self._splitter.unsupported:
            return self._hand_on()
        return self._decode(packets)

    def finish(self) -> np.ndarray | None:
        if self._inner is not None:
            return self._from_inner(self._inner.finish())
        frames = self._decode(self._splitter.finish())
        if self._produced:
            return frames
        if self._held is None:
            raise AudioError(f"no audio could be decoded from the MP3 answer ({self._size} bytes)",
                             hint="save it and open it in a player to inspect")
        first = self._hand_on()  # no whole frame found: FFmpeg says what the bytes are
        assert self._inner is not None
        rest = self._from_inner(self._inner.finish())
        if first is None or rest is None:
            return rest if first is None else first
        import numpy as np

        return np.concatenate([first, rest])

    def abort(self) -> None:
        if self._inner is not None:
            self._inner.abort()

    def _hand_on(self) -> np.ndarray | None:
        assert self._held is not None
        held, self._held = bytes(self._held), None
        self._inner = _AvDecoder("mp3")
        return self._from_inner(self._inner.feed(held))

    def _from_inner(self, frames: np.ndarray | None) -> np.ndarray | None:
        assert self._inner is not None
        self.rate, self.channels = self._inner.rate, self._inner.channels
        return frames

    def _decode(self, packets: list[bytes]) -> np.ndarray | None:
        if not packets:
            return None
        try:
            import av
        except ImportError as exc:  # a broken install: av is a dependency
            raise AudioError("cannot decode the MP3 answer: PyAV (av) cannot be imported",
                             hint="reinstall tts-tui: pip install --force-reinstall av") from exc
        import numpy as np

        self._held = None  # a frame was found: the splitter reads this stream
        if self._codec is None:
            self._codec = av.CodecContext.create("mp3float", "r")  # the decoder the demuxer would pick
        out = []
        for data in packets:
            try:
                frames = self._codec.decode(av.Packet(data))
            except av.error.InvalidDataError:
                continue  # a damaged frame: skip it, as players do
            for frame in frames:
                array = frame.to_ndarray()
                array = array.T if frame.format.is_planar else array.reshape(-1, frame.layout.nb_channels)
                if self.rate is None:
                    self.rate, self.channels = frame.sample_rate, array.shape[1]
                elif array.shape[1] != self.channels:  # a stream switching mono/stereo
                    array = array.mean(axis=1, keepdims=True).repeat(self.channels, axis=1)
                kept = self._trim(array)
                if len(kept):
                    out.append(np.ascontiguousarray(kept, dtype=np.float32))
        if not out:
            return None
        self._produced = True
        return out[0] if len(out) == 1 else np.concatenate(out)

    def _trim(self, array: np.ndarray) -> np.ndarray:
        """The part of these decoded samples the gapless trim keeps."""
        gapless, start = self._splitter.gapless, self._decoded
        self._decoded += len(array)
        stop = len(array) if gapless.end is None else min(len(array), gapless.end - start)
        return array[max(0, gapless.skip - start) : max(0, stop)]


class _Pipe:
    """A file object FFmpeg reads from while `write` fills it; `read` blocks
    until bytes arrive or the pipe is closed (then it returns b"": EOF)."""

    def __init__(self) -> None:
        self.data = bytearray()
        self._pos = 0
        self._closed = False
        self._reading = False  # the reader is blocked, waiting for bytes
        self._gone = False  # the reader stopped for good
        import threading

        self._cond = threading.Condition()

    def write(self, chunk: bytes) -> None:
        with self._cond:
            self.data += chunk
            self._cond.notify_all()

    def close(self, *, abort: bool = False) -> None:
        with self._cond:
            self._closed = True
            if abort:
                self._pos = len(self.data)
            self._cond.notify_all()

    def read(self, size: int = -1) -> bytes:
        with self._cond:
            while self._pos >= len(self.data) and not self._closed:
                self._reading = True
                self._cond.notify_all()
                self._cond.wait()
            self._reading = False
            end = len(self.data) if size is None or size < 0 else self._pos + size
            out = bytes(self.data[self._pos : end])
            self._pos += len(out)
            return out

    def reader_gone(self) -> None:
        with self._cond:
            self._gone = True
            self._cond.notify_all()

    def wait_drained(self, timeout: float) -> None:
        """Until the reader has taken every byte and waits for more, or stopped."""
        with self._cond:
            self._cond.wait_for(lambda: self._gone or (self._reading and self._pos >= len(self.data)), timeout=timeout)


def not_audio(data: bytes) -> AudioError:
    """The error for an answer that is not audio, saying what it is instead."""
    from tts_tui.core.audio import describe_non_audio

    if not data:
        return AudioError("the answer is empty (0 bytes)", hint="the server sent no audio; check its log")
    return AudioError(
        f"the answer is not audio but {describe_non_audio(data)}",
        hint='check the URL and body; if the audio is inside JSON, set response = "json:PATH"',
    )
