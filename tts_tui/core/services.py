"""Service types: how a configured service becomes an HTTP request.

Two types sit behind one small interface: `openai` (the OpenAI speech API and
the many servers that copy it) and `http` (any API, with a body template the
user writes). Adding a type means adding one class here.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from tts_tui.core.config import ENV_REFERENCE, expand_env, references_unset_env
from tts_tui.core.errors import TemplateError
from tts_tui.core.exchange import PreparedRequest
from tts_tui.core.masking import credential, is_secret_name, url_secrets
from tts_tui.core.model import Service

if TYPE_CHECKING:
    from tts_tui.core.voices import Voice

# `templates` (and Jinja under it, ~20 ms) is imported by the functions that
# render one: an OpenAI-type request, or headers without tags, need neither.


class ServiceType(ABC):
    """What a service type must say: its speech request and its voice list."""

    @abstractmethod
    def speech_request(self, service: Service, text: str, *, voice: str | None = None) -> PreparedRequest:
        """The request that speaks `text`. Raises TemplateError/ConfigError before sending."""

    @abstractmethod
    def voices_request(self, service: Service) -> PreparedRequest | None:
        """The request that lists voices, or None when the service has no list."""

    @abstractmethod
    def parse_voices(self, service: Service, data: Any) -> list[Voice]:
        """The voices in a decoded JSON answer of `voices_request` (read by voices.py).
        Raises RequestError when a configured list is not where it should be."""


def base_url(service: Service) -> str:
    """The service's URL; `builtin` starts the embedded server on demand."""
    if service.is_builtin:
        from tts_tui.server.app import builtin_url

        return builtin_url()
    return service.url.strip()


def api_key(service: Service) -> str:
    """The service's key with `$VAR` expanded; "" when unset or the variable is missing."""
    if not service.api_key or references_unset_env(service.api_key):
        return ""
    return expand_env(service.api_key, what=f"{service.name}.api_key")


def template_variables(service: Service, text: str, *, voice: str | None = None) -> dict[str, Any]:
    """Variables a template sees (DESIGN section 3)."""
    params = dict(service.params)
    language = str(params.get("language", ""))
    variables: dict[str, Any] = {
        "text": text,
        "voice": voice if voice is not None else service.voice,
        "model": service.model,
        "format": service.format,
        "speed": service.speed,
        "language": language,
        "culture": str(params.get("culture", language)),
        "env": dict(os.environ),
    }
    variables.update(params)
    if voice is not None:
        variables["voice"] = voice
    return variables


class OpenAIType(ServiceType):
    """POST {url}/audio/speech with the OpenAI speech fields, plus `extra`."""

    def speech_request(self, service: Service, text: str, *, voice: str | None = None) -> PreparedRequest:
        body: dict[str, Any] = {
            "model": service.model,
            "input": text,
            "voice": voice if voice is not None else service.voice,
            "response_format": service.format,
            "speed": service.speed,
        }
        if service.instructions:
            body["instructions"] = service.instructions
        if service.stream_format:
            body["stream_format"] = service.stream_format
        body.update(service.extra)
        return with_secrets(service, PreparedRequest(
            method="POST",
            url=check_url(_join(base_url(service), "audio/speech")),
            headers=self._headers(service, {"Content-Type": "application/json"}),
            body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        ))

    def voices_request(self, service: Service) -> PreparedRequest | None:
        if service.voices is not None and service.voices.url:
            return HttpType().voices_request(service)
        return with_secrets(service, PreparedRequest(
            method="GET",
            url=_join(base_url(service), "audio/voices"),
            headers=self._headers(service, {"Accept": "application/json"}),
        ))

    def parse_voices(self, service: Service, data: Any) -> list[Voice]:
        if service.voices is not None and service.voices.url:
            return HttpType().parse_voices(service, data)
        from tts_tui.core.voices import read_voices

        return read_voices(data)

    def _headers(self, service: Service, headers: dict[str, str]) -> dict[str, str]:
        key = api_key(service)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return _add_headers(service, headers, {})


class HttpType(ServiceType):
    """Any HTTP API: method, URL, headers, query and body are templates."""

    def speech_request(self, service: Service, text: str, *, voice: str | None = None) -> PreparedRequest:
        from tts_tui.core import templates

        variables = template_variables(service, text, voice=voice)
        url = templates.render_url(base_url(service), variables)
        pairs = templates.build_query(service.query, variables)
        url = templates.append_query(url, pairs)
        headers = _add_headers(service, {"Accept": service.content_type} if service.content_type else {}, variables)
        body: bytes | None = None
        method = service.method.upper()
        if method not in ("GET", "HEAD") and service.body.strip():
            content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
            # A body is checked as JSON when the request says it is JSON, or the
            # template is (or looks like) JSON; what the server would refuse
            # with a 400 is refused here, at the template's line and column.
            json_body = _says_json(content_type) or None
            rendered = templates.render_body(service.body, variables, json_body=json_body)
            body = rendered.encode("utf-8")
            if content_type is None:
                is_json = templates.is_json_body(service.body) or templates.looks_like_json(service.body)
                headers["Content-Type"] = "application/json" if is_json else "text/plain; charset=utf-8"
        return with_secrets(service, PreparedRequest(method=method, url=check_url(url), headers=headers, body=body))

    def voices_request(self, service: Service) -> PreparedRequest | None:
        spec = service.voices
        if spec is None or not spec.url:
            return None
        from tts_tui.core import templates

        variables = template_variables(service, "")
        # A relative voices URL is relative to the server, not to the speech endpoint.
        url = urljoin(base_url(service), "/" + spec.url.lstrip("/")) if "://" not in spec.url else spec.url
        return with_secrets(service, PreparedRequest(
            method=spec.method.upper(),
            url=templates.render_url(url, variables),
            headers=_add_headers(service, {"Accept": "application/json"}, variables),
        ))

    def parse_voices(self, service: Service, data: Any) -> list[Voice]:
        spec = service.voices
        assert spec is not None
        from tts_tui.core.voices import read_configured

        return read_configured(spec, data)


TYPES: dict[str, ServiceType] = {"openai": OpenAIType(), "http": HttpType()}


def service_type(service: Service) -> ServiceType:
    return TYPES[service.type]


def _says_json(content_type: str | None) -> bool:
    """`application/json`, `application/ld+json; charset=utf-8`..."""
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def check_url(url: str) -> str:
    """`url` when it is an absolute http(s) URL with a host; else ConfigError.

    Checked on the URL as rendered, so a templated base (`{{ env.TTS_URL }}/speak`)
    counts for what it becomes. "builtin" never gets here: it is resolved first.
    The error shows the URL with its secrets masked.
    """
    from urllib.parse import urlsplit

    from tts_tui.core.errors import ConfigError
    from tts_tui.core.masking import mask_url

    shown = mask_url(url, url_secrets(url))
    hint = 'write it as http://host:port/path, or "builtin" for the embedded server'
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        raise ConfigError(f"url: {shown!r} cannot be read as a URL", hint=hint) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ConfigError(f"url: {shown!r} is not an absolute http(s) URL", hint=hint)
    if not host:
        raise ConfigError(f"url: {shown!r} has no host", hint=hint)
    return url


def _join(base: str, path: str) -> str:
    return base.rstrip("/") + "/" + path.lstrip("/")


def _add_headers(service: Service, headers: dict[str, str], variables: Mapping[str, Any]) -> dict[str, str]:
    """`headers` plus the service's own, rendered (they win over the defaults)."""
    for name, value in service.headers.items():
        headers[name] = _header_value(service, name, value, variables)
    return headers


def _header_value(service: Service, name: str, value: str, variables: Mapping[str, Any]) -> str:
    expanded = expand_env(value, what=f"{service.name}.headers.{name}")
    if "{{" in expanded:
        from tts_tui.core import templates

        return templates.render_header(expanded, variables)
    if "\r" in expanded or "\n" in expanded:
        raise TemplateError(
            f"header {name!r} holds a line break", hint="header values cannot hold line breaks"
        )
    return expanded


def with_secrets(service: Service, request: PreparedRequest) -> PreparedRequest:
    """`request` with every secret value it carries listed, to be masked wherever it could show."""
    request.secrets = request_secrets(service, request)
    return request


def request_secrets(service: Service, request: PreparedRequest) -> list[str]:
    """Every secret value of a request, collected once (DESIGN section 2):
    values the config reads from the environment (`$VAR`, `${VAR}`, `{{ env.X }}`),
    the API key, values of headers, query and body keys named like secrets,
    and the URL's userinfo."""
    found = [api_key(service)]
    for text in _config_strings(service):
        for match in ENV_REFERENCE.finditer(text):
            found.append(os.environ.get(match[1] or match[2], ""))
    found += [os.environ.get(name, "") for name in _template_env_names(service)]
    for name, value in request.headers.items():
        if is_secret_name(name):
            found += [value, credential(value)]
    found += url_secrets(request.url)
    found += _body_secrets(request.body)
    for table in (service.params, service.extra, service.query):
        found += [v for k, v in table.items() if is_secret_name(str(k)) and isinstance(v, str) and "{{" not in v]
    return [v for v in dict.fromkeys(found) if v and v.strip()]


def _config_strings(service: Service) -> list[str]:
    strings = [service.url, service.api_key, service.body, *service.headers.values(), *service.query.values()]
    strings += [v for table in (service.params, service.extra) for v in table.values() if isinstance(v, str)]
    if service.voices is not None:
        strings.append(service.voices.url)
    return [s for s in strings if s]


def _template_env_names(service: Service) -> set[str]:
    names: set[str] = set()
    for text in _config_strings(service):
        if "{{" not in text:
            continue
        from tts_tui.core import templates

        try:
            names |= {n[4:] for n in templates.template_variables(text) if n.startswith("env.")}
        except TemplateError:
            continue  # a broken template sends nothing; its error says where
    return names


def _body_secrets(body: bytes | None) -> list[str]:
    """String values under keys named like secrets in a JSON body."""
    if not body or body.lstrip()[:1] not in (b"{", b"["):
        return []
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return []
    found: list[str] = []
    stack: list[tuple[Any, int]] = [(doc, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > 32:
            continue
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            if isinstance(value, str) and isinstance(key, str) and is_secret_name(key):
                found.append(value)
            elif isinstance(value, (dict, list)):
                stack.append((value, depth + 1))
    return found