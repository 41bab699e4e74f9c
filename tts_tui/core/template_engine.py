"""The template engine: Jinja, run in a sandbox, under the rules `templates` keeps.

`templates` renders a template whose tags only name variables (`{{ text }}`)
itself; everything else comes here: blocks, filters, expressions, and every
error, whose line and column point at what the user wrote. Nothing in a
config file can execute code: the sandbox is immutable and refuses huge
repetitions and exponents. Jinja (~20 ms to import, more to compile) is
loaded the first time a template needs it.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes, pass_context
from jinja2.exceptions import SecurityError, TemplateError as JinjaError, UndefinedError
from jinja2.runtime import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from tts_tui.core import scriban
from tts_tui.core.errors import TemplateError
from tts_tui.core.templates import _escape, _header, _json_string, _json_value, _LineBreak, _text, _url

_TRACKER = "_tts_at"
_MAX_REPEAT = 1_000_000


class _EnvVars(dict):
    """The `env` variable, recognisable so a missing key reads as unset."""


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
def compile_template(template: str, kind: str) -> _Compiled:
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


def render(template: str, kind: str, variables: Mapping[str, Any]) -> str:
    """`template` rendered with the engine; TemplateError at the user's line and column."""
    compiled = compile_template(template, kind)
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


def template_offset(compiled: _Compiled, variables: Mapping[str, Any], pos: int) -> tuple[int, bool]:
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
