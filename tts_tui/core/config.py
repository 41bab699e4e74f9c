"""Read, validate and write the TOML config file (DESIGN section 2).

Reading uses the standard library's fast `tomllib`; writing re-reads the file
with `tomlkit` (imported only then) so every comment, blank line and key order
the user wrote survives, and only changed values change.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

from tts_tui.core.errors import ConfigError
from tts_tui.core.model import (
    FORMATS,
    SERVICE_TYPES,
    SPLIT_MODES,
    AudioSettings,
    Config,
    PcmSpec,
    Service,
    UiSettings,
    VoicesSpec,
)

ENV_VAR = "TTS_TUI_CONFIG"
DEFAULT_TEMPLATE = Path(__file__).with_name("default_config.toml")

_SERVICE_FIELDS = {f.name: f for f in fields(Service) if f.name != "problem"}  # not a key of the file
_TABLE_FIELDS = {"pcm": PcmSpec, "voices": VoicesSpec}
# Deeper TOML nesting is refused before parsing: tomllib recurses per level and
# hits Python's own limit near 400; tomlkit stops at 100.
MAX_NESTING = 100


def default_path() -> Path:
    """`$XDG_CONFIG_HOME/tts-tui/config.toml`, else `~/.config/tts-tui/config.toml`."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "tts-tui" / "config.toml"


def resolve_path(cli_path: str | os.PathLike[str] | None = None) -> Path:
    """The config path: `--config`, else `$TTS_TUI_CONFIG`, else the XDG default."""
    if cli_path:
        return Path(cli_path).expanduser()
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    return default_path()


def find_or_create(cli_path: str | os.PathLike[str] | None = None, *, init: bool = False) -> tuple[Path, bool]:
    """The config path (see `resolve_path`), and True when this call created it.

    Only the default path is created on first run. A path the user named
    (`--config`, `$TTS_TUI_CONFIG`) that does not exist is a ConfigError, as
    it is most likely mistyped, unless `init` asks for the file to be created.
    """
    path = resolve_path(cli_path)
    if path.exists():
        return path, False
    named = cli_path or os.environ.get(ENV_VAR)
    if named and not init:
        how = f"tts-tui --config {path} --init" if cli_path else "tts-tui --init"
        raise ConfigError(
            f"no config file at {path}",
            hint=f"check the path{'' if cli_path else f' in ${ENV_VAR}'}, or create it with: {how}",
        )
    return path, ensure_exists(path)


def ensure_exists(path: Path) -> bool:
    """Create the commented default file at `path` if nothing is there.

    Returns True when the file was created. Never touches an existing file.
    """
    if path.exists():
        return False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "x", encoding="utf-8") as fh:
            fh.write(DEFAULT_TEMPLATE.read_text(encoding="utf-8"))
    except FileExistsError:
        return False
    except OSError as exc:
        raise ConfigError(
            f"cannot create the config file {path}: {exc.strerror or exc}",
            hint="pass --config PATH to a writable place",
        ) from exc
    return True


def load(path: Path) -> Config:
    """Read and validate the config at `path`.

    Raises ConfigError with the line, column and a fix for a file that does not
    parse, a value of the wrong type, an unknown service type or a duplicate name.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(f"no config file at {path}", hint="run tts-tui once to create one") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    config = parse(text)
    config.path = path
    return config


def parse(text: str) -> Config:
    """Parse and validate config text (see `load`)."""
    data = parse_toml(text)
    return Validator(text).config(data)


def parse_toml(text: str) -> dict[str, Any]:
    """tomllib.loads, with its error turned into a ConfigError with a position.

    Arrays and inline tables nested deeper than MAX_NESTING are refused at the
    bracket that goes too deep, before tomllib could exhaust Python's stack.
    """
    deep = _too_deep(text)
    if deep is not None:
        raise ConfigError(
            f"the config is not valid TOML: values nested more than {MAX_NESTING} levels deep",
            hint="fix the file; tts-tui keeps the last good settings and will not overwrite it",
            line=deep[0],
            column=deep[1],
        )
    try:
        return tomllib.loads(text)
    except RecursionError:  # not reached after _too_deep; kept so no traceback can escape
        raise ConfigError(
            "the config is not valid TOML: values nested too deep",
            hint="fix the file; tts-tui keeps the last good settings and will not overwrite it",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line = column = None
        match = re.search(r"\(at line (\d+), column (\d+)\)", message)
        if match:
            line, column = int(match[1]), int(match[2])
            message = message[: match.start()].strip()
        elif "(at end of document)" in message:
            line = text.count("\n") + 1
            message = message.replace("(at end of document)", "").strip()
        raise ConfigError(
            f"the config is not valid TOML: {message[0].lower() + message[1:]}",
            hint="fix the file; tts-tui keeps the last good settings and will not overwrite it",
            line=line,
            column=column,
        ) from None


def _too_deep(text: str) -> tuple[int, int] | None:
    """1-based line and column of the first `[` or `{` nested deeper than
    MAX_NESTING, outside strings and comments; None for any ordinary file."""
    if text.count("[") + text.count("{") <= MAX_NESTING:
        return None  # cannot be that deep: the usual case costs two counts
    depth = 0
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if c in "\"'":
            i = _string_end(text, i)
            continue
        if c in "[{":
            depth += 1
            if depth > MAX_NESTING:
                line = text.count("\n", 0, i) + 1
                return line, i - (text.rfind("\n", 0, i) + 1) + 1
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return None


def _string_end(text: str, i: int) -> int:
    """The index after the TOML string starting at `i` (or after its line when unclosed)."""
    quote = text[i]
    basic = quote == '"'
    if text.startswith(quote * 3, i):
        j = i + 3
        while j < len(text):
            if basic and text[j] == "\\":
                j += 2
                continue
            if text.startswith(quote * 3, j):
                return j + 3
            j += 1
        return len(text)
    j = i + 1
    while j < len(text) and text[j] != "\n":
        if basic and text[j] == "\\":
            j += 2
            continue
        if text[j] == quote:
            return j + 1
        j += 1
    return j


class Validator:
    """Turns parsed TOML into model objects, pointing errors at their line.

    Errors outside services, a service without a name and two services with
    one name raise ConfigError: the whole file is refused. A bad value inside
    one [[services]] block does not: that service loads with `problem` set
    (see `service`) and every other service works.
    """

    def __init__(self, text: str) -> None:
        """`text` is the file the data came from (or "" when there is none):
        it gives errors their line and column."""
        self.text = text
        self.lines = text.splitlines()
        self.warnings: list[str] = []
        self._file_names: list[Any] | None = None  # the text's service names, read on demand
        self._in_string: list[bool] | None = None

    def config(self, data: dict[str, Any]) -> Config:
        ui = data.get("ui", {})
        audio = data.get("audio", {})
        self.expect_table(ui, "ui", None)
        self.expect_table(audio, "audio", None)
        keys = ui.get("keys", {})
        self.expect_table(keys, "ui.keys", None)
        config = Config(
            ui=UiSettings(
                theme=self.string(ui, "theme", "tts-dark", "ui", None),
                text=self.string(ui, "text", "Hello from tts-tui.", "ui", None),
                keys={str(k): str(v) for k, v in keys.items()},
            ),
            audio=AudioSettings(
                output=str(self.value(audio, "output", "default", (str, int), "audio", None)),
                save_dir=self.string(audio, "save_dir", "~/tts-audio", "audio", None),
            ),
        )
        services = data.get("services", [])
        if not isinstance(services, list):
            raise self.error("`services` must be a list of [[services]] tables", "services", None)
        seen: set[str] = set()
        for index, table in enumerate(services):
            service = self.service(table, index)
            if service.name in seen:
                raise self.error(
                    f"two services are named {service.name!r}",
                    "name",
                    index,
                    hint="give each [[services]] block a unique name",
                )
            seen.add(service.name)
            config.services.append(service)
        config.warnings = self.warnings
        return config

    def service(self, table: Any, index: int, *, label: str | None = None) -> Service:
        """The index-th [[services]] table as a Service.

        Raises ConfigError only when the entry is not a table or has no name.
        A value the service cannot use (wrong type, unknown type, format or
        response, out of range) leaves its field at the default and sets
        `problem` to the first such value's error, with the line and column of
        that value in the text. Its message starts with `label` (by default
        "services[N]", N counting blocks in the file from 0) and the key.
        """
        if not isinstance(table, dict):
            raise self.error("each [[services]] entry must be a table", "services", index)
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise self.error(
                "a service has no name", "[[services]]", index, hint='add name = "..." to the block'
            )
        values: dict[str, Any] = {}
        problem: ConfigError | None = None
        for key, raw in table.items():
            spec = _SERVICE_FIELDS.get(key)
            if spec is None:
                line = self.locate(key, index)
                where = f" (line {line})" if line else ""
                self.warnings.append(f"service {name!r}: unknown key {key!r} ignored{where}")
                continue
            try:
                if key in _TABLE_FIELDS:
                    values[key] = self.subtable(raw, key, _TABLE_FIELDS[key])
                else:
                    values[key] = self.field(raw, key, _default(spec))
            except _BadValue as bad:
                if problem is None:
                    problem = self.problem(bad, name, index, label)
        service = Service(**values)
        service.problem = problem
        warning = _secret_warning(name, literal_secrets(table))
        if warning:
            self.warnings.append(warning)
        return service

    def problem(self, bad: _BadValue, name: str, index: int, label: str | None) -> ConfigError:
        """`bad` as the error of the service `name`, placed in the text."""
        block = self.block_of(name)  # only now: it parses the text again
        if label is None:
            label = f"services[{index if block is None else block}]"
        line, column = self.position(bad.path, block)
        message = f"{label}.{bad.message}" if label else bad.message
        return ConfigError(message, hint=bad.hint, line=line, column=column)

    def field(self, raw: Any, key: str, default: Any) -> Any:
        """One service value, checked where it enters; raises _BadValue."""
        if isinstance(default, bool):
            expected: tuple[type, ...] = (bool,)
        elif isinstance(default, float):
            expected = (int, float)
        elif isinstance(default, int):
            expected = (int,)
        elif isinstance(default, str):
            expected = (str,)
        else:  # dict fields (extra, headers, query, params)
            expected = (dict,)
        if isinstance(raw, bool) and bool not in expected or not isinstance(raw, expected):
            raise _BadValue(
                (key,),
                f"{key} must be {_type_name(expected)}, not {_type_name((type(raw),))}",
                f"e.g. {key} = {_example(default)}",
            )
        if key in ("headers", "query"):
            for k, v in raw.items():
                if not isinstance(v, str):
                    raise _BadValue((key, k), f"{key}.{k} must be a string", f'write {k} = "..."')  # not the value: it may be a key
        if key == "type" and raw not in SERVICE_TYPES:
            raise _BadValue((key,), f"type: unknown type {raw!r}", 'use type = "openai" or type = "http"')
        if key == "format" and raw not in FORMATS:
            raise _BadValue((key,), f"format: unknown format {raw!r}", "use one of " + ", ".join(FORMATS))
        if key == "split" and raw not in SPLIT_MODES:
            raise _BadValue((key,), f"split: unknown mode {raw!r}", 'use "none", "sentence" or "paragraph"')
        if key == "max_chars" and raw < 0:
            raise _BadValue((key,), f"max_chars must be 0 (no limit) or more, not {raw}", "e.g. max_chars = 4096")
        if key == "response" and not (raw == "body" or re.fullmatch(r"(json|url):.+", raw)):
            raise _BadValue((key,), f"response: unknown response mode {raw!r}", 'use "body", "json:PATH" or "url:PATH"')
        if key in ("timeout", "speed") and not (math.isfinite(raw) and raw > 0):
            # nan and inf cannot go into a JSON body, and no timer runs for 0 or less
            raise _BadValue(
                (key,),
                f"{key} must be a number above 0, not {_toml_number(raw)}",
                f"e.g. {key} = {_example(default)}",
            )
        if isinstance(default, float):
            return float(raw)
        return raw

    def subtable(self, raw: Any, key: str, cls: type) -> Any:
        """A [services.KEY] table (pcm, voices), checked where it enters; raises _BadValue."""
        if not isinstance(raw, dict):
            raise _BadValue((key,), f"{key} must be a table", f"e.g. [services.{key}]")
        known = {f.name: f for f in fields(cls)}
        kwargs = {}
        for k, v in raw.items():
            if k not in known:
                self.warnings.append(f"unknown key {key}.{k!r} ignored")
                continue
            default = known[k].default
            if not isinstance(v, type(default)) or isinstance(v, bool) != isinstance(default, bool):
                raise _BadValue(
                    (key, k), f"{key}.{k} must be {_type_name((type(default),))}", f"e.g. {k} = {_example(default)}"
                )
            bounds = _RANGES.get((key, k))
            if bounds and not bounds[0] <= v <= bounds[1]:
                raise _BadValue(
                    (key, k), f"{key}.{k} must be from {bounds[0]} to {bounds[1]}, not {v}", f"e.g. {k} = {default}"
                )
            kwargs[k] = v
        return cls(**kwargs)

    def string(self, table: dict, key: str, default: str, section: str, index: int | None) -> str:
        return self.value(table, key, default, (str,), section, index)

    def value(self, table: dict, key: str, default: Any, types: tuple, section: str, index: int | None) -> Any:
        value = table.get(key, default)
        if not isinstance(value, types) or isinstance(value, bool):
            raise self.error(
                f"{section}.{key} must be {_type_name(types)}", key, index,
                hint=f"e.g. {key} = {_example(default)}",
            )
        return value

    def expect_table(self, value: Any, name: str, index: int | None) -> None:
        if not isinstance(value, dict):
            raise self.error(f"`{name}` must be a table", name, index, hint=f"write it as [{name}]")

    def error(self, message: str, key: str, index: int | None, hint: str | None = None) -> ConfigError:
        line = self.locate(key, index)
        column = None
        if line is not None:
            text = self.lines[line - 1]
            column = len(text) - len(text.lstrip()) + 1
        return ConfigError(message, hint=hint, line=line, column=column)

    def locate(self, key: str, index: int | None) -> int | None:
        """The 1-based line of `key` inside the index-th [[services]] block (or anywhere)."""
        start, end = 0, len(self.lines)
        if index is not None:
            headers = [i for i, ln in enumerate(self.lines) if ln.strip().startswith("[[services]]")]
            if index < len(headers):
                start = headers[index]
                end = headers[index + 1] if index + 1 < len(headers) else end
        pattern = re.compile(rf"^\s*\"?{re.escape(key)}\"?\s*=")
        for i in range(start, end):
            if pattern.match(self.lines[i]):
                return i + 1
        if index is not None and start < len(self.lines) and self.lines[start].strip().startswith("[["):
            return start + 1
        return None

    # --- where a service's value is in the text ------------------------------

    def block_of(self, name: str) -> int | None:
        """Which [[services]] block of the text holds the service `name`.

        Matched by name because the data need not be the text's own (the sync
        validates the UI's state against the file); None when the text has no
        such service. The text is parsed only the first time this is asked.
        """
        if self._file_names is None:
            self._file_names = []
            if self.text.strip():
                try:
                    services = tomllib.loads(self.text).get("services", [])
                except tomllib.TOMLDecodeError:
                    services = []
                if isinstance(services, list):
                    self._file_names = [t.get("name") if isinstance(t, dict) else None for t in services]
        return self._file_names.index(name) if name in self._file_names else None

    def position(self, path: tuple[str, ...], block: int | None) -> tuple[int | None, int | None]:
        """1-based line and column of the value at `path` in the block-th [[services]] block.

        `path` is a key (`format`) or a key in a table (`pcm`, `rate`), written
        inline, dotted or as a [services.pcm] table. Falls back to the table's
        line, then to the block's header; (None, None) when the text has no
        such block.
        """
        span = self._block_span(block)
        if span is None:
            return None, None
        start, end = span
        key, sub = path[0], (path[1] if len(path) > 1 else None)
        own = _assignment(key)
        dotted = _assignment(f"{key}.{sub}") if sub else None
        in_inline = re.compile(rf"[{{,]\s*\"?{re.escape(sub)}\"?\s*=\s*") if sub else None
        in_table = _assignment(sub) if sub else None
        header = re.compile(rf"^\s*\[\s*\"?services\"?\s*\.\s*\"?{re.escape(key)}\"?\s*\]")
        section: str | None = None  # None: the block's own keys; "key": inside [services.key]; "": another table
        table_line: int | None = None
        for i in range(start + 1, end):
            if self._in_multiline_string(i):
                continue
            line = self.lines[i]
            if line.lstrip().startswith("["):
                section = key if header.match(line) else ""
                if section:
                    table_line = i
                continue
            if section == key and in_table and (m := in_table.match(line)):
                return i + 1, m.end() + 1
            if section is not None:
                continue
            if dotted and (m := dotted.match(line)):
                return i + 1, m.end() + 1
            if m := own.match(line):
                if in_inline and (found := in_inline.search(line, m.end())):
                    return i + 1, found.end() + 1
                return i + 1, m.end() + 1
        return (table_line if table_line is not None else start) + 1, 1

    def _block_span(self, block: int | None) -> tuple[int, int] | None:
        """Lines [start, end) of the block-th [[services]] block (start is its header)."""
        if block is None:
            return None
        headers: list[int] = []
        ends: list[int] = []
        for i, line in enumerate(self.lines):
            if self._in_multiline_string(i) or not line.lstrip().startswith("["):
                continue
            if _SERVICES_HEADER.match(line):
                if len(headers) > len(ends):
                    ends.append(i)
                headers.append(i)
            elif not _SERVICES_SUBTABLE.match(line) and len(headers) > len(ends):
                ends.append(i)  # [ui], [audio]... after the services
        if block >= len(headers):
            return None
        return headers[block], ends[block] if block < len(ends) else len(self.lines)

    def _in_multiline_string(self, i: int) -> bool:
        """True when line i starts inside a multi-line string (a body template, say)."""
        if self._in_string is None:
            inside: str | None = None
            flags = []
            for line in self.lines:
                flags.append(inside is not None)
                for quote in _MULTILINE_QUOTES.findall(line):
                    if inside is None:
                        inside = quote
                    elif quote == inside:
                        inside = None
            self._in_string = flags
        return self._in_string[i]


class _BadValue(Exception):
    """A value its service cannot use: the key path, why, and how to fix it."""

    def __init__(self, path: tuple[str, ...], message: str, hint: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.hint = hint


# Checked where the value enters, so nothing later opens a device at 0 Hz or
# with 0 channels.
_RANGES = {("pcm", "rate"): (1, 768_000), ("pcm", "channels"): (1, 32)}
_SERVICES_HEADER = re.compile(r"^\s*\[\[\s*\"?services\"?\s*\]\]")
_SERVICES_SUBTABLE = re.compile(r"^\s*\[\s*\"?services\"?\s*\.")
_MULTILINE_QUOTES = re.compile("'''|\"\"\"")


def _assignment(dotted_key: str) -> re.Pattern[str]:
    """`key = ` (or `a.b = `) at the start of a line; a match ends where the value starts."""
    parts = [rf"\"?{re.escape(part)}\"?" for part in dotted_key.split(".")]
    return re.compile(r"^\s*" + r"\s*\.\s*".join(parts) + r"\s*=\s*")


def _toml_number(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def _default(spec: Any) -> Any:
    if spec.default is not MISSING:
        return spec.default
    if spec.default_factory is not MISSING:
        return spec.default_factory()
    return ""  # `name`, the one required string


def _type_name(types: tuple[type, ...]) -> str:
    names = {bool: "true or false", int: "a number", float: "a number", str: "a string", dict: "a table", list: "a list"}
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def _example(default: Any) -> str:
    if isinstance(default, bool):
        return "true"
    if isinstance(default, (int, float)):
        return repr(default)
    if isinstance(default, str):
        return f'"{default}"'
    return "{ }"


ENV_REFERENCE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def expand_env(value: str, env: dict[str, str] | None = None, *, what: str = "a value") -> str:
    """Replace `$NAME` and `${NAME}` with the environment's values.

    Raises ConfigError naming the variable when it is not set.
    """
    env = os.environ if env is None else env

    def sub(match: re.Match[str]) -> str:
        name = match[1] or match[2]
        if name not in env:
            raise ConfigError(
                f"environment variable {name} is not set (used by {what})",
                hint=f"export {name}=... before starting tts-tui",
            )
        return env[name]

    return ENV_REFERENCE.sub(sub, value)


def references_unset_env(value: str, env: dict[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return any((m[1] or m[2]) not in env for m in ENV_REFERENCE.finditer(value))


# --- literal secrets -----------------------------------------------------------

_TEMPLATE_TAG = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_JSON_STRING_PAIR = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:\s*"((?:[^"\\]|\\.)*)"')


def literal_secrets(table: Any) -> list[str]:
    """Where a [[services]] table (plain TOML data) holds a secret written
    into the file itself, e.g. ["api_key", "headers.Authorization"].

    A literal secret is a non-empty `api_key`, or a value under a header,
    query, params or extra key named like a secret (`is_secret_name`), or a
    string under such a key in the body template, or URL userinfo (and
    `?key=` values) in `url` or `voices.url`; unless the value reads the
    environment (`$VAR`, `${VAR}`) or is a template (`{{ env.KEY }}`).
    """
    from tts_tui.core.masking import credential, is_secret_name, url_secrets

    if not isinstance(table, dict):
        return []
    places: list[str] = []
    if _is_literal(table.get("api_key")):
        places.append("api_key")
    for section in ("headers", "query", "params", "extra"):
        values = table.get(section)
        if isinstance(values, dict):
            places += [
                f"{section}.{key}"
                for key, value in values.items()
                if is_secret_name(str(key)) and isinstance(value, str) and _is_literal(credential(value))
            ]
    body = table.get("body")
    if isinstance(body, str):
        places += [
            f"body key {key!r}"
            for key, value in dict.fromkeys(_JSON_STRING_PAIR.findall(body)).keys()
            if is_secret_name(key) and _is_literal(value)
        ]
    voices = table.get("voices")
    for where, url in (("url", table.get("url")), ("voices.url", voices.get("url") if isinstance(voices, dict) else None)):
        if isinstance(url, str) and any(_is_literal(v) for v in url_secrets(url)):
            places.append(where)
    return places


def _is_literal(value: Any) -> bool:
    """A string that holds text of its own, not only `$VAR` references and `{{ }}` tags."""
    if not isinstance(value, str) or not value.strip():
        return False
    return not (ENV_REFERENCE.search(value) or _TEMPLATE_TAG.search(value))


def _secret_warning(name: str, places: list[str]) -> str | None:
    if not places:
        return None
    verb = "holds" if len(places) == 1 else "hold"
    return (
        f"service {name!r}: {', '.join(places)} {verb} a literal secret; "
        f'prefer "$VARIABLE" to read it from the environment'
    )


def literal_secret_warning(service: Service) -> str | None:
    """The warning the config's `warnings` hold for `service`'s literal secrets, or None.

    The CLI shows it for the service in use only.
    """
    return _secret_warning(service.name, literal_secrets(_service_table(service)))


def has_literal_secret(config: Config) -> bool:
    """True when any service holds a literal secret (the file is then written 0600)."""
    return any(literal_secrets(_service_table(s)) for s in config.services)


def data_has_literal_secret(data: dict[str, Any]) -> bool:
    """`has_literal_secret` on plain TOML data, valid or not."""
    services = data.get("services")
    return isinstance(services, list) and any(literal_secrets(t) for t in services)


def _service_table(service: Service) -> dict[str, Any]:
    table = {f: getattr(service, f) for f in ("api_key", "headers", "query", "params", "extra", "body", "url")}
    if service.voices is not None:
        table["voices"] = {"url": service.voices.url}
    return table


# --- broken services ----------------------------------------------------------


def refusal(service: Service, path: Path | None) -> ConfigError | None:
    """The one-line error a broken service refuses to work with, else None.

    "config.toml line 12, column 10: services[1].format: unknown format 'ogg'",
    then the hint: where first, as the CLI prints every config error. (The
    TUI, with one file open, shows `service.problem` itself: the reason first.)
    """
    problem = service.problem
    if problem is None:
        return None
    where = " ".join(part for part in ((path.name if path else "config"), problem.where) if part)
    return ConfigError(f"{where}: {problem.message}", hint=problem.hint)


def working_service(config: Config, name: str | None = None) -> Service:
    """The named service, or the first one that works when `name` is None.

    Raises ConfigError when there is none, the name is unknown, or the service
    is broken (its `refusal`).
    """
    if name is None:
        working = [s for s in config.services if s.problem is None]
        if not working and config.services:
            error = refusal(config.services[0], config.path)
            assert error is not None
            error.message = f"no service works: {error.message}"
            raise error
        name = working[0].name if working else None
    service = config.service(name)
    error = refusal(service, config.path)
    if error is not None:
        raise error
    return service


def edit_problem(service: str, keypath: tuple[str, ...], value: Any) -> ConfigError | None:
    """Why setting `keypath` of a service to `value` would break it, else None.

    For edits made in the UI, which are refused rather than written; a value
    that arrives in the file instead marks its service broken (see Validator).
    """
    table: dict[str, Any] = {"name": service}
    node = table
    for key in keypath[:-1]:
        node = node.setdefault(key, {})
    node[keypath[-1]] = value
    return service_problem(table)


def service_problem(table: dict[str, Any]) -> ConfigError | None:
    """Why a new [[services]] table (with a name) would be broken, else None."""
    return Validator("").service(table, 0, label="").problem
