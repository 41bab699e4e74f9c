"""`tts-tui batch` end to end: a real subprocess against test servers on 127.0.0.1
that fail one request in N or answer slowly; the files on disk are what counts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.servers import FaultServer


def config_for(write_config, route: str, *, extra_service: str = "") -> Path:
    return write_config(
        '[[services]]\nname = "t"\ntype = "http"\n'
        f'url = "{route}"\ntimeout = 10\nvoice = "default-voice"\n'
        'body = \'{"text": "{{ text }}", "voice": "{{ voice }}"}\'\n' + extra_service)


def script(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "script.txt"
    path.write_text("".join(f"Line number {i}.\n" for i in range(1, n + 1)), encoding="utf-8")
    return path


def test_200_rows_with_3_failures_write_197_files_then_a_rerun_finishes(cli, write_config, tmp_path):
    out_dir = tmp_path / "out"
    with FaultServer() as srv:
        config = config_for(write_config, f"{srv.base}/one-in/audio/speech?n=66&k=0.001")
        first = cli("--config", str(config), "batch", str(script(tmp_path, 200)), "-o", str(out_dir), "-c", "4",
                    "--json")
        assert first.returncode == 1
        lines = [json.loads(line) for line in first.stdout.splitlines()]
        summary = lines[-1]
        assert summary["summary"] and summary["rows"] == 200 and summary["written"] == 197
        assert len(summary["failed"]) == 3
        assert all("HTTP 500" in f["error"] and "engine crashed" in f["error"] for f in summary["failed"])
        failed_ids = {f["id"] for f in summary["failed"]}
        files = sorted(p.name for p in out_dir.iterdir())
        assert len(files) == 197 and all(f.endswith(".wav") for f in files)
        assert not failed_ids & {f[:-4] for f in files}
        assert "error: 3 of 200 rows failed" in first.stderr
        assert (out_dir / "001.wav").read_bytes()[:4] == b"RIFF"

        # resumed: only the three missing rows are sent again (the server fails the 264th next)
        sent_before = len(srv.texts)
        again = cli("--config", str(config), "batch", str(script(tmp_path, 200)), "-o", str(out_dir))
        assert again.returncode == 0, again.stderr
        assert len(srv.texts) - sent_before == 3
        assert sorted(srv.texts[sent_before:]) == sorted(f"Line number {int(i)}." for i in failed_ids)
        assert len(list(out_dir.iterdir())) == 200
        assert "3 written, 197 skipped" in again.stderr


def test_an_interrupted_batch_resumes_without_redoing_finished_rows(write_config, tmp_path):
    out_dir = tmp_path / "out"
    rows = script(tmp_path, 60)
    with FaultServer() as srv:
        # a whole-file server at half real time, 0.5 s of audio a row: 1 s each, so
        # the 50 rows left after the tenth take ~25 s and the interrupt lands mid-batch
        config = config_for(write_config, f"{srv.base}/paced/audio/speech?k=0.03&speedup=0.5")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen([sys.executable, "-m", "tts_tui", "--config", str(config), "batch", str(rows),
                                 "-o", str(out_dir), "-c", "2"], env=env, cwd=tmp_path,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (not out_dir.exists() or len(list(out_dir.glob("*.wav"))) < 10):
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert "error: interrupted" in err and "Traceback" not in err
        done = {p.stem for p in out_dir.glob("*.wav")}
        assert 10 <= len(done) < 60
        assert not [p for p in out_dir.iterdir() if p.suffix != ".wav"]  # no partial file left behind
        sent_first = len(srv.texts)

        # the same server at 5x real time (0.1 s a row) for the rest: only the rows' files count
        config = config_for(write_config, f"{srv.base}/paced/audio/speech?k=0.03")
        resumed = subprocess.run([sys.executable, "-m", "tts_tui", "--config", str(config), "batch", str(rows),
                                  "-o", str(out_dir), "-c", "2"], env=env, cwd=tmp_path,
                                 capture_output=True, text=True, timeout=60)
        assert resumed.returncode == 0, resumed.stderr
        redone = srv.texts[sent_first:]
        assert sorted(redone) == sorted(f"Line number {i}." for i in range(1, 61) if f"{i:02d}" not in done)
        assert len({p.stem for p in out_dir.glob("*.wav")}) == 60
        # --force redoes them all
        forced = subprocess.run([sys.executable, "-m", "tts_tui", "--config", str(config), "batch", str(rows),
                                 "-o", str(out_dir), "-c", "4", "--force"], env=env, cwd=tmp_path,
                                capture_output=True, text=True, timeout=60)
        assert forced.returncode == 0 and len(srv.texts) == sent_first + len(redone) + 60


def test_csv_rows_name_their_files_voices_and_services(cli, write_config, tmp_path):
    with FaultServer() as srv, FaultServer() as other:
        config = config_for(
            write_config, f"{srv.base}/limit/audio/speech?k=0.001",
            extra_service=('\n[[services]]\nname = "other"\ntype = "http"\n'
                           f'url = "{other.base}/limit/audio/speech?k=0.001"\n'
                           'body = \'{"text": "{{ text }}", "voice": "{{ voice }}"}\'\n'))
        table = tmp_path / "lines.csv"
        table.write_text('id,text,voice,service\nintro,"Hello, and welcome.",narrator,\n'
                         'q1,"Is it ""quoted""?",,other\n../escape,Sneaky.,,\n', encoding="utf-8")
        out = cli("--config", str(config), "batch", str(table), "-o", str(tmp_path / "out"), "--format", "flac")
        assert out.returncode == 0, out.stderr
        names = sorted(p.name for p in (tmp_path / "out").iterdir())
        assert names == ["escape.flac", "intro.flac", "q1.flac"]  # an id never leaves the folder
        assert (tmp_path / "out" / "intro.flac").read_bytes()[:4] == b"fLaC"
        bodies = {json.loads(r.body)["text"]: json.loads(r.body)["voice"] for r in srv.requests}
        assert bodies == {"Hello, and welcome.": "narrator", "Sneaky.": "default-voice"}
        assert [json.loads(r.body)["text"] for r in other.requests] == ['Is it "quoted"?']


@pytest.mark.parametrize("content, message", [
    ("id,text,service\na,Hi,nowhere\n", "line 2: no service named 'nowhere'"),
    ("id,text\na,Hi\na,Again\n", "id 'a' is also on line 2"),
    ("text,voice\nno id column,v\n", "no id column"),
    ("just a line\n", "the first line must name the columns"),
    ("\n\n", "has no text to speak"),
])
def test_a_bad_script_is_refused_before_anything_is_sent(cli, write_config, tmp_path, content, message):
    with FaultServer() as srv:
        config = config_for(write_config, f"{srv.base}/limit/audio/speech")
        table = tmp_path / "bad.csv"
        table.write_text(content, encoding="utf-8")
        out = cli("--config", str(config), "batch", str(table), "-o", str(tmp_path / "out"))
        assert out.returncode == 1
        assert out.stderr.strip().splitlines()[-1].startswith("error: ") and message in out.stderr
        assert srv.requests == []


def test_the_answer_cache_replays_without_a_request_and_never_stores_the_key(cli, write_config, tmp_path):
    cache = tmp_path / "cache"
    env = {"XDG_CACHE_HOME": str(cache), "BATCH_KEY": "sk-secret-value-123"}
    with FaultServer() as srv:
        config = write_config(
            '[[services]]\nname = "t"\ntype = "http"\n'
            f'url = "{srv.base}/limit/audio/speech?k=0.002"\n'
            'headers = { Authorization = "Bearer $BATCH_KEY" }\nbody = \'{"text": "{{ text }}"}\'\n')
        rows = script(tmp_path, 5)
        first = cli("--config", str(config), "batch", str(rows), "-o", str(tmp_path / "a"), "--cache", env=env)
        assert first.returncode == 0, first.stderr
        assert len(srv.requests) == 5
        assert srv.requests[0].header("authorization") == "Bearer sk-secret-value-123"
        again = cli("--config", str(config), "batch", str(rows), "-o", str(tmp_path / "b"), "--cache", "--json",
                    env=env)
        assert again.returncode == 0, again.stderr
        assert len(srv.requests) == 5  # nothing sent: every answer came from the cache
        lines = [json.loads(line) for line in again.stdout.splitlines()[:-1]]
        assert all(any("cached answer" in note for note in line["notes"]) for line in lines)
        for name in ("1.wav", "3.wav", "5.wav"):
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
        stored = b"".join(p.read_bytes() for p in cache.rglob("*") if p.is_file())
        assert stored and b"sk-secret-value-123" not in stored and b"Bearer" not in stored
        # another key is another request: not answered from the cache
        other = cli("--config", str(config), "batch", str(rows), "-o", str(tmp_path / "c"), "--cache",
                    env={**env, "BATCH_KEY": "sk-another"})
        assert other.returncode == 0 and len(srv.requests) == 10
        # without --cache nothing is reused
        cli("--config", str(config), "batch", str(rows), "-o", str(tmp_path / "d"), env=env)
        assert len(srv.requests) == 15
