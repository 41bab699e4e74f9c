"""A literal secret is warned about at start and again whenever the file is
reloaded after an outside edit (issue 8), through the real TUI."""

from __future__ import annotations

import subprocess
import sys

from tests.ui.test_app import make_app, settle, wait_for

CONFIG = """\
[ui]
text = "Hi"

[audio]
output = "none"

[[services]]
name = "remote"
type = "http"
url = "http://127.0.0.1:9/tts"
headers = { Authorization = "Bearer sk-written-in-the-file" }
body = '{"text": "{{ text }}"}'
"""


def secret_warnings(app) -> list[str]:
    return [n.message for n in app._notifications if "literal secret" in n.message]


async def test_the_literal_secret_warning_shows_again_on_reload(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        shown = secret_warnings(app)
        assert shown == [
            "service 'remote': headers.Authorization holds a literal secret; "
            'prefer "$VARIABLE" to read it from the environment'
        ]
        app.clear_notifications()
        code = "import pathlib, sys; p = pathlib.Path(sys.argv[1]); p.write_text(p.read_text().replace('\"Hi\"', '\"Hello\"'))"
        subprocess.run([sys.executable, "-c", code, str(path)], check=True)  # another program edits the file
        await wait_for(pilot, lambda: app.workbench.config.ui.text == "Hello")
        await wait_for(pilot, lambda: secret_warnings(app) == shown)
        assert all("sk-written-in-the-file" not in n.message for n in app._notifications)
