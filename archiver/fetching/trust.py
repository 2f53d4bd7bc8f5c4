"""The trusted CAs for TLS: SSL_CERT_FILE / SSL_CERT_DIR, else certifi's bundle, loaded lazily."""

from __future__ import annotations

import os
import ssl
import sys
from typing import Any

from archiver.errors import ConfigError


class _TrustOnFirstHandshake(ssl.SSLContext):
    """A client context that loads its trusted CAs at its first TLS handshake, not when the run starts.

    Loading certifi's bundle takes tens of milliseconds, on the way to the night's first request, and a
    night of plain-HTTP sites never needs it. asyncio (and any socket wrapper) makes every TLS session with
    wrap_bio or wrap_socket: the CAs are in place before either returns.
    """

    cafile: str | None = None
    capath: str | None = None
    _loaded = False

    def _load_trust(self) -> None:
        if not self._loaded:
            self.load_verify_locations(cafile=self.cafile, capath=self.capath)
            self._loaded = True

    def wrap_bio(self, *args: Any, **kwargs: Any) -> ssl.SSLObject:
        self._load_trust()
        return super().wrap_bio(*args, **kwargs)

    def wrap_socket(self, *args: Any, **kwargs: Any) -> ssl.SSLSocket:
        self._load_trust()
        return super().wrap_socket(*args, **kwargs)


def ssl_context() -> ssl.SSLContext:
    """The trusted CAs: SSL_CERT_FILE / SSL_CERT_DIR when set, else certifi's bundle (as httpx does),
    loaded at the first handshake; otherwise what ssl.create_default_context makes. A CA file or
    folder that is not there is the run's ConfigError, now; one that holds no certificate fails
    the TLS sites (their failure says why)."""
    context = _TrustOnFirstHandshake(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names
    cafile, capath = os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR")
    if cafile or capath:
        for name, value, there, noun in (
            ("SSL_CERT_FILE", cafile, os.path.isfile, "file"),
            ("SSL_CERT_DIR", capath, os.path.isdir, "directory"),
        ):
            if value and not there(value):
                raise ConfigError(f"cannot load the trusted CAs: {name} {value}: no such {noun}")
        context.cafile, context.capath = cafile or None, capath or None
    else:
        import certifi

        context.cafile = certifi.where()
    keylog = os.environ.get("SSLKEYLOGFILE")
    if keylog and not sys.flags.ignore_environment:
        context.keylog_filename = keylog  # as create_default_context does
    return context
