"""The service presets: every block is a valid, secret-free service a user can paste.

These tests read the blocks the way a user's config would be read (tomllib and
the real config parser). The body check below fills `{{ ... }}` tags with a
sample value and parses the result as JSON; a later check runs the real
template renderer (tts_tui.core.templates) over the same blocks.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import fields

import pytest

from tts_tui.core import config
from tts_tui.core.errors import ConfigError
from tts_tui.core.model import FORMATS, SERVICE_TYPES, PcmSpec, Service, VoicesSpec
from tts_tui.core.presets import PRESETS, get_preset, preset_names, preset_service_table

REQUIRED = [
    "openai",
    "kokoro-fastapi",
    "openedai-speech",
    "speaches",
    "xtts-api-server",
    "alltalk",
    "opentts",
    "piper",
    "chatterbox",
    "localai",
]
SERVICE_FIELDS = {f.name for f in fields(Service)}
SUBTABLES = {"voices": VoicesSpec, "pcm": PcmSpec}
TAG = re.compile(r"\{\{\s*(.*?)\s*\}\}")
BUILTIN_VARIABLES = {"text", "voice", "model", "format", "speed", "language", "culture"}
ALL = preset_names()


def test_the_ten_required_servers_have_presets() -> None:
    assert set(REQUIRED) <= set(ALL)
    assert len(ALL) >= 10


def test_names_are_unique_lowercase_and_name_their_service() -> None:
    assert len(ALL) == len(set(ALL))
    for name in ALL:
        assert name == name.lower() and " " not in name
        assert PRESETS[name].name == name
        assert preset_service_table(name)["name"] == name


@pytest.mark.parametrize("name", ALL)
def test_block_is_exactly_one_service_of_known_fields(name: str) -> None:
    parsed = tomllib.loads(PRESETS[name].block)
    assert list(parsed) == ["services"] and len(parsed["services"]) == 1
    table = parsed["services"][0]
    assert set(table) <= SERVICE_FIELDS, set(table) - SERVICE_FIELDS
    assert table["type"] in SERVICE_TYPES
    assert table.get("format", "wav") in FORMATS
    kwargs = dict(table)
    for key, cls in SUBTABLES.items():
        if key in table:
            known = {f.name for f in fields(cls)}
            assert set(table[key]) <= known, set(table[key]) - known
            kwargs[key] = cls(**table[key])
    service = Service(**kwargs)
    assert service.url.startswith(("http://", "https://"))
    assert service.response == "body" or re.fullmatch(r"(json|url):.+", service.response)
    if service.type == "http":
        assert service.method in ("GET", "POST")


def test_all_blocks_load_through_the_config_parser_without_warnings() -> None:
    text = "\n".join(PRESETS[name].block for name in ALL)
    loaded = config.parse(text)
    assert [s.name for s in loaded.services] == ALL
    assert loaded.warnings == []


@pytest.mark.parametrize("name", ALL)
def test_secrets_are_environment_references(name: str) -> None:
    table = preset_service_table(name)
    api_key = table.get("api_key", "")
    assert api_key == "" or api_key.startswith("$"), "api_key holds a literal secret"
    for header, value in table.get("headers", {}).items():
        if re.search(r"key|token|secret|auth", header, re.I):
            assert "$" in value, f"{header} holds a literal secret"


@pytest.mark.parametrize("name", [n for n in ALL if preset_service_table(n)["type"] == "http"])
def test_http_templates_use_known_variables_and_bodies_are_json(name: str) -> None:
    table = preset_service_table(name)
    known = BUILTIN_VARIABLES | set(table.get("params", {}))
    templates = [table["url"], table.get("body", ""), *table.get("query", {}).values()]
    templates += list(table.get("headers", {}).values())
    for template in templates:
        for tag in TAG.findall(template):
            assert tag in known or tag.startswith("env."), f"unknown variable {tag!r}"
    body = table.get("body", "").strip()
    if body.startswith(("{", "[")):
        # Every tag becomes 1: a JSON number bare, "1" inside a string.
        json.loads(TAG.sub("1", body))
    if table.get("method", "POST") == "GET":
        assert not body, "a GET sends no body"


@pytest.mark.parametrize("name", [n for n in ALL if "voices" in preset_service_table(n)])
def test_voice_lists_use_absolute_urls(name: str) -> None:
    # A relative voices.url is joined to the speech URL, which for these
    # servers is an endpoint, not a base; so presets spell the URL out.
    assert preset_service_table(name)["voices"]["url"].startswith(("http://", "https://"))


@pytest.mark.parametrize("name", ALL)
def test_preset_says_what_it_is_and_where_it_was_checked(name: str) -> None:
    preset = PRESETS[name]
    assert preset.summary and "\n" not in preset.summary
    assert preset.source and preset.checked
    assert preset.block.endswith("\n")
    # The comment a user pastes names the repository, files and version read,
    # with a commit date, so they can tell when the server may have moved on.
    comment = " ".join(
        line[1:].strip() for line in preset.block.splitlines() if line.startswith("#")
    )
    assert comment.startswith(f"Checked against {preset.source}, {preset.checked}.")
    if name != "generic-http":  # checked against tts-tui's own server, this version
        assert re.match(r"[\w.-]+/[\w.-]+ ", preset.source), "source names owner/repository first"
        assert re.search(r"\b[0-9a-f]{7}\b \(20\d\d-\d\d-\d\d", preset.checked), "a commit and its date"


@pytest.mark.parametrize("name", ALL)
def test_formats_are_what_the_server_answers_and_the_block_says_so(name: str) -> None:
    preset = PRESETS[name]
    table = preset_service_table(name)
    assert preset.formats and set(preset.formats) <= set(FORMATS)
    assert len(set(preset.formats)) == len(preset.formats)
    assert preset.formats[0] == table.get("format", "wav"), "the block's format comes first"
    templates = " ".join([table["url"], table.get("body", ""), *table.get("query", {}).values()])
    if table["type"] == "http" and not re.search(r"\{\{\s*format\s*\}\}", templates):
        # the request never says which format: the server answers one
        assert len(preset.formats) == 1
    if len(preset.formats) > 1:
        # the comment on the format line offers exactly those formats
        line = next(l for l in preset.block.splitlines() if l.startswith("format ="))
        offered = re.search(r"[a-z0-9]+(?:\s*\|\s*[a-z0-9]+)+", line.partition("#")[2])
        assert offered, line
        assert re.split(r"\s*\|\s*", offered[0]) == list(preset.formats), line


def test_get_preset_ignores_case_and_spaces() -> None:
    assert get_preset("  Kokoro-FastAPI ") is PRESETS["kokoro-fastapi"]


@pytest.mark.parametrize(
    ("typed", "suggested"),
    [
        ("xtts", "xtts-api-server"),
        ("kokoro", "kokoro-fastapi"),
        ("opentss", "opentts"),
        ("chaterbox", "chatterbox"),
    ],
)
def test_unknown_name_suggests_the_closest_preset(typed: str, suggested: str) -> None:
    with pytest.raises(ConfigError) as caught:
        get_preset(typed)
    assert caught.value.message == f"no preset named {typed!r}"
    assert caught.value.hint.startswith(f"did you mean {suggested!r}?")
    assert "known presets: " + ", ".join(ALL) in caught.value.hint


def test_unknown_name_without_a_close_match_lists_the_presets() -> None:
    with pytest.raises(ConfigError) as caught:
        get_preset("qqqqqq")
    assert caught.value.hint == "known presets: " + ", ".join(ALL)


def test_service_table_is_a_fresh_copy() -> None:
    table = preset_service_table("piper")
    table["params"]["length_scale"] = 9.0
    table["voice"] = "changed"
    again = preset_service_table("piper")
    assert again["params"]["length_scale"] == 1.0
    assert again["voice"] == "en_US-lessac-medium"


# --- end to end: each preset against a replica of its server's routes -------------------
#
# tests/preset_servers.py answers like each server's route code (method, path,
# body parsing and its failures, Content-Type of the audio), with a tone lasting
# WORD_S per word of the text. `tts-tui --config FILE say ... -o out.wav` then
# shows what a user would see: audio of the right length on disk, or one error line.

import soundfile  # noqa: E402

from tests import preset_servers  # noqa: E402

ORIGIN = re.compile(r"http://127\.0\.0\.1:\d+")
SAID = "one two three four five six"  # six words: 0.6 s from every replica


def preset_config(tmp_path, name: str, server, *, replace: dict[str, str] | None = None):
    """The preset's block, as printed, pointed at `server` instead of its default port."""
    block = ORIGIN.sub(server.base, PRESETS[name].block)
    for old, new in (replace or {}).items():
        assert old in block
        block = block.replace(old, new)
    path = tmp_path / "config.toml"
    path.write_text(block, encoding="utf-8")
    return path


def seconds(path) -> float:
    info = soundfile.info(str(path))
    return info.frames / info.samplerate


REPLICAS = {
    "piper": preset_servers.PiperServer,
    "piper-legacy": preset_servers.LegacyPiperServer,
    "xtts-api-server": preset_servers.XttsApiServer,
    "chatterbox-native": preset_servers.ChatterboxServer,
    "alltalk-stream": preset_servers.AllTalkServer,
    "opentts": preset_servers.OpenTtsServer,
}


@pytest.mark.parametrize("name", list(REPLICAS))
def test_preset_speaks_to_a_replica_of_its_server(name: str, cli, tmp_path) -> None:
    with REPLICAS[name]() as server:
        config = preset_config(tmp_path, name, server)
        out = cli("--config", str(config), "say", SAID, "--no-play", "-o", "out.wav")
        assert out.returncode == 0, out.stderr
        assert seconds(tmp_path / "out.wav") == pytest.approx(6 * preset_servers.WORD_S, abs=0.01)
        assert len(server.requests) == 1
        if "voices" in preset_service_table(name):
            listed = cli("--config", str(config), "voices", "--json")
            assert listed.returncode == 0, listed.stderr
            ids = [v["id"] for v in json.loads(listed.stdout)["voices"]]
            assert preset_service_table(name)["voice"] in ids, ids


def test_piper_sends_json_to_synthesize_and_its_length_scale_as_a_number(cli, tmp_path) -> None:
    with preset_servers.PiperServer() as server:
        config = preset_config(tmp_path, "piper", server, replace={"length_scale = 1.0": "length_scale = 2.0"})
        out = cli("--config", str(config), "say", 'Say "hi"\nnow', "--no-play", "-o", "out.wav")
        assert out.returncode == 0, out.stderr
        (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/synthesize")
    assert request.header("content-type") == "application/json"
    assert json.loads(request.body) == {"text": 'Say "hi"\nnow', "voice": "en_US-lessac-medium", "length_scale": 2.0}
    # three words at length_scale 2: the server read the number
    assert seconds(tmp_path / "out.wav") == pytest.approx(3 * preset_servers.WORD_S * 2, abs=0.01)


def test_the_piper_replica_refuses_what_piper_refuses() -> None:
    # What the presets are checked against must fail where piper fails, or the
    # tests above could not catch a drift: a form-encoded body (curl's default)
    # and the old POST / both fail, JSON works.
    import httpx

    with preset_servers.PiperServer() as server:
        form = httpx.post(server.url("/synthesize"), data={"text": "hello there"})
        as_json = httpx.post(server.url("/synthesize"), json={"text": "hello there"})
        old_root = httpx.post(server.url("/"), json={"text": "hello there"})
    assert form.status_code == 500 and "Internal Server Error" in form.text
    assert as_json.status_code == 200 and as_json.content[:4] == b"RIFF"
    assert as_json.headers["content-type"] == "text/html; charset=utf-8"  # as Flask labels it
    assert old_root.status_code == 405


def test_piper_legacy_posts_the_text_itself(cli, tmp_path) -> None:
    with preset_servers.LegacyPiperServer() as server:
        config = preset_config(tmp_path, "piper-legacy", server)
        out = cli("--config", str(config), "say", "Grüße, {friend}!", "--no-play", "-o", "out.wav")
        assert out.returncode == 0, out.stderr
        (request,) = server.requests
    assert (request.method, request.path) == ("POST", "/")
    assert request.header("content-type") == "text/plain; charset=utf-8"
    assert request.body == "Grüße, {friend}!".encode()
    assert seconds(tmp_path / "out.wav") == pytest.approx(2 * preset_servers.WORD_S, abs=0.01)


def test_the_wrong_piper_preset_fails_in_one_line(cli, tmp_path) -> None:
    # piper-legacy against piper >= 1.5: POST / is the web page's URL, 405.
    with preset_servers.PiperServer() as server:
        config = preset_config(tmp_path, "piper-legacy", server)
        out = cli("--config", str(config), "say", SAID, "--no-play", "-o", "out.wav")
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: HTTP 405"), out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "out.wav").exists()


@pytest.mark.parametrize("fmt", PRESETS["chatterbox-native"].formats)
def test_chatterbox_native_asks_for_the_format_the_block_names(fmt: str, cli, tmp_path) -> None:
    with preset_servers.ChatterboxServer() as server:
        config = preset_config(tmp_path, "chatterbox-native", server, replace={'format = "wav"': f'format = "{fmt}"'})
        cli("--config", str(config), "say", SAID, "--no-play")
        (request,) = server.requests
    body = json.loads(request.body)
    assert body["output_format"] == fmt
    assert body["predefined_voice_id"] == "Emily.wav" and body["speed_factor"] == 1.0


SPEECH = preset_servers.SPEECH_ROUTES
EDGE_ENV = {"OPENAI_EDGE_TTS_API_KEY": "edge-secret"}  # the key the openai-edge-tts replica wants


@pytest.mark.parametrize("name", list(SPEECH))
def test_openai_compatible_preset_speaks_to_a_replica_of_its_server(name: str, cli, tmp_path) -> None:
    route = SPEECH[name]
    with preset_servers.OpenAISpeechServer(route) as server:
        config = preset_config(tmp_path, name, server)
        out = cli("--config", str(config), "say", SAID, "--no-play", "-o", "out", env=EDGE_ENV)
        assert out.returncode == 0, out.stderr
        (saved,) = tmp_path.glob("out*")
        # mp3 frames pad the end a little; wav is exact
        assert seconds(saved) == pytest.approx(6 * preset_servers.WORD_S, abs=0.01 if route.formats[0] == "wav" else 0.08)
        body = json.loads(server.requests[0].body)
        assert body["response_format"] == PRESETS[name].formats[0]
        listed = cli("--config", str(config), "voices", "--json", env=EDGE_ENV)
    if route.voices_doc is None:
        assert listed.returncode == 0 and json.loads(listed.stdout)["voices"] == [], listed.stdout
    else:
        assert listed.returncode == 0, listed.stderr
        ids = [v["id"] for v in json.loads(listed.stdout)["voices"]]
        assert ids and (preset_service_table(name)["voice"] in ids or name == "openai-edge-tts"), ids


@pytest.mark.parametrize("name", list(SPEECH))
def test_a_preset_offers_exactly_the_formats_its_server_answers(name: str) -> None:
    # Every format tts-tui knows, sent the way the preset's service sends it: the
    # ones the preset offers come back in that format, the others do not.
    import httpx

    from tts_tui.core.services import service_type

    route = SPEECH[name]
    answered = []
    with preset_servers.OpenAISpeechServer(route) as server, httpx.Client(timeout=10) as client:
        block = ORIGIN.sub(server.base, PRESETS[name].block).replace("$OPENAI_EDGE_TTS_API_KEY", "edge-secret")
        service = config.parse(block).services[0]
        for fmt in FORMATS:
            service.format = fmt
            prepared = service_type(service).speech_request(service, SAID)
            reply = client.request(prepared.method, prepared.url, headers=prepared.headers, content=prepared.body)
            expected = route.sample_types.get(fmt, preset_servers._TYPES[fmt])
            if reply.status_code == 200 and reply.headers["content-type"] == expected:
                answered.append(fmt)
    assert sorted(answered) == sorted(PRESETS[name].formats)
