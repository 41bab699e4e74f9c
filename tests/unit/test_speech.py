"""speak() and check(), end to end against real servers on 127.0.0.1
(tests/servers.py): what the server receives, and what a user is told of the
exchange (error line, notes, audio length and format, the exchanges made)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.servers import FaultServer, make_pcm, make_wav
from tts_tui.core.client import HttpClient
from tts_tui.core.errors import TemplateError, TtsError
from tts_tui.core.exchange import Exchange, PreparedRequest
from tts_tui.core.model import PcmSpec, Service, VoicesSpec
from tts_tui.core.speech import CHECK_TEXT, check, prepare, speak, summary

BODY = '{"text": "{{ text }}"}'


@pytest.fixture
def srv() -> Iterator[FaultServer]:
    with FaultServer() as server:
        yield server


@pytest.fixture
async def client() -> Iterator[HttpClient]:
    http = HttpClient()
    yield http
    await http.aclose()


def service(url: str, **fields: object) -> Service:
    fields.setdefault("timeout", 5)
    fields.setdefault("body", BODY)
    return Service(name="svc", type=fields.pop("type", "http"), url=url, **fields)  # type: ignore[arg-type]


def answering(srv: FaultServer, body: bytes | str, ctype: str, code: int = 200) -> str:
    """A URL on `srv` that answers `body` with this Content-Type and status."""
    text = body.decode("latin-1") if isinstance(body, bytes) else body
    return srv.url("/status") + f"?code={code}&type={quote(ctype)}&body={quote(text)}"


def spoken(srv: FaultServer) -> str:
    """The text the server received in the last request's JSON body."""
    return json.loads(srv.requests[-1].body)["text"]


# --- what is sent -------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
async def test_no_text_is_refused_before_anything_is_sent(srv, client, text) -> None:
    with pytest.raises(TtsError) as caught:
        await speak(service(srv.url("/wav")), text, client=client)
    assert (caught.value.message, caught.value.hint) == ("there is no text to speak", "type some text first")
    assert srv.requests == []


@pytest.mark.parametrize(("text", "received"), [
    ("caf\udcc3\udca9 au lait", "café au lait"),  # UTF-8 bytes read with surrogateescape: recovered
    ("caf\udce9", "caf\ufffd"),  # a Latin-1 byte: not UTF-8, replaced
    ("a\ud800b\udc7fc\udd00d\udfff", "a\ufffdb\ufffdc\ufffdd\ufffd"),  # lone surrogates, no byte behind them
    ("plain café \U0001F600", "plain café \U0001F600"),
])
async def test_the_server_receives_text_utf8_can_carry(srv, client, text, received) -> None:
    result = await speak(service(srv.url("/wav")), text, client=client)
    assert result.ok, result.error
    assert spoken(srv) == received


async def test_a_given_request_is_sent_as_it_is_and_a_given_exchange_is_filled_in(srv, client) -> None:
    svc = service(srv.url("/wav"))
    request = prepare(svc, "Prepared text.")
    request.url = srv.url("/wav", seconds=0.3)
    mine = Exchange(PreparedRequest("GET", "http://127.0.0.1:9/unused"))
    result = await speak(svc, "not this text", client=client, request=request, exchange=mine)
    assert result.exchange is mine and result.exchanges == [mine]
    assert (mine.request, mine.service) == (request, "svc")
    assert spoken(srv) == "Prepared text." and srv.requests[-1].query == {"seconds": "0.3"}
    assert mine.audio_s == pytest.approx(0.3, abs=0.001) and mine.format == "wav"


# --- what the answer gives ----------------------------------------------------------------


async def test_a_wav_answer_gives_its_audio_and_the_exchange_says_so(srv, client) -> None:
    result = await speak(service(srv.url("/wav", seconds=0.25)), "Hi.", client=client)
    ex = result.exchange
    assert result.ok and result.error is None and not result.streamed
    assert result.audio is not None and result.audio.duration == pytest.approx(0.25, abs=0.001)
    assert (ex.audio_s, ex.format, ex.rate, ex.status) == (result.audio.duration, "wav", 22050, 200)
    assert ex.ttfb_ms <= ex.ttfa_ms <= ex.total_ms and not ex.first_audio_after_body


async def test_audio_with_no_samples_has_its_first_audio_at_the_end(srv, client) -> None:
    result = await speak(service(srv.url("/wav", seconds=0)), "Hi.", client=client)
    ex = result.exchange
    assert result.ok and ex.audio_s == 0.0
    assert ex.ttfa_ms == ex.total_ms


async def test_frames_reach_on_frames_as_they_are_decoded(srv, client) -> None:
    taken: list[tuple[int, int, int]] = []
    result = await speak(service(srv.url("/drip", count=4, interval_ms=5, seconds=0.2)), "Hi.", client=client,
                         on_frames=lambda frames, rate, channels: taken.append((len(frames), rate, channels)))
    assert result.ok
    assert sum(n for n, _, _ in taken) == result.audio.frames and {(r, c) for _, r, c in taken} == {(22050, 1)}


async def test_the_pcm_block_sets_the_rate_of_a_raw_answer(srv, client) -> None:
    # 24000 bytes of silence: 12000 frames, 0.5 s at OpenAI's 24 kHz, 0.75 s at 16 kHz
    result = await speak(service(srv.url("/zeros", n=24000), pcm=PcmSpec(rate=16000)), "Hi.", client=client)
    assert result.ok, result.error
    assert (result.exchange.rate, result.exchange.audio_s) == (16000, pytest.approx(0.75))


async def test_an_http_service_asking_for_pcm_reads_headerless_bytes_as_pcm(srv, client) -> None:
    result = await speak(service(srv.url("/zeros", n=24000), format="pcm"), "Hi.", client=client)
    assert result.ok, result.error
    assert (result.exchange.format, result.exchange.audio_s) == ("pcm", pytest.approx(0.5))


# the format asked for: `format` for openai services and for pcm, else the Content-Type asked for
@pytest.mark.parametrize(("fields", "note"), [
    ({"type": "openai", "format": "mp3"}, "the service asks for mp3, but the server sent wav: played as wav"),
    ({"format": "mp3", "content_type": "audio/wav"}, None),
    ({"format": "wav", "content_type": "audio/mpeg"}, "the service asks for mp3, but the server sent wav: played as wav"),
    ({"format": "pcm", "content_type": "audio/wav"}, "the service asks for pcm, but the server sent wav: played as wav"),
    ({"format": "mp3", "content_type": ""}, None),
])
async def test_the_format_asked_for_is_compared_with_the_one_sent(srv, client, fields, note) -> None:
    url = srv.url("/strict") if fields.get("type") == "openai" else srv.url("/wav")  # both answer WAV
    result = await speak(service(url, **fields), "Hi.", client=client)
    assert result.ok, result.error
    assert result.exchange.notes == ([note] if note else [])


def sse_body() -> str:
    delta = {"type": "speech.audio.delta", "audio": base64.b64encode(make_pcm(0.2)).decode()}
    return f"data: {json.dumps(delta)}\n\ndata: {json.dumps({'type': 'speech.audio.done'})}\n\n"


@pytest.mark.parametrize("fields", [{"stream_format": "sse"}, {"extra": {"stream_format": "SSE"}}])
async def test_events_under_a_plain_content_type_are_read_when_the_service_asks_for_them(srv, client, fields) -> None:
    result = await speak(service(answering(srv, sse_body(), "application/octet-stream"), **fields), "Hi.", client=client)
    assert result.ok, result.error
    assert (result.exchange.reader, result.exchange.audio_s) == ("sse", pytest.approx(0.2))


async def test_events_the_service_did_not_ask_for_are_not_audio(srv, client) -> None:
    result = await speak(service(answering(srv, sse_body(), "application/octet-stream")), "Hi.", client=client)
    assert not result.ok and result.audio is None
    assert result.error.startswith('HTTP 200 OK: data: {"type": "speech.audio.delta", "audio": "AAAu')
    assert result.error.endswith("… — the answer is application/octet-stream, not audio")


# --- answers that point to the audio ----------------------------------------------------


async def test_an_audio_url_is_fetched_as_a_second_exchange_timed_from_the_first(srv, client) -> None:
    doc = json.dumps({"audio_url": "/wav?seconds=0.3"})  # relative: resolved against the request's URL
    result = await speak(service(answering(srv, doc, "application/json"), response="url:audio_url"),
                         "Hi.", client=client)
    assert result.ok, result.error
    main, fetch = result.exchanges
    assert result.exchange is main and main.error is None and fetch.service == "svc"
    assert (fetch.request.method, fetch.request.url) == ("GET", srv.url("/wav?seconds=0.3"))
    assert srv.requests[-1].path == "/wav" and srv.requests[-1].method == "GET"
    assert (main.audio_s, main.format, main.rate) == (pytest.approx(0.3, abs=0.001), "wav", 22050)
    assert main.ttfa_ms is not None and main.first_audio_after_body  # the audio came after the main body


async def test_the_fetched_audio_is_compared_with_the_format_asked_for(srv, client) -> None:
    doc = json.dumps({"url": srv.url("/wav")})
    result = await speak(service(answering(srv, doc, "application/json"), response="url:url",
                                 content_type="audio/mpeg"), "Hi.", client=client)
    assert result.ok, result.error
    assert "the service asks for mp3, but the server sent wav: played as wav" in result.exchange.notes


async def test_fetched_raw_pcm_is_read_with_the_pcm_block(srv, client) -> None:
    doc = json.dumps({"url": srv.url("/zeros", n=32000)})  # 16000 frames, at 8 kHz: 2 s
    result = await speak(service(answering(srv, doc, "application/json"), response="url:url",
                                 pcm=PcmSpec(rate=8000)), "Hi.", client=client)
    assert result.ok, result.error
    assert (result.exchange.rate, result.exchange.audio_s) == (8000, pytest.approx(2.0))


async def test_a_failing_audio_url_is_the_main_exchanges_error_with_the_key_masked(srv, client) -> None:
    doc = json.dumps({"url": srv.url("/json400", t="sk-signed-12345")})
    svc = service(answering(srv, doc, "application/json"), response="url:url",
                  headers={"X-Key": "sk-signed-12345"})
    result = await speak(svc, "Hi.", client=client)
    assert not result.ok and result.audio is None
    assert result.error == "fetching the audio URL failed: HTTP 400 Bad Request: Invalid voice 'nobody'. Choose one of: alloy, echo."
    fetch = result.exchanges[1]
    assert "sk-signed-12345" not in fetch.request.masked_url() and "t=••••••" in fetch.request.masked_url()


# --- answers that hold no audio: one line that says what came back ---------------------------


@pytest.mark.parametrize(("body", "ctype", "code", "error"), [
    ("", "audio/wav", 203, "HTTP 203 but the answer is empty (no audio)"),
    ("<html><title>Hi there</title></html>", "text/html", 200, "HTTP 200 OK: Hi there — the answer is text/html, not audio"),
    ("hello", "text/plain; charset=utf-8", 200, "HTTP 200 OK: hello — the answer is text/plain, not audio"),
    ("hello", "", 200, 'the answer is not audio but text: hello; check the URL and body; '
                       'if the audio is inside JSON, set response = "json:PATH"'),
    ("hello", "; charset=utf-8", 200, "HTTP 200 OK: hello — the answer is unknown type, not audio"),
    ("hello", "audio/mpeg", 200, 'the answer is not audio but text: hello; check the URL and body; '
                                 'if the audio is inside JSON, set response = "json:PATH"'),
    ("a" * 64, "audio/pcm;rate=99999999", 200,
     "the pcm answer declares 99999999 Hz and 1 channel(s); a rate is 1..768000 Hz and channels 1..32"),
    ('{"x": 1}', "application/json", 200, 'the answer is JSON, not audio: {"x": 1}; '
                                          'if the audio is inside, set response = "json:PATH" or "url:PATH"'),
])
async def test_an_answer_without_audio_says_what_it_is(srv, client, body, ctype, code, error) -> None:
    result = await speak(service(answering(srv, body, ctype, code)), "Hi.", client=client)
    assert result.error == error
    assert not result.ok and result.audio is None and result.exchange.status == code


async def test_json_audio_under_an_audio_content_type_names_the_setting_that_reads_it(srv, client) -> None:
    doc = json.dumps({"data": {"wav": base64.b64encode(make_wav(0.1)).decode()}})
    result = await speak(service(answering(srv, doc, "audio/wav")), "Hi.", client=client)
    assert result.error == 'HTTP 200 but the answer is JSON that holds the audio: set response = "json:data.wav"'


async def test_an_http_error_is_the_exchanges_error(srv, client) -> None:
    result = await speak(service(srv.url("/json400")), "Hi.", client=client)
    assert result.error == "HTTP 400 Bad Request: Invalid voice 'nobody'. Choose one of: alloy, echo."
    assert result.audio is None and result.exchange.audio_s is None


# --- check ---------------------------------------------------------------------------------


async def test_check_speaks_the_check_text_and_counts_the_voices(srv, client) -> None:
    svc = service(srv.url("/wav", seconds=0.1), voices=VoicesSpec(url=srv.url("/voices"), path="voices"))
    result = await check(svc, client=client)
    assert (result.service, result.ok, result.voices) == ("svc", True, 3)
    assert result.message == summary(result.exchange) and result.message.startswith("HTTP 200 · ttfb ")
    assert spoken(srv) == CHECK_TEXT == "Check."


async def test_check_without_a_voice_list_still_checks_the_synthesis(srv, client) -> None:
    result = await check(service(srv.url("/wav")), client=client)
    assert (result.ok, result.voices) == (True, 0)
    failing = await check(service(srv.url("/wav"), voices=VoicesSpec(url=srv.url("/json400"))), client=client)
    assert (failing.ok, failing.voices) == (True, None)


async def test_a_failing_check_says_why(srv, client) -> None:
    result = await check(service(srv.url("/json400"), voices=VoicesSpec(url=srv.url("/voices"), path="voices")),
                         client=client)
    assert (result.service, result.ok, result.voices) == ("svc", False, 3)
    assert result.message == "HTTP 400 Bad Request: Invalid voice 'nobody'. Choose one of: alloy, echo."
    assert result.exchange is not None and result.exchange.status == 400


async def test_a_check_whose_template_fails_says_where_and_sends_no_synthesis(srv, client) -> None:
    result = await check(service(srv.url("/wav"), body='{"text": "{{ txet }}"}',
                                 voices=VoicesSpec(url=srv.url("/voices"), path="voices")), client=client)
    assert (result.service, result.ok, result.voices, result.exchange) == ("svc", False, 3, None)
    assert result.message.startswith("unknown variable 'txet' (line 1, column 11); did you mean 'text'?")
    assert [r.path for r in srv.requests] == ["/voices"]  # the voice list, and no synthesis
    with pytest.raises(TemplateError):
        await speak(service(srv.url("/wav"), body='{"text": "{{ txet }}"}'), "Hi.", client=client)


# --- the one-line summary ------------------------------------------------------------------


def test_summary_lists_what_was_measured_in_order() -> None:
    ex = Exchange(PreparedRequest("POST", "http://127.0.0.1:9/"), status=200, ttfb_ms=12.4, ttfa_ms=20.6,
                  total_ms=250.0, audio_s=1.25, format="mp3", rate=24000, bytes=3 * 1024)
    assert summary(ex) == "HTTP 200 · ttfb 12 ms · ttfa 21 ms · total 250 ms · 1.25 s mp3 24000 Hz · rtf 0.200 · 3.0 KB"
    ex.first_audio_after_body, ex.rate, ex.format = True, None, None
    assert summary(ex) == ("HTTP 200 · ttfb 12 ms · ttfa 21 ms (after the last byte) · total 250 ms · "
                           "1.25 s audio · rtf 0.200 · 3.0 KB")


def test_summary_of_an_exchange_that_got_no_answer() -> None:
    ex = Exchange(PreparedRequest("POST", "http://127.0.0.1:9/"))
    assert summary(ex) == "HTTP None · 0 B"


# --- the voice, the timeout and the player the caller gives ----------------------------------


async def test_the_voice_given_is_the_one_sent(srv, client) -> None:
    svc = service(srv.url("/wav"), body='{"text": "{{ text }}", "voice": "{{ voice }}"}', voice="af_heart")
    assert json.loads(prepare(svc, "Hi.", voice="bf_emma").body)["voice"] == "bf_emma"
    result = await speak(svc, "Hi.", client=client, voice="bf_emma")
    assert result.ok and json.loads(srv.requests[-1].body)["voice"] == "bf_emma"
    assert result.exchange.service == "svc" and result.exchange.request.url == srv.url("/wav")


async def test_the_service_timeout_bounds_the_wait_for_an_answer(srv, client) -> None:
    result = await speak(service(srv.url("/slow", delay_ms=5000), timeout=0.5), "Hi.", client=client)
    assert result.error == f"no answer from 127.0.0.1:{srv.port} within 0.5 s"


async def test_a_player_plays_the_answer_while_it_downloads(srv, client, tmp_path) -> None:
    from tts_tui.core.player import Player

    out = tmp_path / "played.wav"
    player = Player(f"pipe:cat > {out}")  # a real output: the WAV stream on a command's stdin
    try:
        result = await speak(service(srv.url("/wav", seconds=0.3)), "Hi.", client=client, play=player)
        assert result.ok and result.streamed
        assert player.wait(10)
        # the player keeps the answer as it came, for replay and save
        assert player.audio is not None and player.audio.data == make_wav(0.3)
    finally:
        player.close()
    assert out.read_bytes()[:4] == b"RIFF" and len(out.read_bytes()) == 44 + result.audio.frames * 2


async def test_the_first_audio_of_a_stream_is_timed_when_it_came_not_at_the_end(srv, client) -> None:
    # the server sends the last of four pieces 300 ms after the first: audio came before the end
    result = await speak(service(srv.url("/stream", kind="wav", seconds=0.4, count=4, interval_ms=100)), "Hi.",
                         client=client, on_frames=lambda *_: None)
    ex = result.exchange
    assert result.ok and not ex.first_audio_after_body
    assert ex.ttfb_ms <= ex.ttfa_ms < ex.total_ms
