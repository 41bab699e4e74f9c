"""HAR 1.2 export: real exchanges with real servers on 127.0.0.1, real files."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import jsonschema
import pytest

from tests.servers import FaultServer, make_wav
from tts_tui.core.client import HttpClient
from tts_tui.core.exchange import Exchange, PreparedRequest
from tts_tui.core.har import to_har, write_har
from tts_tui.core.masking import MASK

SECRET = "sk-live-9f8e7d6c"


@pytest.fixture(scope="module")
def fault():
    with FaultServer() as server:
        yield server


async def send(*requests: PreparedRequest) -> list[Exchange]:
    client = HttpClient()
    try:
        return [await client.send(Exchange(r, service="t"), timeout=5) for r in requests]
    finally:
        await client.aclose()


def pairs(items: list[dict]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in items}


SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "har-1.2.schema.json").read_text())


def check_har_1_2(doc: dict) -> None:
    """Valid against the HAR 1.2 JSON Schema (tests/har-1.2.schema.json, from
    the spec: http://www.softwareishard.com/blog/har-12-spec/), plus what a
    schema cannot say."""
    validator = jsonschema.Draft7Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:5])
    for entry in doc["log"]["entries"]:
        assert datetime.fromisoformat(entry["startedDateTime"]).tzinfo is not None
        timings = entry["timings"]
        # "time" is the sum of the applicable timings
        assert entry["time"] == pytest.approx(sum(v for v in timings.values() if v >= 0), abs=1e-6)


async def test_structure_and_timings_of_ok_failed_and_refused_exchanges(fault):
    exchanges = await send(
        PreparedRequest("POST", fault.url("/slow", delay_ms=60), {"Content-Type": "application/json"}, b'{"text": "hi"}'),
        PreparedRequest("GET", fault.url("/html500")),
        PreparedRequest("GET", fault.url("/reset")),
        PreparedRequest("GET", "http://127.0.0.1:9/v1"),
    )
    doc = to_har(exchanges, creator_version="9.9")
    check_har_1_2(doc)
    assert doc["log"]["creator"] == {"name": "tts-tui", "version": "9.9"}
    ok, html, reset, refused = doc["log"]["entries"]

    assert ok["request"]["postData"] == {"mimeType": "application/json", "params": [], "text": '{"text": "hi"}'}
    assert ok["request"]["bodySize"] == len(b'{"text": "hi"}')
    assert ok["response"]["status"] == 200 and ok["response"]["statusText"] == "OK"
    assert "_error" not in ok
    # the server waited 60 ms before its headers: that is "wait", and "time" is total_ms
    assert ok["timings"]["wait"] >= 55
    assert ok["time"] == pytest.approx(exchanges[0].total_ms, abs=0.01)
    assert ok["timings"]["connect"] > 0  # a fresh connection
    assert html["timings"]["connect"] == -1  # the same connection, reused

    assert "postData" not in html["request"] and html["request"]["bodySize"] == 0
    assert html["response"]["status"] == 500
    assert "Kaboom: model not loaded" in html["response"]["content"]["text"]
    assert html["_error"].startswith("HTTP 500")

    for failed in (reset, refused):
        assert failed["response"]["status"] == 0 and failed["_error"]
    assert "connection refused" in refused["_error"]


async def test_secrets_are_masked_in_headers_query_bodies_and_cookies(fault):
    echoed = json.dumps({"error": f"bad key {SECRET}"})
    request = PreparedRequest(
        "POST",
        fault.url("/status", code=401, type="application/json", body=echoed) + f"&api_key={SECRET}",
        {"Authorization": f"Bearer {SECRET}", "X-Trace": f"for {SECRET}", "Content-Type": "application/json"},
        json.dumps({"input": "hi", "key": SECRET}).encode(),
        secrets=[SECRET],
    )
    cookie = PreparedRequest("GET", fault.url("/set-cookie", value="abc123session"))
    exchanges = await send(request, cookie)
    assert SECRET in exchanges[0].body.decode()  # the server really echoed it
    doc = to_har(exchanges)
    check_har_1_2(doc)
    text = json.dumps(doc, ensure_ascii=False)
    assert SECRET not in text and quote(SECRET) not in text
    leaky, cookied = doc["log"]["entries"]
    assert pairs(leaky["request"]["headers"])["Authorization"] == f"Bearer {MASK}"
    assert pairs(leaky["request"]["headers"])["X-Trace"] == f"for {MASK}"
    assert pairs(leaky["request"]["queryString"])["api_key"] == MASK
    assert json.loads(leaky["request"]["postData"]["text"]) == {"input": "hi", "key": MASK}
    assert json.loads(leaky["response"]["content"]["text"]) == {"error": f"bad key {MASK}"}
    assert MASK in leaky["_error"]
    assert pairs(cookied["response"]["headers"])["Set-Cookie"] == MASK
    assert "abc123session" not in json.dumps(cookied["response"])


async def test_audio_is_omitted_by_default_and_base64_when_asked(fault, tmp_path):
    (ex,) = await send(PreparedRequest("GET", fault.url("/wav", seconds=0.2)))
    wav = make_wav(0.2)
    assert ex.body == wav

    content = to_har([ex])["log"]["entries"][0]["response"]["content"]
    assert "text" not in content and "omitted" in content["comment"]
    assert content["size"] == len(wav) and content["mimeType"] == "audio/wav"

    path = write_har(tmp_path / "sub" / "a.har", [ex], include_audio=True)
    assert path == tmp_path / "sub" / "a.har"
    content = json.loads(path.read_text())["log"]["entries"][0]["response"]["content"]
    assert content["encoding"] == "base64"
    assert base64.b64decode(content["text"]) == wav
    assert [p.name for p in path.parent.iterdir()] == ["a.har"]  # no temporary file left


def test_write_har_to_an_unwritable_place_is_one_clear_error(tmp_path):
    from tts_tui.core.errors import TtsError

    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(TtsError, match="cannot write"):
        write_har(blocker / "out.har", [])


# --- the CLI ---------------------------------------------------------------------------


def test_say_har_writes_one_entry_with_the_exact_body(cli, write_config, fault, tmp_path):
    path = write_config(
        '[[services]]\nname = "t"\ntype = "http"\n'
        f'url = "{fault.url("/echo")}"\ntimeout = 5\n'
        "body = '{\"text\": \"{{ text }}\", \"note\": \"é 😀\"}'\n"
    )
    fault.requests.clear()
    out = cli("--config", str(path), "say", 'Say "this"', "--no-play", "--har", "out.har")
    assert out.returncode == 0, out.stderr
    doc = json.loads((tmp_path / "out.har").read_text(encoding="utf-8"))
    check_har_1_2(doc)
    (entry,) = doc["log"]["entries"]
    assert entry["request"]["postData"]["text"].encode() == fault.requests[-1].body
    assert entry["response"]["status"] == 200 and "comment" in entry["response"]["content"]


def test_say_har_masks_the_api_key_and_keeps_failed_exchanges(cli, write_config, fault, tmp_path):
    path = write_config(
        '[[services]]\nname = "o"\ntype = "openai"\n'
        f'url = "{fault.base}/strict"\napi_key = "$HAR_KEY"\nvoice = "v"\nextra = {{ nope = 1 }}\ntimeout = 5\n'
    )
    out = cli("--config", str(path), "say", "hi", "--no-play", "--har", "fail.har", env={"HAR_KEY": SECRET})
    assert out.returncode == 1 and out.stderr.startswith("error: HTTP 422")
    raw = (tmp_path / "fail.har").read_text(encoding="utf-8")
    assert SECRET not in raw
    (entry,) = json.loads(raw)["log"]["entries"]
    assert pairs(entry["request"]["headers"])["Authorization"] == f"Bearer {MASK}"
    assert entry["response"]["status"] == 422 and entry["_error"].startswith("HTTP 422")
    assert "Extra inputs are not permitted" in entry["response"]["content"]["text"]


async def test_audio_dropped_from_the_log_says_so(fault):
    (ex,) = await send(PreparedRequest("GET", fault.url("/wav")))
    ex.format, ex.body, ex.body_dropped = "wav", b"", True
    doc = to_har([ex], include_audio=True)
    check_har_1_2(doc)
    content = doc["log"]["entries"][0]["response"]["content"]
    assert "text" not in content
    assert content["comment"].startswith("audio dropped from the log to save memory")


async def test_the_schema_check_refuses_what_har_1_2_forbids(fault):
    # the check above can fail: a real export with a required field gone, or
    # a custom field without the underscore the spec asks for
    doc = to_har(await send(PreparedRequest("GET", fault.url("/html500"))))
    check_har_1_2(doc)
    del doc["log"]["entries"][0]["cache"]
    with pytest.raises(AssertionError, match="cache"):
        check_har_1_2(doc)
    doc = to_har(await send(PreparedRequest("GET", fault.url("/html500"))))
    doc["log"]["entries"][0]["response"]["error"] = "x"
    with pytest.raises(AssertionError, match="error"):
        check_har_1_2(doc)
