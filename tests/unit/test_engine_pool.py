"""The embedded server's engines: worker processes, the pool, long texts in pieces.

Real worker processes running the real espeak-ng; faults are real too (a
worker killed with SIGKILL, an interpreter path that does not exist).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.engine_procs import engine_workers, gone
from tts_tui.core.errors import TtsError
from tts_tui.server import espeak
from tts_tui.server.engine_pool import EnginePool, InProcessEngine, ProcessEngine, default_size
from tts_tui.server.segments import split_text
from tts_tui.server.stream import SpeechStream

SENTENCE = "The quick brown fox jumps over the lazy dog, and the dog does not mind at all. "


def in_process_bytes(text: str, voice: str = "en-us") -> int:
    total = 0

    def count(chunk: bytes) -> None:
        nonlocal total
        total += len(chunk)

    espeak.synthesize(text, voice, on_chunk=count)
    return total


def speak(engine, text: str = SENTENCE, voice: str = "en-us", cancel_after: int | None = None) -> bytes:
    chunks: list[bytes] = []
    engine.speak(
        text, voice, 1.0, on_chunk=chunks.append,
        cancelled=lambda: cancel_after is not None and len(chunks) >= cancel_after,
    )
    return b"".join(chunks)


@pytest.fixture()
def pool() -> Iterator[EnginePool]:
    engines = EnginePool(2)
    try:
        yield engines
    finally:
        engines.close()


def wait_for(condition, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


# --- long texts in pieces


def test_a_short_text_is_one_piece_unchanged() -> None:
    assert list(split_text(SENTENCE * 3, limit=1000)) == [SENTENCE * 3]


def test_long_text_is_cut_after_sentences() -> None:
    pieces = list(split_text(SENTENCE * 40, limit=300))
    assert "".join(pieces) == SENTENCE * 40
    assert all(len(p) <= 300 for p in pieces)
    assert all(p.endswith(". ") for p in pieces)
    assert all(len(p) >= 150 for p in pieces[:-1])  # not crumbs


def test_without_sentence_ends_clauses_then_spaces_then_the_limit() -> None:
    clauses = "one thing, another thing, " * 30
    assert all(p.endswith(", ") for p in list(split_text(clauses, limit=100))[:-1])
    words = "word " * 100
    assert all(p.endswith(" ") for p in split_text(words, limit=64))
    assert list(split_text("x" * 250, limit=100)) == ["x" * 100, "x" * 100, "x" * 50]


@given(st.text(alphabet=st.sampled_from("ab .,!\n\u00e9"), max_size=400), st.integers(1, 80))
def test_pieces_always_rebuild_the_text_within_the_limit(text: str, limit: int) -> None:
    pieces = list(split_text(text, limit))
    assert "".join(pieces) == text
    assert all(0 < len(p) <= limit for p in pieces)


# --- one worker process


def test_a_worker_speaks_as_espeak_does_in_process() -> None:
    engine = ProcessEngine.start()
    try:
        assert engine.rate == espeak.sample_rate() == 22050
        audio = speak(engine)
        # espeak's voice source carries state between utterances: a few samples' difference.
        assert len(audio) == pytest.approx(in_process_bytes(SENTENCE), rel=0.005)
        assert len(audio) % 2 == 0
    finally:
        engine.close()
    assert gone({engine.pid})


def test_an_unknown_voice_is_reported_and_the_worker_carries_on() -> None:
    engine = ProcessEngine.start()
    try:
        with pytest.raises(espeak.VoiceNotFound, match="unknown voice 'zz-top'") as caught:
            speak(engine, voice="zz-top")
        assert "/v1/audio/voices" in str(caught.value)
        assert not engine.broken
        assert len(speak(engine, "Still here.")) > 22050 * 2 * 0.3
    finally:
        engine.close()


def test_cancel_stops_the_utterance_and_the_next_one_is_whole() -> None:
    engine = ProcessEngine.start()
    try:
        whole = len(speak(engine, SENTENCE * 20))
        cut = len(speak(engine, SENTENCE * 20, cancel_after=1))
        assert cut < whole / 10
        assert len(speak(engine, SENTENCE * 20)) == pytest.approx(whole, rel=0.005)
        assert not engine.broken
    finally:
        engine.close()


def test_a_killed_worker_is_an_error_and_the_pool_replaces_it(pool: EnginePool) -> None:
    with pool.lease() as engine:
        first_pid = engine.pid

        def kill_on_first_chunk(chunk: bytes) -> None:
            os.kill(first_pid, signal.SIGKILL)

        with pytest.raises(TtsError, match=r"stopped unexpectedly \(killed by signal 9\)"):
            engine.speak(SENTENCE * 50, "en-us", 1.0, on_chunk=kill_on_first_chunk, cancelled=lambda: False)
    with pool.lease() as engine:
        assert engine.pid != first_pid
        assert len(speak(engine)) > 22050 * 2
    assert gone({first_pid})


# --- the pool


def test_the_pool_speaks_on_several_workers_at_once(pool: EnginePool) -> None:
    with pool.lease() as first, pool.lease() as second:
        assert isinstance(first, ProcessEngine) and isinstance(second, ProcessEngine)
        assert first.pid != second.pid
        results: dict[int, int] = {}
        threads = [
            threading.Thread(target=lambda e=e: results.__setitem__(e.pid, len(speak(e, SENTENCE * 5))))
            for e in (first, second)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        reference = in_process_bytes(SENTENCE * 5)
        assert all(n == pytest.approx(reference, rel=0.005) for n in results.values())
        assert set(engine_workers()) >= {first.pid, second.pid}


def test_workers_start_lazily_and_close_ends_them(pool: EnginePool) -> None:
    before = set(engine_workers())
    pool.warm_up()
    assert wait_for(lambda: len(set(engine_workers()) - before) == 1)
    with pool.lease() as engine:
        assert len(speak(engine)) > 0
    started = set(engine_workers()) - before
    for _ in range(5):  # one utterance at a time needs no more workers
        with pool.lease() as engine:
            assert engine.pid in started
            assert len(speak(engine)) > 0
    assert set(engine_workers()) - before == started
    pool.close()
    assert gone(started)
    with pytest.raises(TtsError, match="stopping"):
        with pool.lease():
            pass


def test_close_while_speaking_ends_the_worker_and_the_speaker_hears_why(pool: EnginePool) -> None:
    before = set(engine_workers())
    outcome: list[BaseException] = []
    speaking = threading.Event()

    def long_utterance() -> None:
        try:
            with pool.lease() as engine:
                engine.speak(
                    SENTENCE * 2000, "en-us", 1.0, on_chunk=lambda chunk: speaking.set(), cancelled=lambda: False
                )
        except BaseException as exc:  # checked below
            outcome.append(exc)

    speaker = threading.Thread(target=long_utterance)
    speaker.start()
    assert speaking.wait(15)
    started = set(engine_workers()) - before
    assert len(started) == 1
    pool.close()
    speaker.join(15)
    assert not speaker.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], TtsError)
    assert gone(started)


def test_size_zero_speaks_in_this_process() -> None:
    before = set(engine_workers())
    engines = EnginePool(0)
    try:
        with engines.lease() as engine:
            assert isinstance(engine, InProcessEngine)
            assert len(speak(engine)) == pytest.approx(in_process_bytes(SENTENCE), rel=0.005)
        assert set(engine_workers()) == before
    finally:
        engines.close()


def test_a_worker_that_cannot_start_falls_back_to_this_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A real failure to start: there is no interpreter at this path (a frozen
    # app has none to run a worker with). Only the path is swapped.
    monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
    engines = EnginePool(2, quiet=False)
    try:
        with engines.lease() as engine:
            assert isinstance(engine, InProcessEngine)
            assert len(speak(engine)) > 22050 * 2
    finally:
        engines.close()
    err = capsys.readouterr().err
    assert err.startswith("warning: a speech engine worker did not start") and "one request at a time" in err


def test_default_size_is_the_usable_cpus_up_to_four() -> None:
    assert default_size() == max(1, min(len(os.sched_getaffinity(0)), 4))


# --- a stream whose reader stops


def test_a_reader_that_stops_holds_bounded_memory_and_no_engine() -> None:
    engines = EnginePool(1)
    text = SENTENCE * 60  # ~4800 characters: 24 pieces of at most 200
    pieces = list(split_text(text, 200))
    try:
        stream = SpeechStream(text, "en-us", 1.0, engines=engines, segment_chars=200, high_water=64 * 1024)
        assert wait_for(lambda: stream.buffered >= 64 * 1024)
        # Nobody reads: the only engine is free for another utterance all the same.
        other: list[int] = []
        lender = threading.Thread(target=lambda: other.append(len(speak_leased(engines))))
        lender.start()
        lender.join(15)
        assert other and other[0] > 22050 * 2
        # Speaking stopped at the high-water mark, one piece past it at most.
        largest_piece = max(in_process_bytes(p) for p in pieces)
        assert stream.buffered < 64 * 1024 + largest_piece
        assert stream.pieces_spoken < len(pieces)
        # Reading again resumes it, to the end.
        audio = b"".join(stream)
        assert stream.pieces_spoken == len(pieces)
        assert len(audio) == pytest.approx(sum(in_process_bytes(p) for p in pieces), rel=0.005)
    finally:
        engines.close()


def speak_leased(engines: EnginePool) -> bytes:
    with engines.lease() as engine:
        return speak(engine)


def test_a_cancelled_stream_ends_its_feeder_thread() -> None:
    engines = EnginePool(1)
    try:
        stream = SpeechStream(SENTENCE * 100, "en-us", 1.0, engines=engines, segment_chars=200, high_water=32 * 1024)
        assert next(iter(stream))
        stream.cancel()
        assert stream.join(15)
    finally:
        engines.close()
