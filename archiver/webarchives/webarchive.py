"""Public web archives' copies: query the Wayback CDX API or a Memento TimeMap, pick the capture nearest a date.

Pure parsing and choosing; the requests go through fetch.Fetcher like any other.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from urllib.parse import quote, urlencode

WAYBACK = "https://web.archive.org"
_STAMP_RE = re.compile(r"/(\d{14})(?:[a-z]{2}_)?/")
_LINK_RE = re.compile(r'<([^>]+)>\s*;((?:[^,<"]|"[^"]*")*)')
_ATTR_RE = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


@dataclass(frozen=True, slots=True)
class Memento:
    """One capture held by a web archive."""

    url: str  # the archive's URL of the capture (its replay address)
    raw_url: str  # the same capture's original bytes (the archive's raw mode)
    datetime: datetime
    status: int | None = None  # the original answer's status, when the index says


def stamp(moment: datetime) -> str:
    """14-digit Wayback timestamp."""
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def parse_stamp(value: str) -> datetime:
    """A 14-digit (or shorter) Wayback timestamp as a UTC datetime."""
    value = (value + "00000000000000")[:14]
    return datetime.strptime(value, "%Y%m%d%H%M%S").replace(tzinfo=UTC)


def reference_moment(published: str | None, fallback: datetime) -> datetime:
    """The moment a report cited its links: the end of its publication day, else the fallback."""
    if published:
        try:
            return datetime.combine(date.fromisoformat(published), time(23, 59, 59), tzinfo=UTC)
        except ValueError:
            pass
    return fallback


def raw_url(memento_url: str) -> str:
    """The archive's raw-bytes address for a replay address: .../web/STAMP/url -> .../web/STAMPid_/url."""
    return _STAMP_RE.sub(lambda m: f"/{m.group(1)}id_/", memento_url, count=1)


def cdx_queries(base: str, url: str, moment: datetime, limit: int = 8) -> list[str]:
    """Two CDX queries: the successful captures just before the moment (newest first), then just after."""
    common = {
        "url": url,
        "output": "json",
        "fl": "timestamp,original,statuscode,mimetype",
        "filter": "statuscode:2..",
        "collapse": "digest",
    }
    before = urlencode({**common, "to": stamp(moment), "limit": str(-limit)})
    after = urlencode({**common, "from": stamp(moment), "limit": str(limit)})
    return [f"{base.rstrip('/')}/cdx/search/cdx?{before}", f"{base.rstrip('/')}/cdx/search/cdx?{after}"]


def parse_cdx(base: str, body: bytes) -> list[Memento]:
    """Mementos from a CDX JSON answer (a header row, then rows)."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return []
    rows = json.loads(text)
    if not rows or not isinstance(rows, list):
        return []
    header, *data = rows
    fields = {name: index for index, name in enumerate(header)}
    result = []
    for row in data:
        try:
            moment = row[fields["timestamp"]]
            original = row[fields["original"]]
            status = row[fields["statuscode"]] if "statuscode" in fields else "200"
        except (KeyError, IndexError, TypeError):
            continue
        replay = f"{base.rstrip('/')}/web/{moment}/{original}"
        result.append(
            Memento(
                replay,
                f"{base.rstrip('/')}/web/{moment}id_/{original}",
                parse_stamp(moment),
                int(status) if str(status).isdigit() else None,
            )
        )
    return result


def timemap_url(prefix: str, url: str) -> str:
    """A Memento TimeMap address: the archive's prefix followed by the URL."""
    return prefix + quote(url, safe=":/?&=%#~+@!$'()*,;")


def parse_timemap(body: bytes) -> list[Memento]:
    """Mementos from an RFC 7089 link-format TimeMap."""
    from email.utils import parsedate_to_datetime

    result = []
    for match in _LINK_RE.finditer(body.decode("utf-8", "replace")):
        target, params = match.group(1), match.group(2)
        attributes = dict(_ATTR_RE.findall(params))
        rel_match = re.search(r'rel\s*=\s*"([^"]*)"|rel\s*=\s*([\w ]+)', params)
        rel = (rel_match.group(1) or rel_match.group(2)) if rel_match else ""
        if "memento" not in rel.split() or "datetime" not in attributes:
            continue
        try:
            moment = parsedate_to_datetime(attributes["datetime"]).astimezone(UTC)
        except (TypeError, ValueError):
            continue
        result.append(Memento(target, raw_url(target), moment))
    return result


def nearest(mementos: list[Memento], moment: datetime) -> list[Memento]:
    """Candidates in the order to try: the closest before the moment first (going back), then after (going on)."""
    usable = [m for m in mementos if m.status is None or 200 <= m.status < 300]
    before = sorted((m for m in usable if m.datetime <= moment), key=lambda m: m.datetime, reverse=True)
    after = sorted((m for m in usable if m.datetime > moment), key=lambda m: m.datetime)
    unique: dict[str, Memento] = {}
    for memento in [*before, *after]:
        unique.setdefault(memento.url, memento)
    return list(unique.values())
