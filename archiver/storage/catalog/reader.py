"""Read-only access to the catalog: what `status`, `check`, `export` and the dashboard read.

A CatalogReader has no write method: commands that only read open one (beside a live run, on a
read-only mount); the run's storage thread writes through Catalog (writer.py), which reads too.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from archiver.errors import ArchiveError
from archiver.storage.catalog.exports import ExportQueries
from archiver.storage.catalog.feeds import FeedQueries
from archiver.storage.catalog.notices import NoticeQueries
from archiver.storage.catalog.plan import PlanQueries
from archiver.storage.catalog.schema import CATALOG_NAME, MIGRATIONS, Database, applied, connect, migrate
from archiver.storage.catalog.searching import SearchQueries
from archiver.storage.readrows import (
    CaptureRecord,
    CheckRecord,
    FootnoteRow,
    LinkRow,
    MementoRow,
    ReportRow,
    StatusRow,
    citations,
    columns,
    make,
)


@dataclass(frozen=True, slots=True)
class StatusFilter:
    """Which links `status` shows: by verdict, by citing report, by when their verdict last changed."""

    verdicts: tuple[str, ...] = ()
    report: str | None = None
    since: str | None = None  # ISO date or moment: verdict changed at or after it


class CatalogReader(PlanQueries, ExportQueries, NoticeQueries, SearchQueries, FeedQueries):
    """One connection to ARCHIVE/catalog.sqlite that only reads."""

    def __init__(self, connection: Database, path: Path) -> None:
        self.db = connection
        self.path = path

    @classmethod
    def open_readonly(cls, archive: Path, url: str = "") -> CatalogReader:
        """The catalog of an archive directory, to read: never creates nor changes anything (another user's
        archive, a read-only mount) but an upgrade of an old schema; a missing archive is an ArchiveError.

        url: a postgresql:// catalog (the shared setup's; config.catalog_url finds it), else ARCHIVE/catalog.sqlite."""
        path = archive / CATALOG_NAME
        if url:  # the shared setup: PostgreSQL, read from any machine
            from archiver.storage.catalog.postgres import open_shared

            return cls(open_shared(url, readonly=True), path)
        if not archive.is_dir():
            raise ArchiveError(f"{archive}: no such archive directory (`archiver run REPORTS...` makes one)")
        if not path.exists():
            raise ArchiveError(f"{archive}: no archive here (no {CATALOG_NAME}); `archiver run REPORTS...` makes one")
        last: Exception | None = None
        # mode=ro reads beside a live run; where even the WAL's shared memory cannot be made (a read-only
        # mount, another user's directory), immutable=1 reads the file as it is.
        for flags in ("mode=ro", "immutable=1"):
            try:
                connection = sqlite3.connect(f"{path.resolve().as_uri()}?{flags}", uri=True, timeout=30)
                connection.row_factory = sqlite3.Row
                done = applied(connection)
                break
            except sqlite3.DatabaseError as exc:
                last = exc
        else:
            raise ArchiveError(f"{path}: cannot read the catalog: {last}")
        newest = max(done, default=0)
        if newest > len(MIGRATIONS):
            connection.close()
            raise ArchiveError(f"{path}: made by a newer archiver (schema {newest}); upgrade archiver")
        if newest < len(MIGRATIONS):
            connection.close()
            _upgrade(archive, path, newest)  # the one write a reader makes
            return cls.open_readonly(archive, url)
        return cls(connection, path)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def memento_for(self, link: int, report: str | None = None) -> MementoRow | None:
        """The copy found for a link: for the given report's date, else for its earliest citing report."""
        where = "AND o.report = ?" if report else ""
        row = self.db.execute(
            f"""SELECT m.memento_url, m.memento_datetime, m.archive, m.looked_up_at, cp.text_digest, cp.title
                FROM mementos m
                JOIN cited_on o ON o.link = m.link AND o.reference = m.reference
                LEFT JOIN captures cp ON cp.id = m.capture
                WHERE m.link = ? AND m.status = 'found' {where}
                ORDER BY o.published IS NULL, o.published LIMIT 1""",
            (link, report) if report else (link,),
        ).fetchone()
        return make(MementoRow, row) if row else None

    def status_rows(self, filters: StatusFilter | None = None) -> Iterator[StatusRow]:
        """Every tracked link (that the filters keep) with its verdict, what cites it and its web archive copy.

        One query, streamed: memory stays flat however many links the archive tracks.
        """
        filters = filters or StatusFilter()
        where = [
            "EXISTS (SELECT 1 FROM citations c WHERE c.link = l.id" + (" AND c.report = ?)" if filters.report else ")")
        ]
        params: list[Any] = [filters.report] if filters.report else []
        if filters.verdicts:
            where.append(f"l.verdict IN ({', '.join('?' * len(filters.verdicts))})")
            params += list(filters.verdicts)
        if filters.since:
            where.append("l.verdict_since >= ?")
            params.append(filters.since)
        cursor = self.db.execute(
            f"""SELECT l.id, l.url, l.verdict, l.reason, l.http_status, l.first_archived, l.last_checked,
                   l.final_url, l.verdict_since,
                   (SELECT json_group_array(json_object('report', report, 'n', n)) FROM
                       (SELECT DISTINCT report, n FROM citations c WHERE c.link = l.id ORDER BY report, n) AS notes
                   ) AS cited,
                   (SELECT json_array(m.memento_url, m.memento_datetime) FROM mementos m
                       JOIN cited_on o ON o.link = m.link AND o.reference = m.reference
                       WHERE m.link = l.id AND m.status = 'found'
                       ORDER BY o.published IS NULL, o.published LIMIT 1) AS memento
                FROM links l WHERE {" AND ".join(where)} ORDER BY l.id""",
            params,
        )
        for _, url, verdict, reason, status, first, last, final, since, cited, memento in cursor:
            copy = json.loads(memento) if memento else (None, None)
            yield StatusRow(url, verdict, reason, status, first, last, citations(cited), final, since, *copy)

    def counts(self) -> dict[str, int]:
        """How many cited links have each verdict."""
        return {
            row[0]: row[1]
            for row in self.db.execute(
                "SELECT verdict, COUNT(*) FROM links WHERE id IN (SELECT link FROM citations) GROUP BY verdict"
            )
        }

    def report_row(self, report: str) -> ReportRow | None:
        """A tracked report's metadata, or None."""
        row = self.db.execute(f"SELECT {columns(ReportRow)} FROM reports WHERE report = ?", (report,)).fetchone()
        return make(ReportRow, row) if row else None

    def report_identity(self, report: str) -> tuple[str | None, str | None] | None:
        """(source file, content digest) of a tracked report, or None when no report has that name."""
        row = self.db.execute("SELECT source, digest FROM reports WHERE report = ?", (report,)).fetchone()
        return (row["source"], row["digest"]) if row else None

    def report_names(self) -> list[str]:
        """Every tracked report's name."""
        return [row[0] for row in self.db.execute("SELECT report FROM reports ORDER BY report")]

    def footnote_row(self, report: str, n: int) -> FootnoteRow | None:
        """A footnote's text and problems, or None."""
        row = self.db.execute(
            "SELECT report, n, text, problems, unparsed FROM footnotes WHERE report = ? AND n = ?", (report, n)
        ).fetchone()
        return FootnoteRow.of(row) if row else None

    def footnote_numbers(self, report: str) -> list[int]:
        """The footnote numbers a report has."""
        return [row[0] for row in self.db.execute("SELECT n FROM footnotes WHERE report = ? ORDER BY n", (report,))]

    def cited_links(self, report: str, n: int) -> list[LinkRow]:
        """The links a footnote cites, in the order written."""
        return [
            make(LinkRow, row)
            for row in self.db.execute(
                f"""SELECT {columns(LinkRow, "l")} FROM citations c JOIN links l ON l.id = c.link
               WHERE c.report = ? AND c.n = ? ORDER BY c.position""",
                (report, n),
            )
        ]

    def captures_of(self, link: int) -> list[CaptureRecord]:
        """A link's captures, oldest first."""
        return [
            make(CaptureRecord, row)
            for row in self.db.execute(
                f"""SELECT {columns(CaptureRecord)} FROM captures WHERE link = ? AND memento_url IS NULL
                    ORDER BY fetched_at, id""",
                (link,),
            )
        ]

    def warc_file_home(self, name: str) -> tuple[str | None, str | None, str | None]:
        """(the machine that wrote a WARC file, its object's URL once uploaded, when it was marked lost with
        its machine): the shared setup's."""
        row = self.db.execute("SELECT machine, object_url, lost_at FROM warc_files WHERE name = ?", (name,)).fetchone()
        return (row[0], row[1], row[2]) if row else (None, None, None)

    def checks_of(self, link: int, limit: int = 200) -> list[CheckRecord]:
        """A link's most recent checks (attempts included), oldest first."""
        rows = self.db.execute(
            f"SELECT {columns(CheckRecord)} FROM checks WHERE link = ? ORDER BY started_at DESC, id DESC LIMIT ?",
            (link, limit),
        )
        return [make(CheckRecord, row) for row in reversed(rows.fetchall())]


def _upgrade(archive: Path, path: Path, newest: int) -> None:
    if not os.access(archive, os.W_OK):
        raise ArchiveError(
            f"{path}: made by an older archiver (schema {newest}); run `archiver run` once where it "
            "can be written, to upgrade it"
        )
    try:
        connection = connect(path, shared=False)
        try:
            migrate(connection, path)
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise ArchiveError(f"{path}: not a usable catalog: {exc}") from exc
