"""One request on the wire and what came back: the request as sent, the response's head, its body.

Requests go to httpcore's pools themselves (transport.py): the request is built here, Host first,
our headers, a caller's, the origin's cookies, a form's body; redirects are the Fetcher's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpcore
import httpx

from archiver.config import Settings
from archiver.fetching.body import Body, read_body
from archiver.fetching.failures import failure_of
from archiver.outcomes import Exchange, Failure

REDIRECT_CODES = {301, 302, 303, 307, 308}
HOP_BODY_LIMIT = 64 * 1024


@dataclass(eq=False, slots=True)
class Origin:
    """What one origin's requests go through: its connection pool (direct, or through a proxy) and cookies."""

    pool: httpcore.AsyncConnectionPool
    cookies: httpx.Cookies


@dataclass(frozen=True, slots=True)
class Wire:
    """How every request goes out and every body comes in: our headers, time-outs, limits, spool folder."""

    headers: list[tuple[bytes, bytes]]
    timeouts: dict[str, Any]
    settings: Settings
    tmp_dir: Path


async def send(
    wire: Wire, origin: Origin, url: str, headers: dict[str, str], fetched_at: datetime, form: dict[str, str] | None
) -> Answer | tuple[Failure, str]:
    """One request and its response's head and body; every network error becomes a Failure value."""
    try:
        method = "POST" if form is not None else "GET"
        try:
            request = build_request(wire, origin, method, url, headers, form)
        except ValueError as exc:  # a port out of range, a header value that cannot be sent
            return Failure.BAD_URL, f"cannot make a request of {url}: {exc}"
        response = await origin.pool.handle_async_request(request)
    except Exception as exc:
        return failure_of(exc)
    try:
        answered = Exchange(
            url=url,
            method=method,
            request_headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers),
            status=response.status,
            reason=_reason_of(response),
            http_version=response.extensions.get("http_version", b"HTTP/1.1").decode("ascii", "ignore"),
            headers=tuple((k.decode("latin-1"), v.decode("latin-1")) for k, v in response.headers),
            fetched_at=fetched_at,
            peer=_peer_of(response),
        )
        if answered.header("set-cookie") is not None:
            origin.cookies.extract_cookies(
                httpx.Response(response.status, headers=response.headers, request=httpx.Request(method, url))
            )
        if response.status in REDIRECT_CODES and answered.header("location"):
            small = b""
            async for chunk in response.aiter_stream():
                small += chunk
                if len(small) > HOP_BODY_LIMIT:
                    break
            return Answer(_with_body(answered, small[:HOP_BODY_LIMIT]), None)
        return Answer(answered, await read_body(response, answered, wire.settings, wire.tmp_dir))
    except Exception as exc:
        return failure_of(exc)
    finally:
        await response.aclose()


def build_request(
    wire: Wire, origin: Origin, method: str, url: str, extra: dict[str, str], form: dict[str, str] | None
) -> httpcore.Request:
    """The request as it goes on the wire (url is a URI: ASCII, punycode host, percent-encoded):
    Host first, then our headers, the extra ones, the site's cookies, a form's body."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port  # port: ValueError when out of range
    if port == 0:
        raise ValueError("port 0 is no port to connect to")
    netloc = parts.netloc.rpartition("@")[2]  # a URL's user:password is never sent as its Host
    headers = [(b"Host", netloc.encode("ascii"))]
    if extra:  # a caller's header replaces ours of the same name
        replaced = {name.lower().encode("ascii") for name in extra}
        headers += [(name, value) for name, value in wire.headers if name.lower() not in replaced]
        headers += [(name.encode("ascii"), value.encode("latin-1")) for name, value in extra.items()]
    else:
        headers += wire.headers
    if origin.cookies:
        jar = httpx.Request(method, url)
        origin.cookies.set_cookie_header(jar)
        cookie = jar.headers.get("cookie")
        if cookie:
            headers.append((b"Cookie", cookie.encode("latin-1")))
    content = b""
    if form is not None:
        content = urlencode(form).encode("ascii")
        headers += [
            (b"Content-Type", b"application/x-www-form-urlencoded"),
            (b"Content-Length", str(len(content)).encode("ascii")),
        ]
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return httpcore.Request(
        method,
        httpcore.URL(scheme=parts.scheme, host=host, port=port, target=target),
        headers=headers,
        content=content,
        extensions={"timeout": wire.timeouts},
    )


@dataclass(frozen=True, slots=True)
class Answer:
    exchange: Exchange
    body: Body | None  # None for a redirect, whose small body is in the exchange


def _with_body(exchange: Exchange, body: bytes) -> Exchange:
    return Exchange(
        exchange.url,
        exchange.method,
        exchange.request_headers,
        exchange.status,
        exchange.reason,
        exchange.http_version,
        exchange.headers,
        exchange.fetched_at,
        exchange.peer,
        body,
    )


def _reason_of(response: httpcore.Response) -> str:
    """The status line's reason phrase, or the standard one for its code (as httpx reads it)."""
    phrase = response.extensions.get("reason_phrase")
    if phrase is None:
        return httpx.codes.get_reason_phrase(response.status)
    return str(phrase.decode("ascii", "ignore"))


def _peer_of(response: httpcore.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    if stream is None:
        return None
    try:
        address = stream.get_extra_info("server_addr")
    except Exception:
        return None
    return str(address[0]) if address else None
