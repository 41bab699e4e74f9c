"""How long ctrl+q takes with a request in flight, against ctrl+q with nothing
in flight, same run.

The real TUI runs in a pseudo-terminal (as tests/e2e/test_quit.py runs it)
with one http service pointing at a test fault server on 127.0.0.1 that holds
its answer for 120 s. Each round starts the app twice, alternating so load
drift hits both alike: once it quits at rest; once F5 sends the held request
first, then ctrl+q. The time is from writing ctrl+q to the process's exit.
The ratio says what a request in flight adds to quitting (the cancel, the
HTTP pool's close, the player letting go). Asserts nothing; the test only
checks that ctrl+q ends the app before the server answers.

    python benchmarks/quit.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.test_lost_device import start_tui  # noqa: E402
from tests.e2e.test_terminal_loss import read_for, wait_exit  # noqa: E402
from tests.servers import FaultServer  # noqa: E402

HOLD_MS = 120_000


def one_quit(server: FaultServer, work: Path, *, in_flight: bool) -> float | None:
    """Seconds from ctrl+q to the app's exit (None when it did not exit in 60 s)."""
    config = work / "config.toml"
    config.write_text('[audio]\noutput = "none"\n\n[[services]]\nname = "slow"\ntype = "http"\nmethod = "POST"\n'
                      f'url = "{server.url("/slow", delay_ms=HOLD_MS)}"\nbody = \'{{"text": "{{{{ text }}}}"}}\'\n')
    before = len(server.requests)
    pid, master = start_tui(config, work, {})
    try:
        read_for(master, 30.0, until=b"Services")
        read_for(master, 3.0)  # past the warm-up, as a user would be
        if in_flight:
            os.write(master, b"\x1b[15~")  # F5
            deadline = time.monotonic() + 30
            while len(server.requests) == before and time.monotonic() < deadline:
                read_for(master, 0.05)
        started = time.monotonic()
        os.write(master, b"\x11")  # ctrl+q
        status = wait_exit(pid, 60.0)
        took = time.monotonic() - started
        pid = 0
        return took if status is not None else None
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(master)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    at_rest: list[float] = []
    busy: list[float] = []
    with FaultServer() as server, tempfile.TemporaryDirectory() as tmp:
        for n in range(args.rounds):
            for in_flight in ((False, True) if n % 2 == 0 else (True, False)):
                work = Path(tmp) / f"{n}-{int(in_flight)}"
                work.mkdir()
                took = one_quit(server, work, in_flight=in_flight)
                if took is None:
                    print(f"round {n + 1}: the app did not exit within 60 s ({'in flight' if in_flight else 'at rest'})")
                    continue
                (busy if in_flight else at_rest).append(took)
    if not at_rest or not busy:
        print("no figures")
        return 1
    rest, flight = statistics.median(at_rest), statistics.median(busy)
    print(f"ctrl+q at rest:            median {rest * 1000:6.0f} ms  (range {min(at_rest) * 1000:.0f}-{max(at_rest) * 1000:.0f}, n={len(at_rest)})")
    print(f"ctrl+q, request in flight: median {flight * 1000:6.0f} ms  (range {min(busy) * 1000:.0f}-{max(busy) * 1000:.0f}, n={len(busy)})")
    print(f"ratio in flight / at rest: {flight / rest:.2f}x   (load: {os.getloadavg()[0]:.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
