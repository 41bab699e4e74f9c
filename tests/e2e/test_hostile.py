"""Hostile input: whatever the user types or the environment holds, one clear
line or a sensible result, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.servers import FaultServer


@pytest.fixture(scope="module")
def fault():
    with FaultServer() as srv:
        yield srv


def run_bytes(args: list[bytes], tmp_path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable.encode(), b"-m", b"tts_tui", *args], capture_output=True,
                          env=env, cwd=tmp_path, timeout=60)


@pytest.mark.parametrize("kind", ["openai", "http"])
def test_text_that_is_not_utf8_is_sent_the_same_way_by_every_service_type(fault, tmp_path, kind):
    url = fault.base + "/echo" if kind == "openai" else fault.url("/echo")
    body = "" if kind == "openai" else "body = '{\"text\": \"{{ text }}\"}'\n"
    config = tmp_path / "c.toml"
    config.write_text(f'[[services]]\nname = "s"\ntype = "{kind}"\nurl = "{url}"\n{body}')
    out = run_bytes([b"--config", str(config).encode(), b"say", b"caf\xe9 ok", b"--no-play"], tmp_path)
    assert out.returncode == 0, out.stderr
    sent = json.loads(fault.requests[-1].body)
    assert sent["input" if kind == "openai" else "text"] == "caf\ufffd ok"
