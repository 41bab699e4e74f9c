"""Read, validate and write the TOML config file (DESIGN section 2).

Reading uses the standard library's fast `tomllib`; writing re-reads the file
with `tomlkit` (imported only then) so every comment, blank line and key order
the user wrote survives, and only changed values change.
"""

from __future__ import annotations

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
    AudioSettings,
    Config,
    PcmSpec,
    Service,
    UiSettings,
    VoicesSpec,
)

ENV_VAR = "TTS_TUI_CONFIG"
DEFAULT_TEMPLATE = Path(__file__).with_name("default_config.toml")

_SERVICE_FIELDS = {f.name: f for f in fields(Service)}
_TABLE_FIELDS = {"pcm": PcmSpec, "voices": VoicesSpec}
_LITERAL_SECRET_KEYS = ("api_key",)


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
    """tomllib.loads, with its error turned into a ConfigError with a position."""
    try:
        return tomllib.loads(text)
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


class Validator:
    """Turns parsed TOML into model objects, pointing errors at their line."""

    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self.warnings: list[str] = []

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

    def service(self, table: Any, index: int) -> Service:
        if not isinstance(table, dict):
            raise self.error("each [[services]] entry must be a table", "services", index)
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise self.error(
                "a service has no name", "[[services]]", index, hint='add name = "..." to the block'
            )
        kind = table.get("type", "openai")
        if kind not in SERVICE_TYPES:
            raise self.error(
                f"service {name!r} has unknown type {kind!r}",
                "type",
                index,
                hint='use type = "openai" or type = "http"',
            )
        values: dict[str, Any] = {}
        for key, raw in table.items():
            spec = _SERVICE_FIELDS.get(key)
            if spec is None:
                line = self.locate(key, index)
                where = f" (line {line})" if line else ""
                self.warnings.append(f"service {name!r}: unknown key {key!r} ignored{where}")
                continue
            if key in _TABLE_FIELDS:
                values[key] = self.subtable(raw, key, _TABLE_FIELDS[key], index)
                continue
            values[key] = self.coerce(raw, key, _default(spec), index, name)
        service = Service(**values)
        if service.format not in FORMATS:
            raise self.error(
                f"service {name!r} has unknown format {service.format!r}",
                "format",
                index,
                hint="use one of " + ", ".join(FORMATS),
            )
        if not (service.response == "body" or re.fullmatch(r"(json|url):.+", service.response)):
            raise self.error(
                f"service {name!r} has an unknown response mode {service.response!r}",
                "response",
                index,
                hint='use "body", "json:PATH" or "url:PATH"',
            )
        for key in _LITERAL_SECRET_KEYS:
            value = getattr(service, key)
            if value and not value.startswith("$"):
                self.warnings.append(
                    f"service {name!r}: {key} holds a literal secret; "
                    f'prefer "$VARIABLE" to read it from the environment'
                )
        return service

    def coerce(self, raw: Any, key: str, default: Any, index: int, name: str) -> Any:
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
            raise self.error(
                f"service {name!r}: {key} must be {_type_name(expected)}, not {_type_name((type(raw),))}",
                key,
                index,
                hint=f"e.g. {key} = {_example(default)}",
            )
        if key in ("headers", "query"):
            for k, v in raw.items():
                if not isinstance(v, str):
                    raise self.error(
                        f"service {name!r}: {key}.{k} must be a string", key, index,
                        hint=f'write {k} = "{v}"',
                    )
        if isinstance(default, float):
            return float(raw)
        return raw

    def subtable(self, raw: Any, key: str, cls: type, index: int) -> Any:
        if not isinstance(raw, dict):
            raise self.error(f"{key} must be a table", key, index, hint=f"e.g. [services.{key}]")
        known = {f.name: f for f in fields(cls)}
        kwargs = {}
        for k, v in raw.items():
            if k not in known:
                self.warnings.append(f"unknown key {key}.{k!r} ignored")
                continue
            default = known[k].default
            if not isinstance(v, type(default)) or isinstance(v, bool) != isinstance(default, bool):
                raise self.error(f"{key}.{k} must be {_type_name((type(default),))}", k, index)
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


def has_literal_secret(config: Config) -> bool:
    return any(
        getattr(s, key) and not getattr(s, key).startswith("$")
        for s in config.services
        for key in _LITERAL_SECRET_KEYS
    )
