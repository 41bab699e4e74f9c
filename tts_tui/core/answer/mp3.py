"""MP3 frames out of a byte stream, one as soon as its last byte is in.

FFmpeg's mp3 demuxer reads several frames ahead before it hands out the
first (it checks that frame headers follow each other), which costs about
a kilobyte: 136 ms of a 64 kbit/s answer arriving at real time. Each MPEG
audio frame header says how long its frame is, so the frames can be cut
here and given to the decoder one by one, with nothing read ahead.

What the demuxer also does, done here the same way so the samples are the
same: an ID3v2 tag in front is skipped; a first frame holding a Xing/Info
(or VBRI) header is not audio and is skipped; when that frame carries a
LAME tag (written by LAME and by FFmpeg), its encoder delay and padding say
how many decoded samples to drop at the start (delay + 529, the decoder's
own delay) and where the audio ends (gapless playback).

Only MPEG-1/2/2.5 Layer III with a bitrate in the header is cut here;
anything else (Layer I/II, free-format bitrate) is left to FFmpeg's demuxer
(`unsupported` says why).
"""

from __future__ import annotations

from dataclasses import dataclass

DECODER_DELAY = 529  # samples FFmpeg's mp3 decoder adds in front (528 + 1)
_SCAN_LIMIT = 64 * 1024  # no frame header within this many bytes: not for us

# kbit/s by header index, for MPEG-1 and for MPEG-2/2.5 Layer III
_BITRATES = {
    1: (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
    2: (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
}
_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}  # by version bits


@dataclass(frozen=True)
class FrameHeader:
    """The 4-byte header in front of every MPEG audio frame."""

    version: int  # header bits: 3 MPEG-1, 2 MPEG-2, 0 MPEG-2.5
    layer: int  # 1, 2 or 3
    bitrate: int  # kbit/s; 0: free format
    rate: int
    mono: bool
    length: int  # bytes, header included (0 when free format)

    @property
    def samples(self) -> int:
        """Samples per channel this frame decodes to."""
        if self.layer == 1:
            return 384
        return 1152 if self.layer == 2 or self.version == 3 else 576

    @property
    def side_info(self) -> int:
        """Bytes of Layer III side information after the header (where a Xing header starts)."""
        if self.version == 3:
            return 17 if self.mono else 32
        return 9 if self.mono else 17

    def same_stream(self, other: FrameHeader) -> bool:
        """Whether `other` can follow this frame in one stream (what a resync checks)."""
        return (self.version, self.layer, self.rate) == (other.version, other.layer, other.rate)


def parse_header(b: bytes | bytearray | memoryview) -> FrameHeader | None:
    """The frame header the 4 bytes hold, or None when they are not one."""
    if len(b) < 4 or b[0] != 0xFF or b[1] & 0xE0 != 0xE0:
        return None
    version, layer_bits = (b[1] >> 3) & 3, (b[1] >> 1) & 3
    bitrate_index, rate_index = b[2] >> 4, (b[2] >> 2) & 3
    if version == 1 or layer_bits == 0 or bitrate_index == 15 or rate_index == 3:
        return None
    layer = 4 - layer_bits
    padding = (b[2] >> 1) & 1
    rate = _RATES[version][rate_index]
    if layer == 3:
        bitrate = _BITRATES[1 if version == 3 else 2][bitrate_index]
        per_frame = 144 if version == 3 else 72
        length = per_frame * bitrate * 1000 // rate + padding if bitrate else 0
    else:  # Layer I/II: recognised, so the stream can be handed on, not cut here
        bitrate, length = bitrate_index, 0
    return FrameHeader(version, layer, bitrate, rate, (b[3] >> 6) == 3, length)


def id3v2_size(head: bytes | bytearray) -> int | None:
    """Bytes an ID3v2 tag at the start takes (0 without one), None until the
    10-byte tag header is in."""
    if len(head) < 3:
        return 0 if head and not b"ID3".startswith(bytes(head)) else None
    if bytes(head[:3]) != b"ID3":
        return 0
    if len(head) < 10:
        return None
    size = (head[6] & 0x7F) << 21 | (head[7] & 0x7F) << 14 | (head[8] & 0x7F) << 7 | head[9] & 0x7F
    footer = 10 if head[5] & 0x10 else 0
    return 10 + size + footer


@dataclass(frozen=True)
class Gapless:
    """Samples to drop at the start; `end`: the decoded sample index where the
    audio ends (None: at the last frame)."""

    skip: int
    end: int | None


def info_frame(frame: bytes, header: FrameHeader) -> Gapless | None:
    """None when `frame` is audio; when it holds a Xing/Info or VBRI header
    (not audio), the gapless trim its LAME tag gives (zero without one)."""
    at = 4 + header.side_info
    tag = frame[at : at + 4]
    if frame[36:40] == b"VBRI":
        return Gapless(0, None)
    if tag not in (b"Xing", b"Info"):
        return None
    flags = int.from_bytes(frame[at + 4 : at + 8], "big")
    pos, frames = at + 8, None
    if flags & 1:
        frames = int.from_bytes(frame[pos : pos + 4], "big")
        pos += 4
    pos += (4 if flags & 2 else 0) + (100 if flags & 4 else 0) + (4 if flags & 8 else 0)
    encoder = frame[pos : pos + 4]
    if encoder not in (b"LAME", b"Lavf", b"Lavc") or len(frame) < pos + 24:
        return Gapless(0, None)
    delays = int.from_bytes(frame[pos + 21 : pos + 24], "big")
    start_pad, end_pad = delays >> 12, delays & 0xFFF
    end = frames * header.samples - end_pad + DECODER_DELAY if frames else None
    return Gapless(start_pad + DECODER_DELAY, end)


class FrameSplitter:
    """Cuts an MP3 byte stream into whole audio frames as the bytes arrive.

    `feed` returns the frames the new bytes complete (header included, ready
    to decode one packet each); `finish` returns a last, cut-short frame (the
    decoder makes what it can of it). `gapless` is known once the first frame
    is in. `unsupported` is set, and nothing is returned, when the stream is
    not one this splitter cuts: the caller hands every byte to FFmpeg.
    Bytes between frames that are not a frame (a damaged stretch, an ID3v1 or
    APE tag at the end) are skipped.
    """

    def __init__(self) -> None:
        self._buf = bytearray()
        self._tag_left: int | None = None  # ID3v2 bytes still to skip; None until known
        self._first: FrameHeader | None = None
        self._scanned = 0  # bytes searched for the first frame header
        self.gapless = Gapless(0, None)
        self.unsupported: str | None = None

    def feed(self, chunk: bytes) -> list[bytes]:
        if self.unsupported:
            return []
        self._buf += chunk
        if self._tag_left is None:
            size = id3v2_size(self._buf)
            if size is None:
                return []
            self._tag_left = size
        if self._tag_left:
            dropped = min(self._tag_left, len(self._buf))
            del self._buf[:dropped]
            self._tag_left -= dropped
            if self._tag_left:
                return []
        return self._cut()

    def finish(self) -> list[bytes]:
        if self.unsupported or self._first is None:
            return []
        header = parse_header(self._buf[:4])
        rest, self._buf = bytes(self._buf), bytearray()
        return [rest] if header is not None and header.same_stream(self._first) else []

    def _cut(self) -> list[bytes]:
        frames: list[bytes] = []
        pos, buf = 0, self._buf
        while len(buf) - pos >= 4:
            header = parse_header(buf[pos : pos + 4])
            if header is None or (self._first is not None and not header.same_stream(self._first)):
                # resync: on to the next byte that can start a header
                step = buf.find(b"\xff", pos + 1)
                step = len(buf) if step < 0 else step
                if self._first is None:
                    self._scanned += step - pos
                    if self._scanned > _SCAN_LIMIT:
                        self.unsupported = "no MPEG audio frame header near the start"
                        return []
                pos = step
                continue
            if header.layer != 3 or not header.bitrate:
                if self._first is None:
                    self.unsupported = f"Layer {header.layer}" if header.layer != 3 else "free-format bitrate"
                    return []
                pos += 1
                continue
            if len(buf) - pos < header.length:
                break
            frame = bytes(buf[pos : pos + header.length])
            pos += header.length
            if self._first is None:
                self._first = header
                info = info_frame(frame, header)
                if info is not None:
                    self.gapless = info
                    continue
            frames.append(frame)
        del buf[:pos]
        return frames
