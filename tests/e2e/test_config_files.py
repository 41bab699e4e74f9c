"""The CLI and the user's files (issue 8, "Files"): a mistyped --config is
not created, -o never makes folders, and a literal secret is warned about for
the service in use only. Each runs `python -m tts_tui` as a subprocess."""

from __future__ import annotations

import os

TWO_SERVICES = """\
[audio]
output = "none"

[[services]]
name = "first"
type = "openai"
url = "http://127.0.0.1:9/v1"      # nothing listens here
api_key = "sk-first-literal"

[[services]]
name = "second"
type = "http"
url = "http://127.0.0.1:9/tts"
headers = { Authorization = "Bearer sk-second-literal" }
body = '{"text": "{{ text }}"}'
colour = "red"
"""


def error_line(out) -> str:
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 1, out.stderr
    assert lines and lines[-1].startswith("error: "), out.stderr
    assert "Traceback" not in out.stderr
    return lines[-1]


def test_a_mistyped_config_path_is_refused_not_created(cli, tmp_path):
    typo = tmp_path / "cofnig.toml"
    line = error_line(cli("--config", str(typo), "say", "hi", "--no-play"))
    assert line == f"error: no config file at {typo}; check the path, or create it with: tts-tui --config {typo} --init"
    assert not typo.exists()
    line = error_line(cli("say", "hi", "--no-play", env={"TTS_TUI_CONFIG": str(typo)}))
    assert "no config file at" in line and "TTS_TUI_CONFIG" in line
    assert not typo.exists()


def test_init_creates_the_named_file(cli, tmp_path):
    path = tmp_path / "new" / "config.toml"
    out = cli("--config", str(path), "--init", "voices", "-s", "no-such-service")
    assert f"created a commented config file at {path}" in out.stderr
    assert path.read_text().count("#") > 20
    assert "no service named 'no-such-service'" in error_line(out)


def test_output_into_a_missing_folder_is_refused_before_the_request(cli, write_config, tmp_path):
    config = write_config(TWO_SERVICES)
    missing = tmp_path / "no" / "such" / "dir"
    line = error_line(cli("--config", str(config), "say", "hi", "-s", "first", "--no-play", "-o", str(missing / "x.wav")))
    assert line == f"error: no folder {missing}; create it first (mkdir -p {missing}) or choose another"
    assert not (tmp_path / "no").exists(), "no folder was created"


def test_output_through_a_file_or_onto_a_folder_says_what_is_wrong(cli, write_config, tmp_path):
    config = write_config(TWO_SERVICES)
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    line = error_line(cli("--config", str(config), "say", "hi", "-s", "first", "--no-play", "-o", str(a_file / "x.wav")))
    assert line == f"error: {a_file} is a file, not a folder; choose a file inside a folder"
    line = error_line(cli("--config", str(config), "say", "hi", "-s", "first", "--no-play", "-o", str(tmp_path)))
    assert line.startswith(f"error: {tmp_path} is a folder; name a file in it")
    assert a_file.read_text() == "mine"
    assert sorted(os.listdir(tmp_path)) == ["config.toml", "notes.txt"]


def test_the_literal_secret_warning_is_for_the_service_in_use(cli, write_config):
    config = write_config(TWO_SERVICES)
    out = cli("--config", str(config), "say", "hi", "-s", "second", "--no-play")
    warnings = [ln for ln in out.stderr.splitlines() if ln.startswith("warning: ")]
    assert "warning: service 'second': headers.Authorization holds a literal secret; " in "\n".join(warnings)
    assert not [w for w in warnings if "'first'" in w], "not for a service that is not used"
    assert any("unknown key 'colour'" in w for w in warnings), "other warnings still show"
    assert "sk-second-literal" not in out.stderr and "sk-first-literal" not in out.stderr
    out = cli("--config", str(config), "say", "hi", "--no-play")  # the default: the first service
    assert "service 'first': api_key holds a literal secret" in out.stderr
    assert "service 'second': headers" not in out.stderr
