"""The one map from httpcore, ssl and OS errors to a Failure."""

from __future__ import annotations

import ssl

import httpcore
import httpx

from archiver.fetching.guard import Refused
from archiver.outcomes import Failure


def failure_of(exc: BaseException) -> tuple[Failure, str]:
    """Map httpcore, ssl and OS errors to a Failure: the one place that knows them."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for item in chain:
        if isinstance(item, Refused):
            return item.failure, str(item)
    text = str(exc) or type(exc).__name__
    if any(isinstance(item, ssl.SSLError | ssl.CertificateError) for item in chain) or "SSL" in text:
        return Failure.TLS, text
    # Requests go to httpcore itself: its exceptions (httpx's URL model is met only by the cookie jar).
    if isinstance(exc, httpcore.TimeoutException | TimeoutError):
        return Failure.TIMEOUT, text or "timed out"
    if isinstance(exc, httpcore.UnsupportedProtocol | httpx.InvalidURL):
        return Failure.BAD_URL, text
    if isinstance(exc, httpcore.ConnectError | httpcore.ProxyError | ConnectionRefusedError):
        return Failure.CONNECT, text
    if isinstance(exc, httpcore.RemoteProtocolError):
        if "peer closed" in text.lower() or "incomplete" in text.lower():
            return Failure.RESET, text
        return Failure.PROTOCOL, text
    if isinstance(exc, httpcore.ReadError | httpcore.WriteError | ConnectionError):
        return Failure.RESET, text
    if isinstance(exc, httpcore.NetworkError | httpcore.ProtocolError | OSError):
        return Failure.CONNECT, text
    raise exc
