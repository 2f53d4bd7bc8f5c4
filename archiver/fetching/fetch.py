"""The only network code: fetch one URL with httpx into a Fetch (raw bytes on disk, headers, redirects, failure)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import ssl
import sys
import tempfile
import time
import zlib
from collections import Counter, OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import urlencode, urljoin, urlsplit

import brotlicffi as brotli  # not Google's brotli: warcio cannot read br records beside it (warcio#73)
import httpcore
import httpx

from archiver.config import Settings
from archiver.errors import ArchiveError, ConfigError
from archiver.fetching import poolsync
from archiver.fetching.netguard import is_local_name, is_public, parse_address, refusal
from archiver.fetching.streams import AsyncioBackend
from archiver.outcomes import Exchange, Failure, Fetch, warc_digest
from archiver.reading.refang import to_uri

Resolver = Callable[[str, int], Awaitable[list[str]]]

REDIRECT_CODES = {301, 302, 303, 307, 308}
_HOP_BODY_LIMIT = 64 * 1024
_MAX_CLIENTS = 512  # origins with an open client (and its keep-alive connections) at once
SPILL = 2 * 1024 * 1024  # bodies up to this stay in memory: a temporary file costs more than the page
# What the fetches in flight may hold in memory together (32 fetches of SPILL bytes): with more fetches,
# each body goes to a temporary file sooner (at 128, past 512 KB; news pages are mostly 50-300 KB).
BODIES_IN_MEMORY = 64 * 1024 * 1024
MIN_SPILL = 256 * 1024


def spill_threshold(concurrency: int) -> int:
    """How large a body may grow in memory before it goes to a temporary file, for this many fetches."""
    return max(MIN_SPILL, min(SPILL, BODIES_IN_MEMORY // max(1, concurrency)))


def descriptors_needed(settings: Settings) -> int:
    """Open files a Fetcher may hold at once: a socket for each fetch in flight, and the kept-alive
    connections of every origin with an open client."""
    return settings.concurrency + _MAX_CLIENTS * max(2, settings.per_host)


class _Refused(httpcore.ConnectError):
    """A connection we would not make, or a name that did not resolve (carries its Failure)."""

    def __init__(self, failure: Failure, detail: str) -> None:
        super().__init__(detail)
        self.failure = failure


class _TooLarge(Exception):
    pass


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses a name resolves to, by the system resolver."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolve names ourselves, refuse non-public addresses, then connect to the checked address.

    Checking at connect time (not before the request) is what stops DNS rebinding:
    the address we check is the address we connect to.
    """

    def __init__(self, inner: httpcore.AsyncNetworkBackend, resolve: Resolver, allow_private: bool) -> None:
        self._inner = inner
        self._resolve = resolve
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        literal = parse_address(host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            if is_local_name(host) and not self._allow_private:
                raise _Refused(Failure.PRIVATE, f"{host} is a local name")
            try:
                addresses = await asyncio.wait_for(self._resolve(host, port), timeout)
            except socket.gaierror as exc:
                if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
                    raise _Refused(Failure.DNS, f"no such domain: {host} (NXDOMAIN)") from exc
                raise _Refused(Failure.DNS_TEMPORARY, f"cannot resolve {host}: {exc.strerror}") from exc
            except TimeoutError as exc:
                raise _Refused(Failure.DNS_TEMPORARY, f"resolving {host} timed out") from exc
        if not self._allow_private:
            for address in addresses:
                parsed = parse_address(address)
                if parsed is None or not is_public(parsed):
                    raise _Refused(Failure.PRIVATE, f"{host} resolves to a non-public address ({address})")
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or _Refused(Failure.DNS, f"no address for {host}")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise _Refused(Failure.PRIVATE, "unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class _TrustOnFirstHandshake(ssl.SSLContext):
    """A client context that loads its trusted CAs at its first TLS handshake, not when the run starts.

    Loading certifi's bundle takes 20-40 ms, on the way to the night's first request, and a night of
    plain-HTTP sites never needs it. asyncio (and any socket wrapper) makes every TLS session with
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


_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port: what a credential is bound to."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


# As curl: more codings than this on one response is an attack or a broken server, never a page.
MAX_CODINGS = 5


class _Stacked(ValueError):
    """More Content-Encoding layers than MAX_CODINGS."""


class _Decoder:
    """Undo Content-Encoding incrementally, refusing to produce more than a cap (no bomb gets through)."""

    def __init__(self, encodings: Sequence[str], limit: int) -> None:
        self._steps: list[Any] = []
        names = [e.strip().lower() for e in encodings if e.strip()]
        if len(names) > MAX_CODINGS:
            # Each coding is a decompressor with its own window: thousands of them fill the memory.
            raise _Stacked(f"content encoding broken: {len(names)} content codings stacked (at most {MAX_CODINGS})")
        for name in reversed(names):
            if name in ("gzip", "x-gzip"):
                self._steps.append(("zlib", zlib.decompressobj(16 + zlib.MAX_WBITS)))
            elif name == "deflate":
                self._steps.append(("deflate", None))
            elif name == "br":
                self._steps.append(("br", brotli.Decompressor()))
            elif name in ("identity", ""):
                continue
            else:
                raise ValueError(f"unsupported Content-Encoding {name!r}")
        self._limit = limit
        self.produced = 0
        self.identity = not self._steps

    def _run(self, index: int, data: bytes) -> bytes:
        kind, state = self._steps[index]
        room = self._limit - self.produced + 1
        if kind == "deflate" and state is None:
            # "deflate" is zlib-wrapped by the standard and raw by many servers.
            state = zlib.decompressobj(zlib.MAX_WBITS if data[:1] == b"\x78" else -zlib.MAX_WBITS)
            self._steps[index] = (kind, state)
        if kind in ("zlib", "deflate"):
            out = state.decompress(data, room)
            if state.unconsumed_tail:
                raise _TooLarge("decoded content over the limit")
            return bytes(out)
        out = state.process(data, output_buffer_limit=room)
        if not state.can_accept_more_data():
            raise _TooLarge("decoded content over the limit")
        return bytes(out)

    def decode(self, data: bytes) -> bytes:
        """The decoded bytes of the next chunk; _TooLarge past the cap."""
        for index in range(len(self._steps)):
            data = self._run(index, data)
        self.produced += len(data)
        if self.produced > self._limit:
            raise _TooLarge("decoded content over the limit")
        return data


def _failure_of(exc: BaseException) -> tuple[Failure, str]:
    """Map httpcore, ssl and OS errors to a Failure: the one place that knows them."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for item in chain:
        if isinstance(item, _Refused):
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


def _header_text(value: str) -> str:
    """A header value as sent: httpx gives latin-1; servers send UTF-8 (as browsers read a Location)."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


@dataclass(eq=False, slots=True)
class _Origin:
    """What one origin's requests go through: its transport's connection pool (direct, or through
    the proxy), its cookies, and the client that chose and owns the transport."""

    client: httpx.AsyncClient
    pool: httpcore.AsyncConnectionPool  # the transport's pool (direct, or through a proxy)
    cookies: httpx.Cookies


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
        self._clients: OrderedDict[str, _Origin] = OrderedDict()
        self._active: Counter[str] = Counter()
        self._headers = [
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
        self._timeouts = httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout, pool=None).as_dict()
        poolsync.install()  # httpcore's locks and shields on asyncio's own (anyio's cost a tenth of a fetch)

    def _new_origin(self, key: str) -> _Origin:
        settings = self.settings
        client = httpx.AsyncClient(
            verify=self._verify,
            proxy=settings.proxy,
            trust_env=settings.proxy is None,  # HTTP(S)_PROXY, ALL_PROXY, NO_PROXY, as curl reads them
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=max(2, settings.per_host)),
        )
        # The default transport makes the direct (unproxied) connections: swap its network
        # backend for one that checks every address it connects to. Through a proxy, the
        # proxy resolves names, so only literal addresses can be checked (in fetch()).
        pool = getattr(client._transport, "_pool", None)
        if not isinstance(pool, httpcore.AsyncConnectionPool) or not hasattr(pool, "_network_backend"):
            raise RuntimeError("httpx's transport layout changed: cannot guard connections")
        pool._network_backend = GuardedBackend(AsyncioBackend(), self._resolve, settings.allow_private)
        # Requests go to the chosen transport's httpcore pool itself, not through client.send nor the
        # transport's wrapper: httpx's layers (URL parsing and validation, request and header models,
        # auth and redirect hooks, exception mapping, response wrapping) cost a fifth of the run's own
        # CPU a link, and our URLs are URIs already, our redirects our own. The client still chooses
        # the transport (the proxy from the environment, NO_PROXY) and closes them.
        choose = getattr(client, "_transport_for_url", None)
        chosen = getattr(choose(httpx.URL(key)), "_pool", None) if choose is not None else None
        if not isinstance(chosen, httpcore.AsyncConnectionPool):
            raise RuntimeError("httpx's client layout changed: cannot choose a transport")
        return _Origin(client, chosen, httpx.Cookies())

    async def _origin_for(self, url: str) -> tuple[str, _Origin]:
        parts = urlsplit(url)
        key = f"{parts.scheme}://{parts.netloc.lower()}"
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self._new_origin(key)
            while len(self._clients) > _MAX_CLIENTS:
                idle = next((k for k in self._clients if self._active[k] == 0 and k != key), None)
                if idle is None:
                    break
                await self._clients.pop(idle).client.aclose()
        else:
            self._clients.move_to_end(key)
        return key, client

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for origin in self._clients.values():
            await origin.client.aclose()
        self._clients.clear()

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
    ) -> _Answer | tuple[Failure, str]:
        headers = dict(extra)
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        fetched_at = self.clock()
        key, origin = await self._origin_for(url)
        self._active[key] += 1
        try:
            return await self._exchange(origin, url, headers, fetched_at, form)
        finally:
            self._active[key] -= 1

    async def _exchange(
        self,
        origin: _Origin,
        url: str,
        headers: dict[str, str],
        fetched_at: datetime,
        form: dict[str, str] | None = None,
    ) -> _Answer | tuple[Failure, str]:
        # Every network error becomes a Failure value, here and in _read_body.
        try:
            method = "POST" if form is not None else "GET"
            try:
                request = self._request(origin, method, url, headers, form)
            except ValueError as exc:  # a port out of range, a header value that cannot be sent
                return Failure.BAD_URL, f"cannot make a request of {url}: {exc}"
            response = await origin.pool.handle_async_request(request)
        except Exception as exc:
            return _failure_of(exc)
        try:
            exchange = Exchange(
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
            if exchange.header("set-cookie") is not None:
                origin.cookies.extract_cookies(
                    httpx.Response(response.status, headers=response.headers, request=httpx.Request(method, url))
                )
            if response.status in REDIRECT_CODES and exchange.header("location"):
                small = b""
                async for chunk in response.aiter_stream():
                    small += chunk
                    if len(small) > _HOP_BODY_LIMIT:
                        break
                return _Answer(_with_body(exchange, small[:_HOP_BODY_LIMIT]), None)
            return _Answer(exchange, await self._read_body(response, exchange))
        except Exception as exc:
            return _failure_of(exc)
        finally:
            await response.aclose()

    def _request(
        self, origin: _Origin, method: str, url: str, extra: dict[str, str], form: dict[str, str] | None
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
            headers += [(name, value) for name, value in self._headers if name.lower() not in replaced]
            headers += [(name.encode("ascii"), value.encode("latin-1")) for name, value in extra.items()]
        else:
            headers += self._headers
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
            extensions={"timeout": self._timeouts},
        )

    async def _read_body(self, response: httpcore.Response, exchange: Exchange) -> _Body:
        limit = self.settings.max_body
        declared = (exchange.header("content-length") or "").strip()
        if declared.isdigit() and int(declared) > limit:
            return _Body(failure=Failure.TOO_LARGE, detail=f"Content-Length {declared} over the {limit}-byte limit")
        # Content-Encoding may come in several header lines: together they are one list (RFC 9110 5.3).
        encodings = ",".join(v for k, v in exchange.headers if k.lower() == "content-encoding").split(",")
        decoder: _Decoder | None
        detail = ""
        stacked = False
        try:
            decoder = _Decoder(encodings, self.settings.max_decoded)
        except _Stacked as exc:
            decoder, detail, stacked = None, str(exc), True
        except ValueError as exc:
            decoder, detail = None, str(exc)
        spill = spill_threshold(self.settings.concurrency)
        raw = _Spool(self.tmp_dir, "body-", spill)
        # Without a Content-Encoding the decoded body is the raw one: one file, not two.
        decoded = raw if decoder is not None and decoder.identity else _Spool(self.tmp_dir, "decoded-", spill)
        sha1, sha256 = hashlib.sha1(), hashlib.sha256()
        size = 0
        failure: Failure | None = None
        try:
            async for chunk in response.aiter_stream():
                size += len(chunk)
                if size > limit:
                    raise _TooLarge(f"body over the {limit}-byte limit")
                raw.write(chunk)
                sha1.update(chunk)
                if decoder is not None:
                    data = decoder.decode(chunk)
                    sha256.update(data)
                    if decoded is not raw:
                        decoded.write(data)
        except _TooLarge as exc:
            failure, detail = Failure.TOO_LARGE, str(exc)
        except (zlib.error, brotli.error) as exc:
            failure = Failure.BAD_ENCODING
            detail = f"content encoding broken: cannot decode the {','.join(e.strip() for e in encodings)} body ({exc})"
        except Exception as exc:
            failure, detail = _failure_of(exc)
        except BaseException:  # cancelled (the total time-out): leave no temporary file behind
            raw.discard()
            decoded.discard()
            raise
        finally:
            raw.close()
            decoded.close()
        if stacked and failure is None:
            failure = Failure.BAD_ENCODING
        if failure is Failure.BAD_ENCODING:
            # Not a capture of the page, but evidence of what the server sent: the raw bytes are kept.
            if decoded is not raw:
                decoded.discard()
            return _Body(
                raw_path=raw.path,
                raw_data=raw.data,
                size=size,
                payload_digest=warc_digest(sha1),
                failure=failure,
                detail=detail,
            )
        if failure is not None:
            raw.discard()
            decoded.discard()
            return _Body(failure=failure, detail=detail, size=size)
        if decoder is None:
            decoded.discard()
        elif response.status < 300:
            decoded.touch()  # an empty page is still a page to read (and compare)
        return _Body(
            raw_path=raw.path,
            decoded_path=decoded.path if decoder is not None else None,
            raw_data=raw.data,
            decoded_data=decoded.data if decoder is not None else None,
            size=size,
            decoded_size=decoder.produced if decoder is not None else 0,
            payload_digest=warc_digest(sha1),
            content_digest=sha256.hexdigest() if decoder is not None else None,
            detail=detail,
        )


class _Spool:
    """A body kept in memory while small, spilled to a temporary file past `spill` bytes (no file for most pages)."""

    def __init__(self, directory: Path, prefix: str, spill: int) -> None:
        self.directory = directory
        self.prefix = prefix
        self.spill = spill
        self.path: Path | None = None
        self._buffer: bytearray | None = None
        self._file: IO[bytes] | None = None

    @property
    def data(self) -> bytes | None:
        """The body when it stayed in memory, else None (then it is at path)."""
        return bytes(self._buffer) if self._buffer is not None and self.path is None else None

    def touch(self) -> None:
        if self._buffer is None and self.path is None:
            self._buffer = bytearray()

    def _spill(self) -> None:
        try:
            fd, name = tempfile.mkstemp(prefix=self.prefix, dir=self.directory)
        except OSError as exc:
            raise ArchiveError(f"cannot write a body under {self.directory}: {exc.strerror or exc}") from exc
        self.path = Path(name)
        self._file = os.fdopen(fd, "wb")
        held, self._buffer = self._buffer or bytearray(), None
        self._write_file(bytes(held))

    def _write_file(self, data: bytes) -> None:
        assert self._file is not None
        try:
            self._file.write(data)
        except OSError as exc:  # a full disk is the archive's fault, not the site's
            raise ArchiveError(f"cannot write a body under {self.directory}: {exc.strerror or exc}") from exc

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self.path is None:
            self.touch()
            assert self._buffer is not None
            self._buffer += data
            if len(self._buffer) > self.spill:
                self._spill()
            return
        self._write_file(data)

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError as exc:
                raise ArchiveError(f"cannot write a body under {self.directory}: {exc.strerror or exc}") from exc

    def discard(self) -> None:
        self.close()
        self._buffer = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None


@dataclass(frozen=True, slots=True)
class _Body:
    raw_path: Path | None = None
    decoded_path: Path | None = None
    raw_data: bytes | None = None
    decoded_data: bytes | None = None
    size: int = 0
    decoded_size: int = 0
    payload_digest: str | None = None
    content_digest: str | None = None
    failure: Failure | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class _Answer:
    exchange: Exchange
    body: _Body | None  # None for a redirect, whose small body is in the exchange


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
