"""Long texts in pieces a TTS server can take: sentences, paragraphs, chunks.

`sentences` finds sentence ends the way a reader does: a `.`, `!`, `?` or `…`
(with any closing quotes or brackets) followed by a space and a word that is
not lower case. It never ends a sentence inside a word, inside a number (3.14,
1,000) or after an abbreviation ("Dr.", "e.g.", "U.S.", an initial like "J.").

`chunks` groups them for pipelined speech: the first sentence goes alone (its
audio comes back soonest), then each chunk may be about twice as long as the
one before, up to `max_chars` (a server's input limit). A sentence longer than
that is cut at a clause (`,` `;` `:` or a dash, followed by a space), else at
a space: never inside a word unless one word alone is over the limit.

Joining the chunks with single spaces gives the text back, whitespace aside.
"""

from __future__ import annotations

import re

from tts_tui.core.model import SPLIT_MODES
# With no input limit, chunks stop growing here: a long chunk keeps the
# engine's prosody, but a slow server would make its listener wait for it.
DEFAULT_CAP = 1000
# The second chunk may be this long even after a very short first sentence.
MIN_GROWTH = 120

# Words after which a period never ends a sentence: titles before a name, and
# Latin and reference abbreviations that are followed by more of the sentence.
ABBREVIATIONS = frozenset("""
    mr mrs ms mx dr prof sr jr st mt ft rev fr hon gen col lt sgt capt cmdr maj adm gov sen rep pres supt
    vs v cf viz approx ca dept est fig figs vol vols no nos op ch sec pp p art al ed eds trans
    jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun
""".split())

_END = re.compile(r"""[.!?…]+["'”’»)\]]*(?=\s)""")
_PARAGRAPH = re.compile(r"\n[ \t]*\n\s*")
_CLAUSE = re.compile(r"""[,;:]["'”’»)\]]*\s|\s[—–-]+\s""")
_SPACE = re.compile(r"\s")
_WORD_BEFORE = re.compile(r"([\w.'’-]*)$")


def sentences(text: str) -> list[str]:
    """The sentences of `text`, stripped, in order (paragraph breaks end one too)."""
    out: list[str] = []
    for paragraph in paragraphs(text):
        start = 0
        for match in _END.finditer(paragraph):
            if _ends_sentence(paragraph, match):
                piece = paragraph[start:match.end()].strip()
                if piece:
                    out.append(piece)
                start = match.end()
        rest = paragraph[start:].strip()
        if rest:
            out.append(rest)
    return out


def paragraphs(text: str) -> list[str]:
    """The paragraphs of `text` (split at blank lines), stripped, empty ones dropped."""
    return [p.strip() for p in _PARAGRAPH.split(text) if p.strip()]


def _ends_sentence(text: str, match: re.Match[str]) -> bool:
    mark = match.group()
    after = text[match.end():].lstrip()
    if not after:
        return True
    nxt = after.lstrip("\"'“‘«([")[:1]
    if nxt.islower():
        return False  # "e.g. this", "3 p.m. and", "Hmm... well"
    if not mark.startswith("."):
        return True
    if mark.startswith("..."):
        return True
    word = _WORD_BEFORE.search(text, 0, match.start()).group(1).strip("'’-")
    if not word:
        return True
    if "." in word:  # U.S. · e.g. · a.m. · Ph.D.: dotted abbreviations
        return False
    if len(word) == 1 and word.isalpha():  # an initial: J. R. R. Tolkien
        return False
    return word.lower() not in ABBREVIATIONS


def chunks(text: str, mode: str = "sentence", max_chars: int | None = None, *, cap: int = DEFAULT_CAP) -> list[str]:
    """`text` as the pieces to send, in order; none longer than `max_chars`.

    mode "sentence": the first sentence alone, then growing groups of whole
    sentences. "paragraph": one paragraph a chunk (a longer one in sentences).
    "none": the text whole, unless it is over `max_chars`, then the fewest
    sentence groups that fit. Empty text gives [].
    """
    if mode not in SPLIT_MODES:
        raise ValueError(f"split mode must be one of {', '.join(SPLIT_MODES)}, not {mode!r}")
    if max_chars is not None and max_chars < 1:
        raise ValueError("max_chars must be at least 1")
    limit = max_chars or 0
    text = text.strip()
    if not text:
        return []
    if mode == "none":
        if not limit or len(text) <= limit:
            return [text]
        return _pack(_fit(sentences(text), limit), limit, first=limit, growth=1.0)
    if mode == "paragraph":
        out: list[str] = []
        for paragraph in paragraphs(text):
            if limit and len(paragraph) > limit:
                out += _pack(_fit(sentences(paragraph), limit), limit, first=limit, growth=1.0)
            else:
                out.append(" ".join(paragraph.split()) if "\n" in paragraph else paragraph)
        return out
    most = min(limit, cap) if limit else cap
    pieces = _fit(sentences(text), most)
    return _pack(pieces, most, first=len(pieces[0]), growth=2.0)


def _fit(pieces: list[str], limit: int) -> list[str]:
    """Every piece at most `limit` long: longer ones cut at clauses, then spaces."""
    if not limit:
        return pieces
    out: list[str] = []
    for piece in pieces:
        out += _cut(piece, limit) if len(piece) > limit else [piece]
    return out


def _cut(piece: str, limit: int) -> list[str]:
    out: list[str] = []
    rest = piece
    while len(rest) > limit:
        window = rest[: limit + 1]
        at = _last_break(_CLAUSE, window, limit)
        if at is None:
            spaces = [m.start() for m in _SPACE.finditer(window)]
            # no space at all: one word longer than the limit, cut where it must be
            at = spaces[-1] if spaces and spaces[-1] > 0 else limit
        head, rest = rest[:at].strip(), rest[at:].strip()
        if head:
            out.append(head)
    if rest:
        out.append(rest)
    return out


def _last_break(pattern: re.Pattern[str], window: str, limit: int) -> int | None:
    """The end of the last `pattern` match (before its trailing space) within `limit`."""
    best = None
    for match in pattern.finditer(window):
        end = match.end() - (1 if window[match.end() - 1].isspace() else 0)
        if match.group().startswith((" ", "\t")):  # a dash: break before it
            end = match.start()
        if 0 < end <= limit:
            best = end
    return best


def _pack(pieces: list[str], limit: int, *, first: int, growth: float) -> list[str]:
    """Whole pieces joined into chunks: the first up to `first` long, each next
    one up to `growth` times the last (at least MIN_GROWTH), none over `limit`."""
    out: list[str] = []
    target = max(1, min(first, limit))
    current: list[str] = []
    size = 0
    for piece in pieces:
        extra = len(piece) + (1 if current else 0)
        if current and size + extra > target:
            out.append(" ".join(current))
            target = min(limit, max(MIN_GROWTH, int(size * growth)))
            current, size = [], 0
            extra = len(piece)
        current.append(piece)
        size += extra
    if current:
        out.append(" ".join(current))
    return out
