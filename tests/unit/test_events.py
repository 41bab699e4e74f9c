"""What one streamed event carries (an SSE event's data, an NDJSON line):
audio, an end mark, or the server's error — in every shape servers send."""

from __future__ import annotations

import base64
import json

import pytest

from tts_tui.core.answer.events import EventAudio, read_event
from tts_tui.core.errors import AudioError

AUDIO = bytes(range(256)) * 3  # bytes whose base64 holds + and / (and - and _ URL-safe)
B64 = base64.b64encode(AUDIO).decode()
URLSAFE = base64.urlsafe_b64encode(AUDIO).decode().rstrip("=")


@pytest.mark.parametrize(
    "event",
    [{"type": "speech.audio.delta", "audio": B64},
     {"audio": B64, "index": 3},
     {"audio_base64": B64}, {"audio_chunk": B64}, {"chunk": B64}, {"data": B64}, {"delta": B64},
     {"b64_json": B64},
     {"delta": {"audio": B64}},  # one level down
     {"data": {"delta": {"audio": B64}}},  # two levels down
     {"type": "audio", "audio": f"data:audio/pcm;base64,{B64}"}],  # a data: URI
    ids=lambda e: json.dumps(e)[:40],
)
def test_the_audio_of_every_shape(event: dict) -> None:
    assert read_event(json.dumps(event)) == EventAudio(AUDIO, done=False)


def test_audio_three_levels_down_is_not_looked_for() -> None:
    assert read_event(json.dumps({"a": {"b": {"c": {"audio": B64}}}})).audio == b""
    assert read_event(json.dumps({"data": {"data": {"data": {"audio": B64}}}})).audio == b""


@pytest.mark.parametrize("text", [B64, URLSAFE, B64.rstrip("="), json.dumps(B64), "  " + B64 + "\n"])
def test_bare_base64_with_or_without_padding_url_safe_or_as_a_json_string(text: str) -> None:
    assert read_event(text).audio == AUDIO


@pytest.mark.parametrize(
    ("text", "name"),
    [("[DONE]", ""), (" [DONE] ", ""), ("{}", "done"), ("{}", "DONE"), ("x", "end"),
     (json.dumps({"type": "speech.audio.done", "usage": {"input_tokens": 4}}), ""),
     (json.dumps({"event": "complete"}), ""), (json.dumps({"type": "Completed"}), ""),
     (json.dumps({"done": True}), "")],
)
def test_end_marks(text: str, name: str) -> None:
    assert read_event(text, name).done


@pytest.mark.parametrize("text", [json.dumps({"done": False}), json.dumps({"type": "progress"}),
                                  json.dumps({"done": "yes"}), ""])
def test_not_an_end(text: str) -> None:
    assert not read_event(text).done


def test_the_last_delta_may_carry_the_end_mark() -> None:
    assert read_event(json.dumps({"type": "done", "audio": B64})) == EventAudio(AUDIO, done=True)


@pytest.mark.parametrize(
    ("event", "shown"),
    [({"type": "error", "error": {"message": "voice not found"}}, "voice not found"),
     ({"error": "rate limited"}, "rate limited"),
     ({"event": "error", "message": "x"}, '{"event": "error", "message": "x"}'),
     ({"type": "ERROR", "detail": "no"}, '{"type": "ERROR", "detail": "no"}')],
)
def test_an_error_event_is_the_servers_error(event: dict, shown: str) -> None:
    with pytest.raises(AudioError) as caught:
        read_event(json.dumps(event))
    assert caught.value.message == f"the server sent an error event: {shown}"


def test_a_long_error_event_is_cut_at_80_characters() -> None:
    event = json.dumps({"error": None, "pad": "x" * 200})
    with pytest.raises(AudioError) as caught:
        read_event(event)
    assert caught.value.message == f"the server sent an error event: {event[:80]}"


def test_data_that_is_neither_json_nor_base64_says_where_and_shows_it() -> None:
    with pytest.raises(AudioError) as caught:
        read_event("hello there!", where="an SSE event")
    assert caught.value.message == "an SSE event is neither JSON nor base64 audio: hello there!"
    assert caught.value.hint == "the server streams something other than audio events"
    long = "no!" * 40
    with pytest.raises(AudioError) as caught:
        read_event(long)
    assert caught.value.message == f"an event is neither JSON nor base64 audio: {long[:80]}…"
    exactly = "no!" * 26 + "!!"  # 80 characters: shown whole, no ellipsis
    with pytest.raises(AudioError) as caught:
        read_event(exactly)
    assert caught.value.message.endswith(f"audio: {exactly}")


def test_broken_base64_in_an_event_says_where() -> None:
    with pytest.raises(AudioError) as caught:
        read_event(json.dumps({"audio": "abc$"}), where="JSON line 3")
    assert caught.value.message == "the audio in JSON line 3 is not valid base64"
    assert caught.value.hint == "the server sent a broken event"
    with pytest.raises(AudioError, match="not valid base64"):
        read_event(json.dumps({"delta": {"audio": "A"}}))  # one character cannot be base64


def test_events_without_audio_carry_none() -> None:
    assert read_event(json.dumps({"type": "speech.audio.delta"})) == EventAudio()
    assert read_event(json.dumps([1, 2])) == EventAudio()
    assert read_event(json.dumps({"audio": ""})).audio == b""
