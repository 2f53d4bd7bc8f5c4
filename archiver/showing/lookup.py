"""What footnote N of a report cited and what became of it: the answer `check` gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from archiver.errors import NotFoundError
from archiver.judging.compare import compare
from archiver.storage.catalog import CatalogReader
from archiver.storage.objectstore import store_for
from archiver.storage.readrows import CaptureRecord, CheckRecord, LinkRow
from archiver.storage.textstore import get_text
from archiver.storage.warcstore import WARC_DIR


def _capture_dict(catalog: CatalogReader, archive: Path, row: CaptureRecord) -> dict[str, Any]:
    location, pending_on = _warc_location(catalog, archive, row.warc_file)
    return {
        "fetched_at": row.fetched_at,
        "http_status": row.http_status,
        "final_url": row.final_url,
        "content_type": row.content_type,
        "warc_file": row.warc_file,
        "warc_offset": row.warc_offset,
        "warc_location": location,
        "warc_pending_on": pending_on,
        "revisit": row.revisit_of is not None,
        "text_digest": row.text_digest,
        "title": row.title,
        "captured_with": row.captured_with,
        "screenshot": _screenshot(archive, row.screenshot),
    }


def _warc_location(catalog: CatalogReader, archive: Path, name: str) -> tuple[str | None, str | None]:
    """Where a WARC file is: (its path in the archive directory or its object's s3:// URL, None), or (None,
    the worker's machine) while it waits on that worker for its upload (the shared setup)."""
    relative = f"{WARC_DIR}/{name}"
    if (archive / relative).exists():
        return relative, None
    machine, object_url, lost_at = catalog.warc_file_home(name)
    if object_url:
        return object_url, None
    if lost_at:
        return None, None  # lost with its machine (`archiver forget-worker`): its links were captured again
    return None, machine or "another machine"


def _screenshot(archive: Path, relative: str | None) -> str | None:
    """A screenshot's path relative to the archive, or its object's s3:// URL where the store holds it."""
    store = store_for(archive)
    if relative is None or store is None or (archive / relative).exists():
        return relative
    return store.url_of(relative)


def _check_dict(row: CheckRecord) -> dict[str, Any]:
    return {
        "checked_at": row.started_at,
        "http_status": row.http_status,
        "failure": row.failure,
        "verdict": row.verdict,
        "reason": row.reason,
        "similarity": row.similarity,
        "final_url": row.final_url,
        "redirects": json.loads(row.redirects or "[]"),
        "retried": bool(row.retried),
    }


def _memento(catalog: CatalogReader, archive: Path, link: int, report: str) -> dict[str, Any] | None:
    """The web archive's copy for this report's date, with its text, or None."""
    row = catalog.memento_for(link, report)
    if row is None:
        return None
    return {
        "url": row.memento_url,
        "datetime": row.memento_datetime,
        "archive": row.archive,
        "text": get_text(archive, row.text_digest),
        "looked_up_at": row.looked_up_at,
    }


def _link_answer(catalog: CatalogReader, archive: Path, link: LinkRow, report: str) -> dict[str, Any]:
    captures = catalog.captures_of(link.id)
    first = next((c for c in captures if c.id == link.first_capture), None)
    with_text = [c for c in captures if c.text_digest]
    latest = with_text[-1] if with_text else None
    first_text = get_text(archive, first.text_digest) if first else None
    latest_text = get_text(archive, latest.text_digest) if latest else None
    diff = None
    similarity = None
    if first_text is not None and latest_text is not None and first and latest and latest.id != first.id:
        comparison = compare(first_text, latest_text)
        similarity, diff = comparison.similarity, comparison.diff or None
    last = captures[-1] if captures else None
    return {
        "url": link.url,
        "captured_with": last.captured_with if last else None,
        "screenshot": _screenshot(archive, last.screenshot) if last else None,
        "verdict": link.verdict,
        "reason": link.reason,
        "http_status": link.http_status,
        "verdict_since": link.verdict_since,
        "first_archived": link.first_archived,
        "last_checked": link.last_checked,
        "final_url": link.final_url,
        "captures": [_capture_dict(catalog, archive, c) for c in captures],
        "checks": [_check_dict(c) for c in catalog.checks_of(link.id)],
        "archived_text": first_text,
        "latest_text": latest_text if latest and first and latest.id != first.id else None,
        "latest_archived": latest.fetched_at if latest else None,
        "similarity": similarity,
        "diff": diff,
        "memento": _memento(catalog, archive, link.id, report),
    }


def lookup_footnote(catalog: CatalogReader, archive: Path, report: str, n: int) -> dict[str, Any]:
    """Everything the archive knows about footnote N of a report; NotFoundError for an unknown one."""
    meta = catalog.report_row(report)
    if meta is None:
        known = catalog.report_names()
        hint = (
            f" (tracked: {', '.join(known[:10])}{', ...' if len(known) > 10 else ''})"
            if known
            else " (the archive tracks no report yet: `archiver run REPORT` adds one)"
        )
        raise NotFoundError(f"no report {report!r} in the archive{hint}")
    note = catalog.footnote_row(report, n)
    if note is None:
        numbers = catalog.footnote_numbers(report)
        span = f"{numbers[0]}–{numbers[-1]}" if numbers else "none"
        raise NotFoundError(f"report {report!r} has no footnote {n} (its footnotes: {span})")
    problems = list(note.problems)
    links = [_link_answer(catalog, archive, link, report) for link in catalog.cited_links(report, n)]
    message = None
    if "missing" in problems:
        message = f"footnote {n} is cited in the body of {report} but has no note: there is no link to check"
    elif not links:
        unusable = list(note.unparsed)
        message = (
            f"footnote {n} of {report} has no link that can be fetched, only: {', '.join(unusable)}"
            if unusable
            else f"footnote {n} of {report} has a note but no link in it"
        )
    return {
        "report": report,
        "n": n,
        "title": meta.title,
        "published": meta.published,
        "published_from": meta.published_from or ("report" if meta.published else None),
        "text": note.text,
        "problems": problems,
        "unparsed": list(note.unparsed),
        "message": message,
        "urls": links,
    }
