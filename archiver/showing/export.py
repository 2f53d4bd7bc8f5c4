"""Catalog to jsonl, csv, md and warc, streamed (no export holds the archive in memory); the annotated report."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from archiver import __version__
from archiver.errors import ArchiverError, NotFoundError
from archiver.reading.reports import decode, normalize_newlines
from archiver.showing.annotate import Annotations, LinkCopy, annotate_html, annotate_text, html_to_text, text_to_html
from archiver.storage.catalog import CatalogReader, iso, parse_iso
from archiver.storage.objectstore import read_range
from archiver.storage.readrows import CaptureRecord, ExportRow
from archiver.storage.reportcopies import find_copy
from archiver.storage.textstore import get_text
from archiver.storage.warcstore import WARC_DIR, warc_date

ROW_FIELDS = [
    "source",
    "memento_url",
    "memento_datetime",
    "report",
    "n",
    "url",
    "verdict",
    "reason",
    "title",
    "fetched_at",
    "text",
    "report_title",
    "published",
    "note",
    "http_status",
    "final_url",
    "first_checked",
    "last_checked",
    "first_archived",
    "verdict_since",
    "digest",
    "text_digest",
    "warc_file",
    "warc_offset",
]


@contextmanager
def open_output(path: str | None, *, binary: bool, force: bool) -> Iterator[IO[Any]]:
    """stdout for None or "-", else a file written atomically; an existing file needs force."""
    if path in (None, "-"):
        stream: IO[Any] = sys.stdout.buffer if binary else sys.stdout
        yield stream
        stream.flush()
        return
    target = Path(path)
    if target.exists() and not force:
        raise ArchiverError(f"{target} exists; use --force to overwrite it")
    if target.is_dir():
        raise ArchiverError(f"{target} is a directory; give a file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        file: IO[Any]
        with tmp.open("wb") if binary else tmp.open("w", encoding="utf-8", newline="") as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _row(catalog: CatalogReader, archive: Path, row: ExportRow) -> dict[str, Any]:
    memento = row.memento  # joined by the catalog's query: no query per row
    text = get_text(archive, row.text_digest)
    source = "archiver" if row.fetched_at else None
    title, fetched_at = row.title, row.fetched_at
    if text is None and memento is not None:
        # We never captured it: the web archive's copy nearest the report's date stands in, marked as such.
        text, source = get_text(archive, memento.text_digest), "web-archive"
        title, fetched_at = memento.title, memento.memento_datetime
    return {
        "source": source,
        "memento_url": memento.memento_url if memento else None,
        "memento_datetime": memento.memento_datetime if memento else None,
        "report": row.report,
        "n": row.n,
        "url": row.url,
        "verdict": row.verdict,
        "reason": row.reason,
        "title": title,
        "fetched_at": fetched_at,
        "text": text,
        "report_title": row.report_title,
        "published": row.published,
        "note": row.note,
        "http_status": row.http_status,
        "final_url": row.final_url,
        "first_checked": row.first_checked,
        "last_checked": row.last_checked,
        "first_archived": row.first_archived,
        "verdict_since": row.verdict_since,
        "digest": row.payload_digest,
        "text_digest": row.text_digest,
        "warc_file": row.warc_file,
        "warc_offset": row.warc_offset,
    }


def check_report(catalog: CatalogReader, report: str | None) -> None:
    """NotFoundError for a report the archive does not track."""
    if report is not None and catalog.report_row(report) is None:
        raise NotFoundError(f"no report {report!r} in the archive")


def export_jsonl(catalog: CatalogReader, archive: Path, out: IO[str], report: str | None = None) -> int:
    """One JSON object per (report, footnote, link); returns the row count."""
    check_report(catalog, report)
    count = 0
    for row in catalog.export_rows(report):
        out.write(json.dumps(_row(catalog, archive, row), ensure_ascii=False) + "\n")
        count += 1
    return count


def export_csv(catalog: CatalogReader, archive: Path, out: IO[str], report: str | None = None) -> int:
    """One CSV row per (report, footnote, link), with a header; returns the row count."""
    check_report(catalog, report)
    writer = csv.DictWriter(out, fieldnames=ROW_FIELDS, lineterminator="\n")
    writer.writeheader()
    count = 0
    for row in catalog.export_rows(report):
        writer.writerow({key: _cell(value) for key, value in _row(catalog, archive, row).items()})
        count += 1
    return count


# A spreadsheet reads a cell that starts with one of these as a formula (OWASP's CSV injection rule).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A CSV cell a spreadsheet shows as text: a string that would start a formula gets a leading "'"."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


def export_md(catalog: CatalogReader, archive: Path, out: IO[str], report: str | None = None) -> int:
    """One Markdown document per report: its footnotes, links, verdicts and archived text."""
    check_report(catalog, report)
    current: tuple[str, int] | None = None
    current_report = None
    documents = 0
    for row in catalog.export_rows(report):
        if row.report != current_report:
            if current_report is not None:
                out.write("\n---\n\n")
            current_report = row.report
            documents += 1
            out.write(f"# {row.report_title or row.report}\n\n")
            out.write(
                f"Report `{row.report}`"
                + (f", published {row.published}" if row.published else "")
                + f". Exported by archiver {__version__} on {iso(datetime.now(UTC))}.\n\n"
            )
        if (row.report, row.n) != current:
            current = (row.report, row.n)
            out.write(f"## Footnote {row.n}\n\n{_quote(row.note or '')}\n\n")
        out.write(f"### <{row.url}>\n\n**{row.verdict}**: {row.reason}")
        out.write(f" (last checked {row.last_checked})\n\n" if row.last_checked else "\n\n")
        data = _row(catalog, archive, row)
        if data["text"]:
            title = f" “{data['title']}”" if data["title"] else ""
            if data["source"] == "web-archive":
                out.write(
                    f"Not captured by us. The web archive's copy{title} of {data['fetched_at']} "
                    f"(<{data['memento_url']}>):\n\n{_quote(data['text'])}\n\n"
                )
            else:
                out.write(f"Archived text{title}, captured {data['fetched_at']}:\n\n{_quote(data['text'])}\n\n")
        else:
            out.write("_No archived text._\n\n")
    return documents


def _records(archive: Path, capture: CaptureRecord) -> Iterator[bytes]:
    """The raw gzip members of a capture's records, copied byte for byte (from the archive directory, else
    by byte range from the shared setup's object store)."""
    start = capture.warc_start if capture.warc_start is not None else capture.warc_offset
    end = capture.warc_end if capture.warc_end is not None else capture.warc_offset + capture.warc_length
    yield from read_range(archive, f"{WARC_DIR}/{capture.warc_file}", start, end)


def _record_id(archive: Path, capture: CaptureRecord) -> str | None:
    relative = f"{WARC_DIR}/{capture.warc_file}"
    member = b"".join(read_range(archive, relative, capture.warc_offset, capture.warc_offset + capture.warc_length))
    for record in ArchiveIterator(io.BytesIO(member)):
        return str(record.rec_headers.get_header("WARC-Record-ID"))
    return None


def export_warc(catalog: CatalogReader, archive: Path, out: IO[bytes], report: str | None = None) -> int:
    """A WARC 1.1 file of the captures: request, response and revisit records as stored, and the
    extracted text of each as a conversion record that refers to its response."""
    check_report(catalog, report)
    writer = WARCWriter(out, gzip=True, warc_version="1.1")
    info = {
        "software": f"archiver/{__version__} (warcio)",
        "format": "WARC File Format 1.1",
        "description": f"archiver export of {'report ' + report if report else 'all reports'}",
    }
    writer.write_record(writer.create_warcinfo_record("archiver-export.warc.gz", info))
    count = 0
    for exported in catalog.export_captures(report):
        capture = exported.capture
        for chunk in _records(archive, capture):
            out.write(chunk)
        text = get_text(archive, capture.text_digest) if capture.revisit_of is None else None
        if text:
            refers = _record_id(archive, capture)
            data = text.encode("utf-8")
            headers = {"WARC-Date": _warc_date(capture.fetched_at), "Content-Type": "text/plain; charset=utf-8"}
            if refers:
                headers["WARC-Refers-To"] = refers
            record = writer.create_warc_record(
                capture.final_url,
                "conversion",
                payload=io.BytesIO(data),
                length=len(data),
                warc_headers_dict=headers,
            )
            writer.write_record(record)
        count += 1
    return count


def _warc_date(value: str) -> str:
    moment = parse_iso(value)
    return warc_date(moment) if moment is not None else value


EXPORTERS = {"jsonl": export_jsonl, "csv": export_csv, "md": export_md}


def replay_link(base: str, captured_at: str, url: str) -> str:
    """Our capture's address in a pywb / ReplayWeb.page style replay: BASE/YYYYMMDDhhmmss/URL."""
    stamp = re.sub(r"\D", "", captured_at)[:14]
    return f"{base.rstrip('/')}/{stamp}/{url}"


def report_annotations(catalog: CatalogReader, report: str, replay_url: str, keep_defanged: bool) -> Annotations:
    """What the archive holds for each footnote link of a report, as the annotated export shows it."""
    meta = catalog.report_row(report)
    assert meta is not None
    links: dict[int, list[LinkCopy]] = {}
    missing: list[int] = []
    for note in catalog.report_footnotes(report):
        if "missing" in note.problems:
            missing.append(note.n)
        for link in note.links:
            captured = link.fetched_at if link.first_archived else None
            copy_url: str | None
            copy_date: str | None
            if replay_url and captured:
                copy_url, copy_date = replay_link(replay_url, captured, link.url), captured
            else:
                copy_url, copy_date = link.memento_url, link.memento_datetime
            links.setdefault(note.n, []).append(LinkCopy(link.url, link.verdict, captured, copy_url, copy_date))
    return Annotations(links, missing, meta.published, keep_defanged)


def export_report(
    catalog: CatalogReader,
    archive: Path,
    report: str,
    to: str | None,
    *,
    replay_url: str = "",
    keep_defanged: bool = False,
) -> str:
    """The report as written (body and notes), each footnote link annotated with its archived copy and date."""
    check_report(catalog, report)
    meta = catalog.report_row(report)
    assert meta is not None
    path = find_copy(archive, meta.digest, meta.source)
    if path is None:
        raise ArchiverError(
            f"report {report!r}: no copy of its file in the archive and {meta.source or meta.path} is gone; "
            "run `archiver run` on the report file once more"
        )
    text = normalize_newlines(decode(path.read_bytes()))
    own = {"html": "html", "markdown": "md"}.get(meta.format or "text", "text")
    target = to or own
    annotations = report_annotations(catalog, report, replay_url, keep_defanged)
    if target == "html":
        return annotate_html(text if own == "html" else text_to_html(text, meta.title), annotations)
    source = html_to_text(text) if own == "html" else text
    return annotate_text(source, annotations, markdown=target == "md")
