"""Sites' public endpoints, asked before a browser for what a plain fetch cannot read.

X posts through the oEmbed endpoint (publish.twitter.com): the post's text, author and date.
YouTube videos through their oEmbed endpoint and the watch page's own metadata, the watch page
asked with the cookie that declines Google's consent page (as yt-dlp does). Not Facebook or
Instagram: their oEmbed terms forbid keeping the content. The endpoints' base URLs are settings.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from archiver.fetching.fetch import Fetcher
from archiver.outcomes import Exchange, Fetch

X_HOSTS = frozenset({"x.com", "twitter.com", "mobile.twitter.com", "mobile.x.com", "www.x.com", "www.twitter.com"})
YOUTUBE_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"})
_X_STATUS = re.compile(r"^/(?:#!/)?([A-Za-z0-9_]{1,15})/status(?:es)?/(\d{1,25})(?:/|$)")
_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
# "Reject all" as Google's consent page saves it: the watch page itself, not the interstitial.
CONSENT_DECLINED = "SOCS=CAE="


@dataclass(frozen=True, slots=True)
class EndpointQuery:
    """What to ask a site for one link."""

    site: str  # "x" or "youtube"
    api_url: str  # the oEmbed request
    page_url: str | None = None  # the page to read metadata from (YouTube's watch page)


def x_post(url: str) -> str | None:
    """The canonical URL of an X post (x.com/USER/status/ID), or None."""
    parts = urlsplit(url)
    if (parts.hostname or "").lower() not in X_HOSTS:
        return None
    found = _X_STATUS.match(parts.path)
    return f"https://twitter.com/{found.group(1)}/status/{found.group(2)}" if found else None


def youtube_video(url: str) -> str | None:
    """A YouTube video's id (watch?v=, youtu.be/, /shorts/, /embed/, /live/), or None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    segments = [s for s in parts.path.split("/") if s]
    candidate = None
    if host == "youtu.be" and segments:
        candidate = segments[0]
    elif host in YOUTUBE_HOSTS:
        if segments[:1] == ["watch"]:
            candidate = (parse_qs(parts.query).get("v") or [""])[0]
        elif len(segments) >= 2 and segments[0] in ("shorts", "embed", "live", "v"):
            candidate = segments[1]
    return candidate if candidate and _YOUTUBE_ID.match(candidate) else None


def endpoint_for(url: str, x_oembed: str, youtube_oembed: str) -> EndpointQuery | None:
    """The endpoint query for a link, when its site offers one without a key (an empty base: not asked)."""
    post = x_post(url)
    if post is not None and x_oembed:
        query = urlencode({"url": post, "omit_script": "1", "dnt": "true"})
        return EndpointQuery("x", f"{x_oembed}?{query}")
    video = youtube_video(url)
    if video is not None and youtube_oembed:
        scheme = urlsplit(url).scheme or "https"
        watch = f"{scheme}://www.youtube.com/watch?v={video}"
        query = urlencode({"url": watch, "format": "json"})
        return EndpointQuery("youtube", f"{youtube_oembed}?{query}", watch)
    return None


def as_related(fetch: Fetch) -> tuple[Exchange, ...]:
    """A fetch's exchanges with their bodies in memory as received: records to keep beside a capture."""
    if fetch.response is None:
        return fetch.hops
    body = fetch.open_body()
    data = b""
    if body is not None:
        with body:
            data = body.read()
    final = Exchange(**{**{f: getattr(fetch.response, f) for f in Exchange.__dataclass_fields__}, "body": data})
    return (*fetch.hops, final)


Turn = Callable[[str], AbstractAsyncContextManager[None]]  # waits for a site's turn (the engine's)


def _host(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


@dataclass(frozen=True, slots=True)
class EndpointAnswer:
    """What the endpoint (and the page, for YouTube) answered: statuses, bodies, and every exchange."""

    status: int | None
    body: bytes
    page_html: bytes | None
    exchanges: tuple[Exchange, ...]


async def ask(fetcher: Fetcher, query: EndpointQuery, turn: Turn, timeout: float | None = None) -> EndpointAnswer:
    """Ask the endpoint (and fetch the page whose metadata it needs), each in its site's turn; never raises
    for a network failure."""
    async with turn(_host(query.api_url)):
        answer = await fetcher.fetch(query.api_url, headers={"Accept": "application/json"}, timeout=timeout)
    try:
        status = answer.status if answer.failure is None else None
        body = answer.read_decoded() if status is not None else b""
        exchanges = as_related(answer)
    finally:
        answer.discard()
    page_html = None
    if query.page_url is not None:
        async with turn(_host(query.page_url)):
            page = await fetcher.fetch(query.page_url, headers={"Cookie": CONSENT_DECLINED}, timeout=timeout)
        try:
            if page.failure is None and page.status == 200:
                page_html = page.read_decoded()
            exchanges += as_related(page)
        finally:
            page.discard()
    return EndpointAnswer(status, body, page_html, exchanges)
