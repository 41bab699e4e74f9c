"""Long texts cut into pieces that are spoken one at a time.

An engine is lent for one piece, not for a whole text: a long answer then
never keeps an engine from other requests for more than one piece's
synthesis (~0.1 s for 1000 characters), and the server stops asking for the
next piece while a slow client has not read the last ones, so what it holds
in memory for that client stays bounded.

Pieces end at a sentence end when one is in reach, else after a clause
(comma, semicolon...), else at a space; a text with no space at all is cut
at the limit. A text no longer than the limit is one piece, unchanged, so
short requests sound exactly as espeak-ng speaks them whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

SEGMENT_CHARS = 1000

_BREAKS = (
    # A sentence end with any closing quotes or brackets, then space; or a line break.
    re.compile(r"[.!?\u2026\u3002\uff01\uff1f]+[\"'\u201d\u2019)\]]*\s+|\n\s*"),
    re.compile(r"[,;:\u2014\u2013\u3001\uff0c]\s+"),
    re.compile(r"\s+"),
)


def _cut(window: str) -> int:
    """Where to end the piece that starts ``window`` (a length, at least half the window)."""
    for pattern in _BREAKS:
        ends = [m.end() for m in pattern.finditer(window) if m.end() >= len(window) // 2]
        if ends:
            return ends[-1]
    return len(window)


def split_text(text: str, limit: int = SEGMENT_CHARS) -> Iterator[str]:
    """The pieces of ``text``, in order, each at most ``limit`` characters.

    Joined together they give ``text`` back exactly. A piece may be only white
    space (a long run of it), which speaks as nothing.
    """
    start = 0
    while len(text) - start > limit:
        end = start + _cut(text[start : start + limit])
        yield text[start:end]
        start = end
    if start < len(text):
        yield text[start:]
