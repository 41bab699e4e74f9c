"""F5 through the real path to the figures: each exchange spoken against a
real server lands in the latency statistics, the service list's last time
and sparkline, and the F3 screen's counts (nothing here calls stats.add)."""

from __future__ import annotations

import re

from tests.ui.test_app import config_path, fault, log_rows, make_app, settle, wait_for  # noqa: F401
from tests.ui.test_log import latency_rows
from tests.ui.test_services import services_pane_text
from tts_tui.ui.screens.latency import LatencyScreen
from tts_tui.ui.services_pane import SPARK


async def test_each_spoken_exchange_shows_in_the_service_list_and_the_latency_screen(config_path, fault):
    app = make_app(config_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot, app)
        before = services_pane_text(app)
        assert " ms " not in before, "no figures before anything was spoken"
        for spoken in range(1, 4):
            await pilot.press("f5")
            await wait_for(pilot, lambda n=spoken: len(log_rows(app)) == n and not app.speaking, timeout=10)
            await settle(pilot, app, 0.1)
        shown = services_pane_text(app)
        # "echo http 12 ms ▁▅█": the last total, then one bar per exchange
        match = re.search(r"echo http (\d+) ms ([" + SPARK + r"]+)", shown)
        assert match, shown
        assert len(match[2]) == 3
        assert match[1] == f"{app.workbench.log[-1].total_ms:.0f}", "the last exchange's total"
        await pilot.press("f3")
        await wait_for(pilot, lambda: isinstance(app.screen, LatencyScreen))
        rows = latency_rows(app.screen)
        assert rows["echo"][:2] == ["3", "0"], rows
