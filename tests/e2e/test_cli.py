"""The CLI end to end, in a real subprocess, against real servers on 127.0.0.1."""

from __future__ import annotations

import io
import json
import re
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import soundfile

from tests.playback_env import require_jack
from tests.servers import FaultServer


@pytest.fixture(scope="module")
def fault():
    with FaultServer() as server:
        yield server


def duration(path) -> float:
    info = soundfile.info(str(path))
    return info.frames / info.samplerate


def server_answer(server, text: str, voice: str) -> soundfile._SoundFileInfo:
    """What the embedded server answers to what the built-in service sends
    (its defaults: tts-1, wav, speed 1.0): a WAV's format, rate and duration."""
    answer = httpx.post(f"{server.openai_url}/audio/speech", timeout=60,
                        json={"model": "tts-1", "input": text, "voice": voice, "response_format": "wav", "speed": 1.0})
    assert answer.status_code == 200, answer.text
    return soundfile.info(io.BytesIO(answer.content))


# espeak-ng's answers to one request differ by up to ~10 ms from run to run
SAME_TEXT_SECONDS = 0.02


def assert_same_audio(path, expected: soundfile._SoundFileInfo) -> None:
    """`path` is a WAV like the server's answer `expected`: its rate, its
    channels, its duration (to espeak-ng's run-to-run jitter)."""
    got = soundfile.info(str(path))
    assert (got.format, got.samplerate, got.channels) == ("WAV", expected.samplerate, expected.channels), got
    assert got.duration == pytest.approx(expected.duration, abs=SAME_TEXT_SECONDS)


def http_service(url: str, body: str = "", **keys: str) -> str:
    lines = ["[[services]]", 'name = "t"', 'type = "http"', f'url = "{url}"', "timeout = 5"]
    lines += [f"{k} = {v}" for k, v in keys.items()]
    if body:
        lines.append(f"body = '''\n{body}\n'''")
    return "\n".join(lines) + "\n"


# --- out of the box --------------------------------------------------------------


def test_first_run_speaks_with_the_builtin_voice_and_writes_a_commented_config(
    cli, tmp_path, isolated_home, embedded_server
):
    # no sound here (output "none"): the last line says why it was silent
    short = cli("say", "Hello there", "-o", "short.wav", env={"TTS_TUI_OUTPUT": "none"})
    assert short.returncode == 0, short.stderr
    created = isolated_home / "config" / "tts-tui" / "config.toml"
    lines = short.stderr.splitlines()
    assert lines[0] == f"created a commented config file at {created}"
    assert lines[1].startswith("local: HTTP 200 · ") and lines[1].endswith(" → short.wav"), lines
    assert lines[2:] == ["silent: output is set to none"]
    text = created.read_text()
    assert "# Each [[services]] block is one TTS endpoint." in text
    assert 'url = "builtin"                  # "builtin" = the embedded espeak-ng server' in text
    from tts_tui.core.config import load

    assert [(s.name, s.url, s.voice) for s in load(created).services] == [("local", "builtin", "en-us")]
    assert_same_audio(tmp_path / "short.wav", server_answer(embedded_server, "Hello there", "en-us"))
    long = cli("say", "Hello there. " + "This sentence makes the audio much longer. " * 4, "-o", "long.wav", "--no-play")
    assert long.returncode == 0, long.stderr
    assert "created" not in long.stderr  # the second run reads the file the first one wrote
    assert 0.3 < duration(tmp_path / "short.wav") < duration(tmp_path / "long.wav") / 3


@pytest.mark.playback
def test_say_plays_on_the_default_device_and_says_so(cli, tmp_path):
    require_jack()
    out = cli("say", "Hello there, this plays to the end.", "-o", "heard.wav", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert (data["played"], data["silent_reason"]) == (True, None)
    assert "silent:" not in out.stderr
    assert data["audio_s"] == pytest.approx(duration(tmp_path / "heard.wav"), abs=0.001)


def test_json_output_has_the_metric_names(cli, tmp_path):
    out = cli("say", "Metrics please", "--no-play", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for key in ("connect_ms", "ttfb_ms", "ttfa_ms", "total_ms", "bytes", "audio_s", "rtf", "status", "content_type", "format"):
        assert key in data
    assert data["status"] == 200 and data["format"] == "wav" and data["audio_s"] > 0.3
    assert data["content_type"] == "audio/wav"
    assert 0 <= data["connect_ms"] <= data["ttfb_ms"] <= data["ttfa_ms"] <= data["total_ms"]
    assert data["rtf"] == pytest.approx(data["total_ms"] / 1000 / data["audio_s"], rel=0.01)
    # 16-bit mono: the bytes counted are the samples plus a header
    assert 0 < data["bytes"] - data["audio_s"] * 22050 * 2 < 100


def test_text_from_stdin(cli, tmp_path, embedded_server):
    out = cli("say", "-", "--no-play", "-o", "stdin.wav", input="Read from standard input.")
    assert out.returncode == 0, out.stderr
    assert_same_audio(tmp_path / "stdin.wav", server_answer(embedded_server, "Read from standard input.", "en-us"))


def test_voices_of_the_builtin_server(cli):
    out = cli("voices", "--json")
    assert out.returncode == 0, out.stderr
    ids = [v["id"] for v in json.loads(out.stdout)["voices"]]
    assert "en-us" in ids and len(ids) > 20


def test_voice_override(cli, tmp_path, embedded_server):
    text = "Bonjour tout le monde"
    out = cli("say", text, "--voice", "fr-fr", "--no-play", "-o", "fr.wav")
    assert out.returncode == 0, out.stderr
    french = server_answer(embedded_server, text, "fr-fr")
    assert_same_audio(tmp_path / "fr.wav", french)  # the French voice's answer
    english = server_answer(embedded_server, text, "en-us")
    # (and not the default voice's: the same text lasts a good deal longer in English)
    assert abs(english.duration - french.duration) > 10 * SAME_TEXT_SECONDS
    bad = cli("say", "x", "--voice", "no-such-voice", "--no-play")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1] == (
        "error: HTTP 400 Bad Request: unknown voice 'no-such-voice'; "
        "GET /v1/audio/voices lists them, e.g. en-us, en-gb, de, fr-fr, es")


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

# The whole line each fault gives (a regular expression; {where} is the
# server's host:port): what failed and why, in words a user can act on.
FAULTS = [
    ("/html500", r"HTTP 500 Internal Server Error: Kaboom: model not loaded"),
    ("/json400", r"HTTP 400 Bad Request: Invalid voice 'nobody'\. Choose one of: alloy, echo\."),
    ("/detail422", r"HTTP 422 Unprocessable Entity: input: Field required"),
    ("/truncated", r"the server closed the connection after 2227 of 4454 bytes"),
    ("/reset", r"the connection was reset by the server"),
    ("/close", r"{where} closed the connection without answering"),
    # the timeout (2 s) ends both: the slow server would answer at 5 s, the
    # endless one never (a client without a timeout hangs until cli()'s own)
    ("/endless?interval_ms=50", r"the answer did not finish within 2 s \(cut after \d+ bytes\)"),
    ("/slow?delay_ms=5000", r"no answer from {where} within 2 s"),
    ("/status?code=200&type=application/json&body=%7B%22ok%22%3Atrue%7D",
     r'the answer is JSON, not audio: \{"ok":true\}; if the audio is inside, set response = "json:PATH" or "url:PATH"'),
]


@pytest.mark.parametrize("route, line", FAULTS)
def test_every_fault_ends_with_one_clear_line(cli, write_config, fault, route, line):
    path = write_config(
        "[[services]]\n" 'name = "f"\ntype = "http"\n' f'url = "{fault.base}{route}"\n' "timeout = 2\n"
        "body = '{\"text\": \"{{ text }}\"}'\n"
    )
    out = cli("--config", str(path), "say", "hello", "--no-play")
    assert out.returncode == 1
    expected = "error: " + line.replace("{where}", re.escape(f"127.0.0.1:{fault.port}"))
    assert re.fullmatch(expected + "\n", out.stderr), out.stderr  # that one line and nothing else: no traceback
    assert out.stdout == ""


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


@pytest.mark.parametrize("args, line", [
    (["say"], "error: tts-tui say: the following arguments are required: text (try: tts-tui say --help)"),
    (["say", "hi", "--frobnicate"], "error: tts-tui: unrecognized arguments: --frobnicate (try: tts-tui --help)"),
    # (the list of commands in between is argparse's: its quoting differs between Python versions)
    (["speak", "hi"], r"error: tts-tui: argument COMMAND: invalid choice: 'speak' \(choose from .*'?batch'?\) "
                      r"\(try: tts-tui --help\)"),
    (["ssh", "-p"], "error: ssh option -p needs a value"),
    (["--init", "ssh", "box"], "error: tts-tui ssh: only --config may come before ssh; the remote tts-tui's "
                               "options go after -- (try: tts-tui ssh HOST -- --init)"),
])
def test_usage_errors_are_one_line_and_exit_2(cli, isolated_home, args, line):
    out = cli(*args)
    assert out.returncode == 2
    expected = line if args[0] == "speak" else re.escape(line)
    assert re.fullmatch(expected + "\n", out.stderr), out.stderr  # one line: no usage block, no traceback
    assert out.stdout == ""
    assert not (isolated_home / "config").exists()  # refused before any config is read or created


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
    assert wrong.returncode == 1
    assert wrong.stderr.startswith("error: no preset named 'kokoro'; did you mean 'kokoro-fastapi'? known presets: ")
    assert wrong.stderr.count("\n") == 1


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
