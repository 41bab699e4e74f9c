"""Themes on a real Textual app: registering, switching, falling back, saving."""

from __future__ import annotations

import tomllib
from pathlib import Path

from textual.app import App, ComposeResult
from textual.color import Color
from textual.widgets import Input, Static

from tts_tui.ui.themes import apply_theme, register_themes

OCEAN = """\
name = "ocean"
dark = true
[colors]
primary = "#00AAFF"
background = "#102030"
error = "#FF3355"
[variables]
"block-cursor-text-style" = "bold reverse"
"input-selection-background" = "#00AAFF 40%"
"""

# Passes the file checks but not Textual's: "reddish" looks like a colour name.
NOT_A_TEXTUAL_COLOUR = 'name = "reddish"\n[colors]\nprimary = "reddish"\n'
# Would crash Textual's CSS if registered.
BAD_VARIABLE = 'name = "badvar"\n[colors]\nprimary = "#123456"\n[variables]\n"footer-key-foreground" = "notacolour"\n'
# A broken override must leave the built-in tts-dark in place.
BROKEN_OVERRIDE = 'name = "tts-dark"\n[colors]\nprimary = "blurple"\n'


class ThemedApp(App):
    CSS = "#alert { background: $error; }"

    def compose(self) -> ComposeResult:
        yield Static("something failed", id="alert")
        yield Input("hello")


def make_config(tmp_path: Path, theme: str = "tts-dark") -> Path:
    config = tmp_path / "config.toml"
    config.write_text(f'[ui]\ntheme = "{theme}"  # keep this comment\n', encoding="utf-8")
    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "ocean.toml").write_text(OCEAN, encoding="utf-8")
    (themes / "broken.toml").write_text('name = "broken"\n[colors]\nprimary = #00AAFF\n', encoding="utf-8")
    (themes / "reddish.toml").write_text(NOT_A_TEXTUAL_COLOUR, encoding="utf-8")
    (themes / "badvar.toml").write_text(BAD_VARIABLE, encoding="utf-8")
    (themes / "zz-override.toml").write_text(BROKEN_OVERRIDE, encoding="utf-8")
    return config


def looks_like(actual: Color, expected: str) -> bool:
    """Textual rounds theme colours through HSL, so allow a step of difference."""
    wanted = Color.parse(expected)
    return max(abs(a - b) for a, b in zip(actual.rgb, wanted.rgb)) <= 2


def saved_theme(config: Path) -> str:
    return tomllib.loads(config.read_text(encoding="utf-8"))["ui"]["theme"]


async def test_register_good_and_broken_user_themes(tmp_path):
    config = make_config(tmp_path)
    app = ThemedApp()
    async with app.run_test() as pilot:
        warnings = register_themes(app, config)
        assert {"tts-dark", "tts-light", "ocean"} <= set(app.available_themes)
        assert not {"broken", "reddish", "badvar"} & set(app.available_themes)

        themes = tmp_path / "themes"
        assert len(warnings) == 4
        broken = next(w for w in warnings if str(themes / "broken.toml") in w)
        assert "not valid TOML" in broken and "line 3, column 11" in broken
        assert any(str(themes / "reddish.toml") in w and "'primary'" in w for w in warnings)
        assert any(str(themes / "badvar.toml") in w and "footer-key-foreground" in w for w in warnings)
        assert any(str(themes / "zz-override.toml") in w and "did you mean" in w for w in warnings)
        # The broken override did not replace the shipped tts-dark.
        assert app.get_theme("tts-dark").primary == "#5FAFFF"

        # Switching still works after the broken files, and the app re-renders.
        assert apply_theme(app, "tts-dark") is None
        await pilot.pause()
        assert app.screen.styles.background == Color.parse("#1B2130")
        assert looks_like(app.query_one("#alert").styles.background, "#FF6B6B")


async def test_apply_theme_switches_and_unknown_falls_back(tmp_path):
    config = make_config(tmp_path)
    app = ThemedApp()
    async with app.run_test() as pilot:
        register_themes(app, config)

        assert apply_theme(app, "ocean") is None
        await pilot.pause()
        assert app.theme == "ocean"
        assert app.screen.styles.background == Color.parse("#102030")
        assert looks_like(app.query_one("#alert").styles.background, "#FF3355")

        assert apply_theme(app, "tts-light") is None
        await pilot.pause()
        assert app.current_theme.dark is False
        assert app.screen.styles.background == Color.parse("#F6F4EF")

        warning = apply_theme(app, "no-such-theme")
        await pilot.pause()
        assert app.theme == "tts-dark"
        assert warning is not None and "'no-such-theme'" in warning and "tts-dark" in warning

        # A theme whose file is broken is unknown too: same fallback.
        warning = apply_theme(app, "broken")
        assert app.theme == "tts-dark" and "'broken'" in warning


async def test_a_user_theme_picked_in_the_palette_is_saved_and_back_after_a_restart(tmp_path):
    from tts_tui.core.workbench import Workbench
    from tts_tui.ui.app import TtsApp

    config = make_config(tmp_path)
    config.write_text(config.read_text() + '\n[audio]\noutput = "none"\n', encoding="utf-8")
    app = TtsApp(Workbench(config))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.3)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"theme")
        await pilot.pause(0.3)
        await pilot.press("enter")  # Textual's "Change theme" opens the theme list
        await pilot.pause(0.3)
        await pilot.press(*"ocean")
        await pilot.pause(0.3)
        await pilot.press("enter")
        for _ in range(40):
            await pilot.pause(0.05)
            if saved_theme(config) == "ocean":
                break
        assert app.screen.styles.background == Color.parse("#102030")
    assert saved_theme(config) == "ocean"
    assert "# keep this comment" in config.read_text(encoding="utf-8")
    again = TtsApp(Workbench(config))
    async with again.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.3)
        assert again.theme == "ocean" and again.screen.styles.background == Color.parse("#102030")
