"""The connection pool a request goes through, built from httpcore's public constructors.

Direct connections go through a pool whose network backend checks every address it connects to
(guard.py). Through a proxy (`--proxy`, else HTTP_PROXY / HTTPS_PROXY / ALL_PROXY less NO_PROXY,
read as curl and urllib read them) the proxy resolves names: its pool connects to the proxy only.
Requests go to these pools themselves: httpx's client layers (URL models, auth and redirect hooks,
response wrapping) would be work done twice, since our URLs are URIs and our redirects our own.
"""

from __future__ import annotations

import ssl
import urllib.request
from urllib.parse import urlsplit

import httpcore
import httpx

from archiver.errors import ConfigError
from archiver.fetching.guard import GuardedBackend, Resolver
from archiver.fetching.streams import AsyncioBackend
from archiver.reading.safetext import without_userinfo


def proxy_for(url: str, configured: str | None) -> str | None:
    """The proxy a URL's request goes through: the configured one, else the environment's, or None."""
    if configured:
        return configured
    proxies = urllib.request.getproxies_environment()
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host and urllib.request.proxy_bypass(parts.netloc.rpartition("@")[2] or host):
        return None
    chosen = proxies.get(parts.scheme) or proxies.get("all")
    if chosen and "://" not in chosen:
        chosen = "http://" + chosen  # "proxy.example:3128", as curl takes it
    return chosen or None


def connection_pool(
    url: str,
    *,
    proxy: str | None,
    verify: ssl.SSLContext,
    keepalive: int,
    resolve: Resolver,
    allow_private: bool,
) -> httpcore.AsyncConnectionPool:
    """A pool for one origin's requests: direct and guarded, or through its proxy."""
    chosen = proxy_for(url, proxy)
    if chosen is None:
        return httpcore.AsyncConnectionPool(
            ssl_context=verify,
            max_connections=None,
            max_keepalive_connections=keepalive,
            network_backend=GuardedBackend(AsyncioBackend(), resolve, allow_private),
        )
    try:
        spec = httpx.Proxy(chosen)
    except (ValueError, httpx.InvalidURL) as exc:
        raise ConfigError(f"proxy {without_userinfo(chosen)!r} is not usable: {exc}") from None
    proxy_url = httpcore.URL(
        scheme=spec.url.raw_scheme, host=spec.url.raw_host, port=spec.url.port, target=spec.url.raw_path
    )
    if spec.url.scheme in ("socks5", "socks5h"):
        return httpcore.AsyncSOCKSProxy(
            proxy_url=proxy_url,
            proxy_auth=spec.raw_auth,
            ssl_context=verify,
            max_connections=None,
            max_keepalive_connections=keepalive,
            network_backend=AsyncioBackend(),
        )
    return httpcore.AsyncHTTPProxy(
        proxy_url=proxy_url,
        proxy_auth=spec.raw_auth,
        proxy_headers=spec.headers.raw,
        ssl_context=verify,
        proxy_ssl_context=spec.ssl_context,
        max_connections=None,
        max_keepalive_connections=keepalive,
        network_backend=AsyncioBackend(),
    )
