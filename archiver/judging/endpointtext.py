"""What a site's public endpoint answered, as a text to archive (pure: bytes in, an Extracted out).

X's oEmbed gives a post as a blockquote (its text, "— Author (@handle)" and the date's link);
YouTube's oEmbed gives a video's title and channel, and its watch page the description and date.
An endpoint that says the post or video does not exist is believed (a 404); one that refuses (X's
403 for a protected account) is a wall; YouTube's 401 only means embedding is turned off.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass
from typing import Any

from archiver.judging.extract import Extracted, decode_html


@dataclass(frozen=True, slots=True)
class EndpointReading:
    """A text to archive, or why there is none: gone (dead) or refused (blocked); all None: not read."""

    extracted: Extracted | None = None
    gone: str | None = None
    refused: str | None = None


def _json(body: bytes) -> dict[str, object] | None:
    try:
        value = json.loads(body.decode("utf-8", "replace"))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _text(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


def read_x_post(status: int | None, body: bytes) -> EndpointReading:
    """An X post from publish.twitter.com's oEmbed answer."""
    if status == 404:
        return EndpointReading(gone="the post is gone (X's oEmbed endpoint: 404)")
    if status == 403:
        return EndpointReading(refused="a protected account (X's oEmbed endpoint: 403)")
    data = _json(body) if status == 200 else None
    if data is None or not _text(data.get("html")):
        return EndpointReading()
    quote = _soup(_text(data.get("html")))
    paragraphs = [p.get_text(" ", strip=True) for p in quote.find_all("p")]
    post = "\n\n".join(p for p in paragraphs if p)
    if not post:
        return EndpointReading()
    links = quote.find_all("a")
    date = links[-1].get_text(strip=True) if links else ""
    author = _text(data.get("author_name"))
    handle = _text(data.get("author_url")).rstrip("/").rsplit("/", 1)[-1]
    byline = f"— {author} (@{handle})" if handle else f"— {author}"
    text = f"{post}\n\n{byline}{', ' + date if date else ''}"
    return EndpointReading(Extracted("html", text, None, author or None, date or None, None, extractor="x-oembed"))


_META = re.compile(r"""<meta\s+(?:name|property|itemprop)=["']([^"']+)["']\s+content=["']([^"']*)["']""", re.I)
_CHANNEL = re.compile(r"""<link\s+itemprop=["']name["']\s+content=["']([^"']*)["']""", re.I)
_SHORT_DESCRIPTION = re.compile(r'"shortDescription":\s*("(?:[^"\\]|\\.)*")')


def _watch_page(page: bytes | None) -> dict[str, str]:
    """The watch page's own metadata: title, description (whole, from the player's data when there), channel, date."""
    if not page:
        return {}
    html = decode_html(page[:3_000_000], "text/html; charset=utf-8")
    found: dict[str, str] = {}
    for name, content in _META.findall(html):
        found.setdefault(name.lower(), _soup(content).get_text())
    channel = _CHANNEL.search(html)
    if channel:
        found["channel"] = _soup(channel.group(1)).get_text()
    whole = _SHORT_DESCRIPTION.search(html)
    if whole:
        with contextlib.suppress(ValueError):
            found["description"] = json.loads(whole.group(1))
    return found


def read_youtube_video(status: int | None, body: bytes, page: bytes | None) -> EndpointReading:
    """A YouTube video from its oEmbed answer and its watch page's metadata."""
    if status == 404:
        return EndpointReading(gone="the video is gone (YouTube's oEmbed endpoint: 404)")
    data = (_json(body) if status == 200 else None) or {}
    meta = _watch_page(page)
    title = _text(data.get("title")) or meta.get("og:title") or meta.get("title") or ""
    channel = _text(data.get("author_name")) or meta.get("channel") or ""
    description = meta.get("description") or meta.get("og:description") or ""
    date = meta.get("datepublished") or meta.get("uploaddate") or ""
    if not title:
        return EndpointReading()  # 401 (embedding off) and no watch page to read: not read
    lines = [title, "", f"Channel: {channel}" if channel else "", f"Published: {date}" if date else ""]
    text = "\n".join(line for line in lines if line is not None).strip()
    if description:
        text += f"\n\n{description.strip()}"
    return EndpointReading(
        Extracted("html", text, title, channel or None, date or None, None, extractor="youtube-oembed")
    )


def _soup(markup: str) -> Any:
    """A fragment parsed (beautifulsoup4 is imported here: the run's own process reads endpoints rarely)."""
    from bs4 import BeautifulSoup

    return BeautifulSoup(markup, "html.parser")
