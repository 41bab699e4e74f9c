"""The Compare screen through Pilot: two real test servers on 127.0.0.1, a real
config file; what the screen shows, what the player holds, the file exported."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from textual.widgets import Input, Static

from tests.servers import FaultServer
from tts_tui.core.workbench import Workbench
from tts_tui.ui.app import TtsApp
from tts_tui.ui.screens.compare import CompareScreen

TEXT = "Hello there, world."  # 0.19 s of tone on /limit, 0.38 s with k=0.02


def config_text(quick: FaultServer, slow: FaultServer, save_dir: Path) -> str:
    block = ('[[services]]\nname = "{name}"\ntype = "http"\nurl = "{url}"\ntimeout = 10\n'
             'body = \'{{"text": "{{{{ text }}}}"}}\'\n\n')
    return (f'[ui]\ntext = "{TEXT}"\n\n[audio]\noutput = "none"\nsave_dir = "{save_dir}"\n\n'
            + block.format(name="quick", url=f"{quick.base}/limit/audio/speech")
            + block.format(name="long", url=f"{slow.base}/slow-first/audio/speech?delay_ms=300&k=0.02"))


@pytest.fixture
def servers():
    with FaultServer() as quick, FaultServer() as slow:
        yield quick, slow


def screen_text(app: TtsApp, ident: str) -> str:
    return str(app.screen.query_one(ident, Static).render())


async def until(pilot, condition, timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    assert condition()


async def test_open_comparison_fills_the_table_and_plays_a_and_b(tmp_path, servers):
    quick, slow = servers
    path = tmp_path / "config.toml"
    path.write_text(config_text(quick, slow, tmp_path / "saved"))
    app = TtsApp(Workbench(path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        screen.query_one("#cmp-services").focus()
        await pilot.press("r")
        await until(pilot, lambda: "done" in screen_text(app, "#cmp-status"))
        table = screen_text(app, "#cmp-table").splitlines()
        assert table[0].split() == ["quick", "long"]
        audio_row = next(line for line in table if line.startswith("audio_s"))
        assert audio_row.split()[1:] == ["0.190", "0.380"]
        ttfb = next(line for line in table if line.startswith("ttfb_ms")).split()[1:]
        assert float(ttfb[1]) >= 300  # the slow server held its first answer that long
        assert next(line for line in table if line.startswith("errors")).split()[1:] == ["0/1", "0/1"]
        # both takes are in the log, as any exchange
        assert [ex.service for ex in app.workbench.log][-2:] == ["quick", "long"]
        await pilot.press("b")
        assert app.workbench.player.audio is not None
        assert app.workbench.player.audio.duration == pytest.approx(0.38, abs=0.001)
        assert "▶ long" in screen_text(app, "#cmp-status")
        await pilot.press("a")
        assert app.workbench.player.audio.duration == pytest.approx(0.19, abs=0.001)


async def test_blind_mode_hides_names_until_the_pick_and_keeps_the_tally(tmp_path, servers):
    quick, slow = servers
    path = tmp_path / "config.toml"
    path.write_text(config_text(quick, slow, tmp_path / "saved"))
    app = TtsApp(Workbench(path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        screen.rng = random.Random(7)
        screen.query_one("#cmp-services").focus()
        winners = []
        for _ in range(3):
            await pilot.press("m") if not screen.blind else None
            await pilot.press("r")
            await until(pilot, lambda: "done" in screen_text(app, "#cmp-status"))
            # (the tally line names earlier rounds' winners: those were revealed)
            shown = screen_text(app, "#cmp-table") + screen_text(app, "#cmp-status").splitlines()[1]
            assert screen_text(app, "#cmp-table").splitlines()[0].split() == ["A", "B"]
            assert "quick" not in shown and "long" not in shown  # nothing tells which is which
            await pilot.press("a")
            assert "▶ A" in screen_text(app, "#cmp-status")
            a_seconds = app.workbench.player.audio.duration
            await pilot.press("less_than_sign")  # A is better
            status = screen_text(app, "#cmp-status")
            winner = "quick" if a_seconds == pytest.approx(0.19, abs=0.001) else "long"
            assert f"you preferred A: {winner}" in status
            assert screen_text(app, "#cmp-table").splitlines()[0].split() in (["quick", "long"], ["long", "quick"])
            winners.append(winner)
        tally = screen_text(app, "#cmp-status").splitlines()[0]
        for name in ("quick", "long"):
            assert f"{name} {winners.count(name)}" in tally
        await pilot.press("x")
        saved = list((tmp_path / "saved").glob("tts-tui-compare-*.json"))
        assert len(saved) == 1
        doc = json.loads(saved[0].read_text())
        assert [v["winner"] for v in doc["tally"]["votes"]] == winners
        assert sum(doc["tally"]["wins"].values()) == 3
        # the tally outlives the screen
        await pilot.press("q")
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        assert len(app.screen.tally.votes) == 3


async def test_a_vote_outside_blind_mode_and_a_bad_voice_spec_are_said_on_screen(tmp_path, servers):
    quick, slow = servers
    path = tmp_path / "config.toml"
    path.write_text(config_text(quick, slow, tmp_path / "saved"))
    app = TtsApp(Workbench(path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.screen, CompareScreen))
        app.screen.query_one("#cmp-services").focus()
        await pilot.press("greater_than_sign")
        assert "votes are for blind mode" in screen_text(app, "#cmp-status")
        app.screen.query_one("#cmp-voices", Input).value = "nobody=x"
        await pilot.press("r")
        assert "error: --voice for 'nobody', which is not compared" in screen_text(app, "#cmp-status")
        assert quick.requests == [] and slow.requests == []
