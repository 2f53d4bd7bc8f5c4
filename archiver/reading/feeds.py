"""A feed's bytes (RSS 0.9x/2.0, RDF 1.0, Atom) as its entries, read by feedparser. Pure: feedparser is
given the bytes we fetched ourselves (with our politeness, guard and proxy), never a URL to fetch."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from archiver.errors import ReportError


@dataclass(frozen=True, slots=True)
class Entry:
    """One entry: its key (id, else link), the report page it announces, when it was last updated."""

    key: str
    link: str
    updated: str | None
    published: str | None  # YYYY-MM-DD: a fallback for the report's own date


@dataclass(frozen=True, slots=True)
class Feed:
    title: str | None
    entries: tuple[Entry, ...]


def read_feed(data: bytes, url: str, content_type: str = "") -> Feed:
    """The feed's entries, links made absolute against xml:base and the feed's URL; ReportError when the
    bytes are no feed (an HTML page, a malformed document with nothing to read)."""
    import feedparser

    parsed = feedparser.parse(data, response_headers={"content-location": url, "content-type": content_type})
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        why = f": {str(problem).splitlines()[0][:120]}" if problem else ""
        raise ReportError(f"not a feed (no RSS, RDF or Atom document){why}")
    entries = []
    for item in parsed.entries:
        link = str(item.get("link") or "")
        key = str(item.get("id") or link)
        if not link.startswith(("http://", "https://")) or not key:
            continue
        updated = item.get("updated") or item.get("published")
        stamp = item.get("published_parsed") or item.get("updated_parsed")
        published = date(stamp.tm_year, stamp.tm_mon, stamp.tm_mday).isoformat() if stamp else None
        entries.append(Entry(key, link, str(updated) if updated else None, published))
    if parsed.get("bozo") and not entries:  # broken XML with nothing usable in it
        problem = parsed.get("bozo_exception")
        raise ReportError(f"malformed feed: {str(problem).splitlines()[0][:120] if problem else 'unreadable'}")
    title = parsed.feed.get("title")
    return Feed(str(title) if title else None, tuple(entries))
