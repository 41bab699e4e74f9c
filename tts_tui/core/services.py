"""Service types: how a configured service becomes an HTTP request.

Two types sit behind one small interface: `openai` (the OpenAI speech API and
the many servers that copy it) and `http` (any API, with a body template the
user writes). Adding a type means adding one class here.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin

from tts_tui.core import templates
from tts_tui.core.config import ENV_REFERENCE, expand_env, references_unset_env
from tts_tui.core.errors import RequestError, TemplateError
from tts_tui.core.exchange import PreparedRequest
from tts_tui.core.model import Service
from tts_tui.core.voices import Voice, read_configured, read_voices


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
        return PreparedRequest(
            method="POST",
            url=_join(base_url(service), "audio/speech"),
            headers=self._headers(service, {"Content-Type": "application/json"}),
            body=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            secrets=_secrets(service),
        )

    def voices_request(self, service: Service) -> PreparedRequest | None:
        if service.voices is not None and service.voices.url:
            return HttpType().voices_request(service)
        return PreparedRequest(
            method="GET",
            url=_join(base_url(service), "audio/voices"),
            headers=self._headers(service, {"Accept": "application/json"}),
            secrets=_secrets(service),
        )

    def parse_voices(self, service: Service, data: Any) -> list[Voice]:
        if service.voices is not None and service.voices.url:
            return HttpType().parse_voices(service, data)
        return read_voices(data)

    def _headers(self, service: Service, headers: dict[str, str]) -> dict[str, str]:
        key = api_key(service)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return _add_headers(service, headers, {})


class HttpType(ServiceType):
    """Any HTTP API: method, URL, headers, query and body are templates."""

    def speech_request(self, service: Service, text: str, *, voice: str | None = None) -> PreparedRequest:
        variables = template_variables(service, text, voice=voice)
        url = templates.render_url(base_url(service), variables)
        pairs = templates.build_query(service.query, variables)
        url = templates.append_query(url, pairs)
        headers = _add_headers(service, {"Accept": service.content_type} if service.content_type else {}, variables)
        body: bytes | None = None
        method = service.method.upper()
        if method not in ("GET", "HEAD") and service.body.strip():
            rendered = templates.render_body(service.body, variables)
            body = rendered.encode("utf-8")
            if not any(k.lower() == "content-type" for k in headers):
                first = rendered.lstrip()[:1]
                headers["Content-Type"] = (
                    "application/json" if first in ("{", "[") else "text/plain; charset=utf-8"
                )
        return PreparedRequest(method=method, url=url, headers=headers, body=body, secrets=_secrets(service))

    def voices_request(self, service: Service) -> PreparedRequest | None:
        spec = service.voices
        if spec is None or not spec.url:
            return None
        variables = template_variables(service, "")
        # A relative voices URL is relative to the server, not to the speech endpoint.
        url = urljoin(base_url(service), "/" + spec.url.lstrip("/")) if "://" not in spec.url else spec.url
        return PreparedRequest(
            method=spec.method.upper(),
            url=templates.render_url(url, variables),
            headers=_add_headers(service, {"Accept": "application/json"}, variables),
            secrets=_secrets(service),
        )

    def parse_voices(self, service: Service, data: Any) -> list[Voice]:
        spec = service.voices
        assert spec is not None
        return read_configured(spec, data)


TYPES: dict[str, ServiceType] = {"openai": OpenAIType(), "http": HttpType()}


def service_type(service: Service) -> ServiceType:
    return TYPES[service.type]


def extract_audio(service: Service, body: bytes, request_url: str) -> tuple[bytes | None, str | None]:
    """Apply the `response` mode: (audio bytes, URL to fetch) from an answer's body.

    `body` mode returns the body itself. `json:PATH` decodes base64 audio at
    PATH (a data: URI works too). `url:PATH` returns the absolute URL to fetch.
    Raises RequestError when the answer is not what the mode expects.
    """
    mode, _, path = service.response.partition(":")
    if mode == "body":
        return body, None
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        excerpt = body[:80].decode("utf-8", "replace").replace("\n", " ")
        raise RequestError(
            f'response = "{service.response}" expects JSON, but the answer is not JSON: {excerpt!r}',
            hint='use response = "body" if the server returns audio bytes',
        ) from None
    value = json_path(data, path)
    if not isinstance(value, str) or not value:
        raise RequestError(
            f"the answer has no string at {path!r}",
            hint=f"keys there: {_keys_hint(data)}",
        )
    if mode == "url":
        return None, urljoin(request_url, value)
    if value.startswith("data:"):
        value = value.partition(",")[2]
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), validate=False), None
    except (binascii.Error, ValueError) as exc:
        raise RequestError(f"the value at {path!r} is not base64 audio: {exc}") from None


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


def _keys_hint(data: Any) -> str:
    if isinstance(data, dict):
        return ", ".join(list(data)[:10]) or "(empty object)"
    return type(data).__name__


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
        return templates.render_header(expanded, variables)
    if "\r" in expanded or "\n" in expanded:
        raise TemplateError(
            f"header {name!r} holds a line break", hint="header values cannot hold line breaks"
        )
    return expanded


def _secrets(service: Service) -> list[str]:
    """Values to mask wherever they show: the API key, and env variables the headers read."""
    found = [api_key(service)]
    for value in [*service.headers.values(), service.api_key]:
        for match in ENV_REFERENCE.finditer(value or ""):
            found.append(os.environ.get(match[1] or match[2], ""))
    return [v for v in dict.fromkeys(found) if v]


def suggest_response(body: bytes) -> str | None:
    """For a JSON answer that holds audio, the `response` setting that reads it.

    Looks for base64 audio (or a data: URI) first, then an audio URL, at most a
    few levels deep: `json:audio`, `json:result.audio.data`, `url:audio_url`.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    from tts_tui.core.audio import sniff

    urls: list[str] = []

    def walk(node: Any, path: str, depth: int) -> str | None:
        if depth > 4:
            return None
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
        for key, value in items:
            here = f"{path}.{key}" if path else str(key)
            if isinstance(value, str):
                raw = value.partition(",")[2] if value.startswith("data:") else value
                if len(raw) >= 64:
                    try:
                        head = base64.b64decode(raw[:64] + "=" * (-len(raw[:64]) % 4))
                    except (binascii.Error, ValueError):
                        head = b""
                    if sniff(head + bytes(64)):
                        return f"json:{here}"
                hints = (".wav", ".mp3", ".ogg", ".opus", ".flac", "audio")
                if value.startswith(("http://", "https://", "/")) and any(
                    h in value.lower() or h in str(key).lower() for h in hints
                ):
                    urls.append(f"url:{here}")
            elif isinstance(value, (dict, list)):
                found = walk(value, here, depth + 1)
                if found:
                    return found
        return None

    return walk(data, "", 0) or (urls[0] if urls else None)
