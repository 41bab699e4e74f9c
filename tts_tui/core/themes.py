"""Theme files: read and check `*.toml` themes without touching Textual.

A theme file names the theme, says whether it is dark, and gives the colours
Textual's theme API takes, plus optional Textual theme variables:

    name = "tts-dark"
    dark = true
    [colors]
    primary = "#5FAFFF"
    ...
    [variables]
    "block-cursor-background" = "#5FAFFF"

Built-in themes live in the package (`tts_tui/themes/`), user themes in a
`themes/` folder next to the config file. The checks here are the cheap,
syntactic ones; `tts_tui.ui.themes` parses every colour with Textual itself.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tts_tui.core.errors import ConfigError

# The colour slots of textual.theme.Theme, in the order people usually write them.
COLOR_KEYS: tuple[str, ...] = (
    "primary",
    "secondary",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "success",
    "warning",
    "error",
    "boost",
)
TOP_LEVEL_KEYS: tuple[str, ...] = ("name", "dark", "colors", "variables")

# The theme name becomes a CSS class ("-theme-NAME") in Textual, so keep it an identifier.
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_COLOR_RE = re.compile(
    r"""^(?:
        \#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})  # hex
      | (?:rgb|rgba|hsl|hsla)\([^()]*\)                                     # functions
      | [a-z][a-z0-9_]*                                                     # a colour name
    )$""",
    re.VERBOSE,
)
_VARIABLE_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_TOML_POSITION_RE = re.compile(r"\(at line (\d+), column (\d+)\)")
_HEADER_RE = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]")

_FIX_HINT = "fix the file; tts-tui uses its other themes meanwhile"


@dataclass(frozen=True)
class ThemeSpec:
    """A theme as read from a file: plain data, ready to map onto Textual's Theme.

    `colors` holds only keys from COLOR_KEYS and always has "primary";
    `variables` maps Textual theme variable names to CSS values;
    `path` is the file it came from (None for themes built in code).
    """

    name: str
    dark: bool
    colors: dict[str, str]
    variables: dict[str, str]
    path: Path | None = None


def builtin_theme_dir() -> Path:
    """The folder of themes shipped inside the package (`tts_tui/themes`)."""
    return Path(__file__).resolve().parent.parent / "themes"


def user_theme_dir(config_path: Path) -> Path:
    """The user's theme folder: `themes/` next to the config file (may not exist)."""
    return Path(config_path).expanduser().parent / "themes"


def load_theme_file(path: Path) -> ThemeSpec:
    """Read and check one theme file.

    Raises ConfigError naming the file, with the line and column where known
    (from tomllib for bad TOML, from the key's line for bad values) and a hint.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            f"theme file {path} cannot be read: {reason}",
            hint="check the file exists, is readable and is UTF-8 text",
        ) from None
    return parse_theme(text, path)


def parse_theme(text: str, path: Path | None = None) -> ThemeSpec:
    """Parse theme TOML text (see `load_theme_file`); `path` is only used in messages."""
    checker = _ThemeChecker(text, path)
    return checker.spec(checker.toml())


def load_theme_dir(folder: Path) -> tuple[list[ThemeSpec], list[ConfigError]]:
    """Load every `*.toml` in `folder`, in file-name order.

    A missing folder gives ([], []). Broken files are returned as errors, never
    raised. When two files in the folder define the same name, the first one
    (by file name) is kept and the second is reported.
    """
    specs: list[ThemeSpec] = []
    errors: list[ConfigError] = []
    try:
        files = sorted(p for p in Path(folder).glob("*.toml") if p.is_file())
    except OSError:
        return specs, errors
    seen: dict[str, Path] = {}
    for file in files:
        try:
            spec = load_theme_file(file)
        except ConfigError as exc:
            errors.append(exc)
            continue
        if spec.name in seen:
            errors.append(
                ConfigError(
                    f"theme file {file} defines theme {spec.name!r} again "
                    f"(already defined by {seen[spec.name].name})",
                    hint="give one of them another name",
                )
            )
            continue
        seen[spec.name] = file
        specs.append(spec)
    return specs, errors


def discover_themes(config_path: Path | None) -> tuple[list[ThemeSpec], list[ConfigError]]:
    """All themes: built-ins first, then the user's (a user theme with the same
    name replaces the built-in one, keeping its place). Broken files are
    reported in the second list, never raised.
    """
    specs, errors = load_theme_dir(builtin_theme_dir())
    if config_path is None:
        return specs, errors
    user_specs, user_errors = load_theme_dir(user_theme_dir(config_path))
    by_name = {spec.name: i for i, spec in enumerate(specs)}
    for spec in user_specs:
        if spec.name in by_name:
            specs[by_name[spec.name]] = spec
        else:
            by_name[spec.name] = len(specs)
            specs.append(spec)
    return specs, errors + user_errors


class _ThemeChecker:
    """Turns theme TOML into a ThemeSpec, pointing errors at their line."""

    def __init__(self, text: str, path: Path | None) -> None:
        self.text = text
        self.lines = text.splitlines()
        self.path = path
        self.label = f"theme file {path}" if path is not None else "theme"

    def toml(self) -> dict[str, Any]:
        try:
            return tomllib.loads(self.text)
        except tomllib.TOMLDecodeError as exc:
            message = str(exc)
            line = column = None
            match = _TOML_POSITION_RE.search(message)
            if match:
                line, column = int(match[1]), int(match[2])
                message = message[: match.start()].strip()
            elif "(at end of document)" in message:
                line = len(self.lines) or 1
                message = message.replace("(at end of document)", "").strip()
            message = message[:1].lower() + message[1:]
            raise ConfigError(
                f"{self.label} is not valid TOML: {message}",
                hint=_FIX_HINT,
                line=line,
                column=column,
            ) from None

    def spec(self, data: dict[str, Any]) -> ThemeSpec:
        for key in data:
            if key not in TOP_LEVEL_KEYS:
                raise self.error(
                    f"unknown key {key!r}",
                    None,
                    key,
                    hint=f"a theme file has only {', '.join(TOP_LEVEL_KEYS)}",
                )
        name = data.get("name")
        if name is None:
            raise self.error(
                "no name", None, None, hint='add a line such as name = "my-theme" at the top'
            )
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise self.error(
                f"bad name {name!r}",
                None,
                "name",
                hint="use letters, digits, '-' and '_' only (at most 64)",
            )
        dark = data.get("dark", True)
        if not isinstance(dark, bool):
            raise self.error("'dark' must be true or false", None, "dark", hint="write dark = true or dark = false")
        return ThemeSpec(
            name=name,
            dark=dark,
            colors=self.colors(data.get("colors")),
            variables=self.variables(data.get("variables", {})),
            path=self.path,
        )

    def colors(self, table: Any) -> dict[str, str]:
        example = 'add a [colors] table with at least primary = "#5FAFFF"'
        if table is None:
            raise self.error("no [colors] table", None, None, hint=example)
        if not isinstance(table, dict):
            raise self.error("'colors' must be a table", None, "colors", hint=example)
        colors: dict[str, str] = {}
        for key, value in table.items():
            if key not in COLOR_KEYS:
                raise self.error(
                    f"unknown colour {key!r}",
                    "colors",
                    key,
                    hint=f"known colours: {', '.join(COLOR_KEYS)}",
                )
            if not isinstance(value, str) or not _COLOR_RE.match(value.strip()):
                raise self.error(
                    f"colour {key!r} has a bad value {value!r}",
                    "colors",
                    key,
                    hint='write "#RGB", "#RRGGBB", "#RRGGBBAA", rgb(...) or a colour name such as "red"',
                )
            colors[key] = value.strip()
        if "primary" not in colors:
            raise self.error("no primary colour", "colors", None, hint='add primary = "#5FAFFF" under [colors]')
        return colors

    def variables(self, table: Any) -> dict[str, str]:
        if not isinstance(table, dict):
            raise self.error(
                "'variables' must be a table",
                None,
                "variables",
                hint='write [variables] then lines such as "block-cursor-background" = "#5FAFFF"',
            )
        variables: dict[str, str] = {}
        for key, value in table.items():
            if not _VARIABLE_RE.match(key):
                raise self.error(
                    f"bad variable name {key!r}",
                    "variables",
                    key,
                    hint="Textual variable names are lower-case words joined by '-', e.g. footer-key-foreground",
                )
            if not isinstance(value, str) or not value.strip():
                raise self.error(
                    f"variable {key!r} must be a non-empty string",
                    "variables",
                    key,
                    hint='quote the value, e.g. "#5FAFFF" or "bold"',
                )
            variables[key] = value.strip()
        return variables

    def error(self, message: str, table: str | None, key: str | None, *, hint: str) -> ConfigError:
        line, column = self.locate(table, key)
        return ConfigError(f"{self.label}: {message}", hint=hint, line=line, column=column)

    def locate(self, table: str | None, key: str | None) -> tuple[int | None, int | None]:
        """The line (and value column) of `key` in `[table]`; the header line for key=None.

        Best effort: dotted keys and inline tables give no position.
        """
        current: str | None = None
        key_re = None
        if key is not None:
            quoted = re.escape(key)
            key_re = re.compile(rf"""^(\s*)(?:{quoted}|"{quoted}"|'{quoted}')\s*=\s*""")
        for number, line in enumerate(self.lines, start=1):
            header = _HEADER_RE.match(line)
            if header and not line.lstrip().startswith("[["):
                current = header[1].strip("\"'")
                if current == (key if table is None else table if key is None else f"{table}.{key}"):
                    return number, None
                continue
            if key_re is not None and current == table:
                match = key_re.match(line)
                if match:
                    return number, match.end() + 1
        return None, None
