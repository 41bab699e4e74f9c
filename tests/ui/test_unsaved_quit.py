"""Quitting while the config file cannot take the edits (issue 8, "Files"):
ctrl+q asks (retry / save elsewhere / quit and lose) and never exits in
silence with unsaved edits. The file is made unwritable for real: a
read-only folder, checked as `nobody` when the tests run as root (the
setfsuid trick of tests/unit/test_sync.py)."""

from __future__ import annotations

import os
import shutil
import tempfile
import tomllib
from pathlib import Path

import pytest
from textual.widgets import Input, TextArea

from tests.ui.test_app import edit, make_app, settle, wait_for
from tests.unit.test_sync import _set_fsuid
from tts_tui.ui.screens.unsaved import UnsavedScreen

CONFIG = """\
# mine, with comments
[ui]
text = "Before."

[audio]
output = "none"

[[services]]
name = "local"
type = "openai"
url = "http://127.0.0.1:9/v1"   # nothing listens: nothing is spoken here
"""


@pytest.fixture
def folders():
    """(config path, make its folder read-only, make it writable, a folder
    `nobody` may write to). Both folders sit in /tmp itself, which `nobody`
    can reach (pytest's tmp folders are root's alone)."""
    home = Path(tempfile.mkdtemp(prefix="tts-tui-quit-"))
    spare = Path(tempfile.mkdtemp(prefix="tts-tui-spare-"))
    os.chmod(home, 0o755)
    os.chmod(spare, 0o777)
    path = home / "config.toml"
    path.write_text(CONFIG)
    os.chmod(path, 0o644)
    as_root = os.geteuid() == 0
    state = {"locked": False}

    def read_only():
        os.chmod(home, 0o555)
        if as_root:
            _set_fsuid(65534)
        state["locked"] = True

    def writable():
        if state["locked"]:
            if as_root:
                _set_fsuid(0)
            os.chmod(home, 0o755)
            state["locked"] = False

    try:
        yield path, read_only, writable, spare
    finally:
        writable()
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(spare, ignore_errors=True)


async def start_editing(pilot, app) -> None:
    await settle(pilot, app)
    edit(app.query_one("#text", TextArea), "Typed while the disk says no.")


async def quit_and_expect_the_question(pilot, app, read_only) -> UnsavedScreen:
    read_only()
    await pilot.press("ctrl+q")
    await wait_for(pilot, lambda: isinstance(app.screen, UnsavedScreen))
    screen = app.screen
    assert isinstance(screen, UnsavedScreen)
    assert app.return_code is None, "the app did not exit"
    shown = str(screen.query_one("#reason").render())
    assert "cannot save" in shown and "ermission denied" in shown
    return screen


async def test_retry_saves_once_the_file_can_be_written(folders):
    path, read_only, writable, _spare = folders
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await start_editing(pilot, app)
        await quit_and_expect_the_question(pilot, app, read_only)
        await pilot.press("ctrl+r")  # still read-only: the dialog stays, still saying why
        await pilot.pause(0.1)
        assert isinstance(app.screen, UnsavedScreen) and app.return_code is None
        writable()
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: app.return_code is not None)
    assert app.return_code == 0
    assert path.read_text() == CONFIG.replace('"Before."', '"Typed while the disk says no."')


async def test_save_elsewhere_keeps_the_edits_in_another_file(folders):
    path, read_only, _writable, spare = folders
    copy = spare / "rescued.toml"
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await start_editing(pilot, app)
        screen = await quit_and_expect_the_question(pilot, app, read_only)
        field = screen.query_one("#copy", Input)
        field.value = str(copy)
        field.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.return_code is not None)
    assert app.return_code == 0
    assert path.read_text() == CONFIG, "the unwritable file is untouched"
    rescued = copy.read_text()
    assert rescued.startswith("# mine, with comments"), "the copy is the user's file, comments and all"
    assert tomllib.loads(rescued)["ui"]["text"] == "Typed while the disk says no."


async def test_save_elsewhere_into_an_unwritable_place_says_so_and_stays(folders):
    path, read_only, _writable, _spare = folders
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await start_editing(pilot, app)
        screen = await quit_and_expect_the_question(pilot, app, read_only)
        field = screen.query_one("#copy", Input)
        field.value = str(path.parent / "copy.toml")  # the same read-only folder
        field.focus()
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert isinstance(app.screen, UnsavedScreen) and app.return_code is None
        assert "cannot save" in str(screen.query_one("#reason").render())


async def test_quit_and_lose_is_a_choice_and_escape_goes_back(folders):
    path, read_only, _writable, _spare = folders
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await start_editing(pilot, app)
        await quit_and_expect_the_question(pilot, app, read_only)
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, UnsavedScreen) and app.return_code is None, "back in the app"
        assert app.query_one("#text", TextArea).text == "Typed while the disk says no."
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: isinstance(app.screen, UnsavedScreen))
        await pilot.press("ctrl+q")  # twice: quit, losing them, as the dialog's button says
        await wait_for(pilot, lambda: app.return_code is not None)
    assert app.return_code == 0
    assert path.read_text() == CONFIG


async def test_quit_with_everything_saved_asks_nothing(folders):
    path, _read_only, _writable, _spare = folders
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await start_editing(pilot, app)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: app.return_code is not None)
    assert app.return_code == 0
    assert 'text = "Typed while the disk says no."' in path.read_text()
