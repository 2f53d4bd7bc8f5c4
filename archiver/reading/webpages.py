"""Reports published as web pages: one name and one identity per page, however it was reached. Pure.

A page is known by its canonical URL (its rel=canonical, else the final URL after redirects) without
tracking parameters, so the same page reached through a feed's link, a share link with utm_* and
its short address is one report. Its name is readable and stable: the last path segment without its
extension; when another report has that name, the host is added, then a short digest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from archiver.reading.refang import canonical
from archiver.reading.reports import Report, decode, normalize_newlines

_TRACKING_RE = re.compile(
    r"^(?:utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|yclid|msclkid|mc_cid|mc_eid|igshid|_ga|_gl|ref_src|ref_url)$",
    re.IGNORECASE,
)
_NAME_RE = re.compile(r"[^\w.-]+")


def is_url(value: str) -> bool:
    """Whether a `run` argument is a report page rather than a file."""
    return value.lower().startswith(("http://", "https://"))


def without_tracking(url: str) -> str:
    """The URL without the parameters that only say how it was shared (utm_*, fbclid, gclid...)."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING_RE.match(k)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(kept), ""))


def page_key(url: str) -> str:
    """A page's identity in the archive: its URL canonical, without tracking parameters."""
    return canonical(without_tracking(url))


def page_name(url: str, taken: Callable[[str], bool]) -> str:
    """A readable name for a page's report, not already taken by another report."""
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    last = segments[-1].rsplit(".", 1)[0] if segments else ""
    host = (parts.hostname or "page").removeprefix("www.")
    base = _NAME_RE.sub("-", last).strip("-.") or _NAME_RE.sub("-", host)
    for name in (base, f"{_NAME_RE.sub('-', host)}-{base}"):
        if not taken(name):
            return name
    return f"{base}-{hashlib.sha256(page_key(url).encode()).hexdigest()[:8]}"


@dataclasses.dataclass(frozen=True, slots=True)
class Page:
    """A report page read: its report (named later) and the URL that is its identity."""

    report: Report
    key: str


def read_page(data: bytes, url: str, final_url: str) -> Page:
    """A fetched report page as a report (HTML's footnote reader, relative links against the page)."""
    from archiver.reading.report_html import canonical_link, parse  # beautifulsoup4, for report pages only

    text = normalize_newlines(decode(data))
    report = parse(text, stem="page", path=url, base=final_url)
    key = page_key(canonical_link(text, final_url) or final_url)
    digest = hashlib.sha256(data).hexdigest()
    return Page(dataclasses.replace(report, source=key, digest=digest), key)
