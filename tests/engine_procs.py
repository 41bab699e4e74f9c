"""The embedded server's espeak-ng worker processes, as the kernel sees them.

Read from /proc (Linux, like CI): the tests check that workers exist while the
server runs and that none outlives it, without asking the server itself.
"""

from __future__ import annotations

import os
from pathlib import Path

WORKER_MODULE = b"tts_tui.server.engine_worker"


def engine_workers(parent: int | None = None) -> list[int]:
    """Pids of live (not zombie) engine workers whose parent is ``parent`` (default: this process)."""
    parent = os.getpid() if parent is None else parent
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:  # it ended while we looked
            continue
        # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == parent and state != "Z" and WORKER_MODULE in cmdline:
            pids.append(int(entry.name))
    return pids


def gone(pids: set[int] | list[int], parent: int | None = None) -> bool:
    """True when none of ``pids`` is a child of ``parent`` any more, not even
    a zombie (ended but never waited for)."""
    parent = os.getpid() if parent is None else parent
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent:
            return False
    return True
