"""Themes in the running app: picked from the palette and saved; a bad name falls back."""

from __future__ import annotations

from tts_tui.core.workbench import Workbench
from tts_tui.ui.app import TtsApp

CONFIG = """\
[ui]
theme = "{theme}"   # keep this comment

[audio]
output = "none"

[[services]]
name = "x"
url = "http://127.0.0.1:9/v1"
"""


async def test_theme_picked_in_the_command_palette_is_saved(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(theme="tts-dark"))
    app = TtsApp(Workbench(path))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app.action_change_theme()
        await pilot.pause()
        await pilot.press(*"tts-light")
        await pilot.pause(0.3)  # the palette searches in a worker
        await pilot.press("enter")
        for _ in range(40):
            if 'theme = "tts-light"' in path.read_text():
                break
            await pilot.pause(0.05)
        assert app.theme == "tts-light"
        assert 'theme = "tts-light"   # keep this comment' in path.read_text()


async def test_an_unknown_theme_falls_back_with_a_notification_and_the_file_is_kept(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(theme="no-such-theme"))
    (tmp_path / "themes").mkdir()
    (tmp_path / "themes" / "broken.toml").write_text('name = "broken"\n[colors]\nprimary = "not a colour"\n')
    app = TtsApp(Workbench(path))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause(0.6)
        assert app.theme == "tts-dark"
        messages = " ".join(n.message for n in app._notifications)
        assert "'no-such-theme' is not available" in messages
        assert "broken.toml" in messages
    assert path.read_text() == CONFIG.format(theme="no-such-theme")
