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
        await pilot.pause(0.1)
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
        await pilot.pause(0.1)
        assert status_text(app).startswith("✗ url: 'Z' is not an absolute http(s) URL")
        assert url.has_class("-invalid")
        before = len(fault.requests)
        await pilot.press("f5")
        await settle(pilot, app)
        assert len(fault.requests) == before
        url.value = fault.base + "/echo"
        await pilot.pause(0.1)
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
