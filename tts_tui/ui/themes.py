"""Theme files onto Textual: register them on an App, switch, remember the choice.

`tts_tui.core.themes` reads the files; here every colour and variable is
checked with Textual's own parser before the theme is registered, because a
bad value would otherwise only fail later, when Textual re-parses its CSS, and
take the app down with it.
"""

from __future__ import annotations

import re
from pathlib import Path

from textual.app import App
from textual.color import Color, ColorParseError
from textual.css.constants import VALID_STYLE_FLAGS
from textual.theme import Theme

from tts_tui.core.errors import ConfigError
from tts_tui.core.themes import ThemeSpec, builtin_theme_dir, load_theme_dir, user_theme_dir

FALLBACK_THEME = "tts-dark"
# Used only if even tts-dark could not be registered (a damaged install).
_LAST_RESORT_THEME = "textual-dark"
_ALPHA_RE = re.compile(r"^\d+(?:\.\d+)?%$")


def to_textual_theme(spec: ThemeSpec) -> Theme:
    """Map a ThemeSpec onto textual.theme.Theme, checking every value with Textual.

    Raises ConfigError naming the file and the offending key when a colour or
    variable would not parse in Textual.
    """
    where = f"theme file {spec.path}" if spec.path is not None else f"theme {spec.name!r}"
    for key, value in spec.colors.items():
        try:
            Color.parse(value)
        except ColorParseError as exc:
            raise ConfigError(
                f"{where}: colour {key!r} = {value!r} is not a colour",
                hint=_suggestion(exc) or 'use "#RRGGBB" or a colour name such as "red"',
            ) from None
    for key, value in spec.variables.items():
        problem = _variable_problem(key, value)
        if problem:
            raise ConfigError(f"{where}: variable {key!r} = {value!r} {problem}", hint=_variable_hint(key))
    theme = Theme(name=spec.name, dark=spec.dark, variables=dict(spec.variables), **spec.colors)
    try:
        # Derives the shades Textual needs; fails on anything the checks above missed.
        theme.to_color_system().generate()
    except Exception as exc:  # noqa: BLE001 - any failure here means "do not register"
        raise ConfigError(f"{where}: Textual cannot use this theme: {exc}", hint="fix the colours") from None
    return theme


def register_themes(app: App, config_path: Path | None) -> list[str]:
    """Register the built-in themes, then the user's (`themes/` next to the config).

    A user theme with a built-in's name replaces it; a broken user theme
    leaves the built-in in place. Returns one human-readable warning per
    broken file (each names the file), for the app to show as notifications.
    Never raises for a bad theme file.
    """
    folders = [builtin_theme_dir()]
    if config_path is not None:
        folders.append(user_theme_dir(config_path))
    warnings: list[str] = []
    for folder in folders:
        specs, errors = load_theme_dir(folder)
        warnings.extend(str(error) for error in errors)
        for spec in specs:
            try:
                app.register_theme(to_textual_theme(spec))
            except ConfigError as error:
                warnings.append(str(error))
    return warnings


def apply_theme(app: App, name: str) -> str | None:
    """Switch the app to theme `name`.

    Returns None on success. If `name` is not registered, switches to
    tts-dark instead and returns a warning that names the missing theme.
    """
    if name in app.available_themes:
        app.theme = name
        return None
    fallback = FALLBACK_THEME if FALLBACK_THEME in app.available_themes else _LAST_RESORT_THEME
    app.theme = fallback
    return (
        f"theme {name!r} is not available; using {fallback} instead. "
        "Check ui.theme in the config and the themes folder next to it, "
        "or pick a theme from the command palette (Theme)"
    )


def _variable_problem(key: str, value: str) -> str | None:
    """Why Textual's CSS would reject `value` for variable `key` (None if fine)."""
    tokens = value.split()
    if key.endswith("text-style"):
        bad = [token for token in tokens if token not in VALID_STYLE_FLAGS]
        return f"has unknown text style {bad[0]!r}" if bad else None
    # Every other Textual theme variable is a colour, optionally with an alpha percentage.
    if len(tokens) > 2 or (len(tokens) == 2 and not _ALPHA_RE.match(tokens[1])):
        return "is not a colour (write a colour, optionally followed by an alpha such as 35%)"
    if not tokens:
        return "is empty"
    if tokens[0] == "auto":
        # Textual accepts "auto" (contrasting text) everywhere but in backgrounds.
        return "cannot be auto (it is a background)" if "background" in key else None
    try:
        Color.parse(tokens[0])
    except ColorParseError:
        return "is not a colour"
    return None


def _variable_hint(key: str) -> str:
    if key.endswith("text-style"):
        return f"use words from: {', '.join(sorted(VALID_STYLE_FLAGS))}"
    return 'use a colour such as "#5FAFFF" or "#5FAFFF 35%"'


def _suggestion(exc: ColorParseError) -> str | None:
    suggested = getattr(exc, "suggested_color", None)
    return f"did you mean {suggested!r}?" if suggested else None
