"""Which `format` values a service can be asked for.

The Request pane offers these: the embedded server's own list for `builtin`,
a preset's list for a service made from that preset (same name, or the same
port and path as its URL), every format the config accepts otherwise. The
service's current value is always offered, so a value the list lacks still
shows (and the server's answer says whether it takes it).
"""

from __future__ import annotations

import functools
import re
from urllib.parse import urlsplit

from tts_tui.core.model import FORMATS, Service


def format_choices(service: Service) -> tuple[str, ...]:
    """The formats to offer for `service`, its current value included."""
    choices = _known_choices(service)
    if service.format and service.format not in choices:
        choices = (*choices, service.format)
    return choices


def _known_choices(service: Service) -> tuple[str, ...]:
    if service.is_builtin:
        from tts_tui.server.encode import FORMATS as SERVED

        return SERVED
    preset = preset_for(service)
    if preset is not None:
        return preset
    return FORMATS


def preset_for(service: Service) -> tuple[str, ...] | None:
    """The formats of the preset `service` was made from, if one matches it:
    by name ("kokoro-fastapi", "kokoro-fastapi-2"), else by type, port and path."""
    by_name, by_place = _preset_index()
    base = re.sub(r"-\d+$", "", service.name.strip().lower())
    if base in by_name and by_name[base][0] == service.type:
        return by_name[base][1]
    return by_place.get((service.type, *_place(service.url)))


def _place(url: str) -> tuple[int | None, str]:
    try:
        parts = urlsplit(url.strip())
        return parts.port, parts.path.rstrip("/")
    except ValueError:
        return None, ""


@functools.lru_cache(maxsize=1)
def _preset_index() -> tuple[dict[str, tuple[str, tuple[str, ...]]], dict[tuple, tuple[str, ...]]]:
    from tts_tui.core.presets import PRESETS, preset_service_table

    by_name: dict[str, tuple[str, tuple[str, ...]]] = {}
    by_place: dict[tuple, tuple[str, ...]] = {}
    for name, preset in PRESETS.items():
        table = preset_service_table(name)
        kind = table.get("type", "openai")
        by_name[name] = (kind, preset.formats)
        port, path = _place(str(table.get("url", "")))
        if port is not None:
            by_place.setdefault((kind, port, path), preset.formats)
    return by_name, by_place
