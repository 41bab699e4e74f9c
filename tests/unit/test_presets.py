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
