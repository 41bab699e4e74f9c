"""Translate the template language users paste into Jinja source.

Users paste Voxta presets written in a Scriban subset (`{{ if x }}...{{ else }}
...{{ end }}`, `x.empty?`, `!x`, `string.escape`); plain Jinja `{% if %}` works
too. This module turns a template into Jinja source that the sandbox in
`templates.py` compiles, and while doing so:

- decides how each `{{ value }}` is written out (JSON string escape, JSON value,
  plain text, percent-encoded), by following the literal text around it;
- checks the block structure itself, so an unclosed `{{ if }}` or a stray
  `{{ end }}` is reported at the user's own line and column;
- keeps every tag's position in the original text, so later errors (syntax,
  unknown variable, failure while rendering) point at what the user wrote.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tts_tui.core.errors import TemplateError

# Name of the global function every emitted tag calls first, so a failure
# while rendering can be traced to the tag that was being evaluated.
AT = "_at"
EMPTY = "_empty"

# Output filters (registered by templates.py); which one wraps a value
# depends on where the value lands.
JSON_STRING = "_json_string"
JSON_VALUE = "_json_value"
TEXT = "_text"
URL = "_url"
HEADER = "_header"

_OPEN = re.compile(r"\{\{|\{%")
_ENDRAW = re.compile(r"\{%-?\s*endraw\s*-?%\}")
_STRING = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'", re.S)
_CHAIN = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[[^\[\]]*\])*"
_PLACEHOLDER = r"\x00\d+\x00"
_OPERAND = rf"(?:{_CHAIN}|{_PLACEHOLDER}|-?\d+(?:\.\d+)?)"
_EMPTY_Q = re.compile(rf"(?<![\w.\x00])({_CHAIN})\.empty\?")
_NULL = re.compile(r"(?<![\w.])null(?!\w)")
_FUNC_FORM = re.compile(rf"(?<![\w.])string\.(\w+)\s+({_OPERAND})")
_NOT = re.compile(rf"!(?!=)\s*({EMPTY}\({_CHAIN}\)|{_CHAIN})")
_BLOCK = re.compile(
    r"(?P<kw>if|elif|else\s+if|elseif|else|end|endif|for|endfor)\b\s*(?P<rest>.*)\Z", re.S
)


@dataclass(frozen=True)
class Tag:
    """One `{{ }}` or `{% %}` tag of the original template."""

    kind: str  # output | if | elif | else | end | for | stmt | raw
    start: int  # offset of the opening delimiter in the original text
    end: int  # offset just past the closing delimiter
    expr: str  # the expression as the user wrote it ("" when none)
    jinja_expr: str  # the expression translated to Jinja ("" when none)


@dataclass(frozen=True)
class Translation:
    """Jinja source for one template, with the map back to the original."""

    source: str
    tags: tuple[Tag, ...]
    json_mode: bool
    # (offset in source, offset in original, tag index or -1 for literal text)
    pieces: tuple[tuple[int, int, int], ...]



# Bounds on what a template may cost: Python's compiler and Jinja's recursion
# give out well past what any request body needs.
MAX_TEMPLATE_CHARS = 256 * 1024
MAX_TAGS = 2_000
MAX_BLOCK_DEPTH = 40
MAX_EXPR_DEPTH = 40

def position(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset in text."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


def error_at(text: str, offset: int, message: str, hint: str) -> TemplateError:
    """A TemplateError pointing at offset in the user's template."""
    line, column = position(text, offset)
    return TemplateError(message, hint=hint, line=line, column=column)


def translate_expression(expr: str) -> str:
    """Rewrite Scriban operators in one expression into Jinja syntax.

    String literals are masked first so their contents are never rewritten.
    """
    strings: list[str] = []

    def mask(match: re.Match[str]) -> str:
        strings.append(match.group())
        return f"\x00{len(strings) - 1}\x00"

    code = _STRING.sub(mask, expr)
    code = code.replace("&&", " and ").replace("||", " or ")
    code = _NULL.sub("none", code)
    code = _EMPTY_Q.sub(rf"{EMPTY}(\1)", code)

    def function_form(match: re.Match[str]) -> str:
        # `string.escape x` is a call in Scriban; Jinja spells it as a filter,
        # and templates.py registers the dotted names as filters.
        if code[: match.start()].rstrip().endswith("|"):
            return match.group()
        return f"({match.group(2)}|string.{match.group(1)})"

    code = _FUNC_FORM.sub(function_form, code)
    code = _NOT.sub(r"(not \1)", code)
    code = re.sub(r"!(?!=)", " not ", code)
    return re.sub(r"\x00(\d+)\x00", lambda m: strings[int(m.group(1))], code)


def _scan_json(text: str, state: tuple[bool, bool]) -> tuple[bool, bool]:
    """Follow JSON string quoting through literal text: (in_string, escaped)."""
    in_string, escaped = state
    for char in text:
        if escaped:
            escaped = False
        elif in_string and char == "\\":
            escaped = True
        elif char == '"':
            in_string = not in_string
    return in_string, escaped


def _scan_url(text: str, in_path: bool) -> bool:
    """True once literal URL text has left scheme and host for path or query."""
    if in_path:
        return True
    stripped = text.replace("://", "", 1) if "://" in text else text
    return any(char in stripped for char in "/?#")


def _split_tags(template: str):
    """Yield (kind, start, end, inner, ltrim, rtrim); kind is text|expr|stmt|raw."""
    pos = 0
    while True:
        match = _OPEN.search(template, pos)
        if match is None:
            if pos < len(template):
                yield "text", pos, len(template), template[pos:], False, False
            return
        start = match.start()
        if start > pos:
            yield "text", pos, start, template[pos:start], False, False
        opener = match.group()
        closer = "}}" if opener == "{{" else "%}"
        close = template.find(closer, match.end())
        nested = _OPEN.search(template, match.end(), close if close >= 0 else len(template))
        if close < 0 or nested is not None:
            raise error_at(
                template,
                start,
                f"unclosed tag: '{opener}' without '{closer}'",
                f"close the tag with '{closer}', e.g. {{{{ text }}}}",
            )
        inner = template[match.end() : close]
        ltrim = inner[:1] in ("-", "~")
        rtrim = inner[-1:] in ("-", "~") and len(inner) > 1
        body = inner[1 if ltrim else 0 : len(inner) - 1 if rtrim else len(inner)]
        end = close + 2
        if opener == "{%" and body.strip() == "raw":
            endraw = _ENDRAW.search(template, end)
            if endraw is None:
                raise error_at(template, start, "unclosed {% raw %}", "add {% endraw %}")
            yield "raw", start, endraw.end(), template[end : endraw.start()], ltrim, False
            pos = endraw.end()
            continue
        yield ("expr" if opener == "{{" else "stmt"), start, end, body, ltrim, rtrim
        pos = end


def _classify(kind: str, body: str) -> tuple[str, str]:
    """(tag kind, expression) for a tag body."""
    stripped = body.strip()
    match = _BLOCK.match(stripped)
    if match is None or (match.group("kw") in ("else", "end") and match.group("rest")):
        if kind == "stmt":
            return "stmt", stripped
        return "output", stripped
    keyword = re.sub(r"\s+", " ", match.group("kw"))
    rest = match.group("rest").strip()
    keyword = {"else if": "elif", "elseif": "elif", "endif": "end", "endfor": "end"}.get(
        keyword, keyword
    )
    if not rest and keyword in ("if", "elif", "for"):
        return "missing", keyword
    if keyword in ("endif", "endfor"):
        keyword = "end"
    return keyword, rest


def _is_json(template: str) -> bool:
    """A body is JSON when its first literal non-space character opens one."""
    for kind, _start, _end, inner, _l, _r in _split_tags(template):
        if kind in ("text", "raw") and inner.strip():
            return inner.strip()[0] in "{["
    return False


def translate(template: str, kind: str) -> Translation:
    """Translate a template of the given kind (body, url, header, text) to Jinja.

    Raises TemplateError for an unclosed tag, an unclosed or stray block, an
    `{{ else }}` outside an `{{ if }}`, or an empty tag.
    """
    json_mode = kind == "body" and _is_json(template)
    out: list[str] = []
    out_len = 0
    pieces: list[tuple[int, int, int]] = []
    tags: list[Tag] = []
    json_state = (False, False)
    in_path = False
    # Each open block: [kind, tag index, json state at its start, seen else]
    stack: list[list] = []

    def emit(text: str, original: int, tag_index: int) -> None:
        nonlocal out_len
        pieces.append((out_len, original, tag_index))
        out.append(text)
        out_len += len(text)

    if len(template) > MAX_TEMPLATE_CHARS:
        raise TemplateError(
            f"the template is {len(template):,} characters long; at most {MAX_TEMPLATE_CHARS:,}",
            hint="a request body this large is not a template; send the text as {{ text }}",
        )
    for part, start, end, inner, ltrim, rtrim in _split_tags(template):
        lt, rt = ("-" if ltrim else ""), ("-" if rtrim else "")
        if part != "text" and len(tags) >= MAX_TAGS:
            raise error_at(template, start, f"the template holds more than {MAX_TAGS:,} tags",
                           "rendering it would be slow; move the repetition into a {{ for }} loop")
        if part == "text":
            json_state = _scan_json(inner, json_state)
            in_path = _scan_url(inner, in_path)
            if "{#" in inner:
                # Jinja would read `{#` as a comment; Scriban and JSON do not.
                emit("{% raw %}" + inner + "{% endraw %}", start, -1)
            else:
                emit(inner, start, -1)
            continue
        if part == "raw":
            json_state = _scan_json(inner, json_state)
            in_path = _scan_url(inner, in_path)
            tags.append(Tag("raw", start, end, "", ""))
            emit("{%" + lt + " raw %}" + inner + "{% endraw %}", start, len(tags) - 1)
            continue
        tag_kind, expr = _classify(part, inner)
        opener, closer = ("{{", "}}") if part == "expr" else ("{%", "%}")
        if tag_kind == "missing":
            raise error_at(
                template, start, f"{opener} {expr} {closer} needs a condition",
                f"write e.g. {{{{ {expr} language }}}}" if expr != "for"
                else "write e.g. {{ for item in items }}",
            )
        if tag_kind == "output" and not expr:
            raise error_at(
                template, start, "empty tag", "put a variable name inside, e.g. {{ text }}"
            )
        if _paren_depth(expr) > MAX_EXPR_DEPTH:
            raise error_at(template, start, f"this tag nests more than {MAX_EXPR_DEPTH} parentheses",
                           "simplify the expression")
        jexpr = translate_expression(expr) if tag_kind in ("output", "if", "elif", "for") else ""
        tags.append(Tag(tag_kind, start, end, expr, jexpr))
        index = len(tags) - 1
        if tag_kind == "output":
            if json_mode:
                wrapper = JSON_STRING if json_state[0] else JSON_VALUE
            elif kind == "url":
                wrapper = URL if in_path else TEXT
            elif kind == "header":
                wrapper = HEADER
            else:
                wrapper = TEXT
            json_state = (json_state[0], False)
            emit(f"{{{{{lt} ({AT}({index}) or ({jexpr}))|{wrapper} {rt}}}}}", start, index)
        elif tag_kind in ("if", "elif"):
            if tag_kind == "elif":
                _check_else(template, start, stack, "else if")
                json_state = stack[-1][2]
            else:
                _check_depth(template, start, stack)
                stack.append(["if", index, json_state, False])
            emit(f"{{%{lt} {tag_kind} {AT}({index}) or ({jexpr}) {rt}%}}", start, index)
        elif tag_kind == "else":
            if not (stack and stack[-1][0] == "for"):  # Jinja's for/else is fine
                _check_else(template, start, stack, "else")
            stack[-1][3] = True
            json_state = stack[-1][2]
            emit(f"{{%{lt} else {rt}%}}", start, index)
        elif tag_kind == "for":
            _check_depth(template, start, stack)
            stack.append(["for", index, json_state, False])
            emit(f"{{{{{lt} {AT}({index}) }}}}{{% for {jexpr} {rt}%}}", start, index)
        elif tag_kind == "end":
            word = inner.strip()
            if not stack or (word in ("endif", "endfor") and word != "end" + stack[-1][0]):
                raise error_at(
                    template, start, f"stray {opener} {word} {closer}",
                    "there is no open {{ if }} or {{ for }} here to close; remove it",
                )
            block = stack.pop()
            emit(f"{{%{lt} end{block[0]} {rt}%}}", start, index)
        else:  # any other Jinja statement, passed through as written
            emit(f"{{{{{lt} {AT}({index}) }}}}{{% {expr} {rt}%}}", start, index)

    if stack:
        opened = tags[stack[-1][1]]
        raise error_at(
            template, opened.start, f"unclosed {{{{ {stack[-1][0]} }}}}: no {{{{ end }}}}",
            f"add {{{{ end }}}} where the {stack[-1][0]} block should stop",
        )
    return Translation("".join(out), tuple(tags), json_mode, tuple(pieces))


def _check_depth(template: str, start: int, stack: list[list]) -> None:
    if len(stack) >= MAX_BLOCK_DEPTH:
        raise error_at(template, start, f"blocks nest more than {MAX_BLOCK_DEPTH} deep here",
                       "close some {{ if }} / {{ for }} blocks with {{ end }} before opening more")


def _paren_depth(expr: str) -> int:
    depth = deepest = 0
    for ch in expr:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    return deepest


def _check_else(template: str, start: int, stack: list[list], word: str) -> None:
    if not stack or stack[-1][0] != "if":
        raise error_at(
            template, start, f"{{{{ {word} }}}} outside an {{{{ if }}}}",
            "write {{ if x }} ... {{ else }} ... {{ end }}",
        )
    if stack[-1][3]:
        raise error_at(
            template, start, f"{{{{ {word} }}}} after {{{{ else }}}}",
            "the {{ else }} branch must come last, just before {{ end }}",
        )


def original_offset(translation: Translation, source_offset: int) -> int:
    """Map an offset in the Jinja source back to the user's template."""
    best = (0, 0, -1)
    for piece in translation.pieces:
        if piece[0] > source_offset:
            break
        best = piece
    source_start, original_start, tag_index = best
    if tag_index >= 0:
        return original_start
    return original_start + (source_offset - source_start)


def first_use(translation: Translation, names: set[str]) -> tuple[int, str]:
    """(offset, name) of the first tag, in reading order, that uses one of names
    as a variable (not as an attribute or inside a string literal)."""
    for tag in translation.tags:
        code = _STRING.sub("", tag.expr)
        for name in sorted(names):
            if re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", code):
                return tag.start, name
    return 0, min(names)
