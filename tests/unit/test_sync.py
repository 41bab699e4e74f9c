"""ConfigSync: the UI's config and the file on disk follow each other without losing either side."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tts_tui.core import config
from tts_tui.core.config_writer import DELETE
from tts_tui.core.errors import ConfigError
from tts_tui.core.sync import Conflict, ConfigSync

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


class Clock:
    """A monotonic clock the test moves by hand, so debounce tests need no sleeps."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def path(write_config):
    return write_config(USER_FILE)


@pytest.fixture
def sync(path, clock):
    return ConfigSync(path, clock=clock)


def edit_externally(path, old: str, new: str) -> None:
    """Another program edits the file (a real separate process)."""
    code = (
        "import pathlib, sys\n"
        "p = pathlib.Path(sys.argv[1])\n"
        "text = p.read_text()\n"
        "assert sys.argv[2] in text\n"
        "p.write_text(text.replace(sys.argv[2], sys.argv[3]))\n"
    )
    subprocess.run([sys.executable, "-c", code, str(path), old, new], check=True)


def edit_externally_during_next_save(monkeypatch, path, old: str, new: str) -> list[int]:
    """Another program (a real process) edits the file while the app saves,
    right after it fsyncs its temp file, before the rename. The one stub is
    *when*: a save is microseconds from its read to its rename, so no real
    race hits it on purpose. Returns the list of edits made (one, once a save
    wrote its temp file)."""
    real_fsync = os.fsync
    edits: list[int] = []

    def fsync_then_outside_edit(fd: int) -> None:
        real_fsync(fd)
        if not edits:
            edits.append(fd)
            edit_externally(path, old, new)

    monkeypatch.setattr(os, "fsync", fsync_then_outside_edit)
    return edits


def rewrite(path, text: str) -> None:
    """Another program rewrites the file in place."""
    path.write_text(text)


def test_a_ui_edit_is_written_after_the_debounce_keeping_comments_and_order(sync, path, clock):
    sync.set(("ui", "text"), "Hello there")
    sync.set(("services", "kokoro", "voice"), "af_sky")
    assert sync.config.ui.text == "Hello there", "config shows the edit at once"
    assert sync.config.service("kokoro").voice == "af_sky"
    assert sync.dirty
    clock.advance(0.1)
    assert sync.tick() == set()
    assert path.read_text() == USER_FILE, "nothing written before the debounce"
    clock.advance(0.3)
    assert sync.tick() == {"saved"}
    expected = USER_FILE.replace('text = "Hi"', 'text = "Hello there"').replace('"af_bella"', '"af_sky"')
    assert path.read_text() == expected
    assert not sync.dirty


def test_many_quick_edits_make_one_write(sync, path, clock):
    events: list[set[str]] = []
    sync.subscribe(events.append)
    for i in range(1, 6):
        sync.set(("ui", "text"), "Hello"[:i])
        clock.advance(0.1)
        sync.tick()
    clock.advance(0.3)
    sync.tick()
    assert [e for e in events if "saved" in e] == [{"saved"}]
    assert config.load(path).ui.text == "Hello"


def test_steady_typing_is_still_saved_within_a_second(sync, path, clock):
    saves = []
    for i in range(30):  # 3 s of typing, a key every 0.1 s, ticking every 0.1 s
        sync.set(("ui", "text"), "x" * (i + 1))
        clock.advance(0.1)
        if "saved" in sync.tick():
            saves.append(clock.now)
    gaps = [b - a for a, b in zip([100.0, *saves], saves)]
    assert len(saves) >= 3 and max(gaps) <= 1.0


def test_real_clock_debounce(path):
    sync = ConfigSync(path, debounce=0.05, max_delay=0.2)
    sync.set(("audio", "output"), "default")
    assert sync.tick() == set()
    time.sleep(0.08)
    assert sync.tick() == {"saved"}
    assert 'output = "default"' in path.read_text()


def test_an_external_edit_shows_after_a_tick(sync, path):
    edit_externally(path, '"af_bella"', '"af_nicole"')
    assert sync.config.service("kokoro").voice == "af_bella"
    assert sync.tick() == {"file"}
    assert sync.config.service("kokoro").voice == "af_nicole"
    assert not sync.dirty and sync.conflicts == []


def test_an_external_edit_of_another_key_merges_with_a_pending_ui_edit(sync, path, clock):
    sync.set(("ui", "text"), "mine")
    edit_externally(path, '"af_bella"', '"af_nicole"')
    assert sync.tick() == {"file"}
    assert sync.config.ui.text == "mine", "the unsaved UI edit survives the reload"
    assert sync.config.service("kokoro").voice == "af_nicole"
    clock.advance(1)
    assert sync.tick() == {"saved"}
    expected = USER_FILE.replace('text = "Hi"', 'text = "mine"').replace('"af_bella"', '"af_nicole"')
    assert path.read_text() == expected


def test_the_same_value_on_both_sides_is_no_conflict(sync, path, clock):
    sync.set(("services", "kokoro", "voice"), "af_sky")
    edit_externally(path, '"af_bella"', '"af_sky"')
    sync.tick()
    assert sync.conflicts == []
    clock.advance(1)
    sync.tick()
    assert path.read_text() == USER_FILE.replace('"af_bella"', '"af_sky"')
    assert not sync.dirty


@pytest.mark.parametrize("keep_mine", [True, False])
def test_the_same_key_changed_on_both_sides_is_a_conflict_the_user_resolves(sync, path, clock, keep_mine):
    sync.set(("services", "kokoro", "voice"), "af_mine")
    sync.set(("ui", "text"), "also mine")
    edit_externally(path, '"af_bella"', '"af_theirs"')
    changes = sync.tick()
    assert changes == {"file", "conflict"}
    assert sync.conflicts == [Conflict(("services", "kokoro", "voice"), "af_mine", "af_theirs", "af_bella")]
    assert sync.config.service("kokoro").voice == "af_mine", "until resolved the UI shows mine"
    clock.advance(1)
    sync.tick()
    on_disk = config.load(path)
    assert on_disk.service("kokoro").voice == "af_theirs", "nothing written for the conflicted key"
    assert on_disk.ui.text == "also mine", "other edits are not held back"
    assert sync.dirty

    sync.resolve(sync.conflicts[0], keep_mine=keep_mine)
    chosen = "af_mine" if keep_mine else "af_theirs"
    assert sync.conflicts == []
    assert sync.config.service("kokoro").voice == chosen
    assert config.load(path).service("kokoro").voice == chosen
    assert f'voice = "{chosen}"   # my favourite' in path.read_text()
    assert not sync.dirty
    assert sync.tick() == set()


def test_resolve_all(sync, path):
    sync.set(("services", "kokoro", "voice"), "af_mine")
    sync.set(("ui", "text"), "mine")
    text = path.read_text().replace('"af_bella"', '"af_theirs"').replace('text = "Hi"', 'text = "theirs"')
    rewrite(path, text)
    sync.tick()
    assert len(sync.conflicts) == 2
    sync.resolve_all(keep_mine=False)
    assert sync.conflicts == [] and not sync.dirty
    assert sync.config.ui.text == "theirs" and path.read_text() == text


def test_a_file_that_stops_parsing_keeps_the_last_good_state_and_is_not_written(sync, path, clock):
    sync.set(("ui", "text"), "pending")
    broken = USER_FILE.replace('voice = "af_bella"', 'voice = "af_bella')
    rewrite(path, broken)
    assert sync.tick() == {"error"}
    error = sync.file_error
    assert error is not None and error.line == 14 and error.column is not None
    assert "not valid TOML" in error.message
    assert sync.config.ui.text == "pending" and sync.config.service("kokoro").voice == "af_bella"
    clock.advance(5)
    assert sync.tick() == set(), "the same broken file is reported once"
    sync.flush()
    assert path.read_text() == broken, "never written while it does not parse"
    assert sync.dirty

    fixed = USER_FILE.replace('"af_bella"', '"af_fixed"')
    rewrite(path, fixed)
    assert sync.tick() == {"file", "error", "saved"}
    assert sync.file_error is None
    assert path.read_text() == fixed.replace('text = "Hi"', 'text = "pending"')
    assert sync.config.service("kokoro").voice == "af_fixed"


def test_a_wrong_value_in_the_file_breaks_only_its_service(sync, path):
    rewrite(path, USER_FILE.replace('type = "http"', 'type = "grpc"'))
    assert sync.tick() == {"file"} and sync.file_error is None
    xtts = sync.config.service("xtts")
    assert "unknown type 'grpc'" in xtts.problem.message and (xtts.problem.line, xtts.problem.column) == (20, 8)
    assert [s.name for s in sync.config.services] == ["kokoro", "xtts"]
    assert sync.config.service("kokoro").problem is None


def test_a_file_broken_since_the_last_tick_is_rechecked_before_writing(sync, path):
    sync.set(("ui", "text"), "pending")
    rewrite(path, USER_FILE + "\noops = \n")
    sync.flush()  # no tick in between
    assert sync.file_error is not None and sync.file_error.line is not None
    assert path.read_text() == USER_FILE + "\noops = \n"
    assert sync.dirty


def test_services_added_renamed_and_removed_in_the_ui_reach_the_file_at_once(sync, path):
    sync.add_service({"name": "new", "type": "openai", "url": "http://127.0.0.1:9/v1", "extra": {"a": 1}})
    assert [s.name for s in config.load(path).services] == ["kokoro", "xtts", "new"]
    assert config.load(path).service("new").extra == {"a": 1}
    assert path.read_text().startswith(USER_FILE)

    sync.rename_service("kokoro", "fast")
    assert path.read_text().startswith(USER_FILE.replace('name = "kokoro"', 'name = "fast"'))
    assert [s.name for s in sync.config.services] == ["fast", "xtts", "new"]

    sync.remove_service("xtts")
    assert [s.name for s in config.load(path).services] == ["fast", "new"]
    assert "# the fast one" in path.read_text() and "# my favourite" in path.read_text()
    assert not sync.dirty

    with pytest.raises(ConfigError, match="already exists"):
        sync.add_service({"name": "new"})
    with pytest.raises(ConfigError, match="already exists"):
        sync.rename_service("fast", "new")


def test_an_edit_to_a_renamed_service_follows_it(sync, path, clock):
    sync.set(("services", "kokoro", "voice"), "af_sky")
    sync.rename_service("kokoro", "fast")
    sync.set(("services", "fast", "speed"), 1.5)
    clock.advance(1)
    sync.tick()
    fast = config.load(path).service("fast")
    assert (fast.voice, fast.speed) == ("af_sky", 1.5)


def test_structural_edits_wait_for_a_broken_file_to_parse_again(sync, path):
    rewrite(path, "[ui\n")
    sync.tick()
    sync.add_service({"name": "later", "url": "http://127.0.0.1:9/v1"})
    sync.rename_service("kokoro", "fast")
    assert path.read_text() == "[ui\n"
    assert [s.name for s in sync.config.services] == ["fast", "xtts", "later"]
    rewrite(path, USER_FILE.replace('"Hi"', '"fixed"'))
    assert "saved" in sync.tick()
    on_disk = config.load(path)
    assert [s.name for s in on_disk.services] == ["fast", "xtts", "later"]
    assert on_disk.ui.text == "fixed"


def test_an_inline_table_gets_new_keys_in_place(write_config, clock):
    path = write_config(config.DEFAULT_TEMPLATE.read_text())
    sync = ConfigSync(path, clock=clock)
    sync.set(("services", "local", "extra", "lang_code"), "a")
    sync.set(("services", "local", "params", "speaker"), "me")
    clock.advance(1)
    sync.tick()
    lines = path.read_text().splitlines()
    extra = next(ln for ln in lines if ln.startswith("extra ="))
    assert 'lang_code = "a"' in extra and "# merged into the JSON body" in extra
    local = config.load(path).service("local")
    assert local.extra == {"lang_code": "a"} and local.params == {"speaker": "me"}
    sync.set(("services", "local", "extra", "lang_code"), DELETE)
    clock.advance(1)
    sync.tick()
    assert config.load(path).service("local").extra == {}


def test_services_added_removed_and_renamed_in_the_file_flow_into_the_config(sync, path):
    added = '\n[[services]]\nname = "piper"\nurl = "http://127.0.0.1:5000/v1"\n'
    rewrite(path, USER_FILE + added)
    assert sync.tick() == {"file"}
    assert [s.name for s in sync.config.services] == ["kokoro", "xtts", "piper"]

    edit_externally(path, 'name = "kokoro"', 'name = "fast"')
    sync.tick()
    assert [s.name for s in sync.config.services] == ["fast", "xtts", "piper"]

    rewrite(path, USER_FILE.split("[[services]]\nname = \"xtts\"")[0].replace("kokoro", "fast"))
    sync.tick()
    assert [s.name for s in sync.config.services] == ["fast"]
    assert not sync.dirty and sync.conflicts == []


@pytest.mark.parametrize("keep_mine", [True, False])
def test_a_service_removed_in_the_file_while_edited_in_the_ui_is_a_conflict(sync, path, clock, keep_mine):
    sync.set(("services", "xtts", "voice"), "female_02")
    without_xtts = USER_FILE.split("[[services]]\nname = \"xtts\"")[0]
    rewrite(path, without_xtts)
    assert sync.tick() == {"file", "conflict"}
    (conflict,) = sync.conflicts
    assert conflict.keypath == ("services", "xtts") and conflict.theirs is None
    assert conflict.mine["voice"] == "female_02"
    assert sync.config.service("xtts").voice == "female_02", "not dropped silently"
    clock.advance(1)
    sync.tick()
    assert path.read_text() == without_xtts

    sync.resolve(conflict, keep_mine=keep_mine)
    names = [s.name for s in config.load(path).services]
    assert names == (["kokoro", "xtts"] if keep_mine else ["kokoro"])
    assert [s.name for s in sync.config.services] == names
    if keep_mine:
        xtts = config.load(path).service("xtts")
        assert xtts.voice == "female_02" and xtts.params == {"language": "en"}


@pytest.mark.parametrize("keep_mine", [True, False])
def test_a_service_removed_in_the_ui_while_edited_in_the_file_is_a_conflict(sync, path, keep_mine):
    rewrite(path, "[ui\n")  # a broken file holds the removal back
    sync.tick()
    sync.remove_service("xtts")
    edited = USER_FILE.replace('language = "en"', 'language = "de"')
    rewrite(path, edited)
    assert "conflict" in sync.tick()
    (conflict,) = sync.conflicts
    assert conflict.keypath == ("services", "xtts") and conflict.mine is None
    assert conflict.theirs["params"] == {"language": "de"}
    assert path.read_text() == edited, "the file's edit is not lost"
    assert [s.name for s in sync.config.services] == ["kokoro"]

    sync.resolve(conflict, keep_mine=keep_mine)
    if keep_mine:
        assert [s.name for s in config.load(path).services] == ["kokoro"]
        assert [s.name for s in sync.config.services] == ["kokoro"]
    else:
        assert path.read_text() == edited
        assert sync.config.service("xtts").params == {"language": "de"}
    assert not sync.dirty


def test_our_own_write_is_not_reported_as_an_external_change(sync, path, clock):
    events: list[set[str]] = []
    unsubscribe = sync.subscribe(events.append)
    sync.set(("ui", "text"), "one")
    clock.advance(1)
    sync.tick()
    sync.add_service({"name": "new", "url": "http://127.0.0.1:9/v1"})
    for _ in range(5):
        clock.advance(0.25)
        assert sync.tick() == set()
    assert not any("file" in e for e in events)
    assert {"saved"} in events
    unsubscribe()
    seen = len(events)
    sync.set(("ui", "text"), "two")
    assert len(events) == seen


def sync_then_edit_keeping_stat(path, clock) -> tuple[ConfigSync, int]:
    """A sync of the file, then another program's edit of it that keeps its
    size, inode and mtime (the voice af_bella becomes af_BELLA): only reading
    the file could notice. Returns the sync and the mtime kept (ns)."""
    old = time.time_ns() - 3600 * 10**9
    os.utime(path, ns=(old, old))
    sync = ConfigSync(path, clock=clock)
    with open(path, "r+", encoding="utf-8") as fh:
        fh.write(USER_FILE.replace('"af_bella"', '"af_BELLA"'))
    os.utime(path, ns=(old, old))
    return sync, old


def test_a_tick_with_an_unchanged_stat_does_not_read_the_file(path, clock):
    sync, old = sync_then_edit_keeping_stat(path, clock)
    for _ in range(3):
        assert sync.tick() == set()
    assert sync.config.service("kokoro").voice == "af_bella"
    os.utime(path, ns=(old + 10**9, old + 10**9))
    assert sync.tick() == {"file"}
    assert sync.config.service("kokoro").voice == "af_BELLA"


def test_a_wrong_value_from_the_ui_is_refused(sync):
    with pytest.raises(ConfigError, match="speed must be a number"):
        sync.set(("services", "kokoro", "speed"), "fast")
    with pytest.raises(ConfigError, match="no service named"):
        sync.set(("services", "nope", "voice"), "x")
    assert sync.config.service("kokoro").speed == 1.0 and not sync.dirty


def test_the_first_load_must_succeed(write_config):
    with pytest.raises(ConfigError) as info:
        ConfigSync(write_config("[ui\n"))
    assert info.value.line == 1


def test_a_removed_file_is_an_error_until_it_comes_back(sync, path, clock):
    sync.set(("ui", "text"), "pending")
    path.unlink()
    assert sync.tick() == {"error"} and "gone" in sync.file_error.message
    clock.advance(1)
    sync.tick()
    assert not path.exists()
    rewrite(path, USER_FILE)
    assert "saved" in sync.tick()
    assert config.load(path).ui.text == "pending"


def test_an_emptied_file_is_not_taken_as_no_settings(sync, path, clock):
    # An editor rewriting in place leaves the file empty for a moment.
    sync.set(("ui", "text"), "pending")
    rewrite(path, "")
    assert sync.tick() == {"error"} and "empty" in sync.file_error.message
    assert [s.name for s in sync.config.services] == ["kokoro", "xtts"]
    clock.advance(1)
    sync.tick()
    assert path.read_text() == ""
    rewrite(path, USER_FILE)
    assert sync.tick() == {"file", "error", "saved"}
    assert path.read_text() == USER_FILE.replace('"Hi"', '"pending"')


def _set_fsuid(uid: int) -> None:
    """Linux's per-thread filesystem user: as root, checking files as `uid`
    (dropping CAP_DAC_OVERRIDE for this thread alone), then back."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).setfsuid(uid)


@pytest.fixture
def read_only_dir():
    """A config in a folder that refuses new files: a real permission error.

    Root ignores modes, so as root this thread checks files as `nobody`
    (setfsuid) while the folder is read-only for everyone; no chattr, no skip.
    The folder sits in /tmp itself, which `nobody` can reach (pytest's own
    tmp folders are root's alone). Yields (the config's path, make it writable)."""
    folder = Path(tempfile.mkdtemp(prefix="tts-tui-ro-"))
    path = folder / "config.toml"
    path.write_text(USER_FILE)
    os.chmod(path, 0o644)
    os.chmod(folder, 0o555)
    as_root = os.geteuid() == 0
    if as_root:
        _set_fsuid(65534)

    def restore():
        if as_root:
            _set_fsuid(0)
        os.chmod(folder, 0o755)

    try:
        yield path, restore
    finally:
        restore()
        shutil.rmtree(folder, ignore_errors=True)


def test_a_failed_write_is_reported_and_kept_pending(clock, read_only_dir):
    path, writable = read_only_dir
    sync = ConfigSync(path, clock=clock)
    sync.set(("ui", "text"), "pending")
    clock.advance(1)
    assert sync.tick() == {"error"}
    assert sync.last_write_error == f"cannot save {path}: Permission denied"
    assert sync.dirty and config.load(path).ui.text == "Hi"
    clock.advance(1)
    assert sync.tick() == set(), "tried again a second later: the same failure is reported once"
    writable()
    clock.advance(0.5)
    assert sync.tick() == set() and config.load(path).ui.text == "Hi", "no retry on every tick"
    clock.advance(0.5)
    assert sync.tick() == {"saved", "error"}, "retried a second after the last failure"
    assert sync.last_write_error is None and not sync.dirty
    assert config.load(path).ui.text == "pending"


def test_a_symlinked_config_stays_a_link_and_its_target_gets_the_edits(tmp_path, clock):
    target = tmp_path / "dotfiles" / "tts.toml"
    target.parent.mkdir()
    target.write_text(USER_FILE)
    link = tmp_path / "config.toml"
    link.symlink_to(target)
    sync = ConfigSync(link, clock=clock)
    sync.set(("ui", "text"), "through the link")
    clock.advance(1)
    assert sync.tick() == {"saved"}
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == USER_FILE.replace('"Hi"', '"through the link"')
    edit_externally(target, 'voice = "af_bella"', 'voice = "af_sky"')  # the dotfiles repo is edited
    assert "file" in sync.tick()
    assert sync.config.service("kokoro").voice == "af_sky"


def test_a_600_deep_array_written_while_running_is_an_error_with_its_place(sync, path, clock):
    sync.set(("ui", "text"), "pending")
    deep = USER_FILE + "oops = " + "[" * 600 + "]" * 600 + "\n"
    rewrite(path, deep)
    assert sync.tick() == {"error"}
    assert "nested more than 100 levels" in sync.file_error.message
    assert (sync.file_error.line, sync.file_error.column) == (USER_FILE.count("\n") + 1, len("oops = ") + 101)
    assert sync.config.ui.text == "pending" and [s.name for s in sync.config.services] == ["kokoro", "xtts"]
    clock.advance(1)
    sync.tick()
    assert path.read_text() == deep, "nothing is written over it"
    rewrite(path, USER_FILE)
    assert sync.tick() == {"file", "error", "saved"}
    assert config.load(path).ui.text == "pending"


# --- what the user is told ---------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.set((), 1), "an edit needs a key path"),
        (lambda s: s.set(("services", "kokoro"), {}), "use add_service or remove_service to change whole services"),
        (lambda s: s.set(("services", "nope", "voice"), "x"), "no service named 'nope'"),
        (lambda s: s.set(("services", "xtts", "speed"), "fast"), "speed must be a number, not a string; e.g. speed = 1.0"),
        (lambda s: s.add_service({"url": "http://127.0.0.1:9/v1"}), 'a service needs a name; give it name = "..."'),
        (lambda s: s.add_service({"name": "  "}), 'a service needs a name; give it name = "..."'),
        (lambda s: s.add_service({"name": "kokoro"}), "a service named 'kokoro' already exists; choose another name"),
        (lambda s: s.add_service({"name": "new", "speed": "fast"}), "speed must be a number, not a string; e.g. speed = 1.0"),
        (lambda s: s.remove_service("nope"), "no service named 'nope'"),
        (lambda s: s.rename_service("nope", "x"), "no service named 'nope'"),
        (lambda s: s.rename_service("kokoro", " "), 'a service needs a name; give it name = "..."'),
        (lambda s: s.rename_service("kokoro", None), 'a service needs a name; give it name = "..."'),
        (lambda s: s.rename_service("kokoro", "xtts"), "a service named 'xtts' already exists; choose another name"),
    ],
)
def test_a_refused_edit_says_why_and_changes_nothing(sync, path, edit, message):
    events: list[set[str]] = []
    sync.subscribe(events.append)
    with pytest.raises(ConfigError) as info:
        edit(sync)
    assert str(info.value) == message
    assert path.read_text() == USER_FILE and not sync.dirty and events == []
    assert [s.name for s in sync.config.services] == ["kokoro", "xtts"]


def test_a_missing_config_file_says_how_to_get_one(tmp_path):
    with pytest.raises(ConfigError) as info:
        ConfigSync(tmp_path / "config.toml")
    assert str(info.value) == f"no config file at {tmp_path / 'config.toml'}; run tts-tui once to create one"


def test_a_config_that_is_not_utf8_is_refused_at_start_and_while_running(path, clock):
    latin1 = USER_FILE.replace("Hi", "Gr\u00fc\u00dfe").encode("latin-1")
    bad = path.with_name("latin1.toml")
    bad.write_bytes(latin1)
    with pytest.raises(ConfigError) as info:
        ConfigSync(bad)
    at = latin1.index(b"\xfc")
    assert str(info.value) == f"latin1.toml is not UTF-8 text (byte {at}); save it as UTF-8"
    sync = ConfigSync(path, clock=clock)
    path.write_bytes(latin1)
    assert sync.tick() == {"error"}
    assert str(sync.file_error) == f"config.toml is not UTF-8 text (byte {at}); save it as UTF-8"


def test_a_config_that_cannot_be_read_is_an_error_with_the_reason(sync, path):
    path.unlink()
    path.mkdir()  # something that stats but does not read
    assert sync.tick() == {"error"}
    assert str(sync.file_error) == f"cannot read {path}: Is a directory"
    path.rmdir()
    rewrite(path, USER_FILE)  # back as it was
    assert "error" in sync.tick() and sync.file_error is None


def test_a_removed_file_is_reported_once_with_how_to_fix_it(sync, path, clock):
    path.unlink()
    assert sync.tick() == {"error"}
    assert str(sync.file_error) == (
        f"the config file {path} is gone; restore it; tts-tui keeps its settings and writes nothing until it is back"
    )
    for _ in range(3):
        clock.advance(0.25)
        assert sync.tick() == set(), "the same error is not reported again"


def test_an_emptied_file_says_the_settings_are_kept(sync, path):
    rewrite(path, "  \n")
    assert sync.tick() == {"error"}
    assert str(sync.file_error) == (
        f"the config file {path} is empty; tts-tui keeps its settings and writes nothing until the file has them again"
    )


def test_a_file_broken_another_way_is_reported_again(sync, path):
    rewrite(path, "[ui\n")
    assert sync.tick() == {"error"} and sync.file_error.line == 1
    rewrite(path, USER_FILE + "\noops = \n")
    assert sync.tick() == {"error"}, "a new problem is news"
    assert sync.file_error.line == USER_FILE.count("\n") + 2


def test_the_config_knows_its_file_and_the_files_warnings(write_config, clock):
    path = write_config(USER_FILE.replace('speed = 1', 'speed = 1\napi_key = "sk-literal"'))
    sync = ConfigSync(path, clock=clock)
    assert sync.config.path == path
    assert len(sync.config.warnings) == 1 and "literal" in sync.config.warnings[0]
    sync.set(("ui", "text"), "edited")
    assert sync.config.path == path and sync.config.warnings == ConfigSync(path).config.warnings


# --- edits and their events --------------------------------------------------


def test_subscribers_hear_each_edit_and_each_save(sync, clock):
    events: list[set[str]] = []
    sync.subscribe(events.append)
    sync.set(("ui", "text"), "typed")
    assert events == [{"edit"}]
    sync.add_service({"name": "new", "url": "http://127.0.0.1:9/v1"})
    assert events == [{"edit"}, {"edit", "saved"}]


def test_setting_a_services_name_renames_it_in_place(sync, path):
    sync.set(("services", "kokoro", "name"), "fast")
    assert path.read_text() == USER_FILE.replace('name = "kokoro"', 'name = "fast"')
    assert [s.name for s in sync.config.services] == ["fast", "xtts"]


def test_a_services_key_can_be_deleted(sync, path, clock):
    sync.set(("services", "kokoro", "speed"), DELETE)
    clock.advance(1)
    assert sync.tick() == {"saved"}
    assert path.read_text() == USER_FILE.replace("speed = 1\n", "")


def test_an_edit_made_at_the_clocks_start_is_saved_after_the_debounce(path):
    clock = Clock()
    clock.now = 0.0  # a monotonic clock may start at zero
    sync = ConfigSync(path, clock=clock)
    sync.set(("ui", "text"), "early")
    clock.advance(0.3)
    assert sync.tick() == {"saved"}


# --- renames and removals held back by a broken file -------------------------


@pytest.fixture
def broken(sync, path):
    """The file stops parsing: structural edits wait for it."""
    rewrite(path, "[ui\n")
    sync.tick()
    return sync


def test_a_rename_held_back_keeps_the_outside_edits_to_that_service(broken, path):
    broken.rename_service("kokoro", "fast")
    rewrite(path, USER_FILE.replace('"af_bella"', '"af_sky"'))
    assert broken.tick() == {"file", "error", "saved"}
    assert path.read_text() == USER_FILE.replace('"af_bella"', '"af_sky"').replace('"kokoro"', '"fast"')


def test_a_rename_held_back_merges_with_outside_edits_of_other_keys(broken, path, clock):
    broken.rename_service("kokoro", "fast")
    broken.set(("services", "fast", "voice"), "af_mine")
    rewrite(path, USER_FILE.replace("speed = 1", "speed = 1.5"))
    clock.advance(1)
    assert broken.tick() == {"file", "error", "saved"} and broken.conflicts == []
    expected = USER_FILE.replace('"kokoro"', '"fast"').replace('"af_bella"', '"af_mine"').replace("= 1\n", "= 1.5\n")
    assert path.read_text() == expected


def test_a_rename_held_back_while_the_file_gained_that_name_drops_the_old_name(broken, path):
    broken.rename_service("kokoro", "fast")
    rewrite(path, USER_FILE + '\n[[services]]\nname = "fast"\nurl = "http://127.0.0.1:9/v1"\n')
    assert "conflict" in broken.tick()
    assert [s.name for s in broken.config.services] == ["xtts", "fast"]
    (conflict,) = broken.conflicts
    assert conflict.keypath == ("services", "fast", "url")
    assert (conflict.mine, conflict.theirs) == ("http://127.0.0.1:8880/v1", "http://127.0.0.1:9/v1")
    assert [s.name for s in config.load(path).services] == ["xtts", "fast"]


def test_two_renames_held_back_rename_the_block_once(broken, path):
    broken.rename_service("kokoro", "fast")
    broken.rename_service("fast", "faster")
    rewrite(path, USER_FILE)
    assert "saved" in broken.tick()
    assert path.read_text() == USER_FILE.replace('"kokoro"', '"faster"')


def test_a_rename_held_back_while_the_file_renamed_it_too_keeps_both(broken, path):
    broken.rename_service("kokoro", "fast")
    theirs = USER_FILE.replace('name = "kokoro"', 'name = "quick"')
    rewrite(path, theirs)
    assert "saved" in broken.tick()
    assert [s.name for s in broken.config.services] == ["quick", "xtts", "fast"]
    assert path.read_text().startswith(theirs + '\n[[services]]\nname = "fast"\n')


def test_a_service_renamed_then_removed_while_held_back_leaves_the_file(broken, path):
    broken.rename_service("kokoro", "fast")
    broken.remove_service("fast")
    rewrite(path, USER_FILE)
    assert "saved" in broken.tick()
    assert [s.name for s in config.load(path).services] == ["xtts"]


def test_a_name_still_in_the_file_cannot_be_taken_while_held_back(broken):
    broken.remove_service("xtts")
    with pytest.raises(ConfigError, match="'xtts' already exists"):
        broken.rename_service("kokoro", "xtts")
    broken.add_service({"name": "later", "url": "http://127.0.0.1:9/v1"})
    with pytest.raises(ConfigError, match="'later' already exists"):
        broken.rename_service("kokoro", "later")
    broken.rename_service("later", "sooner")  # only in the UI so far: free to rename
    assert [s.name for s in broken.config.services] == ["kokoro", "sooner"]


# --- conflicts follow renames and removals -----------------------------------


def conflict_on_voice(sync, path):
    sync.set(("services", "kokoro", "voice"), "af_mine")
    sync.set(("services", "xtts", "params", "language"), "fr")
    edit_externally(path, '"af_bella"', '"af_theirs"')
    edit_externally(path, 'language = "en"', 'language = "de"')
    assert sync.tick() == {"file", "conflict"}
    assert [c.keypath for c in sync.conflicts] == [
        ("services", "kokoro", "voice"),
        ("services", "xtts", "params", "language"),
    ]


def test_a_conflict_follows_its_service_when_renamed(sync, path):
    conflict_on_voice(sync, path)
    sync.rename_service("kokoro", "fast")
    assert [c.keypath for c in sync.conflicts] == [
        ("services", "xtts", "params", "language"),
        ("services", "fast", "voice"),
    ]
    fast = next(c for c in sync.conflicts if c.keypath[1] == "fast")
    assert (fast.mine, fast.theirs) == ("af_mine", "af_theirs")
    sync.resolve(fast, keep_mine=True)
    assert config.load(path).service("fast").voice == "af_mine"


def test_removing_a_service_with_a_conflict_asks_about_the_whole_service(sync, path):
    conflict_on_voice(sync, path)
    events: list[set[str]] = []
    sync.subscribe(events.append)
    sync.remove_service("kokoro")
    assert events and "conflict" in events[0]
    assert [c.keypath for c in sync.conflicts] == [("services", "xtts", "params", "language"), ("services", "kokoro")]
    whole = sync.conflicts[1]
    assert whole.mine is None and whole.theirs["voice"] == "af_theirs" and whole.base is None
    assert config.load(path).service("kokoro").voice == "af_theirs", "the file's edit is not dropped"
    sync.resolve(whole, keep_mine=True)
    assert [s.name for s in config.load(path).services] == ["xtts"]


def test_a_service_removed_on_both_sides_is_no_conflict(sync, path):
    sync.set(("services", "xtts", "voice"), "female_02")
    rewrite(path, USER_FILE.split('[[services]]\nname = "xtts"')[0])
    assert sync.tick() == {"file", "conflict"}
    events: list[set[str]] = []
    sync.subscribe(events.append)
    sync.remove_service("xtts")
    assert sync.conflicts == [] and not sync.dirty
    assert events == [{"edit", "conflict"}]


def test_resolving_notifies_and_resolving_twice_is_harmless(sync, path):
    conflict_on_voice(sync, path)
    events: list[set[str]] = []
    sync.subscribe(events.append)
    first = sync.conflicts[0]
    sync.resolve(first, keep_mine=False)
    assert events == [{"conflict", "edit"}]
    sync.resolve(first, keep_mine=True)  # a second click on the same button
    assert config.load(path).service("kokoro").voice == "af_theirs"


def test_resolve_all_keeping_mine_writes_mine(sync, path):
    conflict_on_voice(sync, path)
    sync.resolve_all(keep_mine=True)
    on_disk = config.load(path)
    assert on_disk.service("kokoro").voice == "af_mine" and on_disk.service("xtts").params == {"language": "fr"}
    assert not sync.dirty


def test_a_conflict_resolved_while_the_file_is_broken_is_written_once_it_parses(sync, path, clock):
    conflict_on_voice(sync, path)
    theirs = path.read_text()
    rewrite(path, "[ui\n")
    sync.tick()
    sync.resolve_all(keep_mine=True)
    assert path.read_text() == "[ui\n"
    rewrite(path, theirs)
    clock.advance(0.1)
    assert "saved" in sync.tick()
    assert config.load(path).service("kokoro").voice == "af_mine"


# --- another writer holding the lock ------------------------------------------

LOCK_HOLDER = r"""
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.readline()
"""


def test_a_save_on_quit_while_another_program_holds_the_lock_is_reported(sync, path, clock):
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        sync.set(("ui", "text"), "mine")
        clock.advance(1)
        assert sync.tick() == set(), "a tick just tries again later"
        assert sync.last_write_error is None
        sync.flush()
        assert sync.last_write_error == f"cannot save now: {path} is being written by another program"
        assert sync.dirty and path.read_text() == USER_FILE
    finally:
        holder.communicate("go\n", timeout=30)
    clock.advance(1)
    assert sync.tick() == {"saved", "error"} and sync.last_write_error is None
    assert config.load(path).ui.text == "mine"


# --- a copy elsewhere ----------------------------------------------------------


def test_save_copy_writes_every_edit_and_leaves_the_config_alone(sync, path, tmp_path, clock):
    conflict_on_voice(sync, path)
    sync.set(("ui", "text"), "unsaved")
    theirs = path.read_text()
    copy = tmp_path / "backup" / "copy.toml"
    sync.save_copy(copy)
    assert path.read_text() == theirs
    saved = config.load(copy)
    assert saved.ui.text == "unsaved"
    assert saved.service("kokoro").voice == "af_mine", "a conflict is saved as mine"
    assert saved.service("xtts").params == {"language": "fr"}
    assert copy.read_text().startswith("# my TTS setup\n"), "comments come along"


def test_save_copy_expands_the_home_folder(sync, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    sync.save_copy(Path("~/copy.toml"))
    assert (tmp_path / "home" / "copy.toml").read_text() == USER_FILE


def test_save_copy_to_a_place_that_cannot_be_written_says_so(sync, path):
    target = path.parent / "config.toml" / "copy.toml"  # under a file, not a folder
    with pytest.raises(ConfigError) as info:
        sync.save_copy(target)
    assert str(info.value) == f"cannot save {target}: Not a directory; choose another place"


# --- what a save reads and reports ---------------------------------------------


def test_an_edit_that_would_make_the_file_unreadable_is_not_saved(sync, path, clock):
    deep: object = 0
    for _ in range(150):
        deep = [deep]
    sync.set(("services", "kokoro", "extra", "deep"), deep)
    clock.advance(1)
    assert sync.tick() == {"error"}
    assert sync.last_write_error.startswith(
        "not saved: the config is not valid TOML: values nested more than 100 levels deep"
    )
    assert path.read_text() == USER_FILE and sync.dirty


def test_an_outside_edit_that_kept_size_and_mtime_is_merged_before_a_save(path, clock):
    # A tick trusts an unchanged stat (one stat call); a save reads the file anyway.
    sync, _ = sync_then_edit_keeping_stat(path, clock)
    sync.set(("ui", "text"), "mine")
    sync.flush()
    on_disk = config.load(path)
    assert (on_disk.ui.text, on_disk.service("kokoro").voice) == ("mine", "af_BELLA")


def test_a_save_that_meets_a_fixed_file_and_an_outside_edit_reports_both(sync, path, monkeypatch):
    sync.set(("ui", "text"), "mine")
    rewrite(path, "[ui\n")
    sync.tick()
    rewrite(path, USER_FILE)  # fixed, and no tick has seen it yet
    events: list[set[str]] = []
    sync.subscribe(events.append)
    edits = edit_externally_during_next_save(monkeypatch, path, 'language = "en"', 'language = "de"')
    sync.flush()
    monkeypatch.undo()
    assert edits and events == [{"file", "error", "saved"}], "the cleared error is reported too"
    assert sync.file_error is None
    on_disk = config.load(path)
    assert (on_disk.ui.text, on_disk.service("xtts").params["language"]) == ("mine", "de")


def test_a_resolve_held_back_by_a_broken_file_starts_the_save_deadline(sync, path, clock):
    # Typing after the resolve does not push its save past max_delay (0.7 s) from the resolve.
    conflict_on_voice(sync, path)
    clock.advance(1)
    sync.tick()  # nothing else pending
    theirs = path.read_text()
    rewrite(path, "[ui\n")
    sync.tick()
    sync.resolve_all(keep_mine=True)  # cannot be written yet
    clock.advance(0.5)
    sync.set(("ui", "text"), "typed")
    rewrite(path, theirs)
    clock.advance(0.25)
    assert "saved" in sync.tick()
    on_disk = config.load(path)
    assert (on_disk.ui.text, on_disk.service("kokoro").voice) == ("typed", "af_mine")
