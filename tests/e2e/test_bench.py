"""`tts-tui bench` end to end: a real subprocess against real servers on 127.0.0.1."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

from tests.conftest import ROOT
from tests.servers import FaultServer

METRICS = ("connect_ms", "ttfb_ms", "ttfa_ms", "total_ms", "audio_s", "rtf")


@pytest.fixture
def fault():
    # one per test: /flaky counts calls per server
    with FaultServer() as server:
        yield server


def http_config(write_config, url: str) -> str:
    return str(write_config(
        '[[services]]\nname = "t"\ntype = "http"\n'
        f'url = "{url}"\ntimeout = 5\nbody = \'{{"text": "{{{{ text }}}}"}}\'\n'
    ))


def json_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_json_run_against_the_embedded_server(cli):
    out = cli("bench", "-n", "5", "-c", "2", "--json")
    assert out.returncode == 0, out.stderr
    lines = json_lines(out.stdout)
    assert len(lines) == 6
    rows, summary = lines[:5], lines[5]
    assert sorted(row["n"] for row in rows) == [0, 1, 2, 3, 4]
    for row in rows:
        assert row["status"] == 200 and row["error"] is None and row["format"] == "wav"
        assert set(METRICS) <= set(row)
        assert row["ttfb_ms"] <= row["ttfa_ms"] <= row["total_ms"]
    assert summary["summary"] is True
    assert summary["count"] == 5 and summary["errors"] == 0 and summary["concurrency"] == 2
    assert list(summary["metrics"]) == list(METRICS)
    for metric, cell in summary["metrics"].items():
        assert cell["n"] == 5, metric
        assert cell["min"] <= cell["p50"] <= cell["p95"] <= cell["max"], metric
    # the summary agrees with the rows it summarises
    totals = [row["total_ms"] for row in rows]
    assert summary["metrics"]["total_ms"]["min"] == pytest.approx(min(totals), abs=0.11)
    assert summary["metrics"]["total_ms"]["max"] == pytest.approx(max(totals), abs=0.11)
    # the client's own CPU over the timed window: something, and no more than
    # one thread can spend in it (the client runs on one)
    assert 0 < summary["client_cpu_ms_per_request"] * 5 <= summary["wall_s"] * 1000 + 1


def test_warm_up_is_sent_but_not_counted(cli, write_config, fault):
    config = http_config(write_config, fault.url("/echo"))
    out = cli("--config", config, "bench", "-n", "3", "--json")
    assert out.returncode == 0, out.stderr
    assert len(fault.requests) == 4
    assert json_lines(out.stdout)[-1]["count"] == 3
    fault.requests.clear()
    out = cli("--config", config, "bench", "-n", "3", "--no-warmup", "--json")
    assert out.returncode == 0, out.stderr
    assert len(fault.requests) == 3


def test_progress_goes_to_stderr_only(cli, write_config, fault):
    out = cli("--config", http_config(write_config, fault.url("/echo")), "bench", "-n", "4", "--json")
    assert out.returncode == 0, out.stderr
    assert len(json_lines(out.stdout)) == 5  # every stdout line is JSON
    assert "bench t: 4/4" in out.stderr


def test_progress_bar_on_a_terminal_leaves_stdout_clean(write_config, fault):
    config = http_config(write_config, fault.url("/slow", delay_ms=20))
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tts_tui", "--config", config, "bench", "-n", "6", "--json"],
        stdout=subprocess.PIPE, stderr=slave, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 4096)
            except OSError:  # the child closed its end
                break
            if not data:
                break
            seen += data
        elif proc.poll() is not None:
            break
    stdout, _ = proc.communicate(timeout=30)
    os.close(master)
    assert proc.returncode == 0
    assert len(json_lines(stdout)) == 7
    text = seen.decode()
    assert "\r" in text and re.search(r"\[#+·*\] 3/6", text) and "6/6" in text
    assert "{" not in text


def test_every_request_failing_exits_1_with_one_error_line(cli, write_config, fault):
    config = http_config(write_config, fault.url("/html500"))
    out = cli("--config", config, "bench", "-n", "3", "--json")
    assert out.returncode == 1
    errors = [line for line in out.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: all 3 requests failed: HTTP 500 Internal Server Error: Kaboom: model not loaded"]
    assert "Traceback" not in out.stderr
    summary = json_lines(out.stdout)[-1]
    assert summary["errors"] == 3 and summary["metrics"]["ttfb_ms"]["p50"] is None
    assert summary["error_messages"] == [
        {"message": "HTTP 500 Internal Server Error: Kaboom: model not loaded", "count": 3}
    ]


def test_some_requests_failing_exit_0_and_show_the_errors(cli, write_config, fault):
    config = http_config(write_config, fault.url("/flaky"))
    # the warm-up is call 1; counted calls 2..7 fail on even numbers: 3 of 6
    out = cli("--config", config, "bench", "-n", "6", "-c", "2")
    assert out.returncode == 0, out.stderr
    assert "6 requests · concurrency 2 · 3 errors" in out.stdout
    assert re.search(r"^\s+3 × HTTP 503 Service Unavailable: overloaded, try again$", out.stdout, re.M)
    assert "error:" not in out.stderr


def test_text_table_has_a_row_per_metric(cli, write_config, fault):
    out = cli("--config", http_config(write_config, fault.url("/wav", seconds=0.5)), "bench", "-n", "4")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("t: 4 requests · concurrency 1 · 0 errors")
    assert re.search(r" · client CPU \d+\.\d\d ms/request$", lines[0])
    assert lines[2].split() == ["metric", "min", "p50", "p95", "max"]
    rows = {line.split()[0]: [float(x) for x in line.split()[1:]] for line in lines[3:9]}
    assert list(rows) == list(METRICS)
    for metric, (low, p50, p95, high) in rows.items():
        assert low <= p50 <= p95 <= high, metric
    assert rows["audio_s"] == [0.5, 0.5, 0.5, 0.5]
    assert "errors:" not in out.stdout


def test_bench_har_holds_the_counted_requests(cli, write_config, fault, tmp_path):
    config = http_config(write_config, fault.url("/flaky"))
    out = cli("--config", config, "bench", "-n", "4", "--har", "runs.har")
    assert out.returncode == 0, out.stderr
    entries = json.loads((tmp_path / "runs.har").read_text())["log"]["entries"]
    assert len(entries) == 4
    assert sorted(e["response"]["status"] for e in entries) == [200, 200, 503, 503]
    assert sum("_error" in e for e in entries) == 2


@pytest.mark.parametrize("args, what", [
    (("-n", "0"), "argument -n: must be at least 1, not 0"),
    (("-c", "-1"), "argument -c: must be at least 1, not -1"),
    (("-n", "many"), "argument -n: not a whole number: 'many'"),
])
def test_bad_counts_are_usage_errors(cli, args, what):
    out = cli("bench", *args)
    assert out.returncode == 2
    assert out.stderr == f"error: tts-tui bench: {what} (try: tts-tui bench --help)\n"  # one line, no traceback
    assert out.stdout == ""


def test_many_small_chunks_are_counted_exactly(cli, write_config, fault):
    # a streamed WAV (placeholder sizes) in 60 chunked pieces, 4 at a time on kept-alive connections
    url = fault.url("/stream?kind=wav&seconds=0.75&count=60&interval_ms=1")
    out = cli("--config", http_config(write_config, url), "bench", "-n", "8", "-c", "4", "--json")
    assert out.returncode == 0, out.stderr
    rows = json_lines(out.stdout)[:-1]
    assert len(rows) == 8
    for row in rows:
        assert (row["error"], row["format"], row["audio_s"]) == (None, "wav", 0.75)
        assert row["ttfb_ms"] <= row["ttfa_ms"] <= row["total_ms"]
    said = cli("--config", http_config(write_config, url), "say", "hi", "--no-play", "--json")
    assert json.loads(said.stdout)["audio_s"] == 0.75  # the same answer read by say
    assert sum(r["connect_ms"] > 0 for r in rows) <= 4  # connections are reused


def test_ctrl_c_stops_a_run_in_flight_with_one_line(write_config, fault):
    # 2 connections, each answer held 100 ms: ~20 s of requests; Ctrl-C once the
    # first tenth is reported. The loop's thread closes every request at its await.
    import signal

    config = http_config(write_config, fault.url("/slow", delay_ms=100))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tts_tui", "--config", config, "bench", "-n", "400", "-c", "2", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()
    assert first.startswith("bench t: 40/400"), first
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert stderr.strip().splitlines() == ["error: interrupted"]
    assert len(fault.requests) < 401  # it stopped sending
    assert all(line["total_ms"] is not None for line in json_lines(stdout))  # the rows reported before the stop
