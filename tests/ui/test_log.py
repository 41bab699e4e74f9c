"""The Log at scale, the latency screen and the timing timeline, through Pilot.

The exchanges are built here rather than sent: 10,000 real requests would take
minutes, and what is under test is how the log draws and moves, not HTTP.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from textual.widgets import Static, TabbedContent

from tts_tui.core.exchange import Exchange, PreparedRequest
from tts_tui.core.workbench import AUDIO_KEEP, Workbench
from tts_tui.ui.app import TtsApp
from tts_tui.ui.exchange_list import DROPPED_NOTE, ExchangeList
from tts_tui.ui.screens.exchange import ExchangeScreen
from tts_tui.ui.screens.latency import LatencyScreen

CONFIG = """\
[ui]
theme = "tts-dark"
text = "hello"

[audio]
output = "none"

[[services]]
name = "alpha"
type = "http"
url = "http://127.0.0.1:9/alpha"
body = '{"text": "{{ text }}"}'

[[services]]
name = "beta"
type = "http"
url = "http://127.0.0.1:9/beta"
body = '{"text": "{{ text }}"}'
"""


def exchange(service: str, total: float, *, ttfb: float | None = None, ttfa: float | None = None,
             connect: float = 1.0, error: str | None = None, audio: bytes = b"") -> Exchange:
    ex = Exchange(PreparedRequest("POST", f"http://127.0.0.1:9/{service}", body=b'{"text": "hello"}'), service=service)
    ex.connect_ms = connect
    ex.ttfb_ms = total / 2 if ttfb is None else ttfb
    ex.total_ms = total
    if error:
        ex.status, ex.error, ex.body, ex.bytes = 500, error, b"boom", 4
        return ex
    ex.status = 200
    ex.ttfa_ms = ttfa
    ex.body = audio
    ex.bytes = len(audio) or 1000
    ex.format = "wav"
    ex.audio_s = 1.0
    return ex


@pytest.fixture
def workbench(tmp_path) -> Workbench:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return Workbench(Path(path))


def fill(wb: Workbench, n: int) -> None:
    """n exchanges named svc0..svc{n-1}; every 7th fails."""
    for i in range(n):
        ex = exchange(f"svc{i}", 100.0 + i % 50, error="HTTP 500: boom" if i % 7 == 3 else None, audio=b"RIFF" + bytes(2000))
        wb.add_exchange(ex)


def table(app: TtsApp) -> ExchangeList:
    return app.query_one("#log-table", ExchangeList)


def service_on_line(line: str) -> str:
    match = re.search(r"\bsvc\d+\b", line)
    return match.group(0) if match else ""


async def test_ten_thousand_exchanges_show_the_newest_at_the_bottom_and_the_cursor_moves(workbench):
    fill(workbench, 10_000)
    app = TtsApp(workbench)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        log = table(app)
        log.focus()
        await pilot.pause()
        lines = log.screen_lines()
        assert lines[0].split()[:3] == ["time", "service", "status"]
        assert service_on_line(lines[-1]) == "svc9999"
        assert log.cursor == 9999
        assert "10,000 exchanges" in app.query_one("#log").border_subtitle

        await pilot.press("up", "up")
        assert log.current().service == "svc9997"
        page = len(lines) - 1
        await pilot.press("pageup")
        assert log.cursor == 9997 - page
        await pilot.press("home")
        assert log.cursor == 0
        assert service_on_line(log.screen_lines()[1]) == "svc0"
        await pilot.press("pagedown", "down")
        assert log.cursor == page + 1
        await pilot.press("end")
        assert log.cursor == 9999
        assert service_on_line(log.screen_lines()[-1]) == "svc9999"


async def test_enter_opens_the_exchange_under_the_cursor(workbench):
    fill(workbench, 300)
    app = TtsApp(workbench)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        table(app).focus()
        await pilot.press("home", "down", "down", "enter")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ExchangeScreen)
        assert app.screen.exchange is workbench.log[2]


async def test_the_cursor_follows_new_rows_only_from_the_last_row(workbench):
    fill(workbench, 20)
    app = TtsApp(workbench)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        log = table(app)
        workbench.add_exchange(exchange("svc20", 100.0))
        await pilot.pause()
        assert log.current().service == "svc20"
        log.focus()
        await pilot.press("up")
        workbench.add_exchange(exchange("svc21", 100.0))
        await pilot.pause()
        assert log.current().service == "svc19"


async def test_a_full_log_keeps_the_cursor_on_its_exchange(workbench):
    workbench.log = type(workbench.log)(maxlen=30)
    fill(workbench, 30)
    app = TtsApp(workbench)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        log = table(app)
        log.focus()
        await pilot.press("up", "up", "up")
        assert log.current().service == "svc26"
        for i in range(30, 35):
            workbench.add_exchange(exchange(f"svc{i}", 100.0))
        await pilot.pause()
        assert log.current().service == "svc26" and log.cursor == 21


async def test_error_rows_are_in_the_error_colour(workbench):
    fill(workbench, 10)  # svc3 fails
    app = TtsApp(workbench)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        log = table(app)
        error_colour = log.get_component_rich_style("exchange-list--error").color
        lines = log.screen_lines()
        colours = {}
        for y, line in enumerate(lines[1:], start=1):
            strip = log.render_line(y)
            colours[service_on_line(line)] = {seg.style.color for seg in strip if seg.text.strip() and seg.style}
        assert colours["svc3"] == {error_colour}
        assert all(error_colour not in c for name, c in colours.items() if name not in ("svc3", "svc9"))
        assert "HTTP 500: boom" in next(line for line in lines if service_on_line(line) == "svc3")  # the note column


@pytest.mark.parametrize(
    "size, wanted, missing",
    [((80, 24), ["TTFB", "total", "audio"], ["conn", "note"]), ((120, 40), ["conn", "TTFA", "RTF", "note"], [])],
)
async def test_columns_fit_at_80_and_all_show_at_120(workbench, size, wanted, missing):
    fill(workbench, 5)
    app = TtsApp(workbench)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        header = table(app).screen_lines()[0].split()
        assert all(c in header for c in wanted) and not any(c in header for c in missing)
        # inside the pane's borders (spare cells widen the service names)
        assert all(len(line) <= size[0] - 2 for line in table(app).rows_text())


def test_only_the_newest_audio_exchanges_keep_their_bodies(workbench):
    exchanges = [exchange("alpha", 100.0, audio=bytes(10_000)) for _ in range(200)]
    for ex in exchanges:
        workbench.add_exchange(ex)
    kept = [ex for ex in workbench.log if ex.body]
    assert kept == exchanges[-AUDIO_KEEP:]
    assert sum(len(ex.body) for ex in workbench.log) == AUDIO_KEEP * 10_000
    assert all(ex.body_dropped for ex in exchanges[:-AUDIO_KEEP])
    assert not any(ex.body_dropped for ex in exchanges[-AUDIO_KEEP:])
    assert exchanges[0].bytes == 10_000  # the figures stay


def test_an_exchange_added_in_flight_is_dropped_once_its_audio_is_old(workbench):
    in_flight = Exchange(PreparedRequest("POST", "http://127.0.0.1:9/alpha"), service="alpha")
    workbench.add_exchange(in_flight)
    in_flight.total_ms, in_flight.format, in_flight.body, in_flight.bytes = 10.0, "wav", bytes(500), 500
    errors = [exchange("alpha", 5.0, error="HTTP 500: boom") for _ in range(20)]
    for ex in errors:
        workbench.add_exchange(ex)
    assert in_flight.body  # still among the newest audio
    for _ in range(AUDIO_KEEP):
        workbench.add_exchange(exchange("alpha", 100.0, audio=bytes(100)))
    assert in_flight.body == b"" and in_flight.body_dropped
    assert all(ex.body == b"boom" for ex in errors)  # error text is not audio: kept


async def test_dropped_audio_is_said_in_the_log_and_the_detail(workbench):
    for _ in range(AUDIO_KEEP + 1):
        workbench.add_exchange(exchange("alpha", 100.0, audio=bytes(1000)))
    app = TtsApp(workbench)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        log = table(app)
        assert log.row_cells(0)["note"] == DROPPED_NOTE
        assert log.row_cells(1)["note"] == ""
        log.focus()
        await pilot.press("home", "enter")
        await pilot.pause(0.1)
        assert isinstance(app.screen, ExchangeScreen)
        assert DROPPED_NOTE in str(app.screen.query_one("#response-body", Static).render())


def latency_rows(screen: LatencyScreen) -> dict[str, list[str]]:
    text = str(screen.query_one("#latency-table", Static).render())
    return {line.split()[0]: line.split()[1:] for line in text.splitlines()[2:]}


async def test_the_latency_screen_shows_p50_and_p95_per_service(workbench):
    for total in (100, 200, 300, 400, 500):
        ex = exchange("alpha", float(total), ttfa=total * 0.8)
        workbench.add_exchange(ex)
        workbench.stats.add(ex)
    for total in (1000, 2000):
        ex = exchange("beta", float(total), ttfa=total - 100.0)
        workbench.add_exchange(ex)
        workbench.stats.add(ex)
    failed = exchange("beta", 9999.0, error="HTTP 500: boom")
    workbench.add_exchange(failed)
    workbench.stats.add(failed)
    app = TtsApp(workbench)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("f3")
        await pilot.pause(0.1)
        screen = app.screen
        assert isinstance(screen, LatencyScreen)
        rows = latency_rows(screen)
        # count, errors, then p50 p95 of TTFB, TTFA, total (ms); the failure is left out of the figures
        assert rows["alpha"] == ["5", "0", "150", "240", "240", "384", "300", "480"]
        assert rows["beta"] == ["3", "1", "750", "975", "1400", "1850", "1500", "1950"]
        histograms = str(screen.query_one("#latency-histograms", Static).render())
        assert "alpha · total · 5 exchanges · min 100 ms · max 500 ms" in histograms
        # one exchange at each of 100, 200, 300, 400 and 500 ms: five equal full-width bars
        bars = [line for line in histograms.splitlines() if "█" in line]
        assert len(bars) >= 5 and len({line.count("█") for line in bars}) == 1
        await pilot.press("m")
        assert "alpha · TTFB · 5 exchanges · min 50 ms" in str(screen.query_one("#latency-histograms", Static).render())
        await pilot.press("escape")
        assert not isinstance(app.screen, LatencyScreen)
        table(app).focus()
        await pilot.press("l")  # from the Log
        assert isinstance(app.screen, LatencyScreen)
        await pilot.press("escape")
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Latency" in titles and "Export log as HAR" in titles


async def test_the_detail_draws_the_timeline_to_scale(workbench):
    ex = exchange("alpha", 400.0, connect=40.0, ttfb=120.0, ttfa=200.0, audio=bytes(100))
    workbench.add_exchange(ex)
    app = TtsApp(workbench)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        table(app).focus()
        await pilot.press("enter")
        await pilot.pause(0.1)
        screen = app.screen
        assert isinstance(screen, ExchangeScreen)
        screen.query_one(TabbedContent).active = screen.query_one(TabbedContent).query("TabPane")[2].id
        await pilot.pause(0.1)
        text = str(screen.query_one("#timeline").render())
        lines = text.splitlines()
        assert lines[0].split() == ["0", "ms", "400", "ms"]
        bar = lines[1]
        assert re.fullmatch(r"▓+░+▒+█+", bar)
        width = len(bar)
        # 40 | 80 | 80 | 200 ms of 400
        assert [bar.count(c) for c in "▓░▒█"] == [pytest.approx(width * f, abs=1) for f in (0.1, 0.2, 0.2, 0.5)]
        assert re.search(r"connect\s+40 ms\s+0 → 40 ms", text)
        assert re.search(r"wait \(to TTFB\)\s+80 ms\s+40 → 120 ms", text)
        assert re.search(r"to first audio\s+80 ms\s+120 → 200 ms", text)
        assert re.search(r"download \(to total\)\s+200 ms\s+200 → 400 ms", text)


async def test_a_click_moves_the_cursor_and_a_double_click_opens(workbench):
    fill(workbench, 50)
    app = TtsApp(workbench)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        log = table(app)
        lines = log.screen_lines()
        await pilot.click("#log-table", offset=(5, 2))
        assert log.current().service == service_on_line(lines[2])
        await pilot.double_click("#log-table", offset=(5, 3))
        await pilot.pause(0.1)
        assert isinstance(app.screen, ExchangeScreen)
        assert app.screen.exchange.service == service_on_line(lines[3])


async def test_the_log_exports_as_har_to_the_save_folder(workbench, tmp_path):
    import json

    workbench.set_setting("audio", "save_dir", str(tmp_path / "out"))
    fill(workbench, 3)
    app = TtsApp(workbench)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.action_export_har()
        await app.workers.wait_for_complete()
        await pilot.pause()
        files = list((tmp_path / "out").glob("tts-tui-*.har"))
        assert len(files) == 1
        entries = json.loads(files[0].read_text())["log"]["entries"]
        assert len(entries) == 3
