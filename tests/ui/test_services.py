"""Managing services from the Services pane: every change lands in the file."""

from __future__ import annotations

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
        assert any("other" in n.message for n in app._notifications)
