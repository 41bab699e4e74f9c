"""The espeak-ng binding, against the real library from espeakng-loader."""

from __future__ import annotations

import threading

import pytest

from tts_tui.core.errors import TtsError
from tts_tui.server import espeak

SENTENCE = "The quick brown fox jumps over the lazy dog, and the dog does not mind at all."


def speak(text: str = SENTENCE, voice: str = "en-us", speed: float = 1.0) -> tuple[list[bytes], int]:
    chunks: list[bytes] = []
    rate = espeak.synthesize(text, voice, speed, on_chunk=chunks.append)
    return chunks, rate


def seconds(chunks: list[bytes], rate: int) -> float:
    return sum(len(c) for c in chunks) / 2 / rate


def test_voices_list_has_readable_names_and_unique_ids() -> None:
    voices = espeak.list_voices()
    by_id = {v["id"]: v for v in voices}
    assert len(by_id) == len(voices)
    assert by_id["en-us"]["name"] == "English (America)"
    assert {"en-gb", "de", "fr-fr", "es"} <= by_id.keys()
    # Voices whose dictionary the wheel leaves out would print errors when used.
    assert "fo" not in by_id


def test_synthesis_streams_16_bit_chunks_at_the_engine_rate() -> None:
    chunks, rate = speak()
    assert rate == espeak.sample_rate() == 22050
    assert len(chunks) > 5
    assert all(len(c) % 2 == 0 and c for c in chunks)
    assert 2.0 < seconds(chunks, rate) < 10.0


def test_longer_text_gives_longer_audio() -> None:
    short = seconds(*speak("Hello."))
    long = seconds(*speak(SENTENCE * 3))
    assert long > 3 * short


def test_speed_changes_duration_and_rate_is_clamped() -> None:
    normal = seconds(*speak())
    fast = seconds(*speak(speed=2.0))
    assert fast < 0.7 * normal
    assert espeak.words_per_minute(1.0) == 175
    assert espeak.words_per_minute(0.25) == 80
    assert espeak.words_per_minute(4.0) == 450


def test_returning_false_stops_synthesis_and_the_next_one_is_whole() -> None:
    full = seconds(*speak())
    got: list[bytes] = []

    def two_chunks(chunk: bytes) -> bool:
        got.append(chunk)
        return len(got) < 2

    espeak.synthesize(SENTENCE, on_chunk=two_chunks)
    assert len(got) == 2
    assert seconds(*speak()) == pytest.approx(full, rel=0.02)


def test_an_exception_in_the_callback_reaches_the_caller() -> None:
    def explode(chunk: bytes) -> None:
        raise RuntimeError("sink broke")

    with pytest.raises(RuntimeError, match="sink broke"):
        espeak.synthesize(SENTENCE, on_chunk=explode)
    assert seconds(*speak("Still working.")) > 0.3


@pytest.mark.parametrize(
    ("name", "spec"),
    [
        ("en-us", "gmw/en-US"),
        ("EN-US", "gmw/en-US"),
        ("English (America)", "gmw/en-US"),
        ("gmw/en-US", "gmw/en-US"),
        ("en", "gmw/en"),
        ("default", "gmw/en-US"),
        ("", "gmw/en-US"),
        ("alloy", "gmw/en-US"),
        ("nova", "gmw/en-US+f3"),
        ("fable", "gmw/en"),
        ("de+m2", "gmw/de+m2"),
    ],
)
def test_voice_names_resolve(name: str, spec: str) -> None:
    assert espeak.resolve_voice(name) == spec


@pytest.mark.parametrize("name", ["no-such-voice", "en-us+nosuchvariant", "fo"])
def test_unknown_voice_is_a_clear_error(name: str) -> None:
    with pytest.raises(TtsError) as caught:
        espeak.synthesize("hello", name, on_chunk=lambda chunk: None)
    assert isinstance(caught.value, espeak.VoiceNotFound)
    assert "unknown voice" in caught.value.message
    assert "/v1/audio/voices" in str(caught.value) or "variants" in str(caught.value)


def test_every_openai_voice_speaks() -> None:
    for name in espeak.OPENAI_VOICES:
        assert seconds(*speak("Hi.", voice=name)) > 0.1, name


def test_other_languages_and_awkward_text() -> None:
    assert seconds(*speak("Guten Tag, wie geht es Ihnen?", voice="de")) > 0.5
    assert seconds(*speak("Ça va très bien, merci.", voice="fr-fr")) > 0.5
    # A NUL would end the C string early; it must not cut the text.
    assert seconds(*speak("one two three\0four five six seven")) > seconds(*speak("one two three"))


def test_concurrent_callers_are_serialised_not_mixed() -> None:
    reference = seconds(*speak())
    results: list[float] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(seconds(*speak()))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(results) == 6
    assert all(r == pytest.approx(reference, rel=0.02) for r in results)
