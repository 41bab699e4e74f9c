"""A pasted curl command becomes an `http` service.

`curl -X POST http://host/tts -H 'Content-Type: application/json'
-d '{"text": "hello", "voice": "af"}'` gives a service with that method, URL,
headers and body; in a JSON body the string under `text`/`input` becomes
`{{ text }}` and the one under `voice` becomes `{{ voice }}` (its value the
service's voice), so the service speaks what you type.
"""

from __future__ import annotations

import json
import shlex
from typing import Any

from tts_tui.core.errors import ConfigError

_DATA = {"-d", "--data", "--data-raw", "--data-binary", "--data-ascii", "--json"}
_SKIP_WITH_VALUE = {"-o", "--output", "-u", "--user", "-A", "--user-agent", "-m", "--max-time",
                    "--connect-timeout", "-w", "--write-out", "-e", "--referer", "-b", "--cookie"}
_TEXT_KEYS = ("text", "input", "prompt")


def service_from_curl(command: str, name: str) -> dict[str, Any]:
    """The `[[services]]` table for a curl command (`name` is its name).
    Raises ConfigError when the command cannot be read or has no URL."""
    try:
        words = shlex.split(command.replace("\\\n", " "))
    except ValueError as exc:
        raise ConfigError(f"cannot read the curl command: {exc}", hint="paste it as your shell would run it") from None
    if words and words[0] == "curl":
        words = words[1:]
    method = None
    url = None
    headers: dict[str, str] = {}
    data: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        value = words[i + 1] if i + 1 < len(words) else None
        if word in ("-X", "--request") and value is not None:
            method, i = value.upper(), i + 2
        elif word in ("-H", "--header") and value is not None:
            key, _, val = value.partition(":")
            if key.strip().lower() not in ("content-length", "host"):
                headers[key.strip()] = val.strip()
            i += 2
        elif word in _DATA and value is not None:
            data.append(value)
            if word == "--json":
                headers.setdefault("Content-Type", "application/json")
            i += 2
        elif word == "--url" and value is not None:
            url, i = value, i + 2
        elif word in _SKIP_WITH_VALUE:
            i += 2
        elif word.startswith("-"):
            i += 1  # a flag without a value (-s, -L, --compressed...)
        else:
            url, i = word, i + 1
    if not url:
        raise ConfigError("the curl command has no URL", hint="paste the whole command, e.g. curl http://host/tts -d ...")
    if "://" not in url:
        url = "http://" + url
    body = "&".join(data)
    table: dict[str, Any] = {"name": name, "type": "http", "method": method or ("POST" if body else "GET"), "url": url}
    if headers:
        table["headers"] = headers
    if body:
        body, voice = _templated(body)
        table["body"] = body
        if voice:
            table["voice"] = voice
    return table


def _templated(body: str) -> tuple[str, str | None]:
    """A JSON body with its text (and voice) as template tags; other bodies as they are."""
    try:
        doc = json.loads(body)
    except ValueError:
        return body, None
    if not isinstance(doc, dict):
        return body, None
    marks = {}
    for key in _TEXT_KEYS:
        if isinstance(doc.get(key), str):
            doc[key] = "\ue000text\ue000"
            marks["text"] = True
            break
    voice = doc.get("voice") if isinstance(doc.get("voice"), str) else None
    if voice is not None:
        doc["voice"] = "\ue000voice\ue000"
    out = json.dumps(doc, ensure_ascii=False)
    return out.replace("\ue000text\ue000", "{{ text }}").replace("\ue000voice\ue000", "{{ voice }}"), voice
