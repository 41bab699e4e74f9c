"""Saving the config while the file moves under the app: an outside edit made
during a save, or within one tick of the file system's clock, is never
written over; a save that fails half-way leaves the file as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib

import pytest

from tests.unit.test_sync import USER_FILE, Clock, edit_externally, edit_externally_during_next_save
from tts_tui.core.sync import ConfigSync


def outside_value(path) -> str:
    return tomllib.loads(path.read_text())["services"][1]["params"]["language"]


@pytest.fixture
def path(write_config):
    return write_config(USER_FILE)


def test_an_outside_edit_not_yet_seen_by_a_tick_survives_a_save(path):
    sync = ConfigSync(path, clock=Clock())
    sync.set(("ui", "text"), "mine")
    edit_externally(path, 'language = "en"', 'language = "de"')
    sync.flush()  # on quit: no tick in between has read the outside edit
    assert outside_value(path) == "de"
    assert tomllib.loads(path.read_text())["ui"]["text"] == "mine"


def test_an_outside_edit_made_during_a_save_is_not_written_over(path, monkeypatch):
    # The one stub: *when* the other program writes (edit_externally_during_next_save).
    sync = ConfigSync(path, clock=Clock())
    edits = edit_externally_during_next_save(monkeypatch, path, 'language = "en"', 'language = "de"')
    sync.set(("ui", "text"), "mine")
    sync.flush()
    monkeypatch.undo()
    assert edits, "the save wrote a temp file"
    assert outside_value(path) == "de", "the outside edit made during the save is kept"
    assert tomllib.loads(path.read_text())["ui"]["text"] == "mine", "and the app's edit landed too"
    assert not sync.dirty and sync.config.service("xtts").params["language"] == "de"


def test_an_outside_edit_within_one_mtime_tick_is_seen(path):
    # A file system with coarse timestamps: the other program's in-place edit
    # keeps the size, the inode and (as on such a file system) the mtime.
    stamp = os.stat(path).st_mtime_ns
    sync = ConfigSync(path, clock=Clock())
    assert sync.tick() == set()
    with open(path, "r+", encoding="utf-8") as fh:
        fh.write(USER_FILE.replace('"af_bella"', '"af_BELLA"'))
    os.utime(path, ns=(stamp, stamp))
    assert sync.tick() == {"file"}
    assert sync.config.service("kokoro").voice == "af_BELLA"


def test_a_save_that_fails_half_way_leaves_the_file_whole(path):
    # A real write failure: a file-size limit (as a full disk would) makes the
    # write stop part-way; an in-place write would leave a cut file behind.
    before = path.read_text()
    code = f"""
import resource, signal, sys
sys.path[:0] = {sys.path!r}
from tts_tui.core.sync import ConfigSync
sync = ConfigSync({str(path)!r})
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before) // 2}, resource.RLIM_INFINITY))
sync.set(("ui", "text"), "x" * 5000)
sync.flush()
print(sync.last_write_error)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "cannot save" in out.stdout, out.stdout
    assert path.read_text() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"], "no temp file is left behind"
