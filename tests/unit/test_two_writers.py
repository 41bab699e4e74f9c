"""Two writers at once: the app and another program edit the config together
and neither loses an edit (issue 8, "Files").

The other program is a real separate process that follows the locking
protocol of tts_tui.core.file_lock with its own code (fcntl, rename), as a
script or a second tts-tui would.
"""

from __future__ import annotations

import subprocess
import sys
import time
import tomllib

import pytest

from tts_tui.core.config_writer import FileChanged, atomic_write, file_signature
from tts_tui.core.sync import ConfigSync

BASE = """\
# edited by two programs at once
[ui]
text = "Hi"

[[services]]
name = "xtts"
type = "http"
url = "http://127.0.0.1:8020/tts_to_audio/"
body = '{"text": "{{ text }}"}'
[services.params]   # two counters: one for each writer
language = "en"
outside = 0
mine = 0
"""

# Another program: N edits under the file's lock, each one adding 1 to the
# counter `outside` in the params table (read, add, write a temp file, rename
# it over the config). An edit the app writes over is lost for good: the
# next one counts from the older value. It prints "ready" first and the
# counter's last value at the end.
OUTSIDE = r"""
import fcntl, os, re, sys, time
path, count, pause = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
print("ready", flush=True)
for i in range(count):
    while True:
        fd = os.open(path, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)
        if os.fstat(fd).st_ino == os.stat(path).st_ino:
            break
        os.close(fd)  # replaced while we waited for the lock
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    match = re.search(r"^outside = (\d+)$", text, re.M)
    value = int(match[1]) + 1
    text = text[: match.start(1)] + str(value) + text[match.end(1):]
    tmp = f"{path}.outside.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    os.close(fd)
    time.sleep(pause)
print(value, flush=True)
"""

# Holds the lock until told to go on, then makes one edit and lets go.
HOLDER = r"""
import fcntl, os, sys
path = sys.argv[1]
fd = os.open(path, os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.readline()
with open(path, encoding="utf-8") as fh:
    text = fh.read()
tmp = path + ".holder.tmp"
with open(tmp, "w", encoding="utf-8") as fh:
    fh.write(text.replace('language = "en"', 'language = "de"'))
os.replace(tmp, path)
os.close(fd)
print("done", flush=True)
"""


def params(path) -> dict:
    return tomllib.loads(path.read_text())["services"][0]["params"]


def test_an_outside_edit_after_the_read_stops_the_rename(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(BASE)
    read_at = file_signature(path)
    outside = BASE.replace('"en"', '"fr"')
    subprocess.run([sys.executable, "-c", f"open({str(path)!r}, 'w').write({outside!r})"], check=True)
    with pytest.raises(FileChanged):
        atomic_write(path, BASE.replace('"Hi"', '"mine"'), expect=read_at)
    assert path.read_text() == outside, "the outside edit is still there"
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"], "no temp file left behind"


def test_the_app_waits_for_another_writers_lock_and_then_merges(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(BASE)
    sync = ConfigSync(path, debounce=0, max_delay=0)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        sync.set(("ui", "text"), "mine")
        assert sync.tick() == set(), "nothing is written while another program holds the lock"
        assert path.read_text() == BASE and sync.dirty
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline() == "done\n"
    finally:
        holder.communicate(timeout=30)
    assert "saved" in sync.tick()
    saved = tomllib.loads(path.read_text())
    assert saved["ui"]["text"] == "mine", "the app's edit"
    assert saved["services"][0]["params"]["language"] == "de", "the other program's edit"
    assert sync.config.services[0].params["language"] == "de"


def test_a_thousand_interleaved_edits_of_two_writers_all_land(tmp_path):
    """500 edits by another process and 500 by the app, at the same time, each
    adding 1 to its own counter (different keys of one table): both counters
    end at 500 only if no edit of either side was lost."""
    count = 500
    path = tmp_path / "config.toml"
    path.write_text(BASE)
    sync = ConfigSync(path, debounce=0.002, max_delay=0.01)
    outside = subprocess.Popen(
        [sys.executable, "-c", OUTSIDE, str(path), str(count), "0.001"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert outside.stdout.readline() == "ready\n"
        deadline = time.monotonic() + 120  # a bound, not a speed check
        for _ in range(count):
            shown = sync.config.services[0].params["mine"]  # counts from what the app shows
            sync.set(("services", "xtts", "params", "mine"), shown + 1)
            sync.tick()
            time.sleep(0.001)
            assert time.monotonic() < deadline, "the app's edits did not finish in time"
        out, _ = outside.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if outside.poll() is None:
            outside.kill()
            outside.communicate()
    assert outside.returncode == 0
    assert out.split() == [str(count)], "the other program saw every one of its edits"
    sync.flush()
    assert not sync.dirty and sync.last_write_error is None
    final = params(path)
    assert (final["outside"], final["mine"]) == (count, count), "an edit was lost"
    assert final["language"] == "en"
    assert sync.config.services[0].params["outside"] == count, "the app shows the other program's edits"
