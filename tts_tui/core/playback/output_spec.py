"""What an `audio.output` value (or `TTS_TUI_OUTPUT`) asks for.

    "default"                local device, else a listener on DEFAULT_PORT, else silent
    "none"                   never play
    "3" / "MacBook"          a device by index or by part of its name
    "listen"                 a listener on 127.0.0.1:DEFAULT_PORT
    "listen:PORT"            ... on another port
    "listen:PORT:TOKEN"      ... that requires a token
    "pipe:COMMAND"           a streamed WAV on COMMAND's standard input (run by the shell)

A malformed `listen:` value is an OutputError, whose message says what is wrong.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from tts_tui.core.errors import TtsError

DEFAULT_PORT = 7755
ENV_VAR = "TTS_TUI_OUTPUT"


class OutputError(TtsError):
    """An `audio.output` value that cannot be understood."""


@dataclass(frozen=True)
class OutputSpec:
    kind: str  # "default" | "none" | "device" | "listen" | "pipe"
    device: str = ""  # "device": index or part of a name
    port: int = DEFAULT_PORT  # "listen"
    token: str | None = None  # "listen"
    command: str = ""  # "pipe"

    def describe(self) -> str:
        """The value as a user would write it, with the token hidden."""
        if self.kind == "listen":
            token = ":…" if self.token else ""
            return f"listen:{self.port}{token}"
        if self.kind == "pipe":
            return f"pipe:{self.command}"
        return self.device or self.kind


def effective_output(configured: str | int) -> str:
    """`TTS_TUI_OUTPUT` when it is set and not empty, else the configured value."""
    override = os.environ.get(ENV_VAR, "").strip()
    return override or str(configured)


def parse_output(value: str | int) -> OutputSpec:
    """The OutputSpec for an `audio.output` value; raises OutputError."""
    text = str(value).strip()
    lowered = text.lower()
    if lowered in ("", "default"):
        return OutputSpec("default")
    if lowered == "none":
        return OutputSpec("none")
    if lowered == "listen" or lowered.startswith("listen:"):
        return _parse_listen(text)
    if lowered.startswith("pipe:"):
        command = text[len("pipe:"):].strip()
        if not command:
            raise OutputError('"pipe:" needs a command', hint='for example output = "pipe:aplay"')
        return OutputSpec("pipe", command=command)
    return OutputSpec("device", device=text)


def _parse_listen(text: str) -> OutputSpec:
    parts = text.split(":", 2)
    port = DEFAULT_PORT
    if len(parts) > 1 and parts[1]:
        if not parts[1].isdigit() or not 0 < int(parts[1]) < 65536:
            raise OutputError(f"{parts[1]!r} is not a port number (in {ENV_VAR} or audio.output)",
                              hint='write "listen", "listen:PORT" or "listen:PORT:TOKEN"')
        port = int(parts[1])
    token = parts[2] if len(parts) > 2 and parts[2] else None
    return OutputSpec("listen", port=port, token=token)
