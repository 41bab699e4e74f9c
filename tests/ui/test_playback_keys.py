"""F6, F7 and F8 drive the real player, and the playback bar says so.

Real parts only: a 3 s WAV from a FaultServer on 127.0.0.1, played through
PortAudio into the JACK dummy server (tests/playback_env.py).
"""

from __future__ import annotations

import re

import pytest

from tests.playback_env import require_jack
from tests.servers import FaultServer
from tests.ui.test_app import make_app, settle, wait_for

CLOCK = re.compile(r"(\d+):(\d+\.\d) / (\d+):(\d+\.\d)")


@pytest.fixture(scope="module")
def fault():
    with FaultServer() as srv:
        yield srv


def bar(app) -> str:
    return str(app.playback_bar.state_line.render())


def position(app) -> float:
    """The position the bar shows, in seconds."""
    found = CLOCK.search(bar(app))
    assert found, bar(app)
    return int(found[1]) * 60 + float(found[2])


@pytest.mark.playback
async def test_play_pause_stop_and_replay_from_the_keys(tmp_path, fault) -> None:
    require_jack()
    path = tmp_path / "config.toml"
    path.write_text(f'[audio]\noutput = "default"\n\n[[services]]\nname = "tone"\ntype = "http"\n'
                    f'url = "{fault.url("/wav", seconds=3)}"\nbody = \'{{"text": "{{{{ text }}}}"}}\'\n')
    app = make_app(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot, app)
        await pilot.press("f5")
        await wait_for(pilot, lambda: bar(app).startswith("▶ playing") and position(app) >= 0.3, timeout=15)
        assert "/ 0:03.0" in bar(app) and "♪ system" in bar(app)

        await pilot.press("f6")  # pause: the position holds
        await wait_for(pilot, lambda: bar(app).startswith("⏸ paused"))
        held = position(app)
        await pilot.pause(0.5)
        assert bar(app).startswith("⏸ paused") and position(app) == held

        await pilot.press("f6")  # resume: on from where it was
        await wait_for(pilot, lambda: bar(app).startswith("▶ playing") and position(app) > held, timeout=5)
        await wait_for(pilot, lambda: position(app) >= 1.0, timeout=5)

        await pilot.press("f8")  # replay: from the start, while it plays
        await wait_for(pilot, lambda: bar(app).startswith("▶ playing") and position(app) < 1.0, timeout=5)

        await pilot.press("f7")  # stop: back to the start
        await wait_for(pilot, lambda: bar(app).startswith("■ stopped"))
        assert position(app) == 0.0
