"""How the main screen looks, at the smallest and a common terminal size.

Textual is pinned exactly in pyproject.toml so these stay stable. Update them
with `pytest tests/ui/test_snapshots.py --snapshot-update` after a deliberate
change, and look at the SVGs before committing.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input, TextArea

from tts_tui.core.workbench import Workbench
from tts_tui.ui.app import TtsApp

CONFIG = """\
[ui]
theme = "tts-dark"
text = "The quick brown fox jumps over the lazy dog."

[audio]
output = "none"

[[services]]
name = "kokoro"
type = "openai"
url = "http://127.0.0.1:9/v1"
model = "kokoro"
voice = "af_bella"
format = "wav"

[[services]]
name = "xtts"
type = "http"
url = "http://127.0.0.1:9/tts_to_audio/"
voice = "female_01"
body = '''
{"text": "{{ text }}", "speaker_wav": "{{ voice }}", "language": "en"}
'''
"""


@pytest.fixture
def app(tmp_path) -> TtsApp:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return TtsApp(Workbench(path))


async def steady(pilot) -> None:
    """Freeze what moves: cursor blink, and let the start-up work finish."""
    app = pilot.app
    await app.workers.wait_for_complete()
    for widget in [*app.query(Input), *app.query(TextArea)]:
        widget.cursor_blink = False
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
def test_main_screen(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=steady)


def test_http_service_body_tab(snap_compare, app):
    async def body_tab(pilot) -> None:
        pilot.app.workbench.select("xtts")
        await pilot.pause()
        pilot.app.request_pane.query_one("#tabs").active = "tab-body"
        body = pilot.app.request_pane.query_one("#body", TextArea)
        for _ in range(600):  # a loaded machine lays the tab out a few frames later: wait for it, not a clock
            if body.region.height and '"speaker_wav"' in body.text:
                break
            await pilot.pause(0.05)
        await steady(pilot)

    assert snap_compare(app, terminal_size=(120, 40), run_before=body_tab)
