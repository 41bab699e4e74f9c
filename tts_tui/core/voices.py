"""Voice lists: ask a service for its voices and read them in any shape servers send.

`list_voices` sends the service's voices request (each service type says its
own, in services.py) and decides from the answer what it means:

- a URL the user configured (`[services.voices] url`) must answer a JSON voice
  list; anything else is a one-line RequestError naming the URL (secrets masked);
- a guessed URL (an `openai` service's `{url}/audio/voices`) that answers 404,
  405, an HTML page or anything that is not JSON means "this server has no
  voice list", which is not an error: the result is [].

The known shapes are read without configuration: a bare list of strings or
objects, `{"voices": [...]}`, `{"data": [...]}`, `{"items": [...]}`, an object
keyed by id, and items that are `{id, name}`-like objects or plain strings.
Reading looks at the top levels of the JSON only, and an answer nested
100,000 deep gives a one-line RequestError, not a RecursionError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tts_tui.core.errors import RequestError, TemplateError
from tts_tui.core.exchange import Exchange
from tts_tui.core.json_path import json_path
from tts_tui.core.masking import mask_text

if TYPE_CHECKING:
    from tts_tui.core.client import HttpClient
    from tts_tui.core.model import Service, VoicesSpec

MAX_BYTES = 10 * 1024 * 1024  # a voice list is small; this only bounds a runaway answer
TIMEOUT_MAX = 15.0  # seconds; a voice list should not hold the UI for a whole speech timeout
NO_LIST_STATUSES = (404, 405)  # what a server without the guessed route answers

# Keys a voice list is wrapped in, in the order they are tried.
ENVELOPES = ("voices", "data", "items")
# Keys an item's id is read from, then its label; the first string (or number) wins.
# `filename` comes before `name` because servers that list files (Chatterbox)
# take the file name, and show `name`/`display_name`.
ID_KEYS = ("id", "voice_id", "voice", "filename", "name", "ShortName", "short_name", "speaker")
LABEL_KEYS = ("name", "display_name", "label", "title", "DisplayName", "FriendlyName")
_ENVELOPE_DEPTH = 3  # {"data": {"voices": [...]}} is as deep as real servers wrap
# An object with one of these keys is an error document (sent with 200 by some
# servers), not voices keyed by id.
ERROR_KEYS = ("error", "errors", "detail", "message")


@dataclass(frozen=True)
class Voice:
    """One voice: `id` is what the service's `voice` takes, `label` what a person reads."""

    id: str
    label: str


async def list_voices(service: Service, *, client: HttpClient) -> list[Voice]:
    """The service's voices; [] when it has no list.

    Raises RequestError (one line, URL masked) when a voices URL the user
    configured fails or does not answer a voice list, when the server cannot
    be reached, when a guessed URL answers an error other than 404/405 (a
    wrong key, a server fault), or when the answer is too deeply nested to read.
    """
    # services.py imports this module for Voice and the parsers: import it when used
    from tts_tui.core.services import service_type

    kind = service_type(service)
    request = kind.voices_request(service)
    if request is None:
        return []
    configured = is_configured(service)
    where = request.masked_url()
    ex = await client.send(
        Exchange(request, service=service.name),
        timeout=min(service.timeout, TIMEOUT_MAX),
        max_bytes=MAX_BYTES,
    )
    if ex.error is not None:
        if not configured and ex.status in NO_LIST_STATUSES:
            return []
        error = RequestError(mask_text(ex.error, request.secrets), hint=f"check the voices URL {where}")
        error.status = ex.status
        raise error
    what = _not_json(ex.content_type, ex.body)
    data: Any = None
    if what is None:
        try:
            data = json.loads(ex.body)
        except RecursionError:
            raise _too_deep(where) from None
        except (ValueError, UnicodeDecodeError):
            what = "an answer that is not JSON"
    if what is not None:
        if not configured:
            return []
        from tts_tui.core.client import describe_http_error

        # the status and the page's title or first words say what answered instead
        seen = mask_text(describe_http_error(ex.status or 200, ex.content_type, ex.body), request.secrets)
        raise RequestError(
            f"the voices URL {where} answered {what}, not a JSON voice list ({seen})",
            hint="set [services.voices] url to the server's voice list",
        )
    try:
        return kind.parse_voices(service, data)
    except RecursionError:
        raise _too_deep(where) from None
    except RequestError as exc:
        raise RequestError(f"{exc.message} (from {where})", hint=exc.hint) from None


def is_configured(service: Service) -> bool:
    """True when the user set `[services.voices] url` (it must then work)."""
    return service.voices is not None and bool(service.voices.url.strip())


def read_voices(data: Any) -> list[Voice]:
    """The voices in a decoded answer of any known shape; [] when it holds no list."""
    items = find_list(data)
    return [] if items is None else voices_from_items(items)


def read_configured(spec: VoicesSpec, data: Any) -> list[Voice]:
    """The voices in a decoded answer, read as `[services.voices]` says.

    `path` points at the list ("" = a known shape, else the answer itself); a
    JSON object there counts as the list of its values, each item also getting
    `{{ key }}`. `value` and `label` are rendered per item; an item that lacks
    a variable they name is read as a known shape instead. Raises RequestError
    when there is no list at `path`.
    """
    if spec.path:
        items = json_path(data, spec.path)
    else:
        items = find_list(data)
        if items is None and isinstance(data, dict) and not any(k in data for k in ERROR_KEYS):
            items = data  # the user says this is the list: an object keyed by id
    if not isinstance(items, (list, dict)):
        at = f"voices.path {spec.path!r}" if spec.path else "the top"
        raise RequestError(
            f"the answer has no voice list at {at} (the answer is {_shape(data)})",
            hint="set voices.path to where the list is in the JSON answer",
        )
    voices = []
    for key, item in _entries(items):
        if isinstance(item, dict):
            variables = item if key is None else {**item, "key": key}
        elif key is not None:  # {"af_bella": "Bella"}
            variables = {"key": key, "id": key, "value": item, "name": _scalar(item) or key}
        else:  # a plain string in a list is the voice
            voice = _voice(None, item)
            if voice is not None:
                voices.append(voice)
            continue
        try:
            value = _render(spec.value, variables)
            label = _render(spec.label, variables)
        except TemplateError:
            # lists whose items lack a key the templates name: read what they have
            voice = _voice(key, item)
            if voice is not None:
                voices.append(voice)
            continue
        if value:
            voices.append(Voice(value, label or value))
    return voices


def find_list(data: Any, depth: int = 0) -> list[Any] | dict[str, Any] | None:
    """Where the voices are in a decoded answer: a list, an object keyed by id,
    or None when the answer holds no list.

    A bare list is the list. An object is first looked into under `voices`,
    `data` and `items` (a list there, or an object that is itself a known
    shape); otherwise, unless it has one of those keys or is an error
    (`error`, `detail`, `message`), it is a list keyed by id when every value
    is an object, or every value a string (id -> name).
    """
    if isinstance(data, list):
        return data
    if not isinstance(data, dict):
        return None
    if depth < _ENVELOPE_DEPTH:
        for key in ENVELOPES:
            inner = data.get(key)
            if isinstance(inner, list):
                return inner
            if isinstance(inner, dict):
                found = find_list(inner, depth + 1)
                if found is not None:
                    return found
    if not data:
        return []
    if any(key in data for key in ENVELOPES + ERROR_KEYS):
        return None  # a wrapper whose list is not where wrappers put it, or an error
    values = data.values()
    if all(isinstance(v, dict) for v in values) or all(isinstance(v, str) for v in values):
        return data
    return None


def voices_from_items(items: list[Any] | dict[str, Any]) -> list[Voice]:
    """Each item as a Voice: a string, a number, or an object with an id-like
    key (`id`, `voice_id`, `voice`, `filename`, `name`...) and a label-like one
    (`name`, `display_name`, `label`...). In an object keyed by id the key is
    the id. Items with no id are skipped."""
    voices = []
    for key, item in _entries(items):
        voice = _voice(key, item)
        if voice is not None:
            voices.append(voice)
    return voices


def _entries(items: list[Any] | dict[str, Any]) -> list[tuple[str | None, Any]]:
    if isinstance(items, dict):
        return [(str(k), v) for k, v in items.items()]
    return [(None, v) for v in items]


def _voice(key: str | None, item: Any) -> Voice | None:
    """One item as a Voice; None when it has no id. Only top-level scalars are
    read, so a deeply nested item costs nothing and cannot recurse."""
    if isinstance(item, dict):
        vid = key if key is not None else _first(item, ID_KEYS)
        if not vid:
            return None
        return Voice(vid, _first(item, LABEL_KEYS) or vid)
    text = _scalar(item)
    if key is not None:
        return Voice(key, text or key)  # {"af_bella": "Bella"}: id -> name
    return Voice(text, text) if text else None


def _first(item: dict[str, Any], keys: tuple[str, ...]) -> str:
    for name in keys:
        text = _scalar(item.get(name))
        if text:
            return text
    return ""


def _scalar(value: Any) -> str:
    """A string or number as text; "" for anything else (null, bool, list, object)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


def _render(template: str, variables: dict[str, Any]) -> str:
    from tts_tui.core import templates

    return templates.render_text(template, variables).strip()


def _not_json(content_type: str, body: bytes) -> str | None:
    """What the answer is when it plainly is not JSON (an HTML page, nothing); else None."""
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if not head:
        return "an empty body"
    if "html" in content_type.lower() or head == b"<":
        return "an HTML page"
    return None


def _shape(data: Any) -> str:
    """What a decoded answer is, for an error: "an object with keys a, b", "a list"..."""
    if isinstance(data, dict):
        names = [str(k) for k in list(data)[:8]]
        more = ", …" if len(data) > len(names) else ""
        return f"an object with keys {', '.join(names)}{more}" if names else "an empty object"
    if isinstance(data, list):
        return "a list"
    if isinstance(data, bool) or data is None:
        return json.dumps(data)
    return "a number" if isinstance(data, (int, float)) else "a string"


def _too_deep(where: str) -> RequestError:
    return RequestError(
        f"the voices URL {where} answered JSON nested too deeply to read",
        hint="the answer is not a voice list",
    )
