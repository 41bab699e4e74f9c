"""Export log as HAR, as a user does it: ctrl+p, type, enter; the file lands
in audio.save_dir and is valid HAR 1.2 (checked against the JSON Schema)."""

from __future__ import annotations

import json

from tests.ui.test_app import fault, http_config, log_rows, make_app, settle, wait_for  # noqa: F401
from tests.unit.test_har import check_har_1_2
from tts_tui.core.masking import MASK


async def test_export_log_as_har_from_the_palette_writes_valid_masked_har(tmp_path, fault):
    saved = tmp_path / "audio"
    path = tmp_path / "config.toml"
    text = http_config(fault.base).replace('output = "none"', f'output = "none"\nsave_dir = "{saved}"')
    # a key in the query of the URL: it must not reach the HAR file
    text = text.replace(f'url = "{fault.base}/echo"', f'url = "{fault.base}/echo?api_key=sk-query-77"')
    path.write_text(text)
    app = make_app(path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        await pilot.press("f5")
        await wait_for(pilot, lambda: len(log_rows(app)) == 1 and not app.speaking, timeout=10)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"export log as har")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: saved.exists() and any(saved.glob("*.har")), timeout=10)
    [har] = saved.glob("tts-tui-*.har")
    raw = har.read_text()
    doc = json.loads(raw)
    check_har_1_2(doc)
    [entry] = doc["log"]["entries"]
    assert entry["response"]["status"] == 200
    assert json.loads(entry["request"]["postData"]["text"]) == {"text": "Hello from the test.", "voice": "v1"}
    assert "sk-query-77" not in raw
    assert {"name": "api_key", "value": MASK} in entry["request"]["queryString"]
