"""Compare engines and voices on the same text: the takes, the table, blind votes.

A `Contender` is one column: a service, and optionally a voice of it (one
service can be several columns, one per voice). `run_compare` speaks the text
on each, one after another (never at once: each one's timings are its own),
`rounds` times, turning the order each round so no one always goes first.
`Comparison` holds every take and gives per column the p50 and the spread
(max − min) of each timing.

`BlindVote` hides which is which: two contenders get the letters A and B at
random, the listener picks one, and only then is the pick revealed and
tallied. `Tally` keeps the session's picks and exports them as JSON.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tts_tui.core.errors import ConfigError
from tts_tui.core.exchange import human_bytes
from tts_tui.core.speech import SpeechResult, speak
from tts_tui.core.stats import Summary

if TYPE_CHECKING:
    from tts_tui.core.client import HttpClient
    from tts_tui.core.model import Config, Service

TIMINGS = ("ttfb_ms", "ttfa_ms", "total_ms", "audio_s", "rtf")
# What a voice reads when auditioned (the picker's ctrl+l, `voices --audition`).
AUDITION_TEXT = "Hello! This is how I sound, reading a short sentence for you."


@dataclass(frozen=True)
class Contender:
    service: Service
    voice: str | None = None

    @property
    def label(self) -> str:
        return f"{self.service.name}/{self.voice}" if self.voice else self.service.name


def contenders(config: Config, names: list[str], voice_specs: list[str],
               pick: Callable[[str], Service] | None = None) -> list[Contender]:
    """The columns for `-s NAME ...` and `--voice NAME=VOICE ...`: one per
    service, or one per voice given for it. Raises ConfigError for an unknown
    service, a voice for a service not compared, or a malformed spec."""
    pick = pick or config.service
    voices: dict[str, list[str]] = {}
    for spec in voice_specs:
        name, sep, voice = spec.partition("=")
        if not sep or not name.strip() or not voice.strip():
            raise ConfigError(f"--voice {spec!r}: write SERVICE=VOICE", hint="e.g. --voice kokoro=af_bella")
        voices.setdefault(name.strip(), []).append(voice.strip())
    for name in voices:
        if name not in names:
            raise ConfigError(f"--voice for {name!r}, which is not compared", hint=f"add -s {name}")
    out: list[Contender] = []
    for name in dict.fromkeys(names):  # -s A -s A is one column
        service = pick(name)
        out += [Contender(service, v) for v in voices.get(name, [])] or [Contender(service)]
    if len(out) < 2:
        raise ConfigError("compare needs at least two services or voices",
                          hint="e.g. -s A -s B, or -s A --voice A=x --voice A=y")
    return out


@dataclass
class Column:
    """Every take of one contender, and what the table shows of them."""

    contender: Contender
    takes: list[SpeechResult] = field(default_factory=list)

    @property
    def ok_takes(self) -> list[SpeechResult]:
        return [t for t in self.takes if t.ok]

    @property
    def errors(self) -> int:
        return len(self.takes) - len(self.ok_takes)

    @property
    def last_audio(self) -> Any:
        good = self.ok_takes
        return good[-1].audio if good else None

    def summary(self, metric: str) -> Summary:
        values = [float(v) for t in self.ok_takes if (v := getattr(t.exchange, metric)) is not None]
        return Summary.of(values)

    def as_json(self) -> dict[str, Any]:
        last = self.ok_takes[-1].exchange if self.ok_takes else None
        metrics = {}
        for metric in TIMINGS:
            s = self.summary(metric)
            metrics[metric] = {"n": s.n, "p50": _round(s.p50, metric), "min": _round(s.min, metric),
                               "max": _round(s.max, metric),
                               "spread": _round(None if s.n == 0 else s.max - s.min, metric)}  # type: ignore[operator]
        return {
            "label": self.contender.label, "service": self.contender.service.name, "voice": self.contender.voice,
            "takes": len(self.takes), "errors": self.errors,
            "error_messages": sorted({t.error for t in self.takes if t.error}),
            "metrics": metrics,
            "bytes": last.bytes if last else None,
            "format": last.format if last else None,
            "rate": last.rate if last else None,
        }


def _round(value: float | None, metric: str) -> float | None:
    if value is None:
        return None
    return round(value, 4 if metric == "rtf" else 3 if metric == "audio_s" else 1)


@dataclass
class Comparison:
    text: str
    columns: list[Column]
    rounds: int = 1

    def fastest(self, metric: str = "ttfa_ms") -> Column | None:
        """The column with the lowest p50 of `metric` (None when none has one)."""
        ranked = [(c.summary(metric).p50, i) for i, c in enumerate(self.columns) if c.summary(metric).p50 is not None]
        return self.columns[min(ranked)[1]] if ranked else None

    def as_json(self) -> dict[str, Any]:
        fastest = self.fastest()
        return {"text": self.text, "rounds": self.rounds, "columns": [c.as_json() for c in self.columns],
                "fastest_first_audio": fastest.contender.label if fastest else None}

    def table(self) -> list[list[str]]:
        """The table as rows of cells: a heading row (labels), then one row per
        figure. With several rounds, each timing has a p50 row and a spread row."""
        rows = [["", *(c.contender.label for c in self.columns)]]
        for metric in TIMINGS:
            digits = 4 if metric == "rtf" else 3 if metric == "audio_s" else 1
            sums = [c.summary(metric) for c in self.columns]
            name = metric if self.rounds == 1 else f"{metric} p50"
            rows.append([name, *(_cell(s.p50, digits) for s in sums)])
            if self.rounds > 1:
                rows.append([f"{metric} spread", *(_cell(None if s.n == 0 else s.max - s.min, digits)  # type: ignore[operator]
                                                   for s in sums)])
        lasts = [c.ok_takes[-1].exchange if c.ok_takes else None for c in self.columns]
        rows.append(["bytes", *(human_bytes(ex.bytes) if ex else "–" for ex in lasts)])
        rows.append(["format", *(f"{ex.format or '?'} {ex.rate or '?'} Hz" if ex else "–" for ex in lasts)])
        rows.append(["errors", *(f"{c.errors}/{len(c.takes)}" for c in self.columns)])
        return rows

    def table_text(self) -> str:
        rows = self.table()
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(cell.ljust(widths[0]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(row))
                 for row in rows]
        fastest = self.fastest()
        if fastest is not None:
            lines.append(f"first audio soonest: {fastest.contender.label}")
        for column in self.columns:
            for message in sorted({t.error for t in column.takes if t.error}):
                lines.append(f"{column.contender.label}: error: {message}")
        return "\n".join(lines)


async def run_compare(
    contenders: list[Contender],
    text: str,
    *,
    client: HttpClient,
    rounds: int = 1,
    on_take: Callable[[Column, SpeechResult], None] | None = None,
) -> Comparison:
    """Speak `text` on every contender, one at a time, `rounds` times. Faults
    never raise (they are a take's error); template and config errors do,
    before anything is sent. `on_take` runs as each take completes."""
    from tts_tui.core.speech import prepare

    for contender in contenders:
        prepare(contender.service, text, voice=contender.voice)
    comparison = Comparison(text, [Column(c) for c in contenders], rounds)
    for round_no in range(rounds):
        shift = round_no % len(contenders)
        for column in comparison.columns[shift:] + comparison.columns[:shift]:
            result = await speak(column.contender.service, text, client=client, voice=column.contender.voice)
            column.takes.append(result)
            if on_take is not None:
                on_take(column, result)
    return comparison


@dataclass
class Vote:
    """One blind pick: who was A, who was B, which letter won, when."""

    a: str
    b: str
    picked: str  # "A" or "B"
    at: float = field(default_factory=time.time)

    @property
    def winner(self) -> str:
        return self.a if self.picked == "A" else self.b

    @property
    def loser(self) -> str:
        return self.b if self.picked == "A" else self.a


class BlindVote:
    """Two contenders behind the letters A and B, in a random order. The
    mapping is not readable until `pick` has been called."""

    def __init__(self, first: str, second: str, *, rng: random.Random | None = None) -> None:
        pair = [first, second]
        (rng or random.SystemRandom()).shuffle(pair)
        self._pair = pair
        self.vote: Vote | None = None

    @property
    def revealed(self) -> bool:
        return self.vote is not None

    def label(self, letter: str) -> str:
        """What `letter` is: "?" until the pick, then the contender's label."""
        return self._pair[_slot(letter)] if self.revealed else "?"

    def pick(self, letter: str) -> Vote:
        """The listener prefers `letter`: reveal, and return the vote (once)."""
        if self.vote is None:
            self.vote = Vote(self._pair[0], self._pair[1], letter.upper())
        return self.vote

    def who(self, letter: str) -> str:
        """The contender behind `letter`, for playing it (never shown before the pick)."""
        return self._pair[_slot(letter)]


def _slot(letter: str) -> int:
    letter = letter.upper()
    if letter not in ("A", "B"):
        raise ValueError(f"a blind vote is A or B, not {letter!r}")
    return 0 if letter == "A" else 1


@dataclass
class Tally:
    """The blind votes of a session."""

    votes: list[Vote] = field(default_factory=list)

    def add(self, vote: Vote) -> None:
        self.votes.append(vote)

    def wins(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for vote in self.votes:
            out.setdefault(vote.winner, 0)
            out.setdefault(vote.loser, 0)
            out[vote.winner] += 1
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def as_json(self) -> dict[str, Any]:
        return {"votes": [{"a": v.a, "b": v.b, "picked": v.picked, "winner": v.winner, "at": v.at}
                          for v in self.votes],
                "wins": self.wins()}


def _cell(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"
