"""A dotted path into decoded JSON, as `response = "json:PATH"` and
`[services.voices] path` spell it. No imports: voice listing uses it too."""

from __future__ import annotations

from typing import Any


def json_path(data: Any, path: str) -> Any:
    """Follow a dotted path (`a.b.0.c`, `a[0].c`) into decoded JSON; None if missing."""
    current = data
    for part in path.replace("[", ".").replace("]", "").split("."):
        if part == "":
            continue
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.lstrip("-").isdigit() and -len(current) <= int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current
