"""Theme files: the shipped themes, parsing, and the errors a user meets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tts_tui.core.errors import ConfigError
from tts_tui.core.themes import (
    COLOR_KEYS,
    builtin_theme_dir,
    discover_themes,
    load_theme_dir,
    load_theme_file,
    user_theme_dir,
)

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
name = "ocean"
dark = true

[colors]
primary = "#0af"
background = "#102030"
error = "#FF000080"
warning = "orange"

[variables]
"footer-key-foreground" = "#00AAFF"
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(tmp_path: Path, text: str) -> ConfigError:
    path = write(tmp_path, "broken.toml", text)
    with pytest.raises(ConfigError) as info:
        load_theme_file(path)
    assert str(path) in info.value.message, "the message names the file"
    assert info.value.hint
    return info.value


# --- shipped themes -------------------------------------------------------


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_shipped_themes_load_with_every_colour():
    specs, errors = discover_themes(None)
    assert errors == []
    by_name = {spec.name: spec for spec in specs}
    assert {"tts-dark", "tts-light"} <= set(by_name)
    assert by_name["tts-dark"].dark is True
    assert by_name["tts-light"].dark is False
    for spec in by_name.values():
        assert set(COLOR_KEYS) - {"boost"} <= set(spec.colors), spec.name
        assert spec.path is not None and spec.path.parent == builtin_theme_dir()


@pytest.mark.parametrize("name", ["tts-dark", "tts-light"])
def test_shipped_themes_are_readable(name):
    spec = load_theme_file(builtin_theme_dir() / f"{name}.toml")
    colors = spec.colors
    # WCAG: body text AAA, status colours at least AA against both background and panels.
    assert _contrast(colors["foreground"], colors["background"]) >= 7
    for key in ("error", "warning", "success", "primary"):
        for behind in ("background", "surface"):
            assert _contrast(colors[key], colors[behind]) >= 4.5, (key, behind)
    # An error must not look like a warning.
    assert colors["error"].lower() not in {colors["warning"].lower(), colors["accent"].lower()}


def test_repo_root_themes_folder_mirrors_the_package():
    packaged = {p.name: p.read_bytes() for p in builtin_theme_dir().glob("*.toml")}
    root = {p.name: p.read_bytes() for p in (ROOT / "themes").glob("*.toml")}
    assert packaged == root, "edit tts_tui/themes/ and copy the files into themes/"


def test_readme_example_is_a_valid_theme(tmp_path):
    readme = (ROOT / "themes" / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```toml\n(.*?)```", readme, re.S)[1]
    spec = load_theme_file(write(tmp_path, "example.toml", example))
    assert spec.name == "my-theme"
    assert spec.colors["boost"] == "#FFFFFF10"


# --- parsing ----------------------------------------------------------------


def test_good_file_parses_into_plain_data(tmp_path):
    path = write(tmp_path, "ocean.toml", GOOD)
    spec = load_theme_file(path)
    assert spec.name == "ocean"
    assert spec.dark is True
    assert spec.colors == {
        "primary": "#0af",
        "background": "#102030",
        "error": "#FF000080",
        "warning": "orange",
    }
    assert spec.variables == {"footer-key-foreground": "#00AAFF"}
    assert spec.path == path


def test_dark_defaults_to_true_and_variables_are_optional(tmp_path):
    spec = load_theme_file(write(tmp_path, "t.toml", 'name = "t"\n[colors]\nprimary = "red"\n'))
    assert spec.dark is True
    assert spec.variables == {}


def test_bad_toml_points_at_line_and_column(tmp_path):
    error = load_error(tmp_path, 'name = "x"\n[colors]\nprimary = #5FAFFF\n')
    assert "not valid TOML" in error.message
    assert (error.line, error.column) == (3, 11)
    assert "line 3, column 11" in str(error)


def test_missing_name(tmp_path):
    error = load_error(tmp_path, '[colors]\nprimary = "#5FAFFF"\n')
    assert "no name" in error.message
    assert "name =" in error.hint


def test_bad_name_points_at_its_line(tmp_path):
    error = load_error(tmp_path, '# my theme\nname = "my theme"\n[colors]\nprimary = "red"\n')
    assert "bad name" in error.message
    assert error.line == 2


def test_missing_primary_points_at_colors_table(tmp_path):
    error = load_error(tmp_path, 'name = "x"\n\n[colors]\nsecondary = "#123456"\n')
    assert "no primary colour" in error.message
    assert error.line == 3


def test_missing_colors_table(tmp_path):
    error = load_error(tmp_path, 'name = "x"\n[colours]\nprimary = "#123456"\n')
    assert "unknown key 'colours'" in error.message
    assert error.line == 2


@pytest.mark.parametrize("value", ["#12345", "#GGGGGG", "5FAFFF", "bright red", "Red!"])
def test_bad_colour_points_at_its_value(tmp_path, value):
    text = f'name = "x"\n[colors]\nprimary = "#5FAFFF"\n  error  = "{value}"\n'
    error = load_error(tmp_path, text)
    assert "colour 'error'" in error.message and value in error.message
    assert (error.line, error.column) == (4, 12)
    assert "#RRGGBB" in error.hint


def test_colour_that_is_not_a_string(tmp_path):
    error = load_error(tmp_path, 'name = "x"\n[colors]\nprimary = 0x5FAFFF\n')
    assert "colour 'primary'" in error.message
    assert error.line == 3


def test_unknown_colour_key_lists_the_known_ones(tmp_path):
    error = load_error(tmp_path, 'name = "x"\n[colors]\nprimary = "red"\nprimery = "blue"\n')
    assert "unknown colour 'primery'" in error.message
    assert error.line == 4
    assert "secondary" in error.hint


def test_dark_must_be_boolean(tmp_path):
    error = load_error(tmp_path, 'name = "x"\ndark = "yes"\n[colors]\nprimary = "red"\n')
    assert "'dark'" in error.message and error.line == 2


def test_bad_variable_name_and_value(tmp_path):
    error = load_error(tmp_path, 'name = "x"\n[colors]\nprimary = "red"\n[variables]\n"Footer Key" = "red"\n')
    assert "bad variable name" in error.message and error.line == 5
    error = load_error(tmp_path, 'name = "x"\n[colors]\nprimary = "red"\n[variables]\nborder = 3\n')
    assert "variable 'border'" in error.message and error.line == 5


def test_unreadable_file(tmp_path):
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError) as info:
        load_theme_file(path)
    assert str(path) in info.value.message and "cannot be read" in info.value.message


# --- discovery ----------------------------------------------------------------


def test_user_theme_dir_is_next_to_the_config(tmp_path):
    assert user_theme_dir(tmp_path / "cfg" / "config.toml") == tmp_path / "cfg" / "themes"


def test_discover_adds_user_themes_and_reports_broken_files(tmp_path):
    config = tmp_path / "config.toml"
    themes = user_theme_dir(config)
    write(themes, "ocean.toml", GOOD)
    broken = write(themes, "broken.toml", 'name = "broken"\n[colors]\nprimary = "nope!"\n')
    write(themes, "notes.txt", "not a theme")

    specs, errors = discover_themes(config)

    names = [spec.name for spec in specs]
    assert names[:2] == ["tts-dark", "tts-light"], "built-ins come first"
    assert "ocean" in names and "broken" not in names
    assert len(errors) == 1 and str(broken) in errors[0].message


def test_user_theme_overrides_builtin_with_same_name(tmp_path):
    config = tmp_path / "config.toml"
    mine = write(user_theme_dir(config), "mine.toml", 'name = "tts-dark"\n[colors]\nprimary = "#FF00FF"\n')
    specs, errors = discover_themes(config)
    assert errors == []
    darks = [spec for spec in specs if spec.name == "tts-dark"]
    assert len(darks) == 1
    assert darks[0].colors["primary"] == "#FF00FF" and darks[0].path == mine


def test_missing_user_folder_is_not_an_error(tmp_path):
    specs, errors = discover_themes(tmp_path / "nowhere" / "config.toml")
    assert errors == [] and {"tts-dark", "tts-light"} <= {spec.name for spec in specs}


def test_duplicate_names_in_one_folder_keep_the_first(tmp_path):
    write(tmp_path, "a.toml", 'name = "same"\n[colors]\nprimary = "red"\n')
    write(tmp_path, "b.toml", 'name = "same"\n[colors]\nprimary = "blue"\n')
    specs, errors = load_theme_dir(tmp_path)
    assert [spec.colors["primary"] for spec in specs] == ["red"]
    assert len(errors) == 1 and "b.toml" in errors[0].message and "a.toml" in errors[0].message
