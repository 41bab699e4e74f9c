"""Render the body, URL, query and header templates of a service.

Templates are Voxta's Scriban subset or Jinja (see `scriban.py`), run by the
sandboxed engine in `template_engine.py` (nothing in a config file can
execute code). Values are written out according to where they land:
JSON-escaped inside a JSON string, as a JSON value elsewhere in a JSON body,
percent-encoded in a URL path or query, refused in a header when they hold a
line break.

A template whose tags only name variables the request has (`{"text": "{{ text
}}"}`, the shape of nearly every TTS body) is written out here, piece by
piece, with the engine's own writers: the same bytes, without loading Jinja
(~20 ms) or compiling anything, which is most of a one-shot `say`. Anything
else (blocks, filters, expressions, a name that is missing) goes to the
engine, and so does every error.

Every failure is a TemplateError whose line and column point at the user's
template, invalid JSON after rendering included: the character the JSON parser
stopped at is traced back to the literal text or the tag that produced it.
"""

from __future__ import annotations

import functools
import json
import keyword
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from tts_tui.core import scriban
from tts_tui.core.errors import TemplateError

_SURROGATE = re.compile("[\ud800-\udfff]")


class _Escaped(str):
    """Output of `string.escape`: already JSON-escaped, never escaped again."""


def _text(value: Any) -> str:
    """How a value reads as text: like Scriban (true/false, null as empty).
    (A variable the engine could not find fails in `str`: its Undefined is strict.)"""
    if isinstance(value, str):
        return str(value)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Mapping, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _json_escape(text: str) -> str:
    escaped = json.dumps(text, ensure_ascii=False)[1:-1]
    # A lone surrogate cannot be encoded as UTF-8 on the wire; \u-escape it.
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", escaped)


def _json_string(value: Any) -> str:
    return value if isinstance(value, _Escaped) else _json_escape(_text(value))


def _json_value(value: Any) -> str:
    if isinstance(value, _Escaped):
        return str(value)
    return _SURROGATE.sub(
        lambda m: f"\\u{ord(m.group()):04x}",
        json.dumps(value, ensure_ascii=False, default=str),
    )


def _url(value: Any) -> str:
    return quote(_text(value), safe="", errors="surrogatepass")


def _header(value: Any) -> str:
    text = _text(value)
    if "\r" in text or "\n" in text:
        raise _LineBreak()
    return text


class _LineBreak(Exception):
    """A header value holds CR or LF."""


def _escape(value: Any) -> _Escaped:
    return _Escaped(_json_escape(_text(value)))

# -- templates whose tags only name variables ------------------------------------

_WRITERS = {scriban.JSON_STRING: _json_string, scriban.JSON_VALUE: _json_value, scriban.TEXT: _text,
            scriban.URL: _url, scriban.HEADER: _header}
_WRITTEN = re.compile(r"\{\{ \(%s\(\d+\) or \(([A-Za-z_]\w*)\)\)\|(\w+) \}\}" % scriban.AT)
# names the engine reads as something else than a variable the request holds
_ENGINE_NAMES = frozenset({"true", "false", "none", "True", "False", "None", "env", "loop", "self", "super",
                           "range", "dict", "lipsum", "cycler", "joiner", "namespace", "varargs", "kwargs",
                           "caller"})


# a body's translation is asked for up to three times a render (_plain, render_body, looks_like_json)
_translate = functools.lru_cache(maxsize=512)(scriban.translate)


@functools.lru_cache(maxsize=512)
def _plain(template: str, kind: str) -> tuple[tuple[str, str | None], ...] | None:
    """`template` as (literal text, None) and (variable name, writer) pieces
    when every tag only names a variable, else None (the engine's). Raises
    TemplateError for what `scriban.translate` refuses (an unclosed tag...)."""
    if "\r" in template:  # the engine reads a CR or CRLF in the template as LF
        return None
    translation = _translate(template, kind)
    source, pieces = translation.source, translation.pieces
    plain: list[tuple[str, str | None]] = []
    for i, (at, _original, tag) in enumerate(pieces):
        emitted = source[at : pieces[i + 1][0] if i + 1 < len(pieces) else len(source)]
        if tag < 0:
            if emitted.startswith("{% raw %}"):  # literal text the engine must not read as a comment
                return None
            plain.append((emitted, None))
            continue
        written = _WRITTEN.fullmatch(emitted)  # also no `-` trimming whitespace around the tag
        name = written.group(1) if written else ""
        if (not written or translation.tags[tag].kind != "output" or translation.tags[tag].expr != name
                or name in _ENGINE_NAMES or name.startswith("_") or keyword.iskeyword(name)):
            return None
        plain.append((name, written.group(2)))
    return tuple(plain)


def _render(template: str, kind: str, variables: Mapping[str, Any]) -> str:
    """`template` rendered: here when its tags only name variables `variables`
    holds (the engine's writers, the engine's bytes), else by the engine."""
    plain = _plain(template, kind)
    if plain is not None and all(writer is None or name in variables for name, writer in plain):
        try:
            return "".join(text if writer is None else _WRITERS[writer](variables[text]) for text, writer in plain)
        except Exception:  # noqa: BLE001 - a header's line break, a value a writer refuses: the engine says which tag
            pass
    from tts_tui.core import template_engine

    return template_engine.render(template, kind, variables)


def _translation(template: str, kind: str) -> scriban.Translation:
    """The template's translation, once it is known to compile (TemplateError if not)."""
    if _plain(template, kind) is None:
        from tts_tui.core import template_engine

        return template_engine.compile_template(template, kind).translation
    return _translate(template, kind)


def _excerpt(text: str, offset: int, width: int = 24) -> str:
    start, end = max(offset - width, 0), min(offset + width, len(text))
    snippet = text[start:end].replace("\r", "\u21b5").replace("\n", "\u21b5")
    return ("\u2026" if start else "") + snippet + ("\u2026" if end < len(text) else "")


def render_body(template: str, variables: Mapping[str, Any], *, json_body: bool | None = None) -> str:
    """Render a request body; JSON bodies come out as valid JSON or not at all.

    A body whose first literal character is `{` or `[` is JSON: `{{ x }}` inside
    a JSON string inserts x JSON-escaped (no quotes added), elsewhere it inserts
    json.dumps(x). `x | string.escape` is never escaped twice. A body must
    render as valid JSON when it is JSON, when it looks like JSON (`looks_like_json`:
    `W{"text": ...}` is a typo, not plain text), or when `json_body` is True
    (the request says `Content-Type: application/json`); else TemplateError
    whose line and column are in the template the user wrote. Other bodies
    render as plain text, whatever the text is; `json_body=False` never checks.
    """
    rendered = _render(template, "body", variables)
    translation = _translation(template, "body")
    # JSON or not is the template's own shape, not the text's: a plain body
    # `{{ text }}` may speak "[laughs] hello"
    if json_body is None:
        json_body = translation.json_mode or looks_like_json(template)
    if json_body:
        try:
            json.loads(rendered)
        except RecursionError:
            raise TemplateError("the rendered body nests JSON too deeply to check",
                                hint="no TTS server needs a body this deep; simplify it") from None
        except json.JSONDecodeError as exc:
            from tts_tui.core import template_engine

            compiled = template_engine.compile_template(template, "body")
            offset, in_tag = template_engine.template_offset(compiled, variables, exc.pos)
            line, column = scriban.position(template, offset)
            where = "the value this tag inserts" if in_tag else "the text here"
            raise TemplateError(
                f"the body is not valid JSON: {exc.msg}",
                hint=f"{where} breaks it: near {_excerpt(template, offset)!r}; "
                "check quotes, commas and braces around the tags",
                line=line,
                column=column,
            ) from None
    return rendered


_JSON_PAIR = re.compile(r'[{,]\s*"[^"\n]*"\s*:')


def looks_like_json(template: str) -> bool:
    """True when a body template holds a JSON object's `{"key":` in its literal
    text, wherever it starts: `W{"text": "{{ text }}"}` is a JSON body with a
    typo, where "[laughs] {{ text }}" is plain text."""
    try:
        translation = _translation(template, "body")
    except TemplateError:
        return False
    pieces = translation.pieces
    # each literal piece runs to the next piece's start; a tag reads as a value
    literal = "".join(
        " 0 " if tag >= 0 else template[start:pieces[i + 1][1] if i + 1 < len(pieces) else len(template)]
        for i, (_src, start, tag) in enumerate(pieces)
    )
    return bool(_JSON_PAIR.search(literal))


def is_json_body(template: str) -> bool:
    """True when a body template is JSON (its first literal character is `{` or `[`)."""
    return _translation(template, "body").json_mode


def render_text(template: str, variables: Mapping[str, Any]) -> str:
    """Render plain text: strings as they are, true/false, null as empty,
    lists and objects as JSON."""
    return _render(template, "text", variables)


def render_url(template: str, variables: Mapping[str, Any]) -> str:
    """Render a URL: values in its path, query or fragment are percent-encoded
    with quote(value, safe=""); values before the path (scheme, host, a whole
    base URL such as `{{ env.TTS_URL }}/speak`) go in as they are. Literal text
    is never changed."""
    return _render(template, "url", variables)


def build_query(query: Mapping[str, str], variables: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Render each query value template as plain text; keys are kept as
    written. The caller encodes (see append_query). Errors name the key."""
    pairs = []
    for key, value in query.items():
        try:
            pairs.append((key, render_text(value, variables)))
        except TemplateError as exc:
            raise TemplateError(
                f"query parameter '{key}': {exc.message}",
                hint=exc.hint, line=exc.line, column=exc.column,
            ) from None
    return pairs


def append_query(url: str, pairs: list[tuple[str, str]]) -> str:
    """Append pairs to url, percent-encoded (space as %20), after any query
    already there and before any #fragment."""
    if not pairs:
        return url
    base, hash_sign, fragment = url.partition("#")
    encoded = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    if "?" not in base:
        separator = "?"
    elif base.endswith(("?", "&")):
        separator = ""
    else:
        separator = "&"
    return f"{base}{separator}{encoded}{hash_sign}{fragment}"


def render_header(template: str, variables: Mapping[str, Any]) -> str:
    """Render a header value as plain text; a CR or LF in the result (from a
    value or the template itself) is a TemplateError."""
    rendered = _render(template, "header", variables)
    # a CR in a value is refused as it is inserted; Jinja reads a CR or CRLF
    # in the template itself as LF
    if "\n" in rendered:
        offset = min(i for i in (template.find("\r"), template.find("\n")) if i >= 0)
        raise scriban.error_at(
            template, max(offset, 0), "header value holds a line break (CR or LF)",
            "header values cannot hold line breaks; keep the value on one line",
        )
    return rendered


def check_template(template: str, kind: str = "body") -> None:
    """Check syntax only (no variables needed): unclosed tags and blocks, stray
    {{ end }}, unreadable expressions. kind is body, url, header or text (any
    other kind is checked as text). Raises TemplateError with line/column."""
    _translation(template, kind)  # scriban reads any kind but body, url and header as text


def template_variables(template: str) -> set[str]:
    """Names a template reads, for hints: `text`, `speaker_wav`, and `env.HOME`
    for environment variables. Raises TemplateError when it cannot be read."""
    plain = _plain(template, "text")
    if plain is not None:
        return {name for name, writer in plain if writer is not None}
    from tts_tui.core import template_engine

    return set(template_engine.compile_template(template, "text").referenced)
