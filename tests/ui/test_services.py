"""Managing services from the Services pane: every change lands in the file."""

from __future__ import annotations

import pytest
from textual.widgets import Input, TextArea

from tts_tui.core.config import load
from tts_tui.core.workbench import Workbench
from tts_tui.ui.app import TtsApp
from tts_tui.ui.screens.dialogs import ConfirmScreen, PromptScreen

CONFIG = """\
# services I use
[audio]
output = "none"

[[services]]
name = "kokoro"   # the fast one
url = "http://127.0.0.1:9/v1"
voice = "af_bella"
extra = { lang_code = "a" }
"""


async def wait_for(pilot, condition, timeout: float = 3.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    assert condition()


async def test_duplicate_rename_and_delete(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    app = TtsApp(Workbench(path))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        app.query_one("#service-list").focus()

        await pilot.press("d")
        await wait_for(pilot, lambda: 'name = "kokoro-copy"' in path.read_text())
        copy = load(path).service("kokoro-copy")
        assert copy.voice == "af_bella" and copy.extra == {"lang_code": "a"}
        assert app.workbench.selected == "kokoro-copy"

        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press("ctrl+a", "ctrl+k", *"slow-one", "enter")
        await wait_for(pilot, lambda: 'name = "slow-one"' in path.read_text())
        assert [s.name for s in load(path).services] == ["kokoro", "slow-one"]

        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")  # changed my mind: nothing happens
        await pilot.pause(0.2)
        assert [s.name for s in load(path).services] == ["kokoro", "slow-one"]

        await pilot.press("delete")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: "slow-one" not in path.read_text())
        assert app.workbench.selected == "kokoro"
        assert path.read_text().startswith("# services I use") and "# the fast one" in path.read_text()


async def test_a_duplicate_name_is_refused_with_a_message(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG + '\n[[services]]\nname = "other"\nurl = "http://127.0.0.1:9/v1"\n')
    app = TtsApp(Workbench(path))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        app.query_one("#service-list").focus()
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press("ctrl+a", "ctrl+k", *"other", "enter")
        await pilot.pause(0.3)
        assert [s.name for s in load(path).services] == ["kokoro", "other"]
        # the dialog stays open and says why
        assert isinstance(app.screen, PromptScreen)
        assert "'other' already exists" in str(app.screen.query_one("#problem").render())


# --- a broken service stays alone ------------------------------------------------

BROKEN = """\
[audio]
output = "none"

[[services]]
name = "bad"
url = "http://127.0.0.1:9/v1"
format = "ogg"   # not a format
pcm = { rate = 0, channels = 0 }

[[services]]
name = "good"
url = "http://127.0.0.1:9/v1"
voice = "af_bella"
"""


def screen_text(app) -> str:
    """The screen as the user reads it (characters only)."""
    import io

    from rich.console import Console

    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def services_pane_text(app) -> str:
    """What the service list shows (inside the pane's border), lines joined by spaces."""
    region = app.query_one("#service-list").region
    lines = screen_text(app).splitlines()[region.y : region.bottom]
    return " ".join(" ".join(line[region.x : region.right].split()) for line in lines).strip()


async def test_a_broken_service_shows_its_error_and_refuses_to_speak(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(BROKEN)
    app = TtsApp(Workbench(path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.2)
        assert app.workbench.selected == "good", "the first working service is selected"
        shown = "✗ bad does not work: line 7, column 10: format: unknown format 'ogg' ○ good openai"
        await wait_for(pilot, lambda: shown in services_pane_text(app))

        app.query_one("#service-list").focus()
        await pilot.press("up")
        await wait_for(pilot, lambda: app.workbench.selected == "bad")
        await pilot.press("f5")
        await pilot.pause(0.2)
        status = str(app.request_pane.query_one("#status").render())
        assert status.startswith("✗ services[0].format: unknown format 'ogg' (line 7, column 10)")
        assert any("nothing sent: services[0].format" in n.message for n in app._notifications)
        assert list(app.workbench.log) == [], "nothing was sent"

        await pilot.press("c")  # check: refused without a request too
        await wait_for(pilot, lambda: app.workbench.health.get("bad") is False)
        assert list(app.workbench.log) == []
    assert path.read_text() == BROKEN


async def test_edits_keep_the_broken_values_and_a_fix_in_the_file_shows_at_once(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(BROKEN)
    app = TtsApp(Workbench(path))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.2)
        app.workbench.select("bad")
        await wait_for(pilot, lambda: app.request_pane.query("#field-voice"))
        voice = app.request_pane.query_one("#field-voice")
        voice.focus()
        await pilot.pause()
        await pilot.press(*"v1")
        await wait_for(pilot, lambda: 'voice = "v1"' in path.read_text())
        assert path.read_text() == BROKEN.replace("channels = 0 }\n", 'channels = 0 }\nvoice = "v1"\n')

        app.query_one("#service-list").focus()
        await pilot.press("d")  # a copy of a broken service would not work either
        await wait_for(pilot, lambda: any("unknown format 'ogg'" in n.message for n in app._notifications))
        assert "bad-copy" not in path.read_text()

        path.write_text(path.read_text().replace('"ogg"', '"mp3"').replace("rate = 0, channels = 0", "rate = 8000, channels = 1"))
        await wait_for(pilot, lambda: "✗" not in services_pane_text(app))
        assert app.workbench.service.problem is None and app.workbench.service.format == "mp3"
        status = str(app.request_pane.query_one("#status").render())
        assert "F5 speaks" in status

        path.write_text(path.read_text().replace("rate = 8000", "rate = 800000"))
        await wait_for(
            pilot, lambda: "✗ bad does not work: line 8, column 16: pcm.rate must be from 1 to 768000, not 800000"
            in services_pane_text(app)
        )


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_a_broken_service_on_screen(snap_compare, tmp_path, size):
    """The error mark and message in the Services pane, the reason in the status line."""
    path = tmp_path / "config.toml"
    path.write_text(BROKEN)

    async def select_the_broken_one(pilot) -> None:
        app = pilot.app
        app.workbench.select("bad")
        await app.workers.wait_for_complete()
        await wait_for(pilot, lambda: "✗ services[0]" in str(app.request_pane.query_one("#status").render()))
        for widget in [*app.query(Input), *app.query(TextArea)]:
            widget.cursor_blink = False
        await pilot.pause()

    assert snap_compare(TtsApp(Workbench(path)), terminal_size=size, run_before=select_the_broken_one)
