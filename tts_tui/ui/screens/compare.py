"""F9: compare services and voices on one text, openly or blind.

Pick the services (space), optionally voices (`SERVICE=VOICE ...`), and run
(r): each speaks the text in turn and the table fills in as takes arrive. `a`
and `b` play the first two columns (1-9 would be too many keys to learn).

Blind mode (m) takes two of the chosen at random as A and B: the table's
heads say only A and B until the person picks the better one (`<` for A, `>`
for B); then the names show and the vote joins the session's tally. `n` runs
a new blind round, `x` writes the tally (and the last comparison) as JSON to
the save folder.
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, SelectionList, Static

from tts_tui.core.compare import BlindVote, Comparison, Contender, Tally, contenders, run_compare
from tts_tui.core.errors import TtsError

if TYPE_CHECKING:
    from tts_tui.core.workbench import Workbench


class CompareScreen(ModalScreen[None]):
    """The Compare screen; `tally` outlives it (the app keeps one per session)."""

    DEFAULT_CSS = """
    CompareScreen { align: center middle; }
    CompareScreen > Vertical { width: 78; height: 22; border: round $accent; padding: 0 1; background: $surface; }
    CompareScreen #cmp-services { height: 5; border: none; padding: 0; }
    CompareScreen Input { height: 1; border: none; padding: 0; margin-bottom: 0; }
    CompareScreen #cmp-table { height: 1fr; }
    CompareScreen #cmp-status { height: 2; color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape,q,f9", "dismiss", "Close"),
        Binding("r", "run", "Run", id="compare_run"),
        Binding("a", "play('A')", "Play A", id="compare_play_a"),
        Binding("b", "play('B')", "Play B", id="compare_play_b"),
        Binding("m", "toggle_blind", "Blind", id="compare_blind"),
        Binding("less_than_sign", "vote('A')", "A is better", id="compare_vote_a"),
        Binding("greater_than_sign", "vote('B')", "B is better", id="compare_vote_b"),
        Binding("n", "run", "New round", show=False),
        Binding("x", "export", "Export", id="compare_export"),
    ]

    def __init__(self, workbench: Workbench, tally: Tally, *, rng: random.Random | None = None) -> None:
        super().__init__()
        self.workbench = workbench
        self.tally = tally
        self.rng = rng or random.SystemRandom()
        self.blind = False
        self.comparison: Comparison | None = None
        self.vote: BlindVote | None = None
        self._busy = False

    def compose(self) -> ComposeResult:
        services = self.workbench.config.services
        with Vertical():
            yield Label("Compare · space picks, r runs, a/b play, m blind, < or > votes, x exports")
            yield SelectionList[str](*[(s.name, s.name, i < 2) for i, s in enumerate(services)], id="cmp-services")
            yield Input(placeholder="voices: SERVICE=VOICE ... (optional)", id="cmp-voices")
            yield Input(self.workbench.config.ui.text, placeholder="text", id="cmp-text")
            yield Static(id="cmp-table")
            yield Static(id="cmp-status")

    def on_mount(self) -> None:
        self._redraw()

    # -- what the person does ---------------------------------------------------------
    def action_toggle_blind(self) -> None:
        self.blind = not self.blind
        self.vote = None
        self.comparison = None
        self._redraw("blind: two of the chosen, as A and B; r runs a round" if self.blind else "open: names shown")

    def action_run(self) -> None:
        if self._busy:
            return
        try:
            chosen = self._contenders()
        except TtsError as exc:
            self._redraw(f"error: {exc}")
            return
        if self.blind:
            pair = self.rng.sample(chosen, 2)
            self.vote = BlindVote(pair[0].label, pair[1].label, rng=self.rng)
            chosen = [next(c for c in pair if c.label == self.vote.who(letter)) for letter in ("A", "B")]
        self._run(chosen, self.query_one("#cmp-text", Input).value)

    def action_play(self, letter: str) -> None:
        comparison = self.comparison
        index = 0 if letter == "A" else 1
        if comparison is None or index >= len(comparison.columns):
            self._redraw("nothing to play yet: r runs the comparison")
            return
        audio = comparison.columns[index].last_audio
        if audio is None:
            self._redraw(f"{letter} has no audio (it failed)")
            return
        player = self.workbench.player
        player.play(audio)  # stops whatever played, A or B
        who = letter if self.blind and not (self.vote and self.vote.revealed) else comparison.columns[index].contender.label
        self._redraw(f"▶ {who}" + (f"  · silent: {player.silent_reason}" if player.state == "silent" else ""))

    def action_vote(self, letter: str) -> None:
        if not self.blind or self.vote is None or self.comparison is None:
            self._redraw("votes are for blind mode: m, then r")
            return
        if self.vote.revealed:
            self._redraw("already voted: r (or n) for a new round")
            return
        self.tally.add(self.vote.pick(letter))
        self._redraw(f"you preferred {letter}: {self.vote.label(letter)}")

    def action_export(self) -> None:
        folder = Path(self.workbench.config.audio.save_dir).expanduser()
        path = folder / f"tts-tui-compare-{time.strftime('%Y%m%d-%H%M%S')}.json"
        doc: dict[str, Any] = {"tally": self.tally.as_json()}
        if self.comparison is not None and (not self.blind or (self.vote and self.vote.revealed)):
            doc["comparison"] = self.comparison.as_json()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        except OSError as exc:
            self._redraw(f"error: cannot write {path}: {exc.strerror or exc}")
            return
        self._redraw(f"saved {path}")

    # -- the work -----------------------------------------------------------------------
    def _contenders(self) -> list[Contender]:
        from tts_tui.core import config as config_mod

        names = list(self.query_one("#cmp-services", SelectionList).selected)
        voices = self.query_one("#cmp-voices", Input).value.split()
        config = self.workbench.config
        return contenders(config, names, voices, pick=lambda name: config_mod.working_service(config, name))

    @work(exclusive=True, group="compare")
    async def _run(self, chosen: list[Contender], text: str) -> None:
        self._busy = True
        self.comparison = Comparison(text, [], 1)
        self._redraw("speaking…")

        def on_take(column: Any, result: Any) -> None:
            # the table fills in as takes come: each column is shown from its first take
            assert self.comparison is not None
            if column not in self.comparison.columns:
                self.comparison.columns.append(column)
            for ex in result.exchanges:
                self.workbench.add_exchange(ex)
            self._redraw(f"{self._column_name(column)}: {'ok' if result.ok else result.error}")

        try:
            self.comparison = await run_compare(chosen, text, client=self.workbench.client, on_take=on_take)
            self._redraw("done: a and b play them" + ("; < or > says which is better" if self.blind else ""))
        except TtsError as exc:
            self._redraw(f"error: {exc}")
        finally:
            self._busy = False

    # -- drawing ------------------------------------------------------------------------
    def _column_name(self, column: Any) -> str:
        if self.blind and self.vote is not None and not self.vote.revealed and self.comparison is not None:
            return "A" if self.comparison.columns.index(column) == 0 else "B"
        return column.contender.label

    def _redraw(self, status: str = "") -> None:
        table = self.query_one("#cmp-table", Static)
        comparison = self.comparison
        if comparison is None or not comparison.columns:
            table.update(Text("no takes yet", style="dim"))
        else:
            rows = comparison.table()
            rows[0] = ["", *(self._column_name(c) for c in comparison.columns)]
            widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
            out = Text(no_wrap=True, overflow="crop")
            for n, row in enumerate(rows):
                line = "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row))
                out.append(line + "\n", style="bold" if n == 0 else "")
            table.update(out)
        wins = self.tally.wins()
        tally = " · ".join(f"{name} {count}" for name, count in wins.items()) if wins else "no votes yet"
        mode = "BLIND" if self.blind else "open"
        self.query_one("#cmp-status", Static).update(f"[{mode}] votes: {tally}\n{status}")
