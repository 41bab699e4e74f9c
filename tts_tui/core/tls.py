"""The HTTP client's TLS context, whose trust store loads at the first handshake.

httpx builds its context when the client is made, and reading the CA bundle
is most of that (~20 ms, several times more on a busy machine): a `say` to a
plain http:// server would pay it for nothing. `lazy_verify_context` gives
the context httpx would have built for `verify=True, trust_env=True` (the
same CA file or folder, hostname checks, required certificates, SSLKEYLOGFILE)
but loads the certificates only when a TLS connection is first wrapped.
"""

from __future__ import annotations

import os
import ssl
import sys
import threading
from typing import Any


class _LazyTrustContext(ssl.SSLContext):
    """An SSLContext that loads its verify locations before the first wrap."""

    _cafile: str | None
    _capath: str | None
    _loaded: bool
    _lock: threading.Lock

    def _load_trust(self) -> None:
        if self._loaded:
            return
        with self._lock:
            if not self._loaded:
                self.load_verify_locations(cafile=self._cafile, capath=self._capath)
                self._loaded = True

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:  # anyio and asyncio wrap BIOs
        self._load_trust()
        return super().wrap_bio(*args, **kwargs)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self._load_trust()
        return super().wrap_socket(*args, **kwargs)

    def get_ca_certs(self, binary_form: bool = False) -> Any:
        self._load_trust()
        return super().get_ca_certs(binary_form)

    def cert_store_stats(self) -> dict[str, int]:
        self._load_trust()
        return super().cert_store_stats()


def lazy_verify_context() -> ssl.SSLContext:
    """What `httpx.create_ssl_context(verify=True, trust_env=True)` returns,
    with the CA certificates read on first use instead of now:
    $SSL_CERT_FILE, else $SSL_CERT_DIR, else certifi's bundle."""
    cafile = capath = None
    if os.environ.get("SSL_CERT_FILE"):
        cafile = os.environ["SSL_CERT_FILE"]
    elif os.environ.get("SSL_CERT_DIR"):
        capath = os.environ["SSL_CERT_DIR"]
    else:
        import certifi

        cafile = certifi.where()
    # as ssl.create_default_context: TLS client, hostname checked, certificate required
    context = _LazyTrustContext(ssl.PROTOCOL_TLS_CLIENT)
    context._cafile, context._capath = cafile, capath
    context._loaded, context._lock = False, threading.Lock()
    keylog = os.environ.get("SSLKEYLOGFILE")
    if keylog and not sys.flags.ignore_environment:
        context.keylog_filename = keylog
    return context
