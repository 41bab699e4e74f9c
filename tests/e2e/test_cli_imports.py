"""The command line loads only what a subcommand uses (issue 11).

Each case runs the real CLI in a fresh interpreter through a small wrapper
that, once `main()` returns, prints which heavy modules ended up in
`sys.modules`: `--version` loads none of them (`--help` only argparse), and
`say --no-play -o file.wav` with a WAV answer from a plain http:// server loads
neither numpy, nor the template engine, nor httpx, nor asyncio and ssl.
Speed itself is measured by benchmarks/cli_speed.py, not here.
"""

from __future__ import annotations

import gc
import json
import os
import struct
import subprocess
import sys
import wave

from tests.conftest import ROOT
from tests.servers import FaultServer

HEAVY = ("numpy", "httpx", "jinja2", "textual", "tomlkit", "av", "soundfile", "sounddevice", "asyncio", "ssl",
         "argparse", "tts_tui.core.speech")
WRAPPER = f"""
import gc, json, os, sys
from tts_tui.cli import entry  # what the tts-tui script and python -m tts_tui run
try:
    code = entry()
except SystemExit as exc:
    code = exc.code
sys.stdout.flush()
print(json.dumps({{"code": code, "loaded": [m for m in {HEAVY!r} if m in sys.modules],
                  "blas": os.environ.get("OPENBLAS_NUM_THREADS"),
                  "collecting": gc.isenabled(), "frozen": gc.get_freeze_count()}}), file=sys.stderr)
"""


def run_cli(tmp_path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.CompletedProcess, dict]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full_env.pop("OPENBLAS_NUM_THREADS", None)
    full_env.update(env or {})
    out = subprocess.run([sys.executable, "-c", WRAPPER, *args], capture_output=True, text=True,
                         timeout=60, env=full_env, cwd=tmp_path)
    report = json.loads(out.stderr.strip().splitlines()[-1])
    return out, report


def test_version_and_help_load_nothing_heavy(tmp_path):
    out, report = run_cli(tmp_path, "--version")
    assert out.stdout == "tts-tui 0.1.0\n" and report["code"] == 0
    assert report["loaded"] == []
    out, report = run_cli(tmp_path, "--help")
    assert "say" in out.stdout and "bench" in out.stdout and report["code"] == 0
    assert report["loaded"] == ["argparse"]


def openai_config(write_config, url: str) -> str:
    return str(write_config(
        '[audio]\noutput = "none"\n\n[[services]]\nname = "local"\ntype = "openai"\n'
        f'url = "{url}"\nvoice = "en-us"\nformat = "wav"\n'
    ))


def test_say_to_a_wav_file_needs_no_numpy_templates_httpx_nor_an_event_loop(tmp_path, write_config,
                                                                          embedded_server):
    config = openai_config(write_config, embedded_server.openai_url)
    out, report = run_cli(tmp_path, "--config", config, "say", "Hello there.", "--no-play", "-o", "hi.wav", "--json")
    assert report["code"] == 0, out.stderr
    assert not {"numpy", "jinja2", "httpx", "asyncio", "ssl"} & set(report["loaded"])
    assert "tts_tui.core.speech" in report["loaded"]  # the wrapper sees what the command did load
    # one request to a file: the cycle collector never ran, and exit walks nothing
    assert report["collecting"] is False and report["frozen"] > 10_000
    metrics = json.loads(out.stdout)
    saved = (tmp_path / "hi.wav").read_bytes()
    with wave.open(str(tmp_path / "hi.wav")) as wav:  # a WAV every player reads: its sizes are exact
        frames, rate = wav.getnframes(), wav.getframerate()
    assert struct.unpack_from("<I", saved, 4)[0] == len(saved) - 8
    assert metrics["audio_s"] == round(frames / rate, 3) and metrics["bytes"] == len(saved)
    assert metrics["ttfb_ms"] <= metrics["ttfa_ms"] <= metrics["total_ms"]


def pcm_config(write_config, srv: FaultServer) -> str:
    return str(write_config(
        '[audio]\noutput = "none"\n\n[[services]]\nname = "t"\ntype = "http"\n'
        f'url = "{srv.url("/pcm?seconds=0.2")}"\nbody = \'{{"text": "{{{{ text }}}}"}}\'\n'
        'content_type = "audio/pcm"\n'
    ))


def test_raw_pcm_saved_as_wav_needs_no_numpy(tmp_path, write_config):
    with FaultServer() as srv:
        out, report = run_cli(tmp_path, "--config", pcm_config(write_config, srv), "say", "Hi.", "--no-play",
                              "-o", "a.wav")
        sent = srv.requests[-1]
    assert report["code"] == 0, out.stderr
    assert not {"numpy", "soundfile"} & set(report["loaded"])
    with wave.open(str(tmp_path / "a.wav")) as wav:  # the server's samples, behind a WAV header
        assert (wav.getframerate(), wav.getnframes(), wav.getsampwidth()) == (24000, 4800, 2)
        assert len(wav.readframes(4800)) == 9600 and sent.path == "/pcm"


def test_an_http_body_whose_tags_name_variables_needs_no_template_engine(tmp_path, write_config):
    with FaultServer() as srv:
        config = str(write_config(
            '[audio]\noutput = "none"\n\n[[services]]\nname = "h"\ntype = "http"\n'
            f'url = "{srv.url("/wav")}"\n'
            'body = \'{"input": "{{ text }}", "voice": "{{ voice }}", "speed": {{ speed }}}\'\n'
            'voice = "en-us"\nspeed = 1.25\n'
        ))
        out, report = run_cli(tmp_path, "--config", config, "say", 'Say "hi"', "--no-play", "-o", "h.wav")
        sent = srv.requests[-1]
    assert report["code"] == 0, out.stderr
    assert not {"jinja2", "numpy", "httpx", "asyncio"} & set(report["loaded"])
    assert json.loads(sent.body) == {"input": 'Say "hi"', "voice": "en-us", "speed": 1.25}
    assert dict((k.lower(), v) for k, v in sent.headers)["content-type"] == "application/json"


def test_a_command_that_runs_on_collects_past_what_start_up_made(tmp_path, write_config, embedded_server):
    config = openai_config(write_config, embedded_server.openai_url)
    out, report = run_cli(tmp_path, "--config", config, "bench", "-n", "2", "--json")
    assert report["code"] == 0, out.stderr
    assert report["collecting"] is True and report["frozen"] > 10_000


def test_main_called_in_this_process_leaves_the_collector_alone(tmp_path, write_config, embedded_server):
    from tts_tui.cli import main

    config = openai_config(write_config, embedded_server.openai_url)
    frozen = gc.get_freeze_count()
    assert main(["--config", config, "say", "Hi.", "--no-play", "-o", str(tmp_path / "a.wav")]) == 0
    assert gc.isenabled() and gc.get_freeze_count() == frozen  # only `entry` holds it


def test_numpy_is_kept_to_one_blas_thread_unless_the_user_says(tmp_path, write_config):
    with FaultServer() as srv:
        config = pcm_config(write_config, srv)
        # raw PCM saved as .flac is encoded from samples: numpy is loaded
        out, report = run_cli(tmp_path, "--config", config, "say", "Hi.", "--no-play", "-o", "a.flac")
        assert report["code"] == 0, out.stderr
        assert "numpy" in report["loaded"] and report["blas"] == "1"
        out, report = run_cli(tmp_path, "--config", config, "say", "Hi.", "--no-play", "-o", "b.flac",
                              env={"OPENBLAS_NUM_THREADS": "3"})
        assert report["code"] == 0, out.stderr
        assert report["blas"] == "3"
