"""Fetch one URL into a Fetch: requests and redirects, per-origin connection pools and cookies.

What the request goes through is transport.py's; the body's reading, decoding and spooling is
body.py's; the one map of errors to failures is failures.py's. Never raises for a network failure.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import httpx

from archiver.config import Settings
from archiver.fetching import poolsync
from archiver.fetching.body import MIN_SPILL, SPILL, spill_threshold
from archiver.fetching.exchange import REDIRECT_CODES, Answer, Origin, Wire, send
from archiver.fetching.guard import Resolver, system_resolve
from archiver.fetching.netguard import refusal
from archiver.fetching.transport import connection_pool
from archiver.fetching.trust import ssl_context
from archiver.outcomes import Exchange, Failure, Fetch
from archiver.reading.refang import to_uri

__all__ = ["MIN_SPILL", "SPILL", "Fetcher", "Resolver", "descriptors_needed", "spill_threshold", "ssl_context"]

_MAX_CLIENTS = 512  # origins with an open pool (and its keep-alive connections) at once


def descriptors_needed(settings: Settings) -> int:
    """Open files a Fetcher may hold at once: a socket for each fetch in flight, and the kept-alive
    connections of every origin with an open pool."""
    return settings.concurrency + _MAX_CLIENTS * max(2, settings.per_host)


_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port: what a credential is bound to."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def _header_text(value: str) -> str:
    """A header value as sent: httpx gives latin-1; servers send UTF-8 (as browsers read a Location)."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


class Fetcher:
    """An HTTP client that fetches URLs politely-agnostic (politeness is the caller's) and safely."""

    def __init__(
        self,
        settings: Settings,
        tmp_dir: Path,
        *,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or (lambda: datetime.now(UTC))  # the run's clock: one time for every record
        self.tmp_dir = tmp_dir
        self._verify = verify or ssl_context()
        self._resolve = resolver or system_resolve
        # One client per origin: httpx's pool scans all of its connections on every request, so a
        # single pool for thousands of links over many hosts costs CPU quadratic in the hosts.
        self._clients: OrderedDict[str, Origin] = OrderedDict()
        self._active: Counter[str] = Counter()
        headers = [
            (name.encode("ascii"), value.encode("latin-1"))
            for name, value in (
                ("User-Agent", settings.user_agent),
                ("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,application/pdf,*/*;q=0.8"),
                ("Accept-Language", "en,ru;q=0.9,uk;q=0.8,be;q=0.7,*;q=0.5"),
                # Not br: warcio (and the replay tools built on it) cannot decode brotli records
                # beside Google's brotli package (warcio#73); wget and Heritrix do not ask for it either.
                ("Accept-Encoding", "gzip, deflate"),
                ("Connection", "keep-alive"),
            )
        ]
        timeouts = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout, pool=None).as_dict()
        self._wire = Wire(headers, timeouts, settings, tmp_dir)
        poolsync.install()  # httpcore's locks and shields on asyncio's own (poolsync.py names the upstream issue)

    def _new_origin(self, key: str) -> Origin:
        settings = self.settings
        pool = connection_pool(
            key,
            proxy=settings.proxy,
            verify=self._verify,
            keepalive=max(2, settings.per_host),
            resolve=self._resolve,
            allow_private=settings.allow_private,
        )
        return Origin(pool, httpx.Cookies())

    async def _origin_for(self, url: str) -> tuple[str, Origin]:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc.lower()}"
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self._new_origin(key)
            while len(self._clients) > _MAX_CLIENTS:
                idle = next((k for k in self._clients if self._active[k] == 0 and k != key), None)
                if idle is None:
                    break
                await self._clients.pop(idle).pool.aclose()
        else:
            self._clients.move_to_end(key)
        return key, client

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for origin in self._clients.values():
            await origin.pool.aclose()
        self._clients.clear()

    async def capture(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None, timeout: float | None = None
    ) -> Fetch:
        """A capture of a page for a link's check (the Capturer seam): a plain HTTP fetch."""
        return await self.fetch(url, etag=etag, last_modified=last_modified, timeout=timeout)

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Fetch:
        """GET a URL (POST a form), following and recording redirects; never raises for a network failure.

        The URL goes on the wire (and into the WARC records) as an RFC 3986 URI: punycode host,
        percent-encoded path and query; the Fetch keeps the URL as given. timeout: this fetch's
        share of its link's budget (at most the total time-out).
        """
        started = self.clock()
        clock = time.monotonic()
        hops: list[Exchange] = []
        limit = min(self.settings.total_timeout, timeout) if timeout is not None else self.settings.total_timeout
        first, why = to_uri(url)
        if first is None:
            return self._failed(url, url, hops, started, clock, Failure.BAD_URL, why)
        try:
            async with asyncio.timeout(max(0.0, limit)):
                return await self._follow(url, first, started, clock, hops, etag, last_modified, form, headers or {})
        except TimeoutError:
            return Fetch(
                url,
                hops[-1].url if hops else first,
                tuple(hops),
                started_at=started,
                elapsed=time.monotonic() - clock,
                failure=Failure.TIMEOUT,
                detail=f"no complete answer within {limit:g} s",
            )

    async def _follow(
        self,
        url: str,
        first: str,
        started: datetime,
        clock: float,
        hops: list[Exchange],
        etag: str | None,
        modified: str | None,
        form: dict[str, str] | None,
        extra: dict[str, str],
    ) -> Fetch:
        current = first
        seen = {first}
        while True:
            failed = self._precheck(current)
            if failed is None:
                initial = not hops
                result = await self._get(
                    current, etag if initial else None, modified if initial else None, form if initial else None, extra
                )
            else:
                result = failed
            if isinstance(result, tuple):
                return self._failed(url, current, hops, started, clock, *result)
            exchange, body = result.exchange, result.body
            location = exchange.header("location")
            if exchange.status in REDIRECT_CODES and location:
                hops.append(exchange)
                following, why = to_uri(urljoin(current, _header_text(location).strip()))
                if following is None:
                    return self._failed(url, current, hops, started, clock, Failure.BAD_URL, f"redirect: {why}")
                if urlsplit(following).scheme not in ("http", "https"):
                    return self._failed(
                        url, current, hops, started, clock, Failure.BAD_URL, f"redirect to a non-web URL: {following}"
                    )
                if following in seen:
                    return self._failed(
                        url, current, hops, started, clock, Failure.REDIRECT_LOOP, f"redirect loop back to {following}"
                    )
                if len(hops) > self.settings.max_redirects:
                    return self._failed(
                        url,
                        current,
                        hops,
                        started,
                        clock,
                        Failure.TOO_MANY_REDIRECTS,
                        f"more than {self.settings.max_redirects} redirects",
                    )
                seen.add(following)
                if _origin(following) != _origin(current):
                    # Credentials were given for the first site, never for wherever it redirects (as curl and
                    # browsers): a hop to another origin carries none of them.
                    extra = {k: v for k, v in extra.items() if k.lower() not in _CREDENTIAL_HEADERS}
                current = following
                continue
            assert body is not None
            return Fetch(
                url,
                current,
                tuple(hops),
                exchange,
                body.raw_path,
                body.decoded_path,
                body.size,
                body.decoded_size,
                body.payload_digest,
                body.content_digest,
                started,
                time.monotonic() - clock,
                body.failure,
                body.detail,
                body.raw_data,
                body.decoded_data,
            )

    @staticmethod
    def _failed(
        url: str, current: str, hops: list[Exchange], started: datetime, clock: float, failure: Failure, detail: str
    ) -> Fetch:
        return Fetch(
            url,
            current,
            tuple(hops),
            started_at=started,
            elapsed=time.monotonic() - clock,
            failure=failure,
            detail=detail,
        )

    def _precheck(self, url: str) -> tuple[Failure, str] | None:
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError as exc:
            return Failure.BAD_URL, f"cannot parse URL: {exc}"
        if parts.scheme not in ("http", "https") or not host:
            return Failure.BAD_URL, f"not an http(s) URL: {url}"
        if not self.settings.allow_private:
            why = refusal(host)
            if why:
                return Failure.PRIVATE, why
        return None

    async def _get(
        self, url: str, etag: str | None, modified: str | None, form: dict[str, str] | None, extra: dict[str, str]
    ) -> Answer | tuple[Failure, str]:
        headers = dict(extra)
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        fetched_at = self.clock()
        key, origin = await self._origin_for(url)
        self._active[key] += 1
        try:
            return await send(self._wire, origin, url, headers, fetched_at, form)
        finally:
            self._active[key] -= 1
