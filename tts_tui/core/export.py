"""Exports of exchanges: "copy as curl" (HAR comes with the latency issue)."""

from __future__ import annotations

import shlex

from tts_tui.core.exchange import PreparedRequest


def to_curl(request: PreparedRequest, *, output: str = "out.audio") -> str:
    """A curl command that repeats `request`, with secrets masked.

    The body is passed with --data-raw so it goes on the wire byte for byte.
    """
    parts = ["curl", "-sS"]
    if request.method != "GET" or request.body:
        parts += ["-X", request.method]
    parts.append(shlex.quote(request.masked_url()))
    for name, value in request.masked_headers().items():
        parts += ["-H", shlex.quote(f"{name}: {value}")]
    if request.body:
        parts += ["--data-raw", shlex.quote(request.masked_body())]
    parts += ["-o", shlex.quote(output)]
    return " ".join(parts)
