"""`tts-tui compare` end to end: a real subprocess against test servers on
127.0.0.1 whose answers are known in advance (a tone of len(text) * 0.01 s at
24 kHz), one of them slow on its first request."""

from __future__ import annotations

import json

from tests.servers import FaultServer

TEXT = "Hello there, world."  # 19 characters: 0.19 s of audio, 4560 samples


def service_block(name: str, url: str) -> str:
    return (f'[[services]]\nname = "{name}"\ntype = "http"\nurl = "{url}"\ntimeout = 10\nvoice = "v0"\n'
            'body = \'{"text": "{{ text }}", "voice": "{{ voice }}"}\'\n\n')


def test_one_column_per_service_with_the_right_figures(cli, write_config, tmp_path):
    with FaultServer() as quick, FaultServer() as slow:
        config = write_config(service_block("quick", f"{quick.base}/limit/audio/speech")
                              + service_block("slow", f"{slow.base}/slow-first/audio/speech?delay_ms=1500"))
        out = cli("--config", str(config), "compare", TEXT, "-s", "quick", "-s", "slow", "--no-play", "--json",
                  "-o", str(tmp_path / "takes"))
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        assert [c["label"] for c in doc["columns"]] == ["quick", "slow"]
        for column in doc["columns"]:
            assert column["errors"] == 0 and column["takes"] == 1
            assert column["format"] == "wav" and column["rate"] == 24000
            assert column["bytes"] == 44 + 4560 * 2
            assert column["metrics"]["audio_s"]["p50"] == 0.19
            m = column["metrics"]
            assert m["ttfb_ms"]["p50"] <= m["ttfa_ms"]["p50"] <= m["total_ms"]["p50"]
            assert (tmp_path / "takes" / f"{column['label']}.wav").read_bytes()[:4] == b"RIFF"
            assert column["file"].endswith(f"{column['label']}.wav")
        slow_col = doc["columns"][1]
        assert slow_col["metrics"]["ttfb_ms"]["p50"] >= 1500  # the server held its answer that long
        assert doc["fastest_first_audio"] == "quick"
        assert len(quick.requests) == len(slow.requests) == 1  # one after another, once each


HELD_MS = 2000  # how long the slow server holds its first answer


def test_rounds_give_a_p50_and_a_spread(cli, write_config):
    with FaultServer() as quick, FaultServer() as slow:
        config = write_config(service_block("quick", f"{quick.base}/limit/audio/speech")
                              + service_block("slow", f"{slow.base}/slow-first/audio/speech?delay_ms={HELD_MS}"))
        out = cli("--config", str(config), "compare", TEXT, "-s", "quick", "-s", "slow", "--rounds", "3",
                  "--no-play")
        assert out.returncode == 0, out.stderr
        lines = out.stdout.splitlines()
        assert lines[0].split() == ["quick", "slow"]
        table = {line.rsplit(None, 2)[0].strip(): line.split()[-2:] for line in lines[1:] if "  " in line}
        assert table["audio_s p50"] == ["0.190", "0.190"] and table["audio_s spread"] == ["0.000", "0.000"]
        # only the first of three requests was slow: the middle value is a quick
        # one (below the time the server held the slow one, which a request to
        # 127.0.0.1 only reaches when something hangs), and p50 + spread, at
        # least the largest value, shows the slow one
        p50, spread = float(table["ttfb_ms p50"][1]), float(table["ttfb_ms spread"][1])
        assert p50 < HELD_MS
        assert p50 + spread >= HELD_MS - 1
        assert table["errors"] == ["0/3", "0/3"]
        assert len(quick.requests) == len(slow.requests) == 3


def test_voices_of_one_service_are_columns_and_a_failing_one_shows_its_error(cli, write_config):
    with FaultServer() as srv:
        config = write_config(service_block("t", f"{srv.base}/limit/audio/speech")
                              + service_block("broken", f"{srv.base}/status?code=500&type=text/plain&body=no+GPU"))
        out = cli("--config", str(config), "compare", TEXT, "-s", "t", "--voice", "t=alice", "--voice", "t=bob",
                  "-s", "broken", "--no-play", "--json")
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        assert [c["label"] for c in doc["columns"]] == ["t/alice", "t/bob", "broken"]
        voices = [json.loads(r.body)["voice"] for r in srv.requests if r.path.startswith("/limit")]
        assert voices == ["alice", "bob"]
        broken = doc["columns"][2]
        assert broken["errors"] == 1 and "HTTP 500" in broken["error_messages"][0]
        assert "no GPU" in broken["error_messages"][0]


def test_usage_mistakes_are_one_line_errors(cli, write_config):
    config = write_config(service_block("a", "http://127.0.0.1:9/x") + service_block("b", "http://127.0.0.1:9/y"))
    for args, message in [
        (["-s", "a"], "compare needs at least two services or voices"),
        (["-s", "a", "-s", "b", "--voice", "c=x"], "--voice for 'c', which is not compared"),
        (["-s", "a", "-s", "b", "--voice", "a"], "write SERVICE=VOICE"),
        (["-s", "a", "-s", "zzz"], "no service named 'zzz'"),
    ]:
        out = cli("--config", str(config), "compare", "hi", *args, "--no-play")
        assert out.returncode == 1, args
        assert out.stderr.strip().startswith("error: ") and message in out.stderr, out.stderr
        assert "Traceback" not in out.stderr
