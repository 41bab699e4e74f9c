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
    # the column is where the string runs into the end of its line
    assert (info.value.line, info.value.column) == (3, len('text = "unclosed') + 1)
    assert "not valid TOML" in info.value.message
    assert "will not overwrite" in info.value.hint
    text = '[ui]\ntheme = "x"\ntext = "ok" junk\n'
    with pytest.raises(ConfigError) as info:
        config.load(write_config(text))
    assert str(info.value).startswith("the config is not valid TOML: expected newline or end of document")
    assert value_at(text, info.value.line, info.value.column) == "junk"


GOOD = '[[services]]\nname = "before"\nurl = "builtin"\n\n'
AFTER = '\n[[services]]\nname = "after"\nurl = "builtin"\n'


def value_at(text: str, line: int, column: int) -> str:
    """What the file holds from (line, column) to the end of that line."""
    return text.splitlines()[line - 1][column - 1 :]


@pytest.mark.parametrize(
    "block, words, points_at",
    [
        ('type = "grpc"', "services[1].type: unknown type 'grpc'", '"grpc"'),
        ('speed = "fast"', "services[1].speed must be a number, not a string", '"fast"'),
        ("speed = nan", "services[1].speed must be a number above 0, not nan", "nan"),
        ('format = "ogg"', "services[1].format: unknown format 'ogg'", '"ogg"'),
        ("headers = { X = 1 }", "services[1].headers.X must be a string", "1 }"),
        ('response = "xml"', "services[1].response: unknown response mode 'xml'", '"xml"'),
        ("timeout = -1", "services[1].timeout must be a number above 0, not -1", "-1"),
        ("timeout = 0", "services[1].timeout must be a number above 0, not 0", "0"),
        ("timeout = nan", "services[1].timeout must be a number above 0, not nan", "nan"),
        ("timeout = inf", "services[1].timeout must be a number above 0, not inf", "inf"),
        ('timeout = "60"', "services[1].timeout must be a number, not a string", '"60"'),
        ('pcm = "24000"', "services[1].pcm must be a table", '"24000"'),
        ("pcm = { rate = 0, channels = 0 }", "services[1].pcm.rate must be from 1 to 768000, not 0", "0, channels"),
        ("pcm = { rate = 24000, channels = 0 }", "services[1].pcm.channels must be from 1 to 32, not 0", "0 }"),
        ("pcm = { channels = 33 }", "services[1].pcm.channels must be from 1 to 32, not 33", "33 }"),
        ("pcm.rate = 768001", "services[1].pcm.rate must be from 1 to 768000, not 768001", "768001"),
        ('pcm = { rate = "fast" }', "services[1].pcm.rate must be a number", '"fast" }'),
        ("[services.pcm]\nrate = 24000\nchannels = -2", "services[1].pcm.channels must be from 1 to 32, not -2", "-2"),
        ('[services.voices]\nurl = 5', "services[1].voices.url must be a string", "5"),
    ],
)
def test_a_bad_value_breaks_only_its_own_service(write_config, block, words, points_at):
    text = GOOD + '[[services]]\nname = "bad"\nurl = "builtin"\n' + block + "\n" + AFTER
    loaded = config.load(write_config(text))
    before, bad, after = loaded.services
    assert [s.name for s in loaded.services] == ["before", "bad", "after"]
    assert before.problem is None and after.problem is None
    assert bad.problem is not None and bad.problem.message.startswith(words)
    assert bad.problem.hint
    assert value_at(text, bad.problem.line, bad.problem.column).startswith(points_at)
    assert bad.format in config.FORMATS and bad.timeout > 0, "the bad value itself is not used"


def test_the_position_is_found_around_body_templates_and_other_tables(write_config):
    # A body line that looks like a key, and a params key named like a service key.
    text = (
        '[[services]]\nname = "a"\ntype = "http"\nbody = """\n'
        'format = "not this one"\n[services.pcm]\n"""\n'
        '[services.params]\nformat = "nor this one"\n'
        '[services.pcm]\nrate = 0\n'
        '[ui]\ntext = "x"\n'
    )
    problem = config.parse(text).services[0].problem
    assert problem.message.startswith("services[0].pcm.rate")
    assert (problem.line, problem.column) == (11, 8)


def test_only_the_first_bad_value_is_reported_and_the_good_ones_load(write_config):
    text = '[[services]]\nname = "a"\nvoice = "v1"\nformat = "ogg"\ntimeout = -1\nspeed = 2\n'
    service = config.load(write_config(text)).services[0]
    assert "format" in service.problem.message and service.problem.line == 4
    assert (service.voice, service.speed, service.format, service.timeout) == ("v1", 2.0, "wav", 60.0)


def test_values_at_the_edges_of_their_ranges_are_fine(write_config):
    text = (
        '[[services]]\nname = "low"\npcm = { rate = 1, channels = 1 }\ntimeout = 0.001\n'
        '[[services]]\nname = "high"\npcm = { rate = 768000, channels = 32 }\ntimeout = 1e9\n'
    )
    loaded = config.load(write_config(text))
    assert [s.problem for s in loaded.services] == [None, None]
    assert loaded.services[1].pcm.rate == 768000 and loaded.services[1].pcm.channels == 32


@pytest.mark.parametrize(
    "text, line, words",
    [
        ('[[services]]\ntype = "http"\n', 1, "has no name"),
        ('[[services]]\nname = 3\n', 1, "has no name"),
        ('[ui]\ntheme = 3\n[[services]]\nname = "a"\n', 2, "ui.theme must be a string"),
        ('[audio]\nsave_dir = 1\n[[services]]\nname = "a"\n', 2, "audio.save_dir must be a string"),
        ('ui = 3\n[[services]]\nname = "a"\n', None, "`ui` must be a table"),
        ('services = 3\n', None, "must be a list"),
    ],
)
def test_errors_outside_a_service_still_stop_the_whole_file(write_config, text, line, words):
    with pytest.raises(ConfigError) as info:
        config.load(write_config(text))
    assert words in info.value.message
    if line is not None:
        assert info.value.line == line


def test_a_key_named_problem_is_not_a_field(write_config):
    loaded = config.load(write_config('[[services]]\nname = "a"\nproblem = "x"\n'))
    assert loaded.services[0].problem is None
    assert any("unknown key 'problem'" in w for w in loaded.warnings)


def test_the_first_working_service_is_the_default_and_a_broken_one_refuses(write_config):
    path = write_config('[[services]]\nname = "bad"\nformat = "ogg"\n[[services]]\nname = "good"\n')
    loaded = config.load(path)
    assert config.working_service(loaded).name == "good"
    assert config.working_service(loaded, "good").name == "good"
    with pytest.raises(ConfigError) as info:
        config.working_service(loaded, "bad")
    assert str(info.value) == (
        "config.toml line 3, column 10: services[0].format: unknown format 'ogg'; "
        "use one of mp3, opus, aac, flac, wav, pcm"
    )
    with pytest.raises(ConfigError, match="no service named 'nope'"):
        config.working_service(loaded, "nope")


def test_with_every_service_broken_the_default_names_the_first_problem(write_config):
    path = write_config('[[services]]\nname = "a"\ntimeout = -1\n[[services]]\nname = "b"\ntype = "x"\n')
    with pytest.raises(ConfigError) as info:
        config.working_service(config.load(path))
    assert str(info.value).startswith("no service works: config.toml line 3, column 11: services[0].timeout")


def test_an_edit_that_would_break_a_service_is_named(write_config):
    assert config.edit_problem("a", ("voice",), "x") is None
    assert config.edit_problem("a", ("pcm", "rate"), 16000) is None
    assert "pcm.rate must be from 1 to 768000" in config.edit_problem("a", ("pcm", "rate"), 0).message
    assert config.edit_problem("a", ("format",), "ogg").message == "format: unknown format 'ogg'"
    assert config.service_problem({"name": "n", "timeout": float("nan")}) is not None


def test_a_broken_service_is_written_back_exactly_as_the_user_wrote_it(write_config):
    bad = '[[services]]\nname = "bad"   # mine\nformat = "ogg"\npcm = { rate = 0, channels = 0 }\ntimeout = nan\n'
    path = write_config(USER_FILE + "\n" + bad)
    apply_changes(path, [(("services", "kokoro", "voice"), "af_sky"), (("services", "bad", "voice"), "v")])
    text = path.read_text()
    assert text == USER_FILE.replace('"af_bella"', '"af_sky"') + "\n" + bad + 'voice = "v"\n'
    assert config.load(path).service("bad").problem.line == text.splitlines().index('format = "ogg"') + 1


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


# --- issue 8: the user's file is sacred ----------------------------------------


def test_only_the_default_path_is_created_unasked(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    path, created = config.find_or_create(None)
    assert created and path.is_file(), "first run: the default file"
    assert config.find_or_create(None) == (path, False)
    typo = tmp_path / "cofnig.toml"
    with pytest.raises(ConfigError, match="no config file at") as info:
        config.find_or_create(str(typo))
    assert "--init" in str(info.value)
    assert not typo.exists(), "a mistyped --config creates nothing"
    monkeypatch.setenv("TTS_TUI_CONFIG", str(typo))
    with pytest.raises(ConfigError, match="TTS_TUI_CONFIG"):
        config.find_or_create(None)
    assert not typo.exists()
    assert config.find_or_create(str(typo), init=True) == (typo, True)
    assert [s.name for s in config.load(typo).services] == ["local"]


LITERAL_SECRETS = {
    "a header": 'headers = { Authorization = "Bearer sk-in-the-file" }',
    "a query key": 'query = { api_key = "sk-in-the-file" }',
    "a body key": """body = '{"text": "{{ text }}", "token": "sk-in-the-file"}'""",
    "a params key": 'params = { password = "hunter2-in-the-file" }',
    "an extra key": 'extra = { secret = "sk-in-the-file" }',
    "URL userinfo": 'url = "http://me:pw-in-the-file@127.0.0.1:9/tts"',
    "a voices URL key": 'voices = { url = "http://127.0.0.1:9/voices?key=sk-in-the-file" }',
    "the api_key": 'api_key = "sk-in-the-file"',
}
FROM_THE_ENVIRONMENT = [
    'headers = { Authorization = "Bearer $TTS_KEY", Accept = "audio/wav" }',
    'query = { api_key = "${TTS_KEY}" }',
    """body = '{"text": "{{ text }}", "token": "{{ env.TTS_KEY }}"}'""",
    'params = { password = "$TTS_KEY", speaker = "me" }',
    'url = "http://127.0.0.1:9/tts?lang=en"',
    'api_key = "$TTS_KEY"',
]


def _one_service(line: str) -> str:
    url = "" if line.startswith("url") else 'url = "http://127.0.0.1:9/tts"\n'
    return f'[ui]\ntext = "Hi"\n\n[[services]]\nname = "svc"\ntype = "http"\n{url}{line}\n'


@pytest.mark.parametrize("kind", LITERAL_SECRETS)
def test_any_literal_secret_makes_the_written_file_0600_and_warns(write_config, kind):
    path = write_config(_one_service(LITERAL_SECRETS[kind]))
    os.chmod(path, 0o644)
    loaded = config.load(path)
    assert [w for w in loaded.warnings if "literal secret" in w and "'svc'" in w], loaded.warnings
    assert config.literal_secret_warning(loaded.services[0]) in loaded.warnings
    apply_changes(path, [(("ui", "text"), "written by the app")])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{kind} is a literal secret"


@pytest.mark.parametrize("line", FROM_THE_ENVIRONMENT)
def test_secrets_read_from_the_environment_keep_the_mode_and_do_not_warn(write_config, line):
    path = write_config(_one_service(line))
    os.chmod(path, 0o644)
    loaded = config.load(path)
    assert not [w for w in loaded.warnings if "literal secret" in w]
    apply_changes(path, [(("ui", "text"), "written by the app")])
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_the_warning_names_every_place_of_a_service(write_config):
    text = _one_service('api_key = "sk-1"\nheaders = { "X-Api-Key" = "abc-123", Accept = "audio/wav" }')
    (warning,) = config.load(write_config(text)).warnings
    assert warning.startswith("service 'svc': api_key, headers.X-Api-Key hold a literal secret")
    assert "sk-1" not in warning and "abc-123" not in warning, "the warning never shows the secret"


def test_a_600_deep_array_is_a_config_error_with_its_place(write_config):
    text = USER_FILE + "deep = " + "[" * 600 + "]" * 600 + "\n"
    with pytest.raises(ConfigError, match="nested more than 100 levels") as info:
        config.load(write_config(text))
    line = USER_FILE.count("\n") + 1
    assert (info.value.line, info.value.column) == (line, len("deep = ") + 101)
    inline = "x = " + "{ a = " * 150 + "1" + " }" * 150 + "\n"
    with pytest.raises(ConfigError, match="nested more than 100 levels"):
        config.parse(inline)


def test_brackets_in_strings_and_comments_are_not_nesting(write_config):
    text = USER_FILE + "# " + "[" * 500 + "\n" + "[ui.keys]\n" + f"speak = \"{'[' * 300}\"\n"
    text += "note = '''\n" + "{" * 300 + "\n'''\n"
    assert config.load(write_config(text)).ui.keys["speak"] == "[" * 300


def test_a_symlinked_config_is_written_through_and_stays_a_link(tmp_path):
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    target = dotfiles / "tts.toml"
    target.write_text(USER_FILE)
    os.chmod(target, 0o640)
    link = tmp_path / "config.toml"
    link.symlink_to(os.path.relpath(target, tmp_path))  # as dotfile managers make them
    apply_changes(link, [(("ui", "text"), "through the link")])
    assert link.is_symlink() and os.readlink(link) == os.path.join("dotfiles", "tts.toml")
    assert tomllib.loads(target.read_text())["ui"]["text"] == "through the link", "the target got the edit"
    assert target.read_text().startswith("# my TTS setup")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml", "dotfiles"]
    assert sorted(p.name for p in dotfiles.iterdir()) == ["tts.toml"], "no temp file left beside the target"
