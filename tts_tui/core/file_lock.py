"""An advisory lock on the config file, held while it is read, merged and replaced.

The protocol, for any program that wants to edit the file alongside the app
without ever losing an edit: open the file, `flock(LOCK_EX)` it, check that
the path still names the inode you locked (a writer that held the lock may
have replaced the file; if so, open it again and retry), read, write a temp
file beside it, rename it over the file, then unlock. `tts-tui` follows it
for every write; programs that do not lock (editors) are still caught by the
check the writer makes right before its rename (see config_writer).

The lock is on the file itself (a symlink's target), so no lock file is left
beside the user's config. Where locks are not supported (no fcntl, a file
system that refuses them) writing goes on unlocked.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # not POSIX: no advisory locks
    fcntl = None  # type: ignore[assignment]


class FileBusy(Exception):
    """Another program held the lock for the whole wait."""


@contextlib.contextmanager
def locked(path: Path, *, wait: float = 0.1) -> Iterator[None]:
    """Hold the lock on the file at `path` (following symlinks) for the block.

    Polls for up to `wait` seconds (the UI thread calls this: it never blocks
    longer), then raises FileBusy. A missing file, or one that cannot be
    opened or locked, is not locked at all: the block runs, and the writer's
    own checks decide.
    """
    fd = _lock(path, wait)
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)  # closing releases the lock


def _lock(path: Path, wait: float) -> int | None:
    if fcntl is None:
        return None
    deadline = time.monotonic() + wait
    while True:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            if time.monotonic() >= deadline:
                raise FileBusy(f"{path} is being written by another program") from None
            time.sleep(0.002)
            continue
        except OSError:  # no locks on this file system
            os.close(fd)
            return None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except OSError:
            same = False
        if same:
            return fd
        os.close(fd)  # replaced while we waited: lock the new file
