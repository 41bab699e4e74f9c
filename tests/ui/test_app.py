"""The workbench through Pilot: real servers on 127.0.0.1, real config files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Input, Static, TextArea

from tests.servers import FaultServer
from tts_tui.core.workbench import Workbench
from tts_tui.ui.app import TtsApp
from tts_tui.ui.exchange_list import ExchangeList
from tts_tui.ui.screens.conflict import ConflictScreen
from tts_tui.ui.screens.exchange import ExchangeScreen


def http_config(base: str, *, output: str = "none") -> str:
    return f"""\
# my workbench
[ui]
theme = "tts-dark"
text = "Hello from the test."

[audio]
output = "{output}"   # no sound card here

# the echo server
[[services]]
name = "echo"
type = "http"
url = "{base}/echo"
voice = "v1"      # keep me
body = '''
{{"text": "{{{{ text }}}}", "voice": "{{{{ voice }}}}"}}
'''
timeout = 5

[[services]]
name = "slow"
type = "http"
url = "{base}/slow?delay_ms=4000"
body = '{{"text": "{{{{ text }}}}"}}'
timeout = 5
"""


@pytest.fixture
def fault():
    with FaultServer() as server:
        yield server


@pytest.fixture
def config_path(tmp_path, fault) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(http_config(fault.base))
    return path


def make_app(path: Path) -> TtsApp:
    return TtsApp(Workbench(path))


async def settle(pilot, app: TtsApp, seconds: float = 0.3) -> None:
    await pilot.pause(seconds)
    await app.workers.wait_for_complete()
    await pilot.pause()


async def wait_for(pilot, condition, timeout: float = 3.0) -> None:
    """Poll the running app until `condition()` holds (the UI updates on timers)."""
    steps = int(timeout / 0.05)
    for _ in range(steps):
        if condition():
            return
        await pilot.pause(0.05)
    assert condition()


def edit(area: TextArea, text: str) -> None:
    """Replace the text as a user edit would (load_text is a programmatic load)."""
    area.replace(text, area.document.start, area.document.end)


LOG_COLUMNS = ("time", "service", "status", "ttfb", "total", "bytes", "audio")


def log_rows(app: TtsApp) -> list[list[str]]:
    """The log's rows as [time, service, status, TTFB, total, bytes, audio] cells."""
    table = log_table(app)
    return [[table.row_cells(i)[key] for key in LOG_COLUMNS] for i in range(table.row_count)]


def log_table(app: TtsApp) -> ExchangeList:
    return app.query_one("#log-table", ExchangeList)


def playback_text(app: TtsApp) -> str:
    return str(app.query_one("#playback-state", Static).render())


async def test_four_panes_with_their_titles(config_path):
    app = make_app(config_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        titles = [app.query_one(f"#{pane}").border_title for pane in ("services", "request", "log", "playback")]
        assert titles == ["Services", "Request", "Log", "Playback"]


async def test_f5_speaks_and_the_log_shows_the_exchange(config_path, fault):
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("f5")
        await settle(pilot, app)
        rows = log_rows(app)
        assert len(rows) == 1
        assert rows[0][1:3] == ["echo", "200"]
        assert rows[0][6].endswith(" s")
        sent = json.loads(fault.requests[-1].body)
        assert sent == {"text": "Hello from the test.", "voice": "v1"}
        # no sound device is configured: silent, and the bar says why
        assert "silent: output is set to" in playback_text(app)


async def test_a_silence_is_told_once_not_at_every_f5(config_path, fault):
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        for _ in range(3):
            await pilot.press("f5")
            await settle(pilot, app)
        assert len(log_rows(app)) == 3
        told = [n.message for n in app._notifications if n.message.startswith("silent:")]
        assert told == ["silent: output is set to none"]
        assert "silent: output is set to" in playback_text(app)  # the bar still says it


async def test_the_builtin_service_speaks_out_of_the_box(tmp_path):
    from tts_tui.core.config import ensure_exists

    path = tmp_path / "config.toml"
    ensure_exists(path)
    path.write_text(path.read_text().replace('output = "default"', 'output = "none"'))
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("f5")
        await settle(pilot, app)
        assert log_rows(app)[0][1:3] == ["local", "200"]
        assert app.workbench.audio is not None and app.workbench.audio.duration > 0.5


async def test_editing_the_body_writes_the_file_and_changes_the_request(config_path, fault):
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        body = app.query_one("#body", TextArea)
        edit(body, '{"text": "{{ text }}", "voice": "{{ voice }}", "speed": {{ speed }}}')
        await wait_for(pilot, lambda: '"speed": {{ speed }}' in config_path.read_text(), timeout=2)
        text = config_path.read_text()
        assert "# my workbench" in text and "# keep me" in text and "# no sound card here" in text
        await pilot.press("f5")
        await settle(pilot, app)
        assert json.loads(fault.requests[-1].body) == {"text": "Hello from the test.", "voice": "v1", "speed": 1.0}


async def test_an_invalid_body_sends_nothing_and_says_where(config_path, fault):
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        edit(app.query_one("#body", TextArea), '{"text": "{{ text }}",\n "x": {{ nope }}}')
        await pilot.pause(0.1)
        status = str(app.query_one("#status", Static).render())
        assert "unknown variable 'nope'" in status and "line 2" in status
        before = len(fault.requests)
        await pilot.press("f5")
        await settle(pilot, app)
        assert len(fault.requests) == before
        assert log_rows(app) == []


async def test_an_edit_of_the_file_shows_in_the_ui(config_path):
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        voice = app.query_one("#field-voice", Input)
        assert voice.value == "v1"
        # another program edits the file
        code = (
            "import pathlib, sys; p = pathlib.Path(sys.argv[1]); "
            "p.write_text(p.read_text().replace('voice = \"v1\"', 'voice = \"from-vim\"'))"
        )
        subprocess.run([sys.executable, "-c", code, str(config_path)], check=True)
        await wait_for(pilot, lambda: voice.value == "from-vim", timeout=1.0)


async def edit_voice_then_the_file(pilot, app: TtsApp, config_path: Path) -> None:
    """The UI's voice becomes "mine" (not yet written) and the file's "theirs":
    both sides changed the same key, so the conflict screen opens."""
    sync = app.workbench.sync
    sync.debounce = sync.max_delay = 3600.0  # the UI edit stays pending however slow the machine
    app.query_one("#field-voice", Input).value = "mine"
    await wait_for(pilot, lambda: sync.dirty, timeout=30)  # the edit reached the sync before the file changes
    config_path.write_text(config_path.read_text().replace('voice = "v1"', 'voice = "theirs"'))
    # (the deadlines here only end a hang: each wait returns once its condition holds)
    await wait_for(pilot, lambda: isinstance(app.screen, ConflictScreen), timeout=30)


async def test_both_sides_changed_the_same_key_the_user_chooses(config_path):
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await edit_voice_then_the_file(pilot, app, config_path)
        await pilot.press("m")  # keep mine
        await wait_for(pilot, lambda: 'voice = "mine"' in config_path.read_text(), timeout=30)
        assert "# keep me" in config_path.read_text()
        assert not app.workbench.sync.dirty


async def test_take_the_file_in_a_conflict(config_path):
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await edit_voice_then_the_file(pilot, app, config_path)
        await pilot.press("f")  # take the file
        voice = app.query_one("#field-voice", Input)
        await wait_for(pilot, lambda: voice.value == "theirs", timeout=30)
        # "mine" was dropped, not left pending: writing everything now (as on
        # quit) keeps the file's value, and nothing is left unsaved
        app.workbench.sync.flush()
        assert 'voice = "theirs"' in config_path.read_text() and "mine" not in config_path.read_text()
        assert not app.workbench.sync.dirty
        assert not isinstance(app.screen, ConflictScreen)


async def test_a_file_that_stops_parsing_shows_a_banner_and_nothing_is_written(config_path):
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        banner = app.query_one("#banner", Static)
        good = config_path.read_text()
        broken = good.replace('voice = "v1"', 'voice = "v1')
        config_path.write_text(broken)
        await wait_for(pilot, lambda: banner.has_class("-visible"), timeout=1.0)
        message = str(banner.render())
        assert "config.toml line 14, column 27" in message and "nothing is written" in message
        # the UI keeps the last good state, and an edit made now is not written
        assert app.query_one("#field-voice", Input).value == "v1"
        app.query_one("#field-model", Input).value = "edited-while-broken"
        await pilot.pause(1.0)
        assert config_path.read_text() == broken
        # the file parses again: the banner goes, the pending edit is written
        config_path.write_text(good)
        await wait_for(pilot, lambda: not banner.has_class("-visible"), timeout=1.0)
        await wait_for(pilot, lambda: 'model = "edited-while-broken"' in config_path.read_text(), timeout=2)
        assert "# keep me" in config_path.read_text()


async def test_escape_cancels_a_request_in_flight(config_path):
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.workbench.select("slow")
        await pilot.pause(0.1)
        await pilot.press("f5")
        await pilot.pause(0.3)
        assert log_rows(app)[0][2] == "…"
        await pilot.press("escape")
        await settle(pilot, app)
        assert log_rows(app)[0][2] == "ERR"
        assert app.workbench.log[0].error == "cancelled"


async def test_enter_opens_the_exchange_with_curl_and_masked_secrets(config_path, fault, monkeypatch):
    monkeypatch.setenv("ECHO_TOKEN", "tok-secret-42")
    text = config_path.read_text().replace('voice = "v1"      # keep me', 'voice = "v1"      # keep me\nheaders = { Authorization = "Bearer $ECHO_TOKEN" }')
    config_path.write_text(text)
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("f5")
        await settle(pilot, app)
        assert fault.requests[-1].header("Authorization") == "Bearer tok-secret-42"
        log_table(app).focus()
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, ExchangeScreen)
        curl = str(app.screen.query_one("#curl", Static).render())
        assert curl.startswith("curl -sS -X POST") and "Bearer ••••••" in curl
        shown = " ".join(str(s.render()) for s in app.screen.query(Static))
        assert "tok-secret-42" not in shown


async def test_adding_a_service_from_a_preset_writes_the_file(config_path):
    from tts_tui.ui.screens.dialogs import PickScreen

    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.query_one("#service-list").focus()
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, PickScreen))
        await pilot.press(*"kokoro", "enter")
        await wait_for(pilot, lambda: 'name = "kokoro-fastapi"' in config_path.read_text(), timeout=2)
        assert app.workbench.selected == "kokoro-fastapi"
        assert "# my workbench" in config_path.read_text()


async def test_help_lists_every_key(config_path):
    from tts_tui.ui.screens.help import HelpScreen

    app = make_app(config_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("f1")
        await pilot.pause(0.1)
        assert isinstance(app.screen, HelpScreen)
        text = str(app.screen.query_one("#help-keys", Static).render())
        for key, ident in [("f5", "speak"), ("escape", "cancel"), ("f6", "play_pause"), ("ctrl+s", "save_audio")]:
            assert key in text and ident in text


async def test_keys_can_be_remapped_in_the_config(config_path, fault):
    config_path.write_text(config_path.read_text().replace('theme = "tts-dark"', 'theme = "tts-dark"\nkeys = { speak = "f9" }'))
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("f9")
        await settle(pilot, app)
        assert len(log_rows(app)) == 1


async def test_switching_theme_is_saved(config_path):
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.theme = "tts-light"
        await wait_for(pilot, lambda: 'theme = "tts-light"' in config_path.read_text(), timeout=2)


async def test_saving_audio_names_the_file(config_path, tmp_path):
    config_path.write_text(config_path.read_text().replace("[audio]", f'[audio]\nsave_dir = "{tmp_path / "saved"}"'))
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("ctrl+s")  # nothing yet: a clear message, no file
        await pilot.pause(0.1)
        assert not (tmp_path / "saved").exists()
        said = [n.message for n in app._notifications]
        assert said == ["there is no audio to save yet: press F5 to speak first"], said
        await pilot.press("f5")
        await settle(pilot, app)
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        files = list((tmp_path / "saved").iterdir())
        assert len(files) == 1 and files[0].name.startswith("echo-") and files[0].suffix == ".wav"
        assert any(str(files[0]) in n.message for n in app._notifications)
        import soundfile

        info = soundfile.info(str(files[0]))
        assert info.duration == pytest.approx(app.workbench.audio.duration, abs=0.01) and info.duration > 0


async def test_opening_switching_and_quitting_leaves_the_file_untouched(config_path):
    before = config_path.read_bytes()
    app = make_app(config_path)
    async with app.run_test(size=(80, 24)) as pilot:
        app.workbench.select("slow")  # at once, while start-up messages are still queued
        await settle(pilot, app, 0.5)
        app.workbench.select("echo")
        await settle(pilot, app, 1.0)
        assert app.workbench.service.url.endswith("/echo")
        await pilot.press("ctrl+q")
    assert config_path.read_bytes() == before


async def test_text_edits_are_saved_and_survive_a_restart(config_path):
    app = make_app(config_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        edit(app.query_one("#text", TextArea), "Typed in the app.")
        await pilot.press("ctrl+q")
    assert 'text = "Typed in the app."' in config_path.read_text()
    again = make_app(config_path)
    async with again.run_test(size=(80, 24)) as pilot:
        await settle(pilot, again)
        assert again.query_one("#text", TextArea).text == "Typed in the app."


async def test_a_refused_connection_shows_in_the_log_and_says_why(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[audio]\noutput = "none"\n[[services]]\nname = "gone"\nurl = "http://127.0.0.1:9/v1"\ntimeout = 3\n')
    app = make_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("f5")
        await settle(pilot, app)
        row = log_rows(app)[0]
        assert row[1:3] == ["gone", "ERR"]
        messages = [n.message for n in app._notifications]
        assert "connection refused by 127.0.0.1:9 — is the server running?" in messages
        assert app.workbench.log[0].error == messages[-1]


async def test_the_palette_names_remapped_keys(config_path):
    config_path.write_text(config_path.read_text().replace('theme = "tts-dark"', 'theme = "tts-dark"\nkeys = { speak = "f9" }'))
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        helps = {c.title: c.help for c in app.get_system_commands(app.screen)}
        assert helps["Speak"] == "Send the request and play the audio (f9)"
        assert helps["Play / pause"].endswith("(f6)")
