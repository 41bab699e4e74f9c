"""The CLI end to end, in a real subprocess, against real servers on 127.0.0.1."""

from __future__ import annotations

import io
import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import soundfile

from tests.servers import FaultServer

@pytest.fixture(scope="module")
def fault():
    with FaultServer() as server:
        yield server


def duration(path) -> float:
    info = soundfile.info(str(path))
    return info.frames / info.samplerate


def http_service(url: str, body: str = "", **keys: str) -> str:
    lines = ["[[services]]", 'name = "t"', 'type = "http"', f'url = "{url}"', "timeout = 5"]
    lines += [f"{k} = {v}" for k, v in keys.items()]
    if body:
        lines.append(f"body = '''\n{body}\n'''")
    return "\n".join(lines) + "\n"


# --- out of the box --------------------------------------------------------------


def test_first_run_speaks_with_the_builtin_voice_and_writes_a_commented_config(cli, tmp_path, isolated_home):
    short = cli("say", "Hello there", "-o", "short.wav")
    assert short.returncode == 0, short.stderr
    created = isolated_home / "config" / "tts-tui" / "config.toml"
    assert created.exists() and "# " in created.read_text()
    assert f"created a commented config file at {created}" in short.stderr
    # it played, or said in one line why it is silent
    silent = [line for line in short.stderr.splitlines() if line.startswith("silent:")]
    assert len(silent) <= 1
    long = cli("say", "Hello there. " + "This sentence makes the audio much longer. " * 4, "-o", "long.wav", "--no-play")
    assert long.returncode == 0, long.stderr
    assert 0.3 < duration(tmp_path / "short.wav") < duration(tmp_path / "long.wav") / 3


def test_json_output_has_the_metric_names(cli, tmp_path):
    out = cli("say", "Metrics please", "--no-play", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for key in ("connect_ms", "ttfb_ms", "ttfa_ms", "total_ms", "bytes", "audio_s", "rtf", "status", "content_type", "format"):
        assert key in data
    assert data["status"] == 200 and data["format"] == "wav" and data["audio_s"] > 0.3
    assert data["ttfb_ms"] <= data["total_ms"]


def test_text_from_stdin(cli, tmp_path):
    out = cli("say", "-", "--no-play", "-o", "stdin.wav", input="Read from standard input.")
    assert out.returncode == 0, out.stderr
    assert duration(tmp_path / "stdin.wav") > 0.5


def test_voices_of_the_builtin_server(cli):
    out = cli("voices", "--json")
    assert out.returncode == 0, out.stderr
    ids = [v["id"] for v in json.loads(out.stdout)["voices"]]
    assert "en-us" in ids and len(ids) > 20


def test_voice_override(cli, tmp_path):
    out = cli("say", "Bonjour tout le monde", "--voice", "fr-fr", "--no-play", "-o", "fr.wav")
    assert out.returncode == 0, out.stderr
    bad = cli("say", "x", "--voice", "no-such-voice", "--no-play")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1].startswith("error: HTTP 400")


def test_check_passes_on_the_builtin_server(cli):
    out = cli("check")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok     local: HTTP 200")


# --- other servers, configured by hand -------------------------------------------------


def test_openai_service_sends_exactly_the_spec_fields(cli, write_config, fault):
    path = write_config(
        "[[services]]\n"
        'name = "strict"\ntype = "openai"\n'
        f'url = "{fault.base}/strict"\n'
        'api_key = "$STRICT_KEY"\nvoice = "af_bella"\nmodel = "kokoro"\nformat = "wav"\n'
    )
    fault.requests.clear()
    out = cli("--config", str(path), "say", "It's \"fine\"", "--no-play", env={"STRICT_KEY": "sk-test-123"})
    assert out.returncode == 0, out.stderr
    req = fault.requests[-1]
    assert req.method == "POST" and req.path == "/strict/audio/speech"
    assert req.header("Authorization") == "Bearer sk-test-123"
    assert req.header("Content-Type") == "application/json"
    assert json.loads(req.body) == {
        "model": "kokoro", "input": "It's \"fine\"", "voice": "af_bella", "response_format": "wav", "speed": 1.0,
    }
    assert "sk-test-123" not in out.stderr + out.stdout


def test_openai_extra_fields_are_merged_and_a_strict_server_says_which(cli, write_config, fault):
    path = write_config(
        '[[services]]\nname = "strict"\n'
        f'url = "{fault.base}/strict"\n'
        'voice = "v"\nextra = { lang_code = "a" }\ntimeout = 5\n'
    )
    out = cli("--config", str(path), "say", "hi", "--no-play")
    assert out.returncode == 1
    assert json.loads(fault.requests[-1].body)["lang_code"] == "a"
    assert out.stderr.strip().startswith("error: HTTP 422")
    assert "lang_code" in out.stderr and "Extra inputs are not permitted" in out.stderr


TRICKY = 'She said "hi" \\ then\nleft\t— 😀 \u0001 </script> {{ text }}'


def test_http_json_template_gets_the_exact_text(cli, write_config, fault):
    path = write_config(http_service(f"{fault.base}/echo", '{"text": "{{ text }}", "speed": {{ speed }}}'))
    fault.requests.clear()
    out = cli("--config", str(path), "say", "-", "--no-play", input=TRICKY)
    assert out.returncode == 0, out.stderr
    sent = json.loads(fault.requests[-1].body)
    assert sent == {"text": TRICKY, "speed": 1.0}


def test_get_api_with_query_templates_gets_the_exact_text_url_encoded(cli, write_config, fault):
    path = write_config(
        http_service(f"{fault.base}/echo", method='"GET"', query='{ text = "{{ text }}", voice = "{{ voice }}" }', voice='"espeak:en"')
    )
    fault.requests.clear()
    text = "a&b=c ?#/ é 😀"
    out = cli("--config", str(path), "say", text, "--no-play")
    assert out.returncode == 0, out.stderr
    req = fault.requests[-1]
    assert req.method == "GET" and not req.body
    assert parse_qs(urlsplit(req.target).query) == {"text": [text], "voice": ["espeak:en"]}
    assert "%20" in req.target and "+" not in urlsplit(req.target).query


@pytest.mark.parametrize(
    "route, response, seconds",
    [
        ("/wav-as-html", '"body"', 0.1),
        ("/base64-json", '"json:audio"', 0.1),
        ("/nested-json", '"json:result.audio.data"', 0.1),
        ("/url-json", '"url:audio_url"', 0.2),
    ],
)
def test_answers_that_hold_audio_are_saved(cli, write_config, fault, tmp_path, route, response, seconds):
    path = write_config(http_service(f"{fault.base}{route}", '{"text": "{{ text }}"}', response=response))
    out = cli("--config", str(path), "say", "hi", "--no-play", "-o", "got.wav")
    assert out.returncode == 0, out.stderr
    assert duration(tmp_path / "got.wav") == pytest.approx(seconds, abs=0.01)


# --- every fault: one clear line, exit 1, within the timeout -----------------------------------

FAULTS = [
    ("/html500", "HTTP 500", "Kaboom: model not loaded"),
    ("/json400", "HTTP 400", ""),
    ("/detail422", "HTTP 422", ""),
    ("/truncated", "closed the connection", ""),
    ("/reset", "reset", ""),
    ("/close", "", ""),
    ("/endless?interval_ms=50", "did not finish within 2 s", ""),
    ("/slow?delay_ms=5000", "no answer from", ""),
    ("/status?code=200&type=application/json&body=%7B%22ok%22%3Atrue%7D", "not audio", ""),
]


@pytest.mark.parametrize("route, words, more", FAULTS)
def test_every_fault_ends_with_one_clear_line(cli, write_config, fault, route, words, more):
    path = write_config(
        "[[services]]\n" 'name = "f"\ntype = "http"\n' f'url = "{fault.base}{route}"\n' "timeout = 2\n"
        "body = '{\"text\": \"{{ text }}\"}'\n"
    )
    started = time.monotonic()
    out = cli("--config", str(path), "say", "hello", "--no-play")
    assert time.monotonic() - started < 2 + 8  # the timeout, plus interpreter start-up
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("error: ") and words in lines[0] and more in lines[0]
    assert "Traceback" not in out.stderr


def test_refused_connection(cli, write_config):
    path = write_config('[[services]]\nname = "gone"\nurl = "http://127.0.0.1:9/v1"\ntimeout = 2\n')
    out = cli("--config", str(path), "say", "hello", "--no-play")
    assert out.returncode == 1
    assert out.stderr.strip() == "error: connection refused by 127.0.0.1:9 — is the server running?"


def test_check_fails_with_exit_1(cli, write_config, fault):
    path = write_config(http_service(f"{fault.base}/html500", '{"text": "{{ text }}"}'))
    out = cli("--config", str(path), "check")
    assert out.returncode == 1
    assert out.stdout.startswith("FAILED t: HTTP 500")


# --- bad input ---------------------------------------------------------------------------


def test_template_error_sends_nothing_and_points_at_the_line(cli, write_config, fault):
    path = write_config(http_service(f"{fault.base}/echo", '{"text": "{{ text }}",\n "x": "{{ nope }}"}'))
    fault.requests.clear()
    out = cli("--config", str(path), "say", "hello", "--no-play")
    assert out.returncode == 1
    assert "unknown variable 'nope'" in out.stderr and "line 2" in out.stderr
    assert fault.requests == []


def test_config_error_gives_file_line_and_column(cli, write_config):
    path = write_config('[[services]]\nname = "x"\nspeed = "fast"\n')
    out = cli("--config", str(path), "say", "hello")
    assert out.returncode == 1
    assert out.stderr.startswith("error: no service works: config.toml line 3, column 9: services[0].speed must be a number")


def test_usage_errors_exit_2(cli):
    out = cli("say")
    assert out.returncode == 2 and "usage error" in out.stderr and "Traceback" not in out.stderr


def test_unknown_service_lists_the_known_ones(cli):
    out = cli("say", "hi", "-s", "nope")
    assert out.returncode == 1
    assert "no service named 'nope'" in out.stderr and "local" in out.stderr


# --- presets and serve -------------------------------------------------------------------------


def test_presets_list_and_block(cli, tmp_path):
    listing = cli("presets")
    assert listing.returncode == 0
    names = [line.split()[0] for line in listing.stdout.splitlines()]
    assert {"openai", "kokoro-fastapi", "xtts-api-server", "piper", "opentts"} <= set(names)
    block = cli("presets", "kokoro-fastapi")
    assert block.stdout.lstrip().startswith(("#", "[[services]]"))
    (tmp_path / "c.toml").write_text(block.stdout)
    from tts_tui.core.config import load

    assert load(tmp_path / "c.toml").services[0].name == "kokoro-fastapi"
    wrong = cli("presets", "kokoro")
    assert wrong.returncode == 1 and "did you mean" in wrong.stderr


def test_serve_runs_the_embedded_server_on_its_own(tmp_path):
    import os
    import socket
    import subprocess
    import sys

    import httpx

    from tests.conftest import ROOT

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "tts_tui", "serve", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        first = proc.stdout.readline()
        assert f"http://127.0.0.1:{port}" in first
        answer = httpx.post(f"http://127.0.0.1:{port}/v1/audio/speech", json={"input": "served", "voice": "en-us", "response_format": "wav"})
        assert answer.status_code == 200
        assert soundfile.info(io.BytesIO(answer.content)).frames > 0
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_a_server_without_a_voice_list_is_not_an_error(cli, write_config, fault):
    path = write_config(f'[[services]]\nname = "plain"\nurl = "{fault.base}/strict"\n')
    out = cli("--config", str(path), "voices")
    assert out.returncode == 0
    assert out.stderr.strip() == 'plain has no voice list; set voice = "..." to what the server accepts'


def test_a_configured_voices_url_that_fails_is_an_error(cli, write_config, fault):
    path = write_config(http_service(f"{fault.base}/echo", '{"text": "{{ text }}"}') + f'[services.voices]\nurl = "{fault.base}/html500"\n')
    out = cli("--config", str(path), "voices")
    assert out.returncode == 1
    assert out.stderr.startswith("error: HTTP 500")


def test_voices_from_a_configured_list(cli, write_config, fault):
    path = write_config(
        http_service(f"{fault.base}/echo", '{"text": "{{ text }}"}')
        + f'[services.voices]\nurl = "{fault.base}/voices?variant=objects"\nlabel = "{{{{ name }}}}"\nvalue = "{{{{ voice_id }}}}"\n'
    )
    out = cli("--config", str(path), "voices", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["voices"] == [
        {"id": "af_bella", "label": "Bella"}, {"id": "am_adam", "label": "Adam"}, {"id": "bf_emma", "label": "Emma"},
    ]


@pytest.mark.parametrize(
    "route, setting, seconds",
    [("/base64-json", "json:audio", 0.1), ("/nested-json", "json:result.audio.data", 0.1),
     ("/url-json", "url:audio_url", 0.2)],
)
def test_json_that_holds_audio_is_read_and_says_which_response_setting_reads_it(
    cli, write_config, fault, route, setting, seconds, tmp_path
):
    path = write_config(http_service(f"{fault.base}{route}", '{"text": "{{ text }}"}'))
    out = cli("--config", str(path), "say", "hi", "--no-play", "-o", str(tmp_path / "x.wav"))
    assert out.returncode == 0, out.stderr
    assert f'note: the answer is JSON with its audio at "{setting}"' in out.stderr
    assert soundfile.info(str(tmp_path / "x.wav")).duration == pytest.approx(seconds, abs=0.001)
