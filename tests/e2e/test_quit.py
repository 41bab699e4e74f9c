"""ctrl+q is prompt whatever is in flight: a request to a server that holds
its answer for 120 s is cancelled, the player lets go of the device with a
bound, and the HTTP pool closes with one. The app runs for real in a pty.
The test checks the order (the app is gone long before the answer could
come); benchmarks/quit.py measures how long it takes against quitting at rest.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.test_lost_device import start_tui
from tests.e2e.test_terminal_loss import read_for, wait_exit
from tests.servers import FaultServer


@pytest.mark.parametrize("speak_after", [1.0, 5.0], ids=["during-warm-up", "after-warm-up"])
def test_ctrl_q_during_a_held_request_exits_before_the_answer(tmp_path: Path, speak_after: float) -> None:
    with FaultServer() as server:
        config = tmp_path / "config.toml"
        config.write_text(
            '[[services]]\nname = "slow"\ntype = "http"\nmethod = "POST"\n'
            f'url = "{server.url("/slow", delay_ms=120_000)}"\nbody = \'{{"text": "{{{{ text }}}}"}}\'\n')
        pid, master = start_tui(config, tmp_path, {})
        try:
            assert b"Services" in read_for(master, 30.0, until=b"Services")
            read_for(master, speak_after)  # F5 before the warm-up is done, or after
            os.write(master, b"\x1b[15~")  # F5
            read_for(master, 2.0)
            if speak_after > 3:  # the request is in flight: the server holds it
                deadline = time.monotonic() + 30  # (only a hang reaches it)
                while not server.requests and time.monotonic() < deadline:
                    read_for(master, 0.05)
                assert len(server.requests) == 1
            os.write(master, b"\x11")  # ctrl+q
            # half the server's hold: the app did not wait for the answer (quitting takes ~1 s)
            status = wait_exit(pid, 60.0)
            pid = 0
            assert status is not None, "ctrl+q did not end the app within 60 s: it waited for the answer"
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0, status
        finally:
            if pid:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            os.close(master)
