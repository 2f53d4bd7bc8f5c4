"""What the catalog's read methods return: typed rows, one class per question asked of it.

Each class's fields are the columns its query selects, in order (columns() writes that list),
so a row is made straight from the cursor's tuple: no dict per row, no name looked up twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Any, NamedTuple, TypeVar

R = TypeVar("R")


def columns(cls: type, alias: str = "") -> str:
    """The SELECT list for a row class: its field names, each prefixed by a table alias when given."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + f.name for f in fields(cls))


def make(cls: type[R], row: Any) -> R:
    """A row class from a cursor row whose columns are the class's fields, in order."""
    return cls(*row)


class Citation(NamedTuple):
    """A footnote that cites a link."""

    report: str
    n: int


def citations(value: str | None) -> tuple[Citation, ...]:
    """The citations a query gathered with json_group_array(json_object('report', ..., 'n', ...))."""
    return tuple(Citation(item["report"], item["n"]) for item in json.loads(value or "[]"))


@dataclass(frozen=True, slots=True)
class StatusRow:
    """A tracked link as `status` lists it: its verdict, what cites it, its web archive copy."""

    url: str
    verdict: str
    reason: str
    http_status: int | None
    first_archived: str | None
    last_checked: str | None
    cited_by: tuple[Citation, ...]
    final_url: str | None
    verdict_since: str | None
    memento_url: str | None
    memento_datetime: str | None

    def as_json(self) -> dict[str, Any]:
        """The contract's JSON object for the link (`status --json`)."""
        return {
            "url": self.url,
            "verdict": self.verdict,
            "reason": self.reason,
            "http_status": self.http_status,
            "first_archived": self.first_archived,
            "last_checked": self.last_checked,
            "cited_by": [{"report": c.report, "n": c.n} for c in self.cited_by],
            "final_url": self.final_url,
            "verdict_since": self.verdict_since,
            "memento_url": self.memento_url,
            "memento_datetime": self.memento_datetime,
        }


@dataclass(frozen=True, slots=True)
class ReportRow:
    """A tracked report."""

    report: str
    path: str | None
    title: str | None
    published: str | None
    authors: str | None
    format: str | None
    added_at: str | None
    updated_at: str | None
    source: str | None
    digest: str | None
    published_from: str | None = None  # "report" or "feed" (a report read from a feed's entry)


@dataclass(frozen=True, slots=True)
class FootnoteRow:
    """A footnote's text and what is wrong with it (problems and unparsed, decoded from their JSON)."""

    report: str
    n: int
    text: str | None
    problems: tuple[str, ...]
    unparsed: tuple[str, ...]

    @classmethod
    def of(cls, row: Any) -> FootnoteRow:
        report, n, text, problems, unparsed = row
        return cls(report, n, text, tuple(json.loads(problems or "[]")), tuple(json.loads(unparsed or "[]")))


@dataclass(frozen=True, slots=True)
class LinkRow:
    """A tracked link and its current state."""

    id: int
    url: str
    canonical: str
    host: str
    added_at: str | None
    verdict: str
    reason: str
    verdict_since: str | None
    http_status: int | None
    first_archived: str | None
    last_checked: str | None
    first_capture: int | None
    last_capture: int | None
    failures_in_row: int
    failing_since: str | None
    final_url: str | None
    etag: str | None
    last_modified: str | None


@dataclass(frozen=True, slots=True)
class CaptureRecord:
    """A stored capture of a link (its records' place in a WARC file, its text and metadata)."""

    id: int
    link: int
    fetched_at: str
    url: str
    final_url: str
    http_status: int
    content_type: str | None
    warc_file: str
    warc_offset: int
    warc_length: int
    revisit_of: int | None
    payload_digest: str | None
    content_digest: str | None
    body_size: int | None
    text_digest: str | None
    text_length: int | None
    kind: str | None
    title: str | None
    authors: str | None
    published: str | None
    language: str | None
    extractor: str | None
    warc_start: int | None
    warc_end: int | None
    memento_url: str | None
    memento_datetime: str | None
    captured_with: str = "http"
    screenshot: str | None = None


@dataclass(frozen=True, slots=True)
class ExportedCapture:
    """A capture with the URL of the link it belongs to (`export --format warc`)."""

    capture: CaptureRecord
    link_url: str


@dataclass(frozen=True, slots=True)
class CheckRecord:
    """One check of a link (an attempt, when retried)."""

    id: int
    link: int
    run: int | None
    started_at: str
    elapsed: float | None
    url: str
    final_url: str | None
    redirects: str | None
    http_status: int | None
    failure: str | None
    detail: str | None
    payload_digest: str | None
    capture: int | None
    similarity: float | None
    diff: str | None
    verdict: str
    reason: str
    retried: int


@dataclass(frozen=True, slots=True)
class MementoRow:
    """A web archive's copy of a link, with the text we extracted from it."""

    memento_url: str
    memento_datetime: str | None
    archive: str | None
    looked_up_at: str | None
    text_digest: str | None
    title: str | None


@dataclass(frozen=True, slots=True)
class ExportRow:
    """One (report, footnote, link) with the link's first capture and this report's web archive copy."""

    report: str
    n: int
    position: int
    report_title: str | None
    published: str | None
    note: str | None
    link: int
    url: str
    verdict: str
    reason: str
    http_status: int | None
    first_archived: str | None
    last_checked: str | None
    final_url: str | None
    verdict_since: str | None
    first_checked: str | None
    fetched_at: str | None
    title: str | None
    text_digest: str | None
    payload_digest: str | None
    capture_status: int | None
    capture_url: str | None
    content_type: str | None
    warc_file: str | None
    warc_offset: int | None
    memento: MementoRow | None


@dataclass(frozen=True, slots=True)
class ReportCounts:
    """A report with its number of links per verdict (the dashboard's index)."""

    report: str
    title: str | None
    published: str | None
    counts: dict[str, int]


@dataclass(frozen=True, slots=True)
class NewsRow:
    """A link whose verdict (dead, changed, blocked) a notification service has not been told yet."""

    link: int
    url: str
    verdict: str
    reason: str
    verdict_since: str
    memento_url: str | None
    cited_by: tuple[Citation, ...]


@dataclass(frozen=True, slots=True)
class RunRow:
    """A run, with its summary decoded."""

    id: int
    started_at: str
    finished_at: str | None
    status: str | None
    pid: int | None
    summary: dict[str, Any] | None
    kind: str

    @classmethod
    def of(cls, row: Any) -> RunRow:
        id_, started, finished, status, pid, summary, kind = row
        return cls(id_, started, finished, status, pid, json.loads(summary) if summary else None, kind)


@dataclass(frozen=True, slots=True)
class TurnedRow:
    """A link the latest nightly run turned to a verdict (dead, changed...) from another."""

    url: str
    link: int
    verdict: str
    reason: str
    started_at: str
    before: str | None
    cited_by: tuple[Citation, ...]


@dataclass(frozen=True, slots=True)
class NoteLink:
    """A link of a footnote as a report's page shows it: state, first capture, copy, latest diff."""

    n: int
    url: str
    verdict: str
    reason: str
    last_checked: str | None
    first_archived: str | None
    final_url: str | None
    text_digest: str | None
    fetched_at: str | None
    title: str | None
    memento_url: str | None
    memento_datetime: str | None
    diff: str | None
    screenshot: str | None = None  # the latest rendered page's PNG, relative to the archive


@dataclass(frozen=True, slots=True)
class NoteWithLinks:
    """A footnote of a report with its links."""

    n: int
    text: str | None
    problems: tuple[str, ...]
    links: list[NoteLink]
