"""A broken service in the sync and the workbench: kept exactly as written,
refused when asked to work, and never the reason other services stop."""

from __future__ import annotations

import pytest

from tts_tui.core import config
from tts_tui.core.errors import ConfigError
from tts_tui.core.sync import ConfigSync
from tts_tui.core.workbench import Workbench

FILE = """\
# two services, one of them broken
[audio]
output = "none"

[[services]]
name = "bad"         # keep this comment
url = "http://127.0.0.1:9/v1"
format = "ogg"
timeout = nan
pcm = { rate = 0, channels = 0 }

[[services]]
name = "good"
url = "http://127.0.0.1:9/v1"
voice = "af_bella"
"""


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def path(write_config):
    return write_config(FILE)


@pytest.fixture
def sync(path):
    return ConfigSync(path, clock=Clock())


def test_the_broken_service_loads_with_its_problem_at_its_line(sync):
    bad, good = sync.config.services
    assert good.problem is None
    assert bad.problem.message == "services[0].format: unknown format 'ogg'"
    assert (bad.problem.line, bad.problem.column) == (8, 10)
    assert sync.file_error is None


def test_edits_elsewhere_and_to_its_good_keys_leave_its_bad_values_as_written(sync, path):
    sync.set(("services", "good", "voice"), "af_sky")
    sync.set(("services", "bad", "voice"), "v1")
    sync.flush()
    expected = FILE.replace('"af_bella"', '"af_sky"').replace("channels = 0 }\n", 'channels = 0 }\nvoice = "v1"\n')
    assert path.read_text() == expected
    assert sync.config.service("bad").problem.line == 8


def test_the_ui_may_fix_a_bad_value_but_not_write_one(sync, path):
    with pytest.raises(ConfigError, match="format: unknown format 'flac2'"):
        sync.set(("services", "good", "format"), "flac2")
    with pytest.raises(ConfigError, match="pcm.rate must be from 1 to 768000, not 0"):
        sync.set(("services", "good", "pcm"), {"rate": 0, "channels": 1})
    with pytest.raises(ConfigError, match="timeout must be a number above 0"):
        sync.add_service({"name": "new", "timeout": -1})
    assert not sync.dirty and path.read_text() == FILE

    sync.set(("services", "bad", "format"), "mp3")
    sync.set(("services", "bad", "timeout"), 30)
    sync.set(("services", "bad", "pcm"), {"rate": 16000, "channels": 1})
    sync.flush()
    assert sync.config.service("bad").problem is None
    assert config.load(path).service("bad").problem is None
    assert "# keep this comment" in path.read_text()


def test_a_rename_keeps_the_problem_and_its_position(sync, path):
    sync.rename_service("bad", "still-bad")
    assert 'name = "still-bad"         # keep this comment' in path.read_text()
    service = sync.config.service("still-bad")
    assert (service.problem.line, service.problem.column) == (8, 10)
    assert path.read_text() == FILE.replace('name = "bad"', 'name = "still-bad"')


def test_the_file_and_the_ui_fixing_different_keys_merge(sync, path):
    sync.set(("services", "bad", "voice"), "v1")  # pending in the UI
    path.write_text(FILE.replace('format = "ogg"', 'format = "mp3"'))
    sync.tick()
    sync.flush()
    text = path.read_text()
    assert 'format = "mp3"' in text and 'voice = "v1"' in text and "timeout = nan" in text
    problem = sync.config.service("bad").problem
    assert problem.message.startswith("services[0].timeout") and problem.line == 9


async def test_the_workbench_selects_a_working_service_and_refuses_the_broken_one(path):
    wb = Workbench(path)
    try:
        assert wb.selected == "good"
        assert wb.prepare("hi").url.startswith("http://127.0.0.1:9/v1")
        wb.select("bad")
        with pytest.raises(ConfigError) as info:
            wb.prepare("hi")
        assert str(info.value) == (
            "services[0].format: unknown format 'ogg' (line 8, column 10); use one of mp3, opus, aac, flac, wav, pcm"
        )
        with pytest.raises(ConfigError, match="unknown format 'ogg'"):
            await wb.speak("hi", play=False)
        assert await wb.check() is False and wb.health["bad"] is False
        assert await wb.fetch_voices() == []
        assert list(wb.log) == [], "nothing was sent"
    finally:
        await wb.aclose()
    assert path.read_text() == FILE
