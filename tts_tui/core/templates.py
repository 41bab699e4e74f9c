"""Render the body, URL, query and header templates of a service.

Templates are Jinja run in a sandbox (nothing in a config file can execute
code), with Voxta's Scriban subset accepted on top (see `scriban.py`). Values
are written out according to where they land: JSON-escaped inside a JSON
string, as a JSON value elsewhere in a JSON body, percent-encoded in a URL
path or query, refused in a header when they hold a line break.

Every failure is a TemplateError whose line and column point at the user's
template, invalid JSON after rendering included: the character the JSON parser
stopped at is traced back to the literal text or the tag that produced it.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes, pass_context
from jinja2.exceptions import SecurityError, TemplateError as JinjaError, UndefinedError
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from tts_tui.core import scriban
from tts_tui.core.errors import TemplateError

_TRACKER = "_tts_at"
_SURROGATE = re.compile("[\ud800-\udfff]")
_MAX_REPEAT = 1_000_000


class _EnvVars(dict):
    """The `env` variable, recognisable so a missing key reads as unset."""


class _Escaped(str):
    """Output of `string.escape`: already JSON-escaped, never escaped again."""


class _Undefined(StrictUndefined):
    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint is None and isinstance(self._undefined_obj, _EnvVars):
            return f"environment variable {self._undefined_name!r} is not set"
        return super()._undefined_message


class _Sandbox(ImmutableSandboxedEnvironment):
    # Intercepting these also keeps the optimizer from folding `9**9**9`.
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, (int, float)) and abs(right) > 1000:
            raise SecurityError("exponent too large")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                    if len(seq) * times > _MAX_REPEAT:
                        raise SecurityError("repeated value too large")
        return super().call_binop(context, operator, left, right)


def _text(value: Any) -> str:
    """How a value reads as text: like Scriban (true/false, null as empty)."""
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
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
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
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


def _empty(value: Any) -> bool:
    if isinstance(value, Undefined) or value is None:
        return True
    try:
        return len(value) == 0
    except TypeError:
        return False


@pass_context
def _at(context: Any, index: int) -> str:
    tracker = context.get(_TRACKER)
    if tracker is not None:
        tracker[0] = index
    return ""


def _make_environment() -> _Sandbox:
    # autoescape stays off (the default): the filters below write each value
    # out for where it lands; templates are compiled from strings, never
    # through Jinja's loader cache
    env = _Sandbox(undefined=_Undefined, keep_trailing_newline=True)
    env.filters.update(
        {
            scriban.JSON_STRING: _json_string,
            scriban.JSON_VALUE: _json_value,
            scriban.TEXT: _text,
            scriban.URL: _url,
            scriban.HEADER: _header,
            "string.escape": _escape,
            "string.upcase": lambda v: _text(v).upper(),
            "string.downcase": lambda v: _text(v).lower(),
            "string.strip": lambda v: _text(v).strip(),
            "string.capitalize": lambda v: _text(v).capitalize(),
            "string.size": lambda v: len(_text(v)),
        }
    )
    env.globals.update({scriban.AT: _at, scriban.EMPTY: _empty})
    return env


_ENV = _make_environment()
_BUILTIN_NAMES = frozenset(_ENV.globals) | {_TRACKER}


class _DropEmptyChecks(NodeTransformer):
    """`x.empty?` may name a missing variable: it is not a required one."""

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        if isinstance(node.node, nodes.Name) and node.node.name == scriban.EMPTY:
            return nodes.Const(True)  # only read for the names it uses: none
        return self.generic_visit(node)


@dataclass(frozen=True)
class _Compiled:
    template: str
    translation: scriban.Translation
    jinja: Any
    required: frozenset[str]  # names that must be given (outside `.empty?`)
    referenced: frozenset[str]  # every name, `env.X` spelled out


@functools.lru_cache(maxsize=512)
def _compile(template: str, kind: str) -> _Compiled:
    translation = scriban.translate(template, kind)
    try:
        tree = _ENV.parse(translation.source)
        compiled = _ENV.from_string(tree)
    except TemplateSyntaxError as exc:
        raise _syntax_error(template, translation, exc) from None
    except (RecursionError, SyntaxError, MemoryError):  # Python's own limits, past ours
        raise TemplateError("the template is nested too deeply to compile",
                            hint="simplify its blocks and expressions") from None
    referenced = _referenced_names(tree)
    required = meta.find_undeclared_variables(_DropEmptyChecks().visit(tree)) - _BUILTIN_NAMES
    return _Compiled(template, translation, compiled, frozenset(required), referenced)


def _referenced_names(tree: nodes.Template) -> frozenset[str]:
    names = set(meta.find_undeclared_variables(tree)) - _BUILTIN_NAMES
    env_keys = {
        node.attr
        for node in tree.find_all(nodes.Getattr)
        if isinstance(node.node, nodes.Name) and node.node.name == "env"
    }
    env_keys |= {
        node.arg.value
        for node in tree.find_all(nodes.Getitem)
        if isinstance(node.node, nodes.Name)
        and node.node.name == "env"
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    }
    if env_keys:
        names.discard("env")
        names |= {f"env.{key}" for key in env_keys}
    return frozenset(names)


def _syntax_error(
    template: str, translation: scriban.Translation, exc: TemplateSyntaxError
) -> TemplateError:
    """Point a Jinja syntax error at the tag the user wrote."""
    for tag in translation.tags:
        # Unwrapped first, so the message does not mention our parentheses.
        # An `if` expression may compile bare and fail in the parentheses the
        # translation adds (`{% if a : %}` is read); no output expression does.
        probes = {
            "output": ("{{ %s }}",),
            "if": ("{%% if %s %%}{%% endif %%}", "{%% if (%s) %%}{%% endif %%}"),
            "elif": ("{%% if %s %%}{%% endif %%}", "{%% if (%s) %%}{%% endif %%}"),
            "for": ("{%% for %s %%}{%% endfor %%}",),
        }.get(tag.kind, ())
        try:
            for probe in probes:
                _ENV.compile(probe % tag.jinja_expr)
        except TemplateSyntaxError as tag_exc:
            return scriban.error_at(
                template, tag.start, f"cannot read this tag: {tag_exc.message}",
                "a tag holds a variable or expression, e.g. {{ text }} or "
                "{{ if language }}...{{ else }}...{{ end }}",
            )
    lines = translation.source.split("\n")
    line_start = sum(len(line) + 1 for line in lines[: max(exc.lineno - 1, 0)])
    offset = scriban.original_offset(translation, min(line_start, len(translation.source)))
    return scriban.error_at(
        template, offset, f"template syntax error: {exc.message}",
        "check that every {% %} tag is complete and its block is closed",
    )


def _render(template: str, kind: str, variables: Mapping[str, Any]) -> str:
    compiled = _compile(template, kind)
    context = dict(variables)
    env_vars = context.get("env")
    if isinstance(env_vars, Mapping):
        # a template reads only the variables it names: `env.items()` lists none of the others
        named = {name[4:] for name in compiled.referenced if name.startswith("env.")}
        context["env"] = _EnvVars({k: v for k, v in env_vars.items() if k in named})
    missing = compiled.required - context.keys()
    if missing:
        raise _unknown_variable(compiled, missing, context)
    tracker: list[int | None] = [None]
    context[_TRACKER] = tracker
    try:
        return compiled.jinja.render(context)
    except _LineBreak:
        raise _at_tag(
            compiled, tracker[0], "header value holds a line break (CR or LF)",
            "header values cannot hold line breaks; remove them from the variable",
        ) from None
    except SecurityError as exc:
        raise _at_tag(
            compiled, tracker[0], f"not allowed in a template: {exc}",
            "templates can read variables, their keys and items, nothing else",
        ) from None
    except UndefinedError as exc:
        message = str(exc)
        hint = "check the spelling of the variable and its keys"
        if message.startswith("environment variable"):
            hint = (
                "set it before starting tts-tui, or test it with "
                "{{ if !env.NAME.empty? }}...{{ end }}"
            )
        raise _at_tag(compiled, tracker[0], message, hint) from None
    except (JinjaError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
        raise _at_tag(
            compiled, tracker[0], f"cannot render this tag: {exc}",
            "check the values and operators the tag uses",
        ) from None


def _at_tag(compiled: _Compiled, index: int | None, message: str, hint: str) -> TemplateError:
    # Every tag calls `_at` before it is evaluated, so a render that fails
    # has an index; the template's start stands in should one ever not.
    start = compiled.translation.tags[index].start if index is not None else 0
    return scriban.error_at(compiled.template, start, message, hint)


def _unknown_variable(
    compiled: _Compiled, missing: set[str], context: Mapping[str, Any]
) -> TemplateError:
    known = sorted(k for k in context if k != "env" and not k.startswith("_"))
    if "env" in context:
        known.append("env.NAME")
    offset, name = scriban.first_use(compiled.translation, missing)
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"known variables: {', '.join(known) or '(none)'}"
    if close:
        hint = f"did you mean '{close[0]}'? {hint}"
    return scriban.error_at(compiled.template, offset, f"unknown variable '{name}'", hint)


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
    compiled = _compile(template, "body")
    # JSON or not is the template's own shape, not the text's: a plain body
    # `{{ text }}` may speak "[laughs] hello"
    if json_body is None:
        json_body = compiled.translation.json_mode or looks_like_json(template)
    if json_body:
        try:
            json.loads(rendered)
        except RecursionError:
            raise TemplateError("the rendered body nests JSON too deeply to check",
                                hint="no TTS server needs a body this deep; simplify it") from None
        except json.JSONDecodeError as exc:
            offset, in_tag = _template_offset(compiled, variables, exc.pos)
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
        translation = _compile(template, "body").translation
    except TemplateError:
        return False
    pieces = translation.pieces
    # each literal piece runs to the next piece's start; a tag reads as a value
    literal = "".join(
        " 0 " if tag >= 0 else template[start:pieces[i + 1][1] if i + 1 < len(pieces) else len(template)]
        for i, (_src, start, tag) in enumerate(pieces)
    )
    return bool(_JSON_PAIR.search(literal))


def _template_offset(compiled: _Compiled, variables: Mapping[str, Any], pos: int) -> tuple[int, bool]:
    """Where the rendered body's character at `pos` came from in the template:
    (offset, True) when a tag inserted it (the tag's start), (offset, False)
    for literal text (that very character).

    The body is rendered again, chunk by chunk: Jinja yields each run of
    literal text and each tag's output separately, and every tag calls `_at`
    first, so a chunk during which an output tag was evaluated is its output.
    """
    tags = compiled.translation.tags
    template = compiled.template
    context = dict(variables)
    tracker: list[int | None] = [None]
    context[_TRACKER] = tracker
    out = 0
    last_tag: int | None = None
    last_literal: tuple[int, int] | None = None  # (template offset, length) of the last literal chunk
    try:
        chunks = compiled.jinja.generate(context)
        while True:
            tracker[0] = None
            try:
                chunk = next(chunks)
            except StopIteration:
                break
            evaluated = tracker[0]
            if evaluated is not None:
                last_tag = evaluated
            end = out + len(chunk)
            if evaluated is not None and tags[evaluated].kind == "output":
                if out <= pos < end:
                    return tags[evaluated].start, True
            elif chunk:
                found = _find_literal(template, chunk, tags[last_tag].end if last_tag is not None else 0)
                if found is not None:
                    last_literal = (found, len(chunk))
                    if out <= pos < end:
                        return found + (pos - out), False
            out = end
    except Exception:  # noqa: BLE001 - the first render worked; a second failing is no reason to hide the error
        pass
    if last_literal is not None:  # the parser stopped at the very end: after the last literal text
        return min(len(template), last_literal[0] + last_literal[1]), False
    return len(template), False


def _find_literal(template: str, chunk: str, after: int) -> int | None:
    """Where literal `chunk` sits in the template: first at or after `after`
    (the tag evaluated last), else anywhere (a loop's next round)."""
    found = template.find(chunk, after)
    if found < 0:
        found = template.find(chunk)
    return found if found >= 0 else None


def is_json_body(template: str) -> bool:
    """True when a body template is JSON (its first literal character is `{` or `[`)."""
    return _compile(template, "body").translation.json_mode


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
    _compile(template, kind)  # scriban reads any kind but body, url and header as text


def template_variables(template: str) -> set[str]:
    """Names a template reads, for hints: `text`, `speaker_wav`, and `env.HOME`
    for environment variables. Raises TemplateError when it cannot be read."""
    return set(_compile(template, "text").referenced)

