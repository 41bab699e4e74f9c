"""Answers kept on disk, for commands that may reuse them (compare, batch).

The key is a SHA-256 over every byte of the request as it would be sent: the
method, the URL, every header (names lower-cased, sorted) and the body. Two
requests share an answer only when the server could not tell them apart. The
request itself is never stored: an API key, a token in the URL or a secret
header only reaches the disk through that hash. What is stored is the
answer: its status, Content-Type, headers and body.

`CachingClient` wraps an HttpClient with the same `send` interface: on a hit
the answer is replayed through the same callbacks (so it is read, decoded and
played like a fresh one) and the exchange notes that it came from the cache;
on a miss the request goes out and a complete 2xx answer is stored. `bench`
never uses it: its figures must be the server's.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tts_tui.core.client import HttpClient
    from tts_tui.core.exchange import Exchange, PreparedRequest

CACHED_NOTE = "cached answer: replayed from the disk cache, no request was sent"
_PIECE = 64 * 1024  # replayed in pieces, as a download arrives


def default_dir() -> Path:
    """`$XDG_CACHE_HOME/tts-tui/answers`, else `~/.cache/tts-tui/answers`."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tts-tui" / "answers"


def request_key(request: PreparedRequest) -> str:
    """The hex SHA-256 of everything the request sends."""
    digest = hashlib.sha256()
    for part in (request.method.upper(), request.url):
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    for name, value in sorted((k.lower(), v) for k, v in request.headers.items()):
        digest.update(f"{name}:{value}".encode("utf-8", "surrogateescape") + b"\0")
    digest.update(request.body or b"")
    return digest.hexdigest()


@dataclass
class CachedAnswer:
    status: int
    content_type: str
    headers: dict[str, str]
    body: bytes


class AnswerCache:
    """A folder of answers, one file each: a JSON line, then the body."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_dir()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / key

    def get(self, request: PreparedRequest) -> CachedAnswer | None:
        """The stored answer to `request`, or None (a damaged entry counts as none)."""
        try:
            data = self._path(request_key(request)).read_bytes()
            head, _, body = data.partition(b"\n")
            meta = json.loads(head)
            return CachedAnswer(int(meta["status"]), str(meta["content_type"]), dict(meta["headers"]), body)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, request: PreparedRequest, exchange: Exchange) -> None:
        """Keep `exchange`'s answer (written atomically; a failure to write is
        ignored: the cache only saves time)."""
        path = self._path(request_key(request))
        meta = {"status": exchange.status, "content_type": exchange.content_type,
                "headers": exchange.response_headers, "stored_at": time.time()}
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as handle:
                handle.write(json.dumps(meta).encode() + b"\n" + exchange.body)
            os.replace(tmp, path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()


class CachingClient:
    """An HttpClient that answers from `cache` when it can (see the module doc)."""

    def __init__(self, client: HttpClient, cache: AnswerCache) -> None:
        self.client, self.cache = client, cache
        self.hits = self.misses = 0

    def __getattr__(self, name: str) -> Any:  # aclose, warm_up, warm_network
        return getattr(self.client, name)

    async def send(self, exchange: Exchange, **options: Any) -> Exchange:
        answer = self.cache.get(exchange.request)
        if answer is None:
            self.misses += 1
            await self.client.send(exchange, **options)
            if exchange.error is None and exchange.status is not None and 200 <= exchange.status < 300 \
                    and not exchange.truncated and exchange.body:
                self.cache.put(exchange.request, exchange)
            return exchange
        self.hits += 1
        return self._replay(exchange, answer, options.get("on_headers"), options.get("on_chunk"))

    def _replay(self, ex: Exchange, answer: CachedAnswer, on_headers: Any, on_chunk: Any) -> Exchange:
        ex.t0 = start = time.perf_counter()
        ex.connect_ms = 0.0
        ex.status, ex.content_type, ex.response_headers = answer.status, answer.content_type, answer.headers
        ex.ttfb_ms = (time.perf_counter() - start) * 1000.0
        ex.notes.append(CACHED_NOTE)
        if on_headers is not None:
            on_headers(ex)
        for at in range(0, len(answer.body), _PIECE):
            if on_chunk is not None:
                on_chunk(answer.body[at:at + _PIECE])
        ex.body, ex.bytes = answer.body, len(answer.body)
        ex.total_ms = (time.perf_counter() - start) * 1000.0
        return ex
