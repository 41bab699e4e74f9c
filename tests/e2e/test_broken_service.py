"""One bad [[services]] block stays alone: the CLI against real servers.

The broken service points at a fault server that records every request, so
"refuses to speak" is checked on the wire: nothing reaches it.
"""

from __future__ import annotations

import json

import pytest
import soundfile

from tests.servers import FaultServer

REFUSAL = (
    "config.toml line 6, column 10: services[0].format: unknown format 'ogg'; "
    "use one of mp3, opus, aac, flac, wav, pcm"
)


@pytest.fixture(scope="module")
def fault():
    with FaultServer() as server:
        yield server


@pytest.fixture
def path(write_config, fault):
    fault.requests.clear()
    return write_config(
        '[audio]\noutput = "none"\n\n'
        f'[[services]]\nname = "bad"\nformat = "ogg"\nurl = "{fault.base}/v1"\n\n'
        '[[services]]\nname = "local"\nurl = "builtin"\nvoice = "en-us"\n'
    )


def test_say_uses_the_first_working_service_and_names_the_one_it_skipped(cli, path, fault, tmp_path):
    out = cli("--config", str(path), "say", "Still working.", "--no-play", "-o", "ok.wav")
    assert out.returncode == 0, out.stderr
    assert f"warning: skipped service 'bad': {REFUSAL}" in out.stderr.splitlines()
    assert any(line.startswith("local: HTTP 200") for line in out.stderr.splitlines())
    info = soundfile.info(str(tmp_path / "ok.wav"))
    assert info.frames / info.samplerate > 0.3
    assert fault.requests == []


@pytest.mark.parametrize(
    "args",
    [
        ("say", "hello", "-s", "bad", "--no-play"),
        ("voices", "-s", "bad"),
        ("bench", "-s", "bad", "-n", "1"),
        ("check", "-s", "bad"),
    ],
)
def test_the_broken_service_refuses_with_its_own_one_line_error(cli, path, fault, args):
    out = cli("--config", str(path), *args)
    assert out.returncode == 1
    assert out.stderr == f"error: {REFUSAL}\n"
    assert out.stdout == ""
    assert fault.requests == []


def test_voices_and_bench_work_with_the_other_service(cli, path, fault):
    voices = cli("--config", str(path), "voices", "--json")
    assert voices.returncode == 0, voices.stderr
    assert json.loads(voices.stdout)["service"] == "local"
    bench = cli("--config", str(path), "bench", "-n", "2", "--no-warmup", "--json")
    assert bench.returncode == 0, bench.stderr
    rows = [json.loads(line) for line in bench.stdout.splitlines()]
    assert rows[-1]["summary"] is True and rows[-1]["service"] == "local"
    assert sum(1 for r in rows if not r.get("summary") and r["status"] == 200) == 2
    assert fault.requests == []


def test_check_all_reports_the_broken_one_and_checks_the_rest(cli, path, fault):
    out = cli("--config", str(path), "check")
    assert out.returncode == 1
    lines = out.stdout.splitlines()
    assert lines[0] == f"FAILED bad: {REFUSAL}"
    assert lines[1].startswith("ok     local: HTTP 200")
    assert out.stderr == "error: 1 of 2 services failed\n"
    assert fault.requests == []
    as_json = [json.loads(line) for line in cli("--config", str(path), "check", "--json").stdout.splitlines()]
    assert [(row["service"], row["ok"]) for row in as_json] == [("bad", False), ("local", True)]
    assert as_json[0]["message"] == REFUSAL


def test_with_no_working_service_the_default_names_the_first_problem(cli, write_config):
    path = write_config('[[services]]\nname = "a"\ntimeout = -5\n[[services]]\nname = "b"\npcm = { rate = 0 }\n')
    out = cli("--config", str(path), "say", "hello", "--no-play")
    assert out.returncode == 1
    assert out.stderr == (
        "error: no service works: config.toml line 3, column 11: "
        "services[0].timeout must be a number above 0, not -5; e.g. timeout = 60.0\n"
    )


@pytest.mark.parametrize(
    "text, words",
    [
        ('[[services]]\nname = "a"\n[[services]]\nname = "a"\n[[services]]\nname = "b"\n', "two services are named 'a'"),
        ('[ui]\ntheme = 3\n[[services]]\nname = "b"\n', "ui.theme must be a string"),
        ('[[services]]\nname = "b"\nformat = "ogg\n', "not valid TOML"),
    ],
)
def test_errors_outside_a_service_still_stop_everything(cli, write_config, text, words):
    path = write_config(text)
    out = cli("--config", str(path), "check", "-s", "b")
    assert out.returncode == 1
    assert out.stderr.startswith(f"error: {path}:") and words in out.stderr
    assert len(out.stderr.splitlines()) == 1
