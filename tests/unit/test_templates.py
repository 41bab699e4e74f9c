"""Templates: what a user pastes renders to the bytes they expect, or a
TemplateError that points at their own line and column."""

from __future__ import annotations

import json
from urllib.parse import unquote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tts_tui.core import template_engine, templates
from tts_tui.core.errors import TemplateError
from tts_tui.core.templates import (
    append_query,
    build_query,
    check_template,
    render_body,
    render_header,
    render_text,
    render_url,
    template_variables,
)

XTTS_BODY = '''
{"text": "{{ text }}", "speaker_wav": "{{ speaker_wav }}",
 "language": "{{ if language }}{{ language }}{{ else }}en{{ end }}"}
'''

NASTY = 'She said "hi" \\o/\n\ttab\x00\x1f \u2028 caf\u00e9 \U0001F600 </script>'


def variables(**extra):
    base = {
        "text": "Hello",
        "voice": "af_heart",
        "model": "tts-1",
        "format": "wav",
        "speed": 1.0,
        "language": "en",
        "culture": "en-US",
        "env": {"HOME": "/home/me", "EMPTY": ""},
    }
    base.update(extra)
    return base


def error_of(call, *args) -> TemplateError:
    with pytest.raises(TemplateError) as info:
        call(*args)
    return info.value


# --- properties -------------------------------------------------------------


# Pieces of templates whose tags only name variables, the shape `templates`
# writes out itself, with literal text full of what a template reader trips on.
PLAIN_TAGS = st.sampled_from(["{{ text }}", "{{text}}", "{{  voice }}", "{{ speed }}", "{{ nested }}",
                              "{{ flag }}", "{{ nothing }}", "{{ number }}", "{{ speaker_wav }}"])
LITERAL = st.lists(st.sampled_from(list('{}[]":,\\ \r\n\tab%#/?=&-_') + ["}}", "%}", "#}", "{#", "\u00e9", "\U0001F600"]),
                   max_size=12).map("".join).filter(lambda t: "{{" not in t and "{%" not in t)
QUICK_VALUES = variables(nested={"a": [1, "x\"y"]}, flag=True, nothing=None, number=-2.5,
                         speaker_wav='C:\\voices\\me "quoted".wav\n')


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(LITERAL, PLAIN_TAGS), min_size=1, max_size=8).map("".join),
       st.sampled_from(["body", "url", "header", "text"]))
def test_a_template_of_plain_tags_renders_as_the_engine_renders_it(template, kind):
    try:
        by_engine: object = template_engine.render(template, kind, QUICK_VALUES)
    except TemplateError as exc:
        by_engine = ("error", str(exc))
    try:
        ours: object = templates._render(template, kind, QUICK_VALUES)
    except TemplateError as exc:
        ours = ("error", str(exc))
    assert ours == by_engine


def test_the_engine_is_asked_only_for_what_plain_tags_cannot_say(monkeypatch):
    asked = []
    engine_render = template_engine.render

    def spy(template, kind, values):
        asked.append(template)
        return engine_render(template, kind, values)

    monkeypatch.setattr(template_engine, "render", spy)
    assert render_body('{"text": "{{ text }}", "speed": {{ speed }}}', variables()) == '{"text": "Hello", "speed": 1.0}'
    assert render_url("http://h/{{ voice }}", variables()) == "http://h/af_heart"
    assert template_variables('{"t": "{{ text }}", "w": "{{ speaker_wav }}"}') == {"text", "speaker_wav"}
    assert asked == []
    assert render_text("{{ text | upper }}", variables()) == "HELLO"
    with pytest.raises(TemplateError, match="unknown variable 'speaker_wav'"):
        render_body('{"w": "{{ speaker_wav }}"}', variables())  # a name the request lacks: the engine says so
    with pytest.raises(TemplateError, match="line break"):
        render_header("x {{ text }}", variables(text="a\nb"))  # and which tag broke a header
    assert asked == ["{{ text | upper }}", '{"w": "{{ speaker_wav }}"}', "x {{ text }}"]


def test_plain_tags_are_written_without_the_engine():
    for template, kind in [('{"text": "{{ text }}", "voice": "{{voice}}", "speed": {{ speed }}}', "body"),
                           ("http://host/{{ voice }}/speak?q=1", "url"), ("Bearer {{ text }}", "header"),
                           ("no tags at all", "body")]:
        assert templates._plain(template, kind) is not None
    for template in ["{{ text | upper }}", "{{ if text }}x{{ end }}", "{{ env.HOME }}", "{{- text }}",
                     "{{ string.escape text }}", "a\r\n{{ text }}", "{# not a comment #}{{ text }}", "{{ true }}"]:
        assert templates._plain(template, "body") is None, template




@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",)), max_size=4000))
def test_any_text_inside_a_json_string_round_trips(text):
    body = render_body('{"text": "{{ text }}"}', {"text": text})
    assert json.loads(body)["text"] == text


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=500))
def test_any_text_in_a_url_path_and_query_round_trips(text):
    url = render_url("http://127.0.0.1:8020/say/{{ text }}?q={{ text }}", {"text": text})
    parts = urlsplit(url)
    assert parts.netloc == "127.0.0.1:8020"
    assert unquote(parts.path.removeprefix("/say/")) == text
    assert unquote(parts.query.removeprefix("q=")) == text
    assert "?" not in parts.path and "&" not in parts.query and " " not in url


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_header_values_pass_unless_they_hold_a_line_break(text):
    if "\r" in text or "\n" in text:
        error = error_of(render_header, "Bearer {{ key }}", {"key": text})
        assert "line break" in str(error)
        assert (error.line, error.column) == (1, 8)
    else:
        assert render_header("Bearer {{ key }}", {"key": text}) == "Bearer " + text


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=20), st.text(max_size=40)), max_size=5))
def test_appended_query_pairs_round_trip(pairs):
    url = append_query("http://h/tts?fixed=1#frag", pairs)
    base, _, fragment = url.partition("#")
    assert fragment == "frag"
    query = urlsplit(base).query
    items = query.split("&")
    assert items[0] == "fixed=1"
    decoded = [tuple(unquote(p) for p in item.split("=", 1)) for item in items[1:]]
    assert decoded == pairs


# --- JSON bodies ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "1.0"),
        (2, "2"),
        ("a", '"a"'),
        ('q"\n', '"q\\"\\n"'),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        ({"k": [1, "x"]}, '{"k": [1, "x"]}'),
        ([1.5, None], "[1.5, null]"),
    ],
)
def test_a_bare_value_is_inserted_as_json(value, expected):
    assert render_body('{"v": {{ v }}}', {"v": value}) == '{"v": ' + expected + "}"


def test_values_inside_strings_are_escaped_without_quotes():
    body = render_body(
        '{"a": "x{{ text }}y", "b": "{{ speed }}", "c": "{{ flag }}", "d": "{{ none }}"}',
        {"text": NASTY, "speed": 1.0, "flag": True, "none": None},
    )
    assert json.loads(body) == {"a": f"x{NASTY}y", "b": "1.0", "c": "true", "d": ""}


def test_nested_objects_and_arrays_track_string_context():
    template = (
        '{"input": {"parts": ["{{ text }}", {{ text }}], "opts": {"speed": {{ speed }},'
        ' "esc\\"aped {{ voice }}": "\\\\{{ voice }}"}}}'
    )
    body = json.loads(render_body(template, variables(text=NASTY, voice='v"1')))
    assert body["input"]["parts"] == [NASTY, NASTY]
    assert body["input"]["opts"] == {"speed": 1.0, 'esc"aped v"1': '\\v"1'}


def test_top_level_array_body():
    assert json.loads(render_body('[{{ text }}, "{{ text }}"]', {"text": "a\\b"})) == [
        "a\\b",
        "a\\b",
    ]


def test_the_xtts_body_from_the_design_renders_with_and_without_language():
    v = variables(text='Say "hello"\nthen stop.', speaker_wav="female_01.wav")
    assert json.loads(render_body(XTTS_BODY, v)) == {
        "text": 'Say "hello"\nthen stop.',
        "speaker_wav": "female_01.wav",
        "language": "en",
    }
    v["language"] = "de"
    assert json.loads(render_body(XTTS_BODY, v))["language"] == "de"
    v["language"] = ""
    assert json.loads(render_body(XTTS_BODY, v))["language"] == "en"


def test_voxta_string_escape_is_not_escaped_twice():
    v = variables(text=NASTY)
    for template in (
        '{"text": "{{ text | string.escape }}"}',
        '{"text": "{{ string.escape text }}"}',
    ):
        assert json.loads(render_body(template, v))["text"] == NASTY
    assert render_text("{{ text | string.escape }}", {"text": 'a"b\n'}) == 'a\\"b\\n'


def test_if_else_if_else_end_restores_json_context_per_branch():
    template = (
        '{"lang": {{ if language == "de" }}"{{ language }}"{{ else if language }}'
        "{{ language }}{{ else }}null{{ end }}, \"t\": \"{{ text }}\"}"
    )
    assert json.loads(render_body(template, variables(language="de"))) == {
        "lang": "de",
        "t": "Hello",
    }
    assert json.loads(render_body(template, variables(language="fr")))["lang"] == "fr"
    assert json.loads(render_body(template, variables(language="")))["lang"] is None


def test_empty_question_mark_and_not():
    template = '{"a": {{ x.empty? }}, "b": {{ !x.empty? }}, "c": {{ !flag }}}'
    assert json.loads(render_body(template, {"x": "", "flag": True})) == {
        "a": True,
        "b": False,
        "c": False,
    }
    assert json.loads(render_body(template, {"x": "v", "flag": False}))["a"] is False
    # missing counts as empty, and is not an unknown variable there
    assert json.loads(render_body(template, {"flag": False}))["a"] is True
    assert render_text("{{ if !missing.empty? }}yes{{ else }}no{{ end }}", {}) == "no"
    assert render_text("{{ if a && !b || c }}T{{ end }}", {"a": 1, "b": 0, "c": 0}) == "T"


def test_env_variables():
    v = variables()
    assert render_text("{{ env.HOME }}/x", v) == "/home/me/x"
    assert render_text("{{ if env.UNSET.empty? }}unset{{ end }}", v) == "unset"
    assert render_text("{{ env.EMPTY.empty? }}", v) == "true"
    error = error_of(render_text, "key:\n  {{ env.XTTS_KEY }}", v)
    assert "environment variable 'XTTS_KEY' is not set" in str(error)
    assert (error.line, error.column) == (2, 3)


def test_plain_jinja_if_also_works():
    template = '{"l": {% if language %}"{{ language }}"{% else %}null{% endif %}}'
    assert json.loads(render_body(template, variables())) == {"l": "en"}


def test_non_json_body_is_plain_text_and_trailing_newline_is_kept():
    assert render_body("text={{ text }}&n={{ n }}\n", {"text": 'a "b"', "n": None}) == (
        'text=a "b"&n=\n'
    )


def test_jinja_comment_opener_is_literal_text():
    assert json.loads(render_body('{"a": "{#x{{ text }}"}', {"text": "t"})) == {"a": "{#xt"}


def test_a_lone_surrogate_is_escaped_so_the_body_encodes():
    body = render_body('{"s": "{{ text }}"}', {"text": "x\udc00"})
    assert body.encode("utf-8") == b'{"s": "x\\udc00"}'


def test_whitespace_control_raw_blocks_and_loops():
    assert render_text("a  {{- text -}}  b|{{~ text ~}} c", {"text": "t"}) == "atb|tc"
    assert render_text("{% raw %}{{ text }}{% endraw %} {{ text }}", {"text": "t"}) == "{{ text }} t"
    items = [{"name": 'a"'}, {"name": "b"}]
    template = '[{{ for i in items }}"{{ i.name }}", {{ end }}"z"]'
    assert json.loads(render_body(template, {"items": items})) == ['a"', "b", "z"]


def test_render_text_formats_values_like_scriban():
    v = {"b": True, "n": None, "l": [1, "x"], "f": 1.5, "no": False}
    assert render_text("{{ b }}|{{ n }}|{{ l }}|{{ f }}|{{ no }}", v) == 'true||[1, "x"]|1.5|false'


# --- URL, query, headers ----------------------------------------------------------


def test_url_encodes_values_in_path_and_query_only():
    v = variables(text="a b/c?d&e=f", voice="x y", base="http://127.0.0.1:9/v1")
    assert render_url("http://h:1/tts/{{ voice }}?text={{ text }}&raw=%20", v) == (
        "http://h:1/tts/x%20y?text=a%20b%2Fc%3Fd%26e%3Df&raw=%20"
    )
    assert render_url("{{ base }}/audio/{{ voice }}", v) == "http://127.0.0.1:9/v1/audio/x%20y"
    assert render_url("http://{{ host }}:8020/", {"host": "127.0.0.1"}) == "http://127.0.0.1:8020/"


def test_build_query_renders_plain_and_append_query_encodes():
    query = {"text": "{{ text }}", "speaker": "{{ voice }}.wav"}
    pairs = build_query(query, variables(text="a b&c"))
    assert pairs == [("text", "a b&c"), ("speaker", "af_heart.wav")]
    assert append_query("http://h/tts", pairs) == "http://h/tts?text=a%20b%26c&speaker=af_heart.wav"
    assert append_query("http://h/tts?", pairs[:1]) == "http://h/tts?text=a%20b%26c"
    assert append_query("http://h/tts?x=1", []) == "http://h/tts?x=1"
    error = error_of(build_query, {"text": "{{ txet }}"}, variables())
    assert "query parameter 'text'" in error.message and "unknown variable 'txet'" in error.message


def test_header_line_break_in_the_template_itself_is_refused():
    error = error_of(render_header, "a\nb", {})
    assert "line break" in error.message
    assert (error.line, error.column) == (1, 2)
    assert render_header("Bearer {{ env.HOME }}", variables()) == "Bearer /home/me"


# --- errors point at the user's text ------------------------------------------------


def test_unknown_variable_has_position_and_lists_known_ones():
    template = '{\n  "text": "{{ text }}",\n  "voice": "{{ speaker }}"\n}'
    error = error_of(render_body, template, variables())
    assert error.message == "unknown variable 'speaker'"
    assert (error.line, error.column) == (3, 13)
    for name in ("text", "voice", "culture", "env.NAME"):
        assert name in error.hint
    typo = error_of(render_body, '{"t": "{{ txet }}"}', variables())
    assert typo.hint.startswith("did you mean 'text'?")


def test_unknown_variable_in_an_untaken_branch_is_still_reported():
    error = error_of(render_text, "{{ if false }}\n{{ lnaguage }}{{ end }}", variables())
    assert (error.message, error.line, error.column) == ("unknown variable 'lnaguage'", 2, 1)


@pytest.mark.parametrize(
    ("template", "message", "line", "column"),
    [
        ('{"a": "{{ text }",\n "b": 1}', "unclosed tag: '{{' without '}}'", 1, 8),
        ('{"a": 1,\n "b": "{{ text"}', "unclosed tag: '{{' without '}}'", 2, 8),
        ('{"a":\n  "{{ if text }}x"}', "unclosed {{ if }}: no {{ end }}", 2, 4),
        ('{"a": "x"}\n{{ end }}', "stray {{ end }}", 2, 1),
        ("x {% endif %}", "stray {% endif %}", 1, 3),
        ("{{ if a }}{{ else }}{{ else }}{{ end }}", "{{ else }} after {{ else }}", 1, 21),
        ("ok\n  {{ else }}", "{{ else }} outside an {{ if }}", 2, 3),
        ("{{ if }}{{ end }}", "{{ if }} needs a condition", 1, 1),
        ("a {{  }}", "empty tag", 1, 3),
    ],
)
def test_structure_errors(template, message, line, column):
    for call in (lambda: check_template(template), lambda: render_body(template, variables())):
        error = error_of(call)
        assert error.message == message
        assert (error.line, error.column) == (line, column)
        assert error.hint


@pytest.mark.parametrize(
    ("template", "line", "column"),
    [
        ('{"a":\n   {{ text + }}}', 2, 4),
        ("{{ text | no_such_filter }}", 1, 1),
        ("line1\nline2 {{ if text ) }}x{{ end }}", 2, 7),
        ("a\n{% for x in %}{% endfor %}", 2, 1),
    ],
)
def test_syntax_errors_point_at_the_tag(template, line, column):
    error = error_of(check_template, template)
    assert error.message.startswith("cannot read this tag")
    assert (error.line, error.column) == (line, column)


def test_invalid_json_after_rendering_points_into_the_template():
    template = '{"a": "{{ text }}",\n "b": {{ text }} "c"}'
    error = error_of(render_body, template, {"text": "x"})
    assert error.message.startswith("the body is not valid JSON")
    # the `"c"` the user typed, on line 2 of the template (not column 11 of the render)
    assert (error.line, error.column) == (2, 18)
    assert '{{ text }} "c"' in error.hint


def test_runtime_failures_point_at_the_tag():
    error = error_of(render_text, "ok\n  {{ text / 0 }}", {"text": 1})
    assert (error.line, error.column) == (2, 3)
    assert "division" in error.message


# --- sandbox ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "template, refused",
    [
        ("{{ ''.__class__.__mro__ }}", "access to attribute '__class__' of 'str' object is unsafe."),
        ("{{ text.__class__.__base__.__subclasses__() }}", "access to attribute '__class__' of 'str' object is unsafe."),
        ("{{ cycler.__init__.__globals__.os }}", "access to attribute '__init__' of 'type' object is unsafe."),
        ("{{ (text * 100000000)|length }}", "repeated value too large"),
        ("{{ 10 ** 100000000 }}", "exponent too large"),
    ],
)
def test_sandbox_refuses_code_execution(template, refused):
    # refused by the sandbox, at the tag, saying why: not any error on line 1
    prefix = '{"a": 1}\n'
    error = error_of(render_text, prefix + "  " + template, {"text": "t"})
    assert error.message == f"not allowed in a template: {refused}"
    assert (error.line, error.column) == (2, 3)


def test_check_template_and_template_variables():
    check_template(XTTS_BODY)
    check_template("http://h/{{ voice }}", "url")
    check_template("Bearer {{ env.KEY }}", "header")
    check_template("{{ unknown_is_fine_here }}", "label")
    assert template_variables(XTTS_BODY) == {"text", "speaker_wav", "language"}
    assert template_variables("{{ env.HOME }}{{ if !x.empty? }}{{ y }}{{ end }}") == {
        "env.HOME",
        "x",
        "y",
    }


def test_repeated_rendering_gives_the_same_body_each_time():
    # what a user sees of the compiled-template cache: the same body every
    # time, and a changed template (same length) takes effect at once
    template = '{"text": "{{ text }}", "voice": "{{ voice }}", "speed": {{ speed }}}'
    v = variables(text=NASTY * 50)
    bodies = {render_body(template, v) for _ in range(200)}
    assert len(bodies) == 1 and json.loads(bodies.pop())["text"] == NASTY * 50
    assert json.loads(render_body(template.replace('"voice"', '"VOICE"'), v))["VOICE"] == v["voice"]


# -- templates that would cost too much --------------------------------------------


@pytest.mark.parametrize(
    ("template", "message", "column"),
    [('{"t": "' + "{{ if text }}" * 120 + "x" + "{{ end }}" * 120 + '"}', "blocks nest more than 40 deep", 528),
     ('{"t": "{{ ' + "(" * 300 + "text" + ")" * 300 + ' }}"}', "nests more than 40 parentheses", 8),
     ('{"t": "' + "{{ text }}" * 3000 + '"}', "more than 2,000 tags", 20008)],
    ids=["120-nested-ifs", "300-parentheses", "3000-tags"],
)
def test_a_template_too_deep_or_too_big_is_an_error_at_its_place(template: str, message: str, column: int) -> None:
    with pytest.raises(TemplateError) as caught:
        templates.render_body(template, {"text": "hi"})
    assert message in caught.value.message
    assert (caught.value.line, caught.value.column) == (1, column)


def test_a_megabyte_template_is_refused_at_once() -> None:
    with pytest.raises(TemplateError, match="at most 262,144"):
        templates.render_body('{"t": "' + "{{ text }}" * 100_000 + '"}', {"text": "hi"})


def test_a_body_nested_past_what_json_can_check_is_an_error() -> None:
    with pytest.raises(TemplateError, match="nests JSON too deeply"):
        templates.render_body("[" * 100_000 + "]" * 100_000, {"text": "hi"})


def test_a_plain_text_body_speaks_text_that_starts_like_json() -> None:
    assert templates.render_body("{{ text }}", {"text": "[laughs] hello"}) == "[laughs] hello"
    assert templates.render_body("{{ text }}", {"text": "{not json"}) == "{not json"


# -- each test renders in a freshly built environment --------------------------------


@pytest.fixture(autouse=True)
def fresh_environment(monkeypatch):
    """Each test compiles its templates in a freshly built sandbox with an
    empty compile cache, so what one test compiled never answers for another
    (and a mutation run, which imports this module before switching a mutant
    on, tests the mutant's own environment and compiler)."""
    monkeypatch.setattr(template_engine, "_ENV", template_engine._make_environment())
    template_engine.compile_template.cache_clear()
    templates._plain.cache_clear()
    templates._translate.cache_clear()
    yield
    template_engine.compile_template.cache_clear()
    templates._plain.cache_clear()
    templates._translate.cache_clear()


# -- the whole message a user reads: what, where, and how to fix it ---------------------


@pytest.mark.parametrize(("call", "args", "shown"), [
    (render_header, ("Bearer {{ key }}", {"key": "a\nb"}),
     "header value holds a line break (CR or LF) (line 1, column 8); "
     "header values cannot hold line breaks; remove them from the variable"),
    (render_text, ("x {{ env.NOPE }}", {"env": {}}),
     "environment variable 'NOPE' is not set (line 1, column 3); "
     "set it before starting tts-tui, or test it with {{ if !env.NAME.empty? }}...{{ end }}"),
    (render_text, ("x {{ voice.nope }}", {"voice": {}}),
     "'dict object' has no attribute 'nope' (line 1, column 3); check the spelling of the variable and its keys"),
    (render_text, ("x\n {{ text / 0 }}", {"text": 1}),
     "cannot render this tag: division by zero (line 2, column 2); check the values and operators the tag uses"),
    (render_text, ("\n {{ ''.__class__ }}", {}),
     "not allowed in a template: access to attribute '__class__' of 'str' object is unsafe. (line 2, column 2); "
     "templates can read variables, their keys and items, nothing else"),
    (render_text, ("{{ txet }}", {"text": 1, "_hidden": 2, "env": {}}),
     "unknown variable 'txet' (line 1, column 1); did you mean 'text'? known variables: text, env.NAME"),
    (render_text, ("{{ tex }}", {"texts": 2, "text": 1}),
     "unknown variable 'tex' (line 1, column 1); did you mean 'text'? known variables: text, texts"),
    (render_text, ("{{ q }}", {}), "unknown variable 'q' (line 1, column 1); known variables: (none)"),
    (render_body, ("[" * 100_000 + "]" * 100_000, {}),
     "the rendered body nests JSON too deeply to check; no TTS server needs a body this deep; simplify it"),
    (render_body, ('{"a": "{{ v }}" x}', {"v": "x"}),
     "the body is not valid JSON: Expecting ',' delimiter (line 1, column 17); the text here breaks it: "
     "near '{\"a\": \"{{ v }}\" x}'; check quotes, commas and braces around the tags"),
    (render_body, ('{"t": "{{ text }}"}{{ text }}', {"text": "x"}),
     "the body is not valid JSON: Extra data (line 1, column 20); the value this tag inserts breaks it: "
     "near '{\"t\": \"{{ text }}\"}{{ text }}'; check quotes, commas and braces around the tags"),
    (check_template, ("{{ if a : }}x{{ end }}",),
     "cannot read this tag: expected token ')', got ':' (line 1, column 1); a tag holds a variable or "
     "expression, e.g. {{ text }} or {{ if language }}...{{ else }}...{{ end }}"),
    (check_template, ("{{ if b }}{{ else if a : }}x{{ end }}",),
     "cannot read this tag: expected token ')', got ':' (line 1, column 11); a tag holds a variable or "
     "expression, e.g. {{ text }} or {{ if language }}...{{ else }}...{{ end }}"),
    (check_template, ("{% set %}",),
     "template syntax error: Expected an expression, got 'end of statement block' (line 1, column 1); "
     "check that every {% %} tag is complete and its block is closed"),
    (check_template, ("x {% set %}",),
     "template syntax error: Expected an expression, got 'end of statement block' (line 1, column 1); "
     "check that every {% %} tag is complete and its block is closed"),
    (check_template, ("ab\ncd\n  {% set %}",),
     "template syntax error: Expected an expression, got 'end of statement block' (line 3, column 1); "
     "check that every {% %} tag is complete and its block is closed"),
    (check_template, ("{{ text }}\n\n{% foo %}",),
     "template syntax error: Encountered unknown tag 'foo'. (line 3, column 1); "
     "check that every {% %} tag is complete and its block is closed"),
], ids=["header-value-line-break", "env-unset", "missing-key", "division", "sandbox", "typo-env-hidden",
        "one-close-match", "no-variables", "json-too-deep", "json-text", "json-tag", "if-colon", "elif-colon",
        "set-line-1", "set-after-text", "set-line-3", "unknown-tag-line-3"])
def test_an_error_says_what_where_and_how_to_fix_it(call, args, shown):
    assert str(error_of(call, *args)) == shown


def test_a_query_parameter_error_keeps_its_place_and_hint():
    error = error_of(build_query, {"voice": "v", "text": "a\n {{ txet }}"}, {"text": "t"})
    assert (error.message, error.line, error.column) == ("query parameter 'text': unknown variable 'txet'", 2, 2)
    assert error.hint == "did you mean 'text'? known variables: text"


@pytest.mark.parametrize(("template", "column"), [("a\rb", 2), ("a\rb\rc", 2), ("a\nb\rc\nd", 2), ("ab\r\n", 3), ("\nab", 1)])
def test_a_line_break_in_a_header_template_points_at_the_first_one(template, column):
    error = error_of(render_header, template, {})
    assert str(error) == (f"header value holds a line break (CR or LF) (line 1, column {column}); "
                          "header values cannot hold line breaks; keep the value on one line")


# -- arithmetic and its limits -----------------------------------------------------------


def test_arithmetic_within_the_limits_renders():
    body = render_body('{"speed": {{ speed * 1.5 }}, "n": {{ 2 ** 10 }}, "rep": "{{ text * 3 }}", "m": {{ 3 * 4 }}}',
                       {"speed": 1.0, "text": "ab"})
    assert json.loads(body) == {"speed": 1.5, "n": 1024, "rep": "ababab", "m": 12}


def test_the_limits_are_exact_a_million_characters_and_an_exponent_of_a_thousand():
    assert render_text("{{ (text * 1000000) | string.size }}", {"text": "a"}) == "1000000"
    assert render_text("{{ (2 ** 1000) | string.size }}", {}) == "302"
    assert render_text("{{ (2 ** -1000) > 0 }}", {}) == "true"
    for template in ("{{ (text * 1000001) | string.size }}", "{{ (1000001 * text) | string.size }}"):
        assert error_of(render_text, template, {"text": "a"}).message == "not allowed in a template: repeated value too large"
    for template in ("{{ 2 ** 1001 }}", "{{ 2 ** -1001 }}"):
        assert error_of(render_text, template, {}).message == "not allowed in a template: exponent too large"


# -- values as they land -------------------------------------------------------------------


def test_voxta_string_functions():
    shown = render_text("{{ t | string.upcase }}|{{ t | string.downcase }}|{{ t | string.strip }}|"
                        "{{ t | string.capitalize }}|{{ t | string.size }}|{{ n | string.upcase }}", {"t": " hÉllo wOrld ", "n": None})
    assert shown == " HÉLLO WORLD | héllo world |hÉllo wOrld| héllo world |13|"


def test_empty_is_true_only_for_missing_none_and_empty_values():
    v = {"n": 5, "z": 0, "s": "", "l": [], "none": None, "t": "x"}
    assert render_text("{{ n.empty? }} {{ z.empty? }} {{ s.empty? }} {{ l.empty? }} {{ none.empty? }} "
                       "{{ t.empty? }} {{ gone.empty? }}", v) == "false false true true true false true"


def test_non_ascii_and_dates_from_the_config_are_written_as_they_are():
    import datetime

    v = {"v": ["é", datetime.date(2024, 1, 2)], "t": "é"}
    assert render_text("{{ v }}", v) == '["é", "2024-01-02"]'
    body = render_body('{"v": {{ v }}, "s": "{{ v }}", "t": "{{ t }}", "d": {{ d }}}', {**v, "d": datetime.date(2024, 1, 2)})
    assert body == '{"v": ["é", "2024-01-02"], "s": "[\\"é\\", \\"2024-01-02\\"]", "t": "é", "d": "2024-01-02"}'


def test_a_lone_surrogate_as_a_bare_value_is_escaped_so_the_body_encodes():
    assert render_body('{"v": {{ v }}}', {"v": "x\udc00"}).encode("utf-8") == b'{"v": "x\\udc00"}'


def test_an_escaped_value_is_inserted_as_it_is_outside_strings_too():
    assert render_body('{"n": {{ n | string.escape }}}', {"n": 5}) == '{"n": 5}'


def test_a_lone_surrogate_in_a_url_is_percent_encoded():
    assert render_url("http://h/{{ t }}", {"t": "x\udc00"}) == "http://h/x%ED%B0%80"


def test_query_keys_and_values_are_encoded_whole_and_a_trailing_ampersand_is_reused():
    pairs = [("a/b", "c/d e")]
    assert append_query("http://h/tts", pairs) == "http://h/tts?a%2Fb=c%2Fd%20e"
    assert append_query("http://h/tts?x=1&", pairs) == "http://h/tts?x=1&a%2Fb=c%2Fd%20e"
    assert append_query("http://h/tts?x=1", pairs) == "http://h/tts?x=1&a%2Fb=c%2Fd%20e"


# -- which bodies are JSON ------------------------------------------------------------------


@pytest.mark.parametrize(("template", "is_json", "looks"), [
    ('{"t": "{{ text }}"}', True, True),
    ('[{{ text }}]', True, False),
    ("text={{ text }}", False, False),
    ('W{"text": "{{ text }}"}', False, True),
    ('say {{ text }}: {"a": 1}', False, True),
    ('{{ text }}, "a": 1', False, True),
    ('{{ if a }}{"b":{{ end }}', True, True),
    ('x{{ a }}{"k": 1', False, True),
    ('{{ x }}"k": 1', False, False),
    ('x{"k"{{ a }}: 1', False, False),
    ("[laughs] {{ text }}", True, False),  # its first literal character is "[": JSON
    ('{{ {"k": 1} }}', False, False),  # an object inside a tag is not the body's
    ('w{{ {"k": 1} }}', False, False),
    ('{{ {"k": 1} }}{"j": {{ x }}}', True, True),
])
def test_which_bodies_are_json(template, is_json, looks):
    assert templates.looks_like_json('{"t": "{{ text') is False  # unreadable: its error is shown instead
    assert (templates.is_json_body(template), templates.looks_like_json(template)) == (is_json, looks)


@pytest.mark.parametrize(("template", "variables", "line", "column", "where"), [
    ('{"a": "{{ v }}",\n "b": {{ v }} "c"}', {"v": "x"}, 2, 15, "the text here"),
    ('{"a": "x"}' + " " * 40 + "oops", {}, 1, 51, "the text here"),
    ("{{ for i in items }}{\"a\": {{ i }}}{{ end }}", {"items": [1, 2]}, 1, 21, "the text here"),
    ("[{{ for i in items }}{{ i }} x{{ end }}]", {"items": [1, 2]}, 1, 30, "the text here"),
    ('[{{ for i in items }}"{{ i }}",{{ end }}]', {"items": [1, 2]}, 1, 41, "the text here"),
    ('{"a": 1,', {}, 1, 9, "the text here"),
    ('{"a": {{ v }}', {"v": 1}, 1, 7, "the text here"),
    ('{"a": {{ v }} {{ v }}}', {"v": 1}, 1, 15, "the value this tag inserts"),
    ('{"a": {{ v }}x}', {"v": 1}, 1, 14, "the text here"),  # right after a tag: the text, not the tag
    # the same text twice before the error, and once after it: the one after the last tag evaluated
    ('{"k": {{ a }}, "j": {{ b }}, "m": [{{ c }}, "j": {{ d }}], "j": 2}', {"a": 1, "b": 2, "c": 3, "d": 4},
     1, 48, "the text here"),
])
def test_invalid_json_points_at_the_place_in_the_template(template, variables, line, column, where):
    error = error_of(render_body, template, variables)
    assert (error.line, error.column) == (line, column)
    assert error.hint.startswith(f"{where} breaks it: near ")


@pytest.mark.parametrize(("template", "near"), [
    ('{"a": "{{ v }}",\r\n "b": {{ v }} "c"}', '…{ v }}",↵↵ "b": {{ v }} "c"}'),
    ('{"long": "' + "x" * 40 + '", "a": {{ v }} {{ v }}, "tail": "' + "y" * 40 + '"}',
     '…xxxxxxxx", "a": {{ v }} {{ v }}, "tail": "yyyyyy…'),
])
def test_the_excerpt_shows_24_characters_each_side_on_one_line(template, near):
    error = error_of(render_body, template, {"v": 1})
    assert error.hint.split("breaks it: near ", 1)[1] == f"{near!r}; check quotes, commas and braces around the tags"


def test_a_body_that_ends_too_soon_with_no_text_of_its_own_points_past_its_end():
    error = error_of(lambda: render_body("{{ v }}", {"v": '{"a": '}, json_body=True))
    assert (error.line, error.column) == (1, 8)
    assert error.hint.startswith("the text here breaks it: near '{{ v }}'")


def test_env_read_with_brackets_names_the_variable_too():
    assert template_variables('{{ env["HOME"] }}') == {"env.HOME"}
    assert template_variables('{{ voice["id"] }}') == {"voice"}
    assert template_variables("{{ env[name] }}{{ env[1] }}") == {"env", "name"}
    assert render_text('{{ env["HOME"] }}/x', variables()) == "/home/me/x"
