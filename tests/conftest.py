"""Shared fixtures: real servers on 127.0.0.1, real config files, the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory, monkeypatch):
    """No test reads or writes the real user's config, history or cache."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    # the history and the answer cache too: a test never writes the user's
    monkeypatch.setenv("XDG_STATE_HOME", str(home / "state"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    monkeypatch.delenv("TTS_TUI_CONFIG", raising=False)
    return home


@pytest.fixture(scope="session")
def embedded_server():
    """The embedded espeak-ng server on an ephemeral 127.0.0.1 port."""
    from tts_tui.server.app import EmbeddedServer

    with EmbeddedServer() as server:
        yield server


@pytest.fixture
def write_config(tmp_path):
    """Write a config file in tmp_path and return its path."""

    def write(text: str, name: str = "config.toml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def cli(tmp_path):
    """Run `python -m tts_tui ARGS` in a real subprocess; returns CompletedProcess."""

    def run(*args: str, input: str | None = None, timeout: float = 60, env: dict | None = None):
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "tts_tui", *args],
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
            env=full_env,
            cwd=tmp_path,
        )

    return run


def pytest_runtest_makereport(item, call):
    """Under CI a skipped test is a failed one: playback, sshd and root-proof
    tests must run there, so a broken setup cannot pass in silence."""
    if call.excinfo is None or not os.environ.get("CI"):
        return None
    if call.excinfo.errisinstance(pytest.skip.Exception):
        from _pytest.reports import TestReport

        report = TestReport.from_item_and_call(item, call)
        report.outcome = "failed"
        report.longrepr = f"skipped under CI, which must run every test: {call.excinfo.value}"
        return report
    return None
