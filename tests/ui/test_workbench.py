"""Issue 10, the workbench as people use it: validation, what the screen says,
keys at 80x24, history on disk. Real servers on 127.0.0.1, real config files."""

from __future__ import annotations

from textual.widgets import Input, Select, Static, TextArea

from tests.ui.test_app import config_path, edit, fault, log_rows, make_app, settle, wait_for  # noqa: F401


def status_text(app) -> str:
    return str(app.query_one("#status", Static).render())


# --- validation that catches what the server will refuse -------------------------


async def test_a_typo_before_the_json_body_is_refused_at_the_template_position(config_path, fault):
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        body = app.query_one("#body", TextArea)
        body.insert("W", (0, 0))  # typed before the brace
        await wait_for(pilot, lambda: status_text(app).startswith("✗"))
        status = status_text(app)
        assert status.startswith("✗ the body is not valid JSON"), status
        assert "(line 1, column 1)" in status
        before = len(fault.requests)
        await pilot.press("f5")
        await settle(pilot, app)
        assert len(fault.requests) == before  # nothing went to the server
        assert log_rows(app) == []


async def test_a_relative_url_is_refused_as_you_type(config_path, fault):
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        url = app.query_one("#field-url", Input)
        url.focus()
        url.value = ""
        await pilot.press("Z")
        await wait_for(pilot, lambda: status_text(app).startswith("✗"))
        assert status_text(app).startswith("✗ url: 'Z' is not an absolute http(s) URL")
        assert url.has_class("-invalid")
        before = len(fault.requests)
        await pilot.press("f5")
        await settle(pilot, app)
        assert len(fault.requests) == before
        url.value = fault.base + "/echo"
        await wait_for(pilot, lambda: status_text(app).startswith("✓"))
        assert status_text(app).startswith("✓ POST")
        assert not url.has_class("-invalid")


async def test_the_builtin_service_offers_only_the_formats_its_server_answers(tmp_path):
    from tts_tui.core.config import ensure_exists

    path = tmp_path / "config.toml"
    ensure_exists(path)
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        select = app.query_one("#field-format", Select)
        offered = [value for _label, value in select._options]
        assert offered == ["wav", "pcm", "flac", "mp3", "opus"]


# --- what the screen says stays true ---------------------------------------------


async def test_a_key_remapped_in_the_file_applies_at_once_and_every_hint_names_it(config_path, fault):
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        assert "F5 speaks" in status_text(app)
        assert "no exchanges yet: F5 speaks" in "\n".join(app.log_pane.exchange_list.screen_lines())
        # another program remaps speak while the app runs
        text = config_path.read_text().replace('theme = "tts-dark"', 'theme = "tts-dark"\nkeys = { speak = "f9" }')
        config_path.write_text(text)
        await wait_for(pilot, lambda: "F9 speaks" in status_text(app), timeout=3)
        assert "no exchanges yet: F9 speaks" in "\n".join(app.log_pane.exchange_list.screen_lines())
        before = len(fault.requests)
        await pilot.press("f9")
        await settle(pilot, app)
        assert len(fault.requests) == before + 1  # the new key speaks, without a restart
        await pilot.press("f8")  # replay with no audio kept? the echo's audio is there: no toast
        app.workbench.audio = None
        await pilot.press("f8")
        await pilot.pause(0.1)
        toasts = [n.message for n in app._notifications]
        assert "no audio yet: press F9 to speak" in toasts


async def test_esc_on_a_request_in_flight_clears_the_speaking_status(config_path, fault):
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        app.workbench.select("slow")
        await pilot.pause(0.1)
        await pilot.press("f5")
        await wait_for(pilot, lambda: "speaking" in status_text(app), timeout=3)
        await pilot.press("escape")
        await wait_for(pilot, lambda: "speaking" not in status_text(app), timeout=3)
        assert status_text(app).startswith("✓ POST")
        await wait_for(pilot, lambda: "cancelled" in "\n".join(app.log_pane.exchange_list.screen_lines()))


async def test_a_failed_first_request_is_in_the_log_with_its_reason_at_80_columns(tmp_path):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    path = tmp_path / "config.toml"
    path.write_text(f'[audio]\noutput = "none"\n\n[[services]]\nname = "dead"\ntype = "openai"\nurl = "http://127.0.0.1:{port}/v1"\n')
    app = make_app(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause(0.1)
        await pilot.press("f5")  # at once, before the warm-up
        await wait_for(pilot, lambda: not app.speaking, timeout=10)
        await pilot.pause()
        lines = app.log_pane.exchange_list.screen_lines()
        row = next(line for line in lines if "dead" in line)
        assert "ERR" in row and "refused" in row, row
        assert app.log_pane.border_subtitle.startswith("1 exchange ·")


async def test_the_exchange_detail_shows_the_reason_phrase_and_the_headers_on_the_wire(config_path, fault):
    from tts_tui.ui.screens.exchange import ExchangeScreen

    app = make_app(config_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        app.workbench.set_field("url", fault.url("/status", code=400, type="application/json", body='{"detail": "no"}'))
        await pilot.pause(0.3)
        await pilot.press("f5")
        await settle(pilot, app)
        app.log_pane.exchange_list.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExchangeScreen))
        screen = app.screen
        head = str(screen.query_one("#request-head", Static).render())
        for name in ("Host:", "User-Agent: ", "Content-Length: "):
            assert name in head, head
        assert str(screen.query_one("#response-head", Static).render()).startswith("HTTP 400 Bad Request")


async def test_the_timing_tab_scrolls_to_its_last_row_at_80x24(config_path, fault):
    from textual.containers import VerticalScroll
    from textual.widgets import TabbedContent

    from tts_tui.ui.screens.exchange import ExchangeScreen

    app = make_app(config_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("f5")
        await settle(pilot, app)
        app.log_pane.exchange_list.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ExchangeScreen))
        screen = app.screen
        screen.query_one(TabbedContent).active = "tab-3"
        await pilot.pause(0.2)
        timing = screen.query_one("#timing", Static)
        scroll = timing.parent
        assert isinstance(scroll, VerticalScroll)
        scroll.scroll_end(animate=False)
        await pilot.pause(0.2)
        button = screen.query_one("#copy")
        last = timing.region.y + timing.region.height - 1  # the last row of the timing figures
        assert last < scroll.region.y + scroll.region.height  # inside the visible scroll area
        assert last < button.region.y  # and above the button, not under it


async def test_a_name_that_exists_keeps_the_dialog_open_and_says_why(config_path):
    from tts_tui.ui.screens.dialogs import PromptScreen

    app = make_app(config_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        app.services_pane.query_one("#service-list").focus()
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press("ctrl+u", *"slow", "enter")  # typed at once after ctrl+u
        await pilot.pause(0.1)
        assert isinstance(app.screen, PromptScreen)
        assert "a service named 'slow' already exists" in str(app.screen.query_one("#problem", Static).render())
        assert app.screen.query_one("#answer", Input).value == "slow"
        await pilot.press("ctrl+u", "enter")
        await pilot.pause(0.1)
        assert "cannot be empty" in str(app.screen.query_one("#problem", Static).render())
        await pilot.press(*"fresh", "enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, PromptScreen))
        assert [s.name for s in app.workbench.config.services] == ["echo", "slow", "fresh"]


async def test_after_a_delete_the_neighbour_is_selected(config_path):
    app = make_app(config_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        app.workbench.add_service({"name": "third", "type": "openai", "url": "http://127.0.0.1:9/v1"})
        app.workbench.select("slow")
        await pilot.pause(0.1)
        app.services_pane.query_one("#service-list").focus()
        await pilot.press("delete")
        await pilot.pause(0.1)
        await pilot.press("y")
        await wait_for(pilot, lambda: [s.name for s in app.workbench.config.services] == ["echo", "third"])
        assert app.workbench.selected == "third"


# --- keyboard first ------------------------------------------------------------------


async def test_pane_and_tab_keys_as_a_terminal_sends_alt_digit(config_path):
    """alt+digit arrives through tmux and ssh as Esc then the digit, which
    Textual reads as option+digit's character: both spellings work."""
    from textual.widgets import TabbedContent

    app = make_app(config_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("pound_sign")  # Esc 3
        assert app.focused is app.log_pane.exchange_list
        await pilot.press("inverted_exclamation_mark")  # Esc 1
        assert app.focused.id == "service-list"
        await pilot.press("alt+2")
        assert app.focused.id == "text"
        await pilot.press("infinity")  # Esc 5: the Body tab, its editor focused
        await pilot.pause(0.1)
        assert app.request_pane.query_one("#tabs", TabbedContent).active == "tab-body"
        assert app.focused.id == "body"
        assert "∞" not in app.query_one("#body", TextArea).text  # not typed as a character
        await pilot.press("f2")
        await pilot.pause(0.1)
        assert app.request_pane.query_one("#tabs", TabbedContent).active == "tab-preview"
        await pilot.press("f2")  # back to the tab you were on
        await pilot.pause(0.1)
        assert app.request_pane.query_one("#tabs", TabbedContent).active == "tab-body"


async def test_tab_goes_from_the_text_to_the_tabs_to_the_url(config_path):
    app = make_app(config_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        app.query_one("#text").focus()
        await pilot.press("tab")
        assert type(app.focused).__name__ == "ContentTabs"
        await pilot.press("tab")
        assert app.focused.id == "field-url"  # no unseen scroll area in between


async def test_the_body_editor_keys(config_path, tmp_path, monkeypatch):
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, pathlib\np = pathlib.Path(sys.argv[1])\n"
        "p.write_text(p.read_text().replace('voice', 'speaker'))\n"
    )
    import sys

    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    monkeypatch.delenv("VISUAL", raising=False)
    app = make_app(config_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("infinity")
        await pilot.pause(0.1)
        body = app.query_one("#body", TextArea)
        await pilot.press("ctrl+e")  # $EDITOR, read back as an edit
        await wait_for(pilot, lambda: '"speaker"' in body.text)
        await wait_for(pilot, lambda: '"speaker"' in config_path.read_text())
        await pilot.press("ctrl+t")  # formatted as JSON, tags kept
        assert body.text.startswith('{\n  "text": "{{ text }}",')
        await pilot.press("ctrl+a")
        assert body.selected_text == body.text
        edit(body, '{"text": "{{ text }}",\n  "x": {{ nope }}}')
        await pilot.pause(0.1)
        body.move_cursor((0, 0))
        await pilot.press("ctrl+g")  # to the error's line and column
        assert body.cursor_location == (1, 7)


# --- history, replay, import ---------------------------------------------------------


def history_app(config_path, folder):
    from tts_tui.core.history import History
    from tts_tui.core.workbench import Workbench
    from tts_tui.ui.app import TtsApp

    return TtsApp(Workbench(config_path, history=History(config_path, folder=folder)))


async def test_the_log_survives_a_restart_masked_and_can_be_spoken_again(config_path, fault, tmp_path, monkeypatch):
    monkeypatch.setenv("HIST_SECRET", "sk-live-0123456789")
    config_path.write_text(config_path.read_text().replace("timeout = 5\n", 'timeout = 5\nheaders = { Authorization = "Bearer $HIST_SECRET" }\n', 1))
    folder = tmp_path / "history"
    app = history_app(config_path, folder)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("f5")
        await settle(pilot, app)
        assert len(app.workbench.log) == 1
    stored = b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
    assert b"sk-live-0123456789" not in stored  # masked before it was written
    assert b"Hello from the test." in stored

    app = history_app(config_path, folder)  # a new session
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await wait_for(pilot, lambda: len(app.workbench.log) == 1)
        lines = app.log_pane.exchange_list.screen_lines()
        assert any("echo" in line and "200" in line for line in lines)
        app.workbench.set_text("something else")
        before = len(fault.requests)
        app.log_pane.exchange_list.focus()
        await pilot.press("enter")
        await pilot.pause(0.2)
        await pilot.press("a")  # speak it again
        await settle(pilot, app)
        assert len(fault.requests) == before + 1
        sent = fault.requests[-1]
        assert b"Hello from the test." in sent.body
        assert ("Authorization", "Bearer sk-live-0123456789") in sent.headers
        assert len(app.workbench.log) == 2


async def test_load_back_puts_the_text_in_the_editor(config_path, fault, tmp_path):
    app = history_app(config_path, tmp_path / "history")
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        await pilot.press("f5")
        await settle(pilot, app)
        edit(app.query_one("#text", TextArea), "changed since")
        await pilot.pause(0.1)
        app.log_pane.exchange_list.focus()
        await pilot.press("enter")
        await pilot.pause(0.2)
        await pilot.press("e")
        await pilot.pause(0.2)
        assert app.query_one("#text", TextArea).text == "Hello from the test."


async def test_import_curl_adds_an_http_service(config_path, fault):
    from tts_tui.ui.screens.dialogs import PasteScreen

    app = make_app(config_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot, app)
        app.action_import_curl()
        await wait_for(pilot, lambda: isinstance(app.screen, PasteScreen))
        app.screen.query_one("#paste", TextArea).insert(
            f"curl -X POST {fault.base}/echo \\\n -H 'Content-Type: application/json' \\\n"
            """ -d '{"input": "hi there", "voice": "af_bella"}'"""
        )
        app.screen.query_one("#ok").press()
        await wait_for(pilot, lambda: any(s.name == "curl" for s in app.workbench.config.services))
        service = app.workbench.config.service("curl")
        assert (service.type, service.method, service.voice) == ("http", "POST", "af_bella")
        app.workbench.select("curl")
        await pilot.pause(0.2)
        await pilot.press("f5")
        await settle(pilot, app)
        import json

        assert json.loads(fault.requests[-1].body) == {"input": "Hello from the test.", "voice": "af_bella"}
