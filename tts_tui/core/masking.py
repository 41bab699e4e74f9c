"""Secrets never leave the process: headers and keys named like secrets are masked."""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "••••••"

_SECRET_NAME = re.compile(r"auth|key|token|secret|password|passwd|cookie", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """True for `Authorization`, `X-Api-Key`, `api_key`, `token`, `Cookie`..."""
    return bool(_SECRET_NAME.search(name))


def mask_value(value: str) -> str:
    """Keep an auth scheme ("Bearer") so the shape stays readable; hide the rest."""
    scheme, sep, _rest = value.partition(" ")
    if sep and scheme.lower() in {"bearer", "basic", "token", "digest"}:
        return f"{scheme} {MASK}"
    return MASK


def mask_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: (mask_value(v) if is_secret_name(k) else v) for k, v in headers.items()}


def mask_url(url: str) -> str:
    """Mask query parameters named like secrets (`?api_key=...`)."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(is_secret_name(k) for k, _ in pairs):
        return url
    masked = [(k, MASK if is_secret_name(k) else v) for k, v in pairs]
    return urlunsplit(parts._replace(query=urlencode(masked, safe=MASK)))


def mask_text(text: str, secrets: list[str]) -> str:
    """Replace every literal secret value (e.g. an API key echoed in a body)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text
