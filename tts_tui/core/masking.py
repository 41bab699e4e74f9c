"""Secrets never leave the process: they are masked by value, wherever they
could show, and by name where a value is not known (a header called
`Authorization`, a `?api_key=` query).

A secret can show in other spellings than its own: percent-encoded in a URL,
JSON-escaped in a body, `repr`-escaped in an error (a key that ends in `\\r`
from a Windows key file), base64 in a Basic header. `mask_text` replaces
every one of them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

MASK = "••••••"
MIN_SECRET = 3  # shorter values would mask ordinary text

_SECRET_NAME = re.compile(r"auth|key|token|secret|password|passwd|pwd|cookie|credential|signature", re.IGNORECASE)
_SCHEMES = {"bearer", "basic", "token", "digest", "apikey", "key"}
_USERINFO = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/?#@]*)@")
_QUERY_PAIR = re.compile(r"(?P<sep>[?&;])(?P<name>[^=&#;]*)=(?P<value>[^&#;]*)")


def is_secret_name(name: str) -> bool:
    """True for `Authorization`, `X-Api-Key`, `api_key`, `token`, `Cookie`..."""
    return bool(_SECRET_NAME.search(name))


def mask_value(value: str) -> str:
    """Keep an auth scheme ("Bearer") so the shape stays readable; hide the rest."""
    scheme, sep, _rest = value.partition(" ")
    if sep and scheme.lower() in _SCHEMES:
        return f"{scheme} {MASK}"
    return MASK


def credential(value: str) -> str:
    """A header value without its auth scheme: "Bearer sk-1" -> "sk-1"."""
    scheme, sep, rest = value.strip().partition(" ")
    return rest.strip() if sep and scheme.lower() in _SCHEMES else value


def mask_headers(headers: Mapping[str, str], secrets: Iterable[str] = ()) -> dict[str, str]:
    """Headers named like secrets masked whole; any secret value in the others masked too."""
    secrets = list(secrets)
    return {k: (mask_value(v) if is_secret_name(k) else mask_text(v, secrets)) for k, v in headers.items()}


def url_secrets(url: str) -> list[str]:
    """The secrets a URL carries: its userinfo, and values of query
    parameters named like secrets. Works on URLs no parser accepts."""
    found: list[str] = []
    userinfo = _USERINFO.match(url)
    if userinfo:
        user, _, password = userinfo["userinfo"].partition(":")
        found = [password, userinfo["userinfo"]] if password else [user]
    for pair in _QUERY_PAIR.finditer(url):
        if is_secret_name(pair["name"]) and pair["value"]:
            found.append(pair["value"])
    return [v for v in found if v]


def mask_url(url: str, secrets: Iterable[str] = ()) -> str:
    """The URL with its userinfo password, secret-named query values and any
    secret value masked; the mask stays readable (not percent-encoded)."""
    def userinfo(match: re.Match[str]) -> str:
        user, colon, _password = match["userinfo"].partition(":")
        return f"{match['scheme']}{user}:{MASK}@" if colon else f"{match['scheme']}{MASK}@"

    def pair(match: re.Match[str]) -> str:
        if is_secret_name(match["name"]) and match["value"]:
            return f"{match['sep']}{match['name']}={MASK}"
        return match[0]

    url = _USERINFO.sub(userinfo, url)  # anchored at the start: one match at most
    return mask_text(_QUERY_PAIR.sub(pair, url), secrets)


def spellings(secret: str) -> set[str]:
    """Every way `secret` may be written where it shows."""
    forms = {secret, secret.strip(), repr(secret)[1:-1], json.dumps(secret)[1:-1],
             quote(secret, safe=""), quote_plus(secret), quote(secret)}
    import base64  # here: a request with no secret (most of `say`'s) needs none

    try:
        forms.add(base64.b64encode(secret.encode()).decode())
    except UnicodeEncodeError:
        pass
    return {f for f in forms if len(f) >= MIN_SECRET}


def mask_text(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value, in every spelling, with the mask. Longer
    values go first, so a secret inside another is never half-masked."""
    if not text:
        return text
    forms: set[str] = set()
    for secret in secrets:
        if secret and len(secret.strip()) >= MIN_SECRET:
            forms |= spellings(secret)
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text
