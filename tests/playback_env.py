"""Is there a real audio output to play into? (The JACK dummy server in CI.)

CI starts `jackd --no-realtime -d dummy -r 48000 -p 1024` and `jack_wait -w`
before the tests (DESIGN.md section 8). On a developer machine without it the
playback tests skip with the reason; under CI they fail, so a broken audio
setup cannot pass silently.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

START_HINT = "start it with: jackd --no-realtime -d dummy -r 48000 -p 1024 & jack_wait -w"


def jack_problem() -> str | None:
    """Why the JACK server cannot be used, or None when it is running."""
    if shutil.which("jack_wait") is None:
        return "jack_wait not found (apt-get install jackd2)"
    try:
        done = subprocess.run(["jack_wait", "-c"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"jack_wait failed: {exc}"
    if done.stdout.strip() != "running":
        return f"the JACK server is not running; {START_HINT}"
    return None


def require_jack() -> None:
    """Skip (or fail under CI) unless a JACK server is running."""
    problem = jack_problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"playback tests need JACK in CI: {problem}")
    pytest.skip(problem)
