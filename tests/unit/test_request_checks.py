"""What the server would refuse is refused before sending: bodies that must be
JSON, URLs that are not absolute http(s), formats the server does not answer."""

from __future__ import annotations

import json

import pytest

from tts_tui.core.errors import ConfigError, TemplateError
from tts_tui.core.formats import format_choices
from tts_tui.core.model import Service
from tts_tui.core.services import check_url
from tts_tui.core.speech import prepare
from tts_tui.core.templates import looks_like_json, render_body


def error_of(call, *args, **kwargs):
    with pytest.raises((TemplateError, ConfigError)) as info:
        call(*args, **kwargs)
    return info.value


def test_a_typo_before_a_json_body_is_an_error_at_the_typo():
    # the user typed W before the brace: the server would answer 400
    error = error_of(render_body, 'W{"text": "{{ text }}"}', {"text": "hello"})
    assert error.message.startswith("the body is not valid JSON")
    assert (error.line, error.column) == (1, 1)


def test_the_position_is_in_the_template_not_in_the_render():
    # a long text makes the rendered body's column 100+; the template's stays small
    template = '{"text": "{{ text }}",\n "voice": "{{ voice }}" "speed": 1}'
    error = error_of(render_body, template, {"text": "x" * 200, "voice": "v"})
    assert (error.line, error.column) == (2, 25)  # the `"speed"` the user typed


def test_a_value_that_breaks_json_points_at_its_tag():
    # the request says JSON, the template is plain: the tag's output is what breaks it
    error = error_of(render_body, '{{ text }}', {"text": "hello"}, json_body=True)
    assert (error.line, error.column) == (1, 1)
    assert "value this tag inserts" in error.hint


def test_a_missing_closing_brace_points_at_the_end():
    error = error_of(render_body, '{"text": "{{ text }}"\n', {"text": "hello"})
    assert error.line in (1, 2)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('W{"text": "{{ text }}"}', True),
        ('{"text": "{{ text }}"}', True),
        ("Say: {{ text }}", False),
        ("text={{ text }}&voice={{ voice }}", False),
        ("{{ text }}", False),
    ],
)
def test_what_looks_like_json(template, expected):
    assert looks_like_json(template) is expected


def test_plain_text_bodies_stay_plain():
    assert render_body("Say: {{ text }}", {"text": "[laughs] hi"}) == "Say: [laughs] hi"


def http_service(**kw) -> Service:
    fields = {"name": "x", "type": "http", "url": "http://127.0.0.1:9/tts", "body": '{"text": "{{ text }}"}'}
    fields.update(kw)
    return Service(**fields)


def test_a_json_content_type_makes_a_plain_template_an_error():
    service = http_service(body="{{ text }}", headers={"Content-Type": "application/json; charset=utf-8"})
    error = error_of(prepare, service, "hello")
    assert error.message.startswith("the body is not valid JSON")


def test_a_plain_body_with_a_text_content_type_is_sent_as_it_is():
    service = http_service(body="{{ text }}", headers={"Content-Type": "text/plain"})
    assert prepare(service, "[laughs] hi").body == b"[laughs] hi"


def test_a_json_body_gets_the_json_content_type():
    request = prepare(http_service(), "hello")
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {"text": "hello"}


@pytest.mark.parametrize("url", ["Z", "127.0.0.1:8880/v1", "ftp://127.0.0.1/x", "http://", "http:///path"])
def test_a_url_that_is_not_absolute_http_is_refused(url):
    error = error_of(check_url, url)
    assert error.message.startswith("url:")
    error = error_of(prepare, Service(name="o", url=url), "hello")
    assert error.message.startswith("url:")


def test_a_url_error_masks_its_secrets():
    error = error_of(check_url, "ftp://me:hunter2@127.0.0.1/x")
    assert "hunter2" not in str(error)


def test_absolute_urls_pass():
    assert check_url("https://api.openai.com/v1/audio/speech")
    assert prepare(Service(name="o", url="http://127.0.0.1:9/v1"), "hi").url == "http://127.0.0.1:9/v1/audio/speech"


def test_the_builtin_service_offers_what_the_embedded_server_answers():
    from tts_tui.server.encode import check_format

    choices = format_choices(Service(name="local"))
    assert "aac" not in choices
    for fmt in choices:
        assert check_format(fmt) == fmt  # the server takes every one offered


def test_a_preset_service_offers_its_servers_formats():
    from tts_tui.core.presets import PRESETS

    assert format_choices(Service(name="chatterbox", url="http://10.1.1.1:8004/v1")) == PRESETS["chatterbox"].formats
    # renamed, but at the preset's port and path
    assert format_choices(Service(name="mine", url="http://10.1.1.1:8004/v1")) == PRESETS["chatterbox"].formats


def test_the_current_value_is_always_offered():
    assert "ogg" in format_choices(Service(name="x", url="http://10.1.1.1:1/v1", format="ogg"))


def test_the_default_config_promises_only_what_the_embedded_server_answers():
    from importlib.resources import files

    text = files("tts_tui.core").joinpath("default_config.toml").read_text()
    line = next(line for line in text.splitlines() if line.startswith("format ="))
    comment = line.split("#", 1)[1].split("(")[0]
    assert "aac" not in comment
