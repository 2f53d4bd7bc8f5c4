"""The values that cross every stage's line: a fetch's outcome, the one rule of transience, a check's progress.

Pure: no I/O but reading a fetched body back. Every stage may import it; it imports none.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Any


def warc_digest(sha1: Any) -> str:
    """A SHA-1 (a hashlib object) as WARC headers write it: "sha1:" and its base32 (payload and block digests)."""
    return "sha1:" + base64.b32encode(sha1.digest()).decode("ascii")


class Failure(StrEnum):
    """Why a fetch got no HTTP answer (or one we refused to read)."""

    TIMEOUT = "timeout"
    DNS = "dns"  # no such domain (NXDOMAIN): the name does not exist
    DNS_TEMPORARY = "dns_temporary"  # the resolver failed; the name may well exist
    CONNECT = "connect"  # refused, unreachable
    TLS = "tls"
    RESET = "reset"  # the connection dropped mid-way
    PROTOCOL = "protocol"  # not HTTP, or broken HTTP
    TOO_LARGE = "too_large"  # over the body or decoded-size cap (a compression bomb)
    PRIVATE = "private"  # a non-public address, refused without --allow-private
    REDIRECT_LOOP = "redirect_loop"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    BAD_URL = "bad_url"
    DEFERRED = "deferred"  # not asked: the host told us to come back later than this run waits
    BAD_ENCODING = "bad_encoding"  # a declared Content-Encoding that does not decode (a browser refuses it too)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP request and its response's head (a redirect hop, or the final answer)."""

    url: str
    method: str
    request_headers: tuple[tuple[str, str], ...]
    status: int
    reason: str
    http_version: str
    headers: tuple[tuple[str, str], ...]
    fetched_at: datetime
    peer: str | None = None
    body: bytes = b""  # a redirect's own small body; the final body is on disk

    def header(self, name: str) -> str | None:
        """The first value of a response header, case-insensitively."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), None)


class CapturedWith(StrEnum):
    """How a capture was made: the seam between the link check and whatever captured the page."""

    HTTP = "http"  # a plain HTTP fetch
    BROWSER = "browser"  # a page rendered in a browser
    ENDPOINT = "endpoint"  # a site's public endpoint (oEmbed)


@dataclass(frozen=True, slots=True)
class Resource:
    """A record a capture keeps beside its exchanges: a rendered page's screenshot (a WARC resource record)."""

    url: str  # "urn:fullPage:<page URL>", as Browsertrix names a full-page screenshot
    content_type: str
    data: bytes
    fetched_at: datetime


@dataclass(frozen=True, slots=True)
class Fetch:
    """What fetching one URL gave: the hops, the final exchange and its body on disk, or a failure."""

    url: str
    final_url: str
    hops: tuple[Exchange, ...] = ()
    response: Exchange | None = None
    body_path: Path | None = None  # the entity as received (content-encoded, de-chunked)
    decoded_path: Path | None = None  # after Content-Encoding is undone
    body_size: int = 0
    decoded_size: int = 0
    payload_digest: str | None = None  # "sha1:BASE32" of the entity, as WARC wants it
    content_digest: str | None = None  # sha256 hex of the decoded content
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    elapsed: float = 0.0
    failure: Failure | None = None
    detail: str = ""
    body_data: bytes | None = None  # the entity as received, when small enough to stay in memory
    decoded_data: bytes | None = None  # likewise after Content-Encoding is undone
    captured_with: CapturedWith = CapturedWith.HTTP  # which capturer answered
    # A browser's or an endpoint's capture: the other exchanges it made (their bodies in memory, as
    # received), written after the page's own; its screenshot; and the warcinfo naming the browser.
    related: tuple[Exchange, ...] = ()
    resources: tuple[Resource, ...] = ()
    warcinfo: tuple[tuple[str, str], ...] = ()
    rendered: bytes | None = None  # the page as the browser built it (what is extracted), not what was sent
    screenshot: str | None = None  # its screenshot's path, relative to the archive

    @property
    def decoded(self) -> bytes | str | None:
        """The decoded body for a worker: its bytes when in memory, else its file's path; None without one.
        A rendered page's is the page the browser built."""
        if self.rendered is not None:
            return self.rendered
        if self.decoded_data is not None:
            return self.decoded_data
        return str(self.decoded_path) if self.decoded_path is not None else None

    def read_decoded(self) -> bytes:
        """The decoded body's bytes (empty without one)."""
        if self.decoded_data is not None:
            return self.decoded_data
        return self.decoded_path.read_bytes() if self.decoded_path is not None else b""

    def open_body(self) -> IO[bytes] | None:
        """The entity as received, to read once; None when there is none."""
        if self.body_data is not None:
            return io.BytesIO(self.body_data)
        return self.body_path.open("rb") if self.body_path is not None else None

    @property
    def status(self) -> int | None:
        """The final HTTP status, if any answer came."""
        return self.response.status if self.response else None

    @property
    def content_type(self) -> str:
        """The final response's Content-Type, or ''."""
        return (self.response.header("content-type") or "") if self.response else ""

    def discard(self) -> None:
        """Delete the temporary body files (one file when the body needed no decoding)."""
        for path in {self.body_path, self.decoded_path}:
            if path is not None:
                path.unlink(missing_ok=True)


# Statuses that say "not now" rather than "no": worth a retry within the run.
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504, 507, 509, 520, 521, 522, 523, 524, 525, 526, 529})
TRANSIENT_FAILURES = frozenset({"timeout", "dns_temporary", "connect", "reset", "protocol"})


def is_transient(failure: str | None, status: int | None) -> bool:
    """The one place that decides whether an outcome may pass if tried again (lychee's retry.rs)."""
    if failure is not None:
        return failure in TRANSIENT_FAILURES
    return status in TRANSIENT_STATUSES


@dataclass(frozen=True, slots=True)
class Checked:
    """One link's check, as progress reports it."""

    url: str
    verdict: str
    reason: str
    http_status: int | None
    done: int
    total: int


class Verdict(StrEnum):
    """The contract's verdict names."""

    OK = "ok"
    CHANGED = "changed"
    DEAD = "dead"
    FAILING = "failing"
    BLOCKED = "blocked"
    PENDING = "pending"


# One table for every view of verdicts: the worst first, each with its terminal and HTML colour.
VERDICT_ORDER = (Verdict.DEAD, Verdict.CHANGED, Verdict.BLOCKED, Verdict.FAILING, Verdict.PENDING, Verdict.OK)
VERDICT_COLOURS = {
    Verdict.OK: ("green", "#2e7d32"),
    Verdict.CHANGED: ("magenta", "#8e24aa"),
    Verdict.DEAD: ("red", "#c62828"),
    Verdict.FAILING: ("yellow", "#ef6c00"),
    Verdict.BLOCKED: ("cyan", "#00838f"),
    Verdict.PENDING: ("dim", "#9e9e9e"),
}


# ----- the catalog's rows: what a check writes and what the next check reads -----------------------------

# Marks a CheckRow field that belongs to the link's state (its links row), not to the checks row.
LINK_STATE = {"table": "links"}


@dataclass(frozen=True, slots=True)
class LinkState:
    """A tracked link and what the next check needs to know about it."""

    id: int
    url: str
    host: str
    verdict: Verdict
    verdict_since: datetime | None
    failures_in_row: int
    failing_since: datetime | None
    etag: str | None
    last_modified: str | None
    first_text_digest: str | None
    first_archived: datetime | None
    last_payload_digest: str | None
    last_capture_id: int | None
    last_capture_url: str | None
    last_capture_at: datetime | None
    last_text_digest: str | None
    reason: str = ""
    last_captured_with: str = "http"  # a capture by browser or endpoint is never a revisit of a plain fetch


@dataclass(frozen=True, slots=True)
class CaptureRow:
    """A new capture to record."""

    fetched_at: datetime
    url: str
    final_url: str
    http_status: int
    content_type: str
    warc_file: str
    warc_offset: int
    warc_length: int
    warc_start: int
    warc_end: int
    revisit_of: int | None
    payload_digest: str | None
    content_digest: str | None
    body_size: int
    text_digest: str | None
    text_length: int | None
    kind: str | None
    title: str | None
    authors: str | None
    published: str | None
    language: str | None
    extractor: str | None
    memento_url: str | None = None  # set when the capture is a web archive's copy, not ours
    memento_datetime: datetime | None = None
    captured_with: str = "http"  # CapturedWith: a plain fetch, a browser, a site's endpoint
    screenshot: str | None = None  # a rendered page's PNG, relative to the archive


@dataclass(frozen=True, slots=True)
class CheckRow:
    """A check to record, and the link's new state."""

    link: int
    run: int | None
    started_at: datetime
    elapsed: float
    url: str
    final_url: str | None
    redirects: Sequence[dict[str, Any]]
    http_status: int | None
    failure: Failure | None
    detail: str
    payload_digest: str | None
    similarity: float | None
    diff: str | None
    verdict: Verdict
    reason: str
    # The link's new state: written to its links row, not to the checks row.
    verdict_since: datetime = field(metadata=LINK_STATE)
    failures_in_row: int = field(metadata=LINK_STATE)
    failing_since: datetime | None = field(metadata=LINK_STATE)
    etag: str | None = field(metadata=LINK_STATE)
    last_modified: str | None = field(metadata=LINK_STATE)
    retried: bool = False  # an attempt retried within the run: recorded, but not the link's new state
    # an attempt that says nothing of the page (refused by policy): history only
    keeps_state: bool = field(default=False, metadata=LINK_STATE)
    # Its capture becomes the link's first (the text the footnote cited): the first one kept was a wall's.
    replaces_first: bool = field(default=False, metadata=LINK_STATE)
