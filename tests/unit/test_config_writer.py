"""config_writer: an edit lands in the user's file as a person would have
typed it, replaces the file whole (never a half-written config), and never
writes over an edit another program made meanwhile."""

from __future__ import annotations

import locale
import os
import re
import stat
import subprocess
import sys
import tempfile
import tomllib

import pytest

from tts_tui.core.config_writer import FileChanged, apply_changes, atomic_write, edit_text, file_signature
from tts_tui.core.errors import ConfigError

SMALL = '[ui]\ntext = "Hi"\n'


def written(value: str) -> str:
    """How `text = VALUE` is spelled in the file after setting it."""
    text = edit_text(SMALL, [(("ui", "text"), value)])
    assert tomllib.loads(text)["ui"]["text"] == value, "what is read back is what was set"
    return text.split("text = ", 1)[1]


# --- strings as people write them --------------------------------------------


def test_a_json_body_on_one_line_is_a_literal_string_without_escapes():
    assert written('{"text": "{{ text }}"}') == '\'{"text": "{{ text }}"}\'\n'


def test_a_tab_is_allowed_in_a_literal_string():
    assert written('"a"\t"b"') == "'\"a\"\t\"b\"'\n"


def test_a_string_with_both_quotes_is_a_basic_string_with_escapes():
    assert written('say "it\'s"') == '"say \\"it\'s\\""\n'


@pytest.mark.parametrize("control", ["\x07", "\x1b", "\x7f"])
def test_a_control_character_is_escaped_so_the_file_stays_readable(control):
    # A literal string cannot hold control characters: the whole value is a basic string.
    assert written(f'"bell"{control}') == f'"\\"bell\\"\\u{ord(control):04x}"\n'


def test_a_plain_word_is_a_basic_string():
    assert written("plain") == '"plain"\n'


def test_a_multi_line_json_body_is_a_literal_block():
    assert written('{\n  "text": "{{ text }}"\n}') == "'''{\n  \"text\": \"{{ text }}\"\n}'''\n"


def test_a_block_holding_three_single_quotes_is_a_basic_block():
    assert written("a\n'''b") == '"""a\n\'\'\'b"""\n'


def test_a_block_holding_a_control_character_is_a_basic_block_with_escapes():
    assert written("a\n\x07b") == '"""a\n\\u0007b"""\n'


@pytest.mark.parametrize("quotes", ["'''", '"""'])
def test_a_block_stays_a_block_when_its_new_value_is_one_line(quotes):
    text = f"[ui]\ntext = {quotes}\nold\n{quotes}\n"
    assert edit_text(text, [(("ui", "text"), "new")]) == "[ui]\ntext = '''new'''\n"


# --- values the file already holds -------------------------------------------


def test_setting_the_value_the_file_holds_keeps_the_users_spelling():
    text = "[ui]\ntext = 'Hi'   # literal quotes\n[audio]\nrate = 1\nratio = 0.50\n"
    same = [(("ui", "text"), "Hi"), (("audio", "rate"), 1.0), (("audio", "ratio"), 0.5)]
    assert edit_text(text, same) == text


def test_a_boolean_is_not_the_number_the_file_holds():
    assert edit_text("x = 1\ny = true\n", [(("x",), True), (("y",), 1)]) == "x = true\ny = 1\n"


def test_a_string_is_not_the_number_the_file_holds():
    assert edit_text("x = 1\n", [(("x",), "1")]) == 'x = "1"\n'


def test_an_unchanged_file_is_not_rewritten(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[ui]\ntext = 'Hi'\n")
    before = file_signature(path)
    assert apply_changes(path, [(("ui", "text"), "Hi")]) == "[ui]\ntext = 'Hi'\n"
    assert file_signature(path) == before, "same inode, size and mtime: the file was left alone"


# --- services ----------------------------------------------------------------


def test_a_new_service_is_a_block_after_a_blank_line_with_inline_extras_and_a_params_table():
    service = {
        "url": "http://127.0.0.1:9/v1",
        "extra": {"a": 1},
        "params": {"language": "en"},
        "body": '{"t": 1}',
        "voice": "v",
    }
    assert edit_text(SMALL, [(("services", "new"), service)]) == (
        SMALL + "\n"
        "[[services]]\n"
        'name = "new"\n'
        'url = "http://127.0.0.1:9/v1"\n'
        "extra = {a = 1}\n"
        "body = '{\"t\": 1}'\n"
        'voice = "v"\n'
        "\n"
        "[services.params]\n"
        'language = "en"\n'
    )


def test_a_new_service_with_a_multi_line_body_writes_it_as_a_block():
    text = edit_text(SMALL, [(("services", "new"), {"body": '{\n"t": 1\n}'})])
    assert text.endswith("body = '''{\n\"t\": 1\n}'''\n")


def test_a_file_ending_in_a_blank_line_gets_no_second_one_before_a_new_service():
    text = edit_text(SMALL + "\n", [(("services", "new"), {"url": "u"})])
    assert text == SMALL + '\n[[services]]\nname = "new"\nurl = "u"\n'


def test_the_first_service_of_a_file_starts_its_services_list():
    text = edit_text(SMALL, [(("services", "one"), {"url": "u1"}), (("services", "two"), {"url": "u2"})])
    assert [s["name"] for s in tomllib.loads(text)["services"]] == ["one", "two"]
    assert text == SMALL + '\n[[services]]\nname = "one"\nurl = "u1"\n\n[[services]]\nname = "two"\nurl = "u2"\n'


def test_new_headers_are_an_inline_table_and_new_params_a_sub_table():
    text = SMALL + '\n[[services]]\nname = "one"\nurl = "u"\n'
    edits = [(("services", "one", "headers", "X-Voice"), "v"), (("services", "one", "params", "language"), "en")]
    assert edit_text(text, edits) == text + 'headers = {X-Voice = "v"}\n\n[services.params]\nlanguage = "en"\n'


@pytest.mark.parametrize("services", ["", '\n[[services]]\nname = "one"\n'])
def test_editing_a_service_the_file_does_not_have_is_refused(services):
    with pytest.raises(ConfigError) as info:
        edit_text(SMALL + services, [(("services", "two", "voice"), "v")])
    assert str(info.value) == "no service named 'two' in the file"


def test_adding_a_service_under_a_taken_name_is_refused_with_a_hint():
    text = SMALL + '\n[[services]]\nname = "one"\n'
    with pytest.raises(ConfigError) as info:
        edit_text(text, [(("services", "one"), {"url": "u"})])
    assert str(info.value) == "two services are named 'one'; give each service a unique name"


# --- the file on disk ----------------------------------------------------------


def test_a_missing_file_is_created_with_the_change(tmp_path):
    path = tmp_path / "config.toml"
    assert apply_changes(path, [(("ui", "text"), "Hi")]) == SMALL
    assert path.read_text() == SMALL


def test_a_file_that_does_not_parse_is_refused_with_its_place_and_a_hint(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text('[ui]\ntext = "Hi\n')
    with pytest.raises(ConfigError) as info:
        apply_changes(path, [(("ui", "text"), "x")])
    error = info.value
    assert error.message.startswith("not saving: config.toml does not parse (")
    assert (error.line, error.column) == (2, 11)
    assert error.hint == "fix the file first; nothing was written"
    assert path.read_text() == '[ui]\ntext = "Hi\n'


def test_a_file_that_is_not_utf8_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b'[ui]\ntext = "Gr\xfc\xdfe"\n')  # Latin-1
    with pytest.raises(ConfigError) as info:
        apply_changes(path, [(("ui", "text"), "x")])
    assert info.value.message == "not saving: config.toml is not UTF-8 text (byte 15)"
    assert info.value.hint == "save it as UTF-8 first; nothing was written"
    assert path.read_bytes() == b'[ui]\ntext = "Gr\xfc\xdfe"\n'


def test_a_new_file_is_readable_by_all_and_writable_by_its_owner(tmp_path):
    path = tmp_path / "copy.toml"
    atomic_write(path, SMALL)
    assert path.read_text() == SMALL
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_a_file_in_folders_that_do_not_exist_yet_is_written(tmp_path):
    path = tmp_path / "backup" / "2026" / "copy.toml"
    atomic_write(path, SMALL)
    assert path.read_text() == SMALL


def test_text_that_is_not_toml_is_still_written_as_given(tmp_path):
    path = tmp_path / "notes.txt"
    atomic_write(path, "not = [toml\n")
    assert path.read_text() == "not = [toml\n"


def test_the_signature_returned_is_the_files_after_the_write(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(SMALL)
    assert atomic_write(path, SMALL + "# more\n", expect=file_signature(path)) == file_signature(path)


def test_a_file_changed_since_it_was_read_is_not_replaced(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(SMALL)
    read_at = file_signature(path)
    path.write_text(SMALL + "# an outside edit\n")
    with pytest.raises(FileChanged, match=re.escape(str(path))):
        atomic_write(path, "[ui]\ntext = 'mine'\n", expect=read_at)
    assert path.read_text() == SMALL + "# an outside edit\n"
    assert os.listdir(tmp_path) == ["config.toml"], "no temp file left behind"


def test_without_an_expected_signature_the_file_is_replaced(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(SMALL)
    atomic_write(path, "[ui]\ntext = 'mine'\n")
    assert path.read_text() == "[ui]\ntext = 'mine'\n"


def test_the_file_is_utf8_whatever_the_locale(tmp_path):
    # A user whose locale is not UTF-8 (here plain C, ASCII) still gets the
    # accents written and read back.
    path = tmp_path / "config.toml"
    path.write_text('[ui]\ntext = "Grüße"\n', encoding="utf-8")
    saved = locale.setlocale(locale.LC_CTYPE)
    locale.setlocale(locale.LC_CTYPE, "C")
    try:
        apply_changes(path, [(("audio", "output"), "café")])
    finally:
        locale.setlocale(locale.LC_CTYPE, saved)
    assert path.read_text(encoding="utf-8") == '[ui]\ntext = "Grüße"\n\n[audio]\noutput = "café"\n'


def test_the_temp_file_is_made_beside_the_config_not_in_the_system_temp_folder(tmp_path, monkeypatch):
    # Beside the config, the rename is on one file system and atomic; the
    # system's temp folder may be another one. Here it does not even exist.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-such-temp-folder"))
    path = tmp_path / "config.toml"
    path.write_text(SMALL)
    apply_changes(path, [(("ui", "text"), "mine")])
    assert tomllib.loads(path.read_text())["ui"]["text"] == "mine"


def test_a_save_killed_half_way_leaves_the_last_save_whole_and_a_hidden_temp_file(tmp_path):
    # A real crash: a file-size limit kills the saving process (SIGXFSZ, as
    # for any program that does not ignore it) part-way through the new text.
    path = tmp_path / "config.toml"
    path.write_text(SMALL)
    saved = apply_changes(path, [(("ui", "text"), "last good save")])
    code = f"""
import pathlib, resource, signal, sys
sys.path[:0] = {sys.path!r}
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it; the default kills
from tts_tui.core.config_writer import apply_changes
resource.setrlimit(resource.RLIMIT_FSIZE, ({len(saved) // 2}, resource.RLIM_INFINITY))
apply_changes(pathlib.Path({str(path)!r}), [(("ui", "text"), "x" * 5000)])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == -25, out.stderr  # killed by SIGXFSZ
    assert path.read_text() == saved
    names = sorted(os.listdir(tmp_path))
    assert names[1:] == ["config.toml"] and re.fullmatch(r"\.config\.toml\.[^.]+\.tmp", names[0]), names


# --- another program editing during a save -----------------------------------

OUTSIDE_EDIT = "import sys; open(sys.argv[1], 'a').write('# outside edit ' + sys.argv[2] + '\\n')"


def outside_edits_during_saves(monkeypatch, path, times: int) -> list[int]:
    """Another program (a real process) appends a line to the config while
    the app is saving, right after it fsyncs its temp file, in the first
    `times` saves. The one stub here is *when*: a save is microseconds from
    its read to its rename, so no real race hits it on purpose. Returns the
    list of edits made, which grows as they happen."""
    real_fsync = os.fsync
    edits: list[int] = []

    def fsync_then_outside_edit(fd: int) -> None:
        real_fsync(fd)
        if len(edits) >= 10:
            raise RuntimeError("still saving after 10 outside edits")
        if len(edits) < times:
            edits.append(len(edits) + 1)
            subprocess.run([sys.executable, "-c", OUTSIDE_EDIT, str(path), str(len(edits))], check=True)

    monkeypatch.setattr(os, "fsync", fsync_then_outside_edit)
    return edits


def test_an_outside_edit_made_during_a_save_is_kept_and_the_save_lands_after_it(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text(SMALL)
    edits = outside_edits_during_saves(monkeypatch, path, times=1)
    result = apply_changes(path, [(("ui", "text"), "mine")])
    monkeypatch.undo()
    assert edits == [1]
    assert path.read_text() == '[ui]\ntext = "mine"\n# outside edit 1\n' == result
    assert os.listdir(tmp_path) == ["config.toml"]


def test_a_save_gives_up_after_five_outside_edits_without_writing_over_them(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text(SMALL)
    edits = outside_edits_during_saves(monkeypatch, path, times=10)
    with pytest.raises(FileChanged):
        apply_changes(path, [(("ui", "text"), "mine")])
    monkeypatch.undo()
    assert edits == [1, 2, 3, 4, 5], "five tries, each one re-reading the file"
    assert path.read_text() == SMALL + "".join(f"# outside edit {i}\n" for i in edits)
    assert os.listdir(tmp_path) == ["config.toml"]


def test_a_save_that_meets_four_outside_edits_lands_on_the_fifth_try(tmp_path, monkeypatch):
    path = tmp_path / "config.toml"
    path.write_text(SMALL)
    edits = outside_edits_during_saves(monkeypatch, path, times=4)
    apply_changes(path, [(("ui", "text"), "mine")])
    monkeypatch.undo()
    assert edits == [1, 2, 3, 4]
    assert path.read_text() == '[ui]\ntext = "mine"\n' + "".join(f"# outside edit {i}\n" for i in edits)
