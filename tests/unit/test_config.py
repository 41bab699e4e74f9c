"""Config: load, validate with positions, write keeping the user's file."""

from __future__ import annotations

import os
import stat
import tomllib

import pytest

from tts_tui.core import config
from tts_tui.core.config_writer import DELETE, apply_changes
from tts_tui.core.errors import ConfigError

USER_FILE = """\
# my TTS setup
[ui]
theme = "tts-dark"   # dark, please
text = "Hi"

[audio]
output = "none"

# the fast one
[[services]]
name = "kokoro"
type = "openai"
url = "http://127.0.0.1:8880/v1"
voice = "af_bella"   # my favourite
speed = 1
extra = { lang_code = "a" }

[[services]]
name = "xtts"
type = "http"
url = "http://127.0.0.1:8020/tts_to_audio/"
body = '''
{"text": "{{ text }}"}
'''
[services.params]
language = "en"
"""


def test_first_run_creates_a_commented_default_with_the_builtin_service(tmp_path):
    path = tmp_path / "sub" / "config.toml"
    assert config.ensure_exists(path) is True
    text = path.read_text()
    assert text.count("#") > 20, "every key is explained by a comment"
    loaded = config.load(path)
    assert [s.name for s in loaded.services] == ["local"]
    assert loaded.services[0].url == "builtin" and loaded.services[0].is_builtin
    assert loaded.warnings == []


def test_existing_file_is_never_replaced_by_the_default(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("broken = [")
    assert config.ensure_exists(path) is False
    assert path.read_text() == "broken = ["


def test_path_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config.resolve_path(None) == tmp_path / "xdg" / "tts-tui" / "config.toml"
    monkeypatch.setenv("TTS_TUI_CONFIG", str(tmp_path / "env.toml"))
    assert config.resolve_path(None) == tmp_path / "env.toml"
    assert config.resolve_path(str(tmp_path / "cli.toml")) == tmp_path / "cli.toml"


def test_loads_every_field(write_config):
    loaded = config.load(write_config(USER_FILE))
    kokoro, xtts = loaded.services
    assert loaded.ui.text == "Hi" and loaded.audio.output == "none"
    assert kokoro.speed == 1.0 and isinstance(kokoro.speed, float)
    assert kokoro.extra == {"lang_code": "a"}
    assert xtts.type == "http" and xtts.params == {"language": "en"}
    assert xtts.body.strip() == '{"text": "{{ text }}"}'


def test_syntax_error_gives_line_column_and_a_fix(write_config):
    path = write_config('[ui]\ntheme = "x"\ntext = "unclosed\n')
    with pytest.raises(ConfigError) as info:
        config.load(path)
    assert info.value.line == 3
    assert info.value.column is not None
    assert "not valid TOML" in info.value.message
    assert "will not overwrite" in info.value.hint


@pytest.mark.parametrize(
    "snippet, line, words",
    [
        ('name = "a"\ntype = "grpc"', 3, "unknown type 'grpc'"),
        ('name = "a"\nspeed = "fast"', 3, "speed must be a number"),
        ('name = "a"\nformat = "ogg"', 3, "unknown format 'ogg'"),
        ('name = "a"\nheaders = { X = 1 }', 3, "headers.X must be a string"),
        ('name = "a"\nresponse = "xml"', 3, "unknown response mode"),
        ('type = "http"', 1, "has no name"),
    ],
)
def test_wrong_values_point_at_their_line(write_config, snippet, line, words):
    with pytest.raises(ConfigError) as info:
        config.load(write_config("[[services]]\n" + snippet + "\n"))
    assert words in info.value.message
    assert info.value.line == line
    assert info.value.hint


def test_duplicate_names_are_refused(write_config):
    text = '[[services]]\nname = "a"\n[[services]]\nname = "a"\n'
    with pytest.raises(ConfigError, match="two services are named 'a'") as info:
        config.load(write_config(text))
    assert info.value.line == 4


def test_unknown_keys_and_literal_secrets_warn(write_config):
    text = '[[services]]\nname = "a"\ncolour = "red"\napi_key = "sk-123456"\n'
    loaded = config.load(write_config(text))
    assert any("unknown key 'colour'" in w and "line 3" in w for w in loaded.warnings)
    assert any("literal secret" in w for w in loaded.warnings)


def test_env_references(monkeypatch):
    monkeypatch.setenv("TTS_KEY", "abc")
    assert config.expand_env("Bearer $TTS_KEY") == "Bearer abc"
    assert config.expand_env("${TTS_KEY}-x") == "abc-x"
    with pytest.raises(ConfigError, match="TTS_MISSING is not set"):
        config.expand_env("$TTS_MISSING")


def test_a_change_keeps_comments_order_and_other_values(write_config):
    path = write_config(USER_FILE)
    apply_changes(path, [(("services", "kokoro", "voice"), "af_sky"), (("ui", "text"), "Hello")])
    text = path.read_text()
    expected = USER_FILE.replace('"af_bella"', '"af_sky"').replace('text = "Hi"', 'text = "Hello"')
    assert text == expected
    assert config.load(path).services[0].voice == "af_sky"


def test_unchanged_values_keep_their_spelling(write_config):
    path = write_config(USER_FILE)
    apply_changes(path, [(("services", "kokoro", "speed"), 1.0)])
    assert path.read_text() == USER_FILE  # `speed = 1` stays `1`


def test_new_nested_keys_and_multiline_bodies(write_config):
    path = write_config(USER_FILE)
    body = '{\n  "text": "{{ text }}",\n  "language": "{{ language }}"\n}'
    apply_changes(
        path,
        [
            (("services", "xtts", "body"), body),
            (("services", "xtts", "params", "speaker_wav"), "me.wav"),
            (("services", "kokoro", "extra"), DELETE),
        ],
    )
    loaded = config.load(path)
    assert loaded.services[1].body == body
    assert loaded.services[1].params == {"language": "en", "speaker_wav": "me.wav"}
    assert loaded.services[0].extra == {}
    assert "# the fast one" in path.read_text() and "# my favourite" in path.read_text()


def test_add_and_remove_services(write_config):
    path = write_config(USER_FILE)
    apply_changes(path, [(("services", "new"), {"type": "openai", "url": "http://127.0.0.1:9/v1", "extra": {"a": 1}})])
    assert [s.name for s in config.load(path).services] == ["kokoro", "xtts", "new"]
    apply_changes(path, [(("services", "xtts"), DELETE)])
    assert [s.name for s in config.load(path).services] == ["kokoro", "new"]
    assert path.read_text().startswith("# my TTS setup")


def test_a_file_that_does_not_parse_is_never_written(write_config):
    path = write_config(USER_FILE + "\noops = \n")
    before = path.read_bytes()
    with pytest.raises(ConfigError, match="not saving") as info:
        apply_changes(path, [(("ui", "text"), "x")])
    assert info.value.line is not None
    assert path.read_bytes() == before


def test_writes_are_atomic_and_leave_no_temp_files(write_config):
    path = write_config(USER_FILE)
    os.chmod(path, 0o640)
    apply_changes(path, [(("ui", "text"), "x" * 10_000)])
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert tomllib.loads(path.read_text())["ui"]["text"] == "x" * 10_000


def test_a_literal_secret_makes_the_file_private(write_config):
    path = write_config(USER_FILE)
    os.chmod(path, 0o644)
    apply_changes(path, [(("services", "kokoro", "api_key"), "sk-literal-key")])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
