"""Long texts spoken in pipelined chunks, against real servers on 127.0.0.1:
the embedded espeak-ng server (audio length grows with the text) and test
servers that refuse long inputs or synthesise a whole file at 5x real time."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.playback_env import require_jack
from tests.servers import FaultServer
from tts_tui.core.client import HttpClient
from tts_tui.core.model import Service
from tts_tui.core.player import Player
from tts_tui.core.speech import speak
from tts_tui.core.utterance import SEAM_PAUSE_S, input_limit, plan, speak_long

SENTENCES = [
    "The committee met on Tuesday to discuss the budget.",
    "Dr. Alvarez presented figures showing a rise of 3.5 percent, e.g. in travel costs.",
    "Nobody in the U.S. office had expected it.",
    "After a long pause, the chair asked for questions!",
    "Was the rise temporary, or would it last into the next year?",
    "The answer, as usual, depended on whom you asked.",
]


def long_text(chars: int) -> str:
    out, i = [], 0
    while sum(len(s) + 1 for s in out) < chars:
        out.append(SENTENCES[i % len(SENTENCES)])
        i += 1
    return " ".join(out)


def longest_silence(samples: np.ndarray, rate: int) -> float:
    """The longest run of samples below -50 dBFS inside the audio (edges excluded), in seconds."""
    loud = np.flatnonzero(np.abs(samples).max(axis=1) > 10 ** (-50 / 20))
    return float(np.diff(loud).max() - 1) / rate if len(loud) > 1 else 0.0


@pytest.fixture
async def client():
    made = HttpClient()
    yield made
    await made.aclose()


async def test_a_20000_character_text_split_sounds_as_long_as_unsplit(embedded_server, client):
    # flac: the unsplit answer as WAV would pass the 50 MB answer cap
    service = Service(name="local", url=embedded_server.openai_url, voice="en-us", format="flac",
                      split="sentence", timeout=120)
    text = long_text(20_000)
    whole = await speak(service, text, client=client)
    assert whole.ok, whole.error
    split = await speak_long(service, text, client=client)
    assert split.ok, split.error
    assert len(split.chunks) > 10 and split.chunks[0] == SENTENCES[0]
    assert len(split.results) == len(split.chunks)
    assert split.audio.rate == whole.audio.rate
    assert split.audio.duration == pytest.approx(whole.audio.duration, rel=0.03)
    # no gap longer than espeak leaves between two sentences of one answer
    assert longest_silence(split.audio.samples, split.audio.rate) <= (
        longest_silence(whole.audio.samples, whole.audio.rate) + 0.02)
    # no click: no jump between two samples bigger than the unsplit audio has
    jump = lambda a: float(np.abs(np.diff(a.samples[:, 0])).max())  # noqa: E731
    assert jump(split.audio) <= jump(whole.audio) * 1.05


def limited(srv: FaultServer, server_max: int, **fields) -> Service:
    return Service(name="t", type="http", url=f"{srv.base}/limit/audio/speech?max={server_max}",
                   body='{"text": "{{ text }}"}', timeout=10, **fields)


async def test_no_chunk_exceeds_max_chars_on_a_server_that_refuses_longer(client):
    text = long_text(3000)
    with FaultServer() as srv:
        refused = await speak(limited(srv, 300), text, client=client)
        assert refused.exchange.status == 413  # the server does refuse a text this long
        utterance = await speak_long(limited(srv, 300, split="sentence", max_chars=300), text, client=client)
        assert utterance.ok, utterance.error
        sent = srv.texts[1:]
    assert len(sent) == len(utterance.chunks) > 10
    assert max(len(t) for t in sent) <= 300
    assert sorted(sent) == sorted(utterance.chunks)  # two in flight: they may arrive in either order
    assert " ".join(utterance.chunks).split() == text.split()  # every word, in order, none cut


def test_say_split_respects_a_limit_the_server_enforces(cli, write_config):
    with FaultServer() as srv:
        path = write_config(
            '[[services]]\nname = "limited"\ntype = "http"\n'
            f'url = "{srv.base}/limit/audio/speech?max=500"\nbody = \'{{"text": "{{{{ text }}}}"}}\'\n'
            'max_chars = 500\ntimeout = 10\n')
        text = long_text(4000)
        out = cli("--config", str(path), "say", "--no-play", "--json", text)
        assert out.returncode == 0, out.stderr
        doc = json.loads(out.stdout)
        assert doc["error"] is None and doc["chunks"] == len(srv.texts) > 8
        assert all(len(t) <= 500 for t in srv.texts)
        assert all(part["status"] == 200 and part["chars"] <= 500 for part in doc["parts"])
        # split = "none" (the default) still cuts at sentences, only as much as the limit needs
        assert min(len(t) for t in srv.texts[:-1]) > 250


def test_say_reports_the_failed_chunk_in_one_line(cli, write_config):
    with FaultServer() as srv:
        path = write_config(
            '[[services]]\nname = "limited"\ntype = "http"\n'
            f'url = "{srv.base}/limit/audio/speech?max=100"\nbody = \'{{"text": "{{{{ text }}}}"}}\'\n'
            'max_chars = 200\ntimeout = 10\n')
        out = cli("--config", str(path), "say", "--no-play", "--split", long_text(1000))
        assert out.returncode == 1
        last = out.stderr.strip().splitlines()[-1]
        assert last.startswith("error: chunk ") and "HTTP 413" in last and "at most 100 characters" in last
        assert "Traceback" not in out.stderr


def paced_service(srv: FaultServer, split: str) -> Service:
    # a whole-file server at 5x real time: 0.01 s of audio per character
    return Service(name="paced", url=f"{srv.base}/paced", voice="v", split=split, timeout=60)


async def test_first_audio_comes_after_the_first_sentence_not_the_whole_text(client):
    text = long_text(3000)
    whole_wait = len(text) * 0.01 / 5  # what the server takes for the whole text
    with FaultServer() as srv:
        utterance = await speak_long(paced_service(srv, "sentence"), text, client=client)
    assert utterance.ok, utterance.error
    first_wait = len(utterance.chunks[0]) * 0.01 / 5
    assert utterance.ttfa_ms / 1000 >= first_wait  # the server cannot answer sooner
    assert utterance.ttfa_ms / 1000 < whole_wait / 4
    # every chunk's audio, joined by one seam pause each (the tone itself has no silence)
    assert utterance.audio.duration == pytest.approx(
        sum(max(0.05, len(c) * 0.01) for c in utterance.chunks) + SEAM_PAUSE_S * (len(utterance.chunks) - 1),
        abs=0.01 * len(utterance.chunks))


@pytest.mark.playback
async def test_a_long_text_plays_early_on_one_stream_without_underruns(client):
    require_jack()
    text = long_text(1500)
    with FaultServer() as srv:
        player = Player("default")
        try:
            utterance = await speak_long(paced_service(srv, "sentence"), text, client=client, play=player)
            assert utterance.ok and utterance.streamed
            start = utterance.exchange.t0
            heard = player.first_sample_at
            assert heard is not None and heard - start < len(text) * 0.01 / 5 / 4
            assert player.wait(timeout=utterance.audio.duration + 10)
            assert player.underruns == 0  # each next chunk was there before the last one ran out
            assert player.audio is not None and player.audio.duration == pytest.approx(utterance.audio.duration)
        finally:
            player.close()


def test_openai_has_its_input_limit_without_configuring_it():
    assert input_limit(Service(name="o", url="https://api.openai.com/v1")) == 4096
    assert input_limit(Service(name="o", url="https://api.openai.com/v1", max_chars=1000)) == 1000
    assert input_limit(Service(name="l", url="builtin")) is None
    assert all(len(c) <= 4096 for c in plan(Service(name="o", url="https://api.openai.com/v1"), long_text(20_000)))
