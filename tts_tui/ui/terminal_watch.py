"""Notice when the terminal goes away (the SSH connection drops, tmux dies).

The kernel sends SIGHUP to the terminal's session; without a handler Python
dies at once and pending edits are lost, and with SIGHUP ignored (nohup) the
app would spin on a dead terminal. Both end in `on_lost`, once: the SIGHUP
handler, and a once-a-second check that the terminal still answers (a hung-up
terminal fails every call with EIO).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable

from textual.app import App

FORCED_EXIT_S = 3.0  # if leaving politely hangs on the dead terminal, leave anyway


def watch_terminal(app: App, on_lost: Callable[[], None]) -> None:
    """Call `on_lost` once when the terminal hangs up. A no-op when the app
    runs with no terminal (tests, piped)."""
    fd = _terminal_fd()
    if fd is None:
        return
    fired = False

    def lost() -> None:
        nonlocal fired
        if fired:
            return
        fired = True
        # the exit below may block writing to the dead terminal: a timer ends it
        timer = threading.Timer(FORCED_EXIT_S, os._exit, args=(129,))
        timer.daemon = True
        timer.start()
        on_lost()

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError, AttributeError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, lost)

    def check() -> None:
        if not os.isatty(fd):
            lost()

    app.set_interval(1.0, check)


def _terminal_fd() -> int | None:
    for stream in (sys.__stdin__, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(AttributeError, ValueError, OSError):
            if stream is not None and os.isatty(stream.fileno()):
                return stream.fileno()
    return None
