"""The SQLite catalog: schema, migrations and queries. The only SQL in the program."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from archiver.errors import ArchiveError
from archiver.outcomes import Failure, Verdict
from archiver.storage.readrows import (
    CaptureRecord,
    CheckRecord,
    ExportedCapture,
    ExportRow,
    FootnoteRow,
    LinkRow,
    MementoRow,
    NoteLink,
    NoteWithLinks,
    ReportCounts,
    ReportRow,
    RunRow,
    StatusRow,
    TurnedRow,
    citations,
    columns,
    make,
)

CATALOG_NAME = "catalog.sqlite"

# Numbered migrations, applied in order and recorded in schema_migrations (sqlite-utils' way).
MIGRATIONS: list[str] = [
    """
    CREATE TABLE reports (
        report TEXT PRIMARY KEY, path TEXT, title TEXT, published TEXT, authors TEXT NOT NULL DEFAULT '[]',
        format TEXT, added_at TEXT NOT NULL, updated_at TEXT NOT NULL
    );
    CREATE TABLE footnotes (
        report TEXT NOT NULL REFERENCES reports(report) ON DELETE CASCADE, n INTEGER NOT NULL,
        text TEXT, problems TEXT NOT NULL DEFAULT '[]', PRIMARY KEY (report, n)
    );
    CREATE TABLE links (
        id INTEGER PRIMARY KEY, url TEXT NOT NULL, canonical TEXT NOT NULL UNIQUE, host TEXT NOT NULL,
        added_at TEXT NOT NULL, verdict TEXT NOT NULL DEFAULT 'pending', reason TEXT NOT NULL DEFAULT 'never checked',
        verdict_since TEXT, http_status INTEGER, first_archived TEXT, last_checked TEXT,
        first_capture INTEGER, last_capture INTEGER, failures_in_row INTEGER NOT NULL DEFAULT 0,
        failing_since TEXT, final_url TEXT, etag TEXT, last_modified TEXT
    );
    CREATE TABLE citations (
        report TEXT NOT NULL REFERENCES reports(report) ON DELETE CASCADE, n INTEGER NOT NULL,
        position INTEGER NOT NULL, link INTEGER NOT NULL REFERENCES links(id), PRIMARY KEY (report, n, position)
    );
    CREATE INDEX citations_link ON citations(link);
    CREATE TABLE captures (
        id INTEGER PRIMARY KEY, link INTEGER NOT NULL REFERENCES links(id), fetched_at TEXT NOT NULL,
        url TEXT NOT NULL, final_url TEXT NOT NULL, http_status INTEGER NOT NULL, content_type TEXT,
        warc_file TEXT NOT NULL, warc_offset INTEGER NOT NULL, warc_length INTEGER NOT NULL,
        revisit_of INTEGER REFERENCES captures(id), payload_digest TEXT, content_digest TEXT, body_size INTEGER,
        text_digest TEXT, text_length INTEGER, kind TEXT, title TEXT, authors TEXT, published TEXT,
        language TEXT, extractor TEXT
    );
    CREATE INDEX captures_link ON captures(link, fetched_at);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL,
        pid INTEGER, summary TEXT
    );
    CREATE TABLE checks (
        id INTEGER PRIMARY KEY, link INTEGER NOT NULL REFERENCES links(id), run INTEGER REFERENCES runs(id),
        started_at TEXT NOT NULL, elapsed REAL, url TEXT NOT NULL, final_url TEXT, redirects TEXT NOT NULL DEFAULT '[]',
        http_status INTEGER, failure TEXT, detail TEXT, payload_digest TEXT, capture INTEGER REFERENCES captures(id),
        similarity REAL, diff TEXT, verdict TEXT NOT NULL, reason TEXT NOT NULL
    );
    CREATE INDEX checks_link ON checks(link, started_at);
    CREATE TABLE warc_files (name TEXT PRIMARY KEY, created_at TEXT NOT NULL, committed_size INTEGER NOT NULL);
    """,
    # 2: the span of all of a capture's records (redirect hops, requests), for exports that replay.
    """
    ALTER TABLE captures ADD COLUMN warc_start INTEGER;
    ALTER TABLE captures ADD COLUMN warc_end INTEGER;
    """,
    # 3: attempts that were retried within their run are not the run's word on a link.
    """
    ALTER TABLE checks ADD COLUMN retried INTEGER NOT NULL DEFAULT 0;
    """,
    # 4: copies held by public web archives, per link and reference moment (a citing report's date).
    """
    CREATE TABLE mementos (
        id INTEGER PRIMARY KEY, link INTEGER NOT NULL REFERENCES links(id), reference TEXT NOT NULL,
        status TEXT NOT NULL, archive TEXT, memento_url TEXT, memento_datetime TEXT,
        capture INTEGER REFERENCES captures(id), looked_up_at TEXT NOT NULL, detail TEXT,
        UNIQUE (link, reference)
    );
    ALTER TABLE captures ADD COLUMN memento_url TEXT;
    ALTER TABLE captures ADD COLUMN memento_datetime TEXT;
    CREATE TABLE saves (
        id INTEGER PRIMARY KEY, link INTEGER NOT NULL REFERENCES links(id), requested_at TEXT NOT NULL,
        status TEXT NOT NULL, detail TEXT
    );
    """,
    # 5: the date a report cited a link (its publication date, else when the link was added): one rule.
    """
    CREATE VIEW cited_on AS
        SELECT c.link, c.report, r.published, COALESCE(r.published, substr(l.added_at, 1, 10)) AS reference
        FROM citations c JOIN reports r ON r.report = c.report JOIN links l ON l.id = c.link;
    """,
    # 6: a report's identity (the file it was read from and its content), runs by kind (a live check is no
    # nightly run), the date a report cited a link falls back to when the report was added; indexes for
    # every filter the read side uses.
    """
    ALTER TABLE footnotes ADD COLUMN unparsed TEXT;
    ALTER TABLE reports ADD COLUMN source TEXT;
    ALTER TABLE reports ADD COLUMN digest TEXT;
    ALTER TABLE runs ADD COLUMN kind TEXT NOT NULL DEFAULT 'nightly';
    DROP VIEW cited_on;
    CREATE VIEW cited_on AS
        SELECT c.link, c.report, r.published, COALESCE(r.published, substr(r.added_at, 1, 10)) AS reference
        FROM citations c JOIN reports r ON r.report = c.report;
    CREATE INDEX links_verdict ON links(verdict, verdict_since);
    CREATE INDEX checks_verdict_change ON checks(link, verdict, started_at);
    CREATE INDEX mementos_link ON mementos(link, reference);
    CREATE INDEX captures_text ON captures(link, text_digest);
    CREATE INDEX checks_run ON checks(run, link);
    """,
]


def iso(moment: datetime | None) -> str | None:
    """A UTC time as the contract writes it: 2026-11-24T02:00:11Z."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str | None) -> datetime | None:
    """The inverse of iso()."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


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
    verdict_since: datetime
    failures_in_row: int
    failing_since: datetime | None
    etag: str | None
    last_modified: str | None
    retried: bool = False  # an attempt retried within the run: recorded, but not the link's new state
    keeps_state: bool = False  # an attempt that says nothing of the page (refused by policy): history only


@dataclass(frozen=True, slots=True)
class StatusFilter:
    """Which links `status` shows: by verdict, by citing report, by when their verdict last changed."""

    verdicts: tuple[str, ...] = ()
    report: str | None = None
    since: str | None = None  # ISO date or moment: verdict changed at or after it


class Catalog:
    """One writing connection to ARCHIVE/catalog.sqlite (WAL mode), one short transaction per link."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.db = connection
        self.path = path

    @classmethod
    def open(cls, archive: Path, *, create: bool = True, shared: bool = False, readonly: bool = False) -> Catalog:
        """Open (and create or migrate) the catalog of an archive directory.

        shared: the connection may be handed to another thread (one at a time).
        readonly: for commands that only read: never creates nor changes anything (another user's
        archive, a read-only mount); an archive that does not exist is an ArchiveError.
        """
        path = archive / CATALOG_NAME
        if readonly:
            return cls._open_readonly(archive, path)
        try:
            if create:
                archive.mkdir(parents=True, exist_ok=True)
            elif not path.exists():
                raise ArchiveError(f"{archive}: no archive here (no {CATALOG_NAME}); run `archiver run` first")
            connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=not shared)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA foreign_keys=ON")
            catalog = cls(connection, path)
            catalog._migrate()
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"{path}: not a usable catalog: {exc}") from exc
        except OSError as exc:
            raise ArchiveError(f"{archive}: cannot use this archive directory: {exc}") from exc
        return catalog

    @classmethod
    def _open_readonly(cls, archive: Path, path: Path) -> Catalog:
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
                done = {row[0] for row in connection.execute("SELECT version FROM schema_migrations")}
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
            if not os.access(archive, os.W_OK):
                raise ArchiveError(
                    f"{path}: made by an older archiver (schema {newest}); run `archiver run` once where it "
                    "can be written, to upgrade it"
                )
            cls.open(archive, create=False).close()  # the upgrade is the one write a reader makes
            return cls._open_readonly(archive, path)
        return cls(connection, path)

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on error.

        Inside another transaction it is a savepoint: its work is undone alone on error, and
        committed (one fsync) with the outer one."""
        if self.db.in_transaction:
            self.db.execute("SAVEPOINT inner")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK TO inner")
                self.db.execute("RELEASE inner")
                raise
            self.db.execute("RELEASE inner")
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
        done = {row[0] for row in self.db.execute("SELECT version FROM schema_migrations")}
        for version, script in enumerate(MIGRATIONS, start=1):
            if version in done:
                continue
            with self.transaction() as db:
                for statement in script.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, iso(datetime.now(UTC))))
        newest = max(done, default=0)
        if newest > len(MIGRATIONS):
            raise ArchiveError(f"{self.path}: made by a newer archiver (schema {newest}); upgrade archiver")

    # ----- reports ------------------------------------------------------------------------

    def save_report(
        self,
        report: Any,
        notes: Sequence[Any],
        canonical: Callable[[str], str],
        host_of: Callable[[str], str],
        now: datetime,
    ) -> int:
        """Add or refresh a report, its footnotes and what they cite; returns the number of new links."""
        stamp = iso(now)
        new_links = 0
        with self.transaction() as db:
            db.execute(
                """INSERT INTO reports (report, path, title, published, authors, format, added_at, updated_at,
                   source, digest)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(report) DO UPDATE SET path=excluded.path, title=excluded.title,
                   published=excluded.published, authors=excluded.authors, format=excluded.format,
                   updated_at=excluded.updated_at, source=excluded.source, digest=excluded.digest""",
                (
                    report.stem,
                    report.path,
                    report.title,
                    report.published,
                    json.dumps(list(report.authors)),
                    report.format,
                    stamp,
                    stamp,
                    report.source or None,
                    report.digest or None,
                ),
            )
            db.execute("DELETE FROM footnotes WHERE report = ?", (report.stem,))
            db.execute("DELETE FROM citations WHERE report = ?", (report.stem,))
            for note in notes:
                db.execute(
                    "INSERT INTO footnotes (report, n, text, problems, unparsed) VALUES (?, ?, ?, ?, ?)",
                    (
                        report.stem,
                        note.n,
                        note.text,
                        json.dumps([str(p) for p in note.problems]),
                        json.dumps(list(getattr(note, "unparsed", ()))),
                    ),
                )
                for position, url in enumerate(note.urls):
                    key = canonical(url)
                    row = db.execute("SELECT id FROM links WHERE canonical = ?", (key,)).fetchone()
                    if row is None:
                        cursor = db.execute(
                            "INSERT INTO links (url, canonical, host, added_at) VALUES (?, ?, ?, ?)",
                            (url, key, host_of(url), stamp),
                        )
                        link_id = cursor.lastrowid
                        new_links += 1
                    else:
                        link_id = row["id"]
                    db.execute(
                        "INSERT INTO citations (report, n, position, link) VALUES (?, ?, ?, ?)",
                        (report.stem, note.n, position, link_id),
                    )
        return new_links

    # ----- the run --------------------------------------------------------------------------

    def links_to_check(
        self, now: datetime, recheck_hours: float, urls: set[str] | None = None, *, report: str | None = None
    ) -> list[tuple[int, str]]:
        """(link id, host) of the cited links, in the order a night should spend its time on them.

        Never captured first, then unsettled (failing), then the longest unchecked; with a re-check
        interval, stable ok links checked more recently than it wait. Two small values a link, so a
        night of a million links plans in tens of megabytes; link_state() loads one when it starts.
        """
        recent = iso(now - timedelta(hours=recheck_hours)) if recheck_hours > 0 else None
        where = ["EXISTS (SELECT 1 FROM citations c WHERE c.link = l.id)"]
        params: list[Any] = []
        if recent is not None:
            where.append("NOT (l.verdict = 'ok' AND l.last_checked IS NOT NULL AND l.last_checked > ?)")
            params.append(recent)
        if urls is not None:
            where.append(f"l.url IN ({', '.join('?' * len(urls))})")
            params += sorted(urls)
        if report is not None:  # the links one report cites
            where.append("l.id IN (SELECT link FROM citations WHERE report = ?)")
            params.append(report)
        cursor = self.db.execute(
            f"""SELECT l.id, l.host FROM links l WHERE {" AND ".join(where)}
                ORDER BY (l.first_capture IS NULL) DESC, (l.verdict = 'failing') DESC,
                         l.last_checked IS NOT NULL, l.last_checked, l.id""",
            params,
        )
        hosts: dict[str, str] = {}
        return [(row[0], hosts.setdefault(row[1], row[1])) for row in cursor]

    def link_state(self, link: int) -> LinkState:
        """What the next check of a link needs to know about it."""
        row = self.db.execute(
            """SELECT l.*, f.text_digest AS first_text_digest, f.fetched_at AS first_fetched,
                      c.payload_digest AS last_payload_digest, c.id AS last_capture_id,
                      c.final_url AS last_capture_url, c.fetched_at AS last_capture_at,
                      c.text_digest AS last_text_digest
               FROM links l
               LEFT JOIN captures f ON f.id = l.first_capture
               LEFT JOIN captures c ON c.id = l.last_capture
               WHERE l.id = ?""",
            (link,),
        ).fetchone()
        return LinkState(
            id=row["id"],
            url=row["url"],
            host=row["host"],
            verdict=Verdict(row["verdict"]),
            verdict_since=parse_iso(row["verdict_since"]),
            failures_in_row=row["failures_in_row"],
            failing_since=parse_iso(row["failing_since"]),
            etag=row["etag"],
            last_modified=row["last_modified"],
            first_text_digest=row["first_text_digest"],
            first_archived=parse_iso(row["first_fetched"]),
            last_payload_digest=row["last_payload_digest"],
            last_capture_id=row["last_capture_id"],
            last_capture_url=row["last_capture_url"],
            last_capture_at=parse_iso(row["last_capture_at"]),
            last_text_digest=row["last_text_digest"],
            reason=row["reason"],
        )

    def warc_committed(self) -> dict[str, int]:
        """WARC file name -> the size up to which its records are committed."""
        return {row[0]: row[1] for row in self.db.execute("SELECT name, committed_size FROM warc_files")}

    def register_warc_file(self, name: str, size: int, now: datetime) -> None:
        """A new WARC file and the size of its committed beginning (the warcinfo record)."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO warc_files VALUES (?, ?, ?)", (name, iso(now), size))

    def start_run(self, now: datetime, pid: int, kind: str = "nightly") -> int:
        """Record a run's start (kind: "nightly", or "live" for `check --live`); mark runs a kill left 'running'."""
        with self.transaction() as db:
            db.execute("UPDATE runs SET status = 'killed' WHERE status = 'running'")
            cursor = db.execute(
                "INSERT INTO runs (started_at, status, pid, kind) VALUES (?, 'running', ?, ?)", (iso(now), pid, kind)
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    def finish_run(self, run: int, now: datetime, status: str, summary: dict[str, Any]) -> None:
        """Record a run's end and its summary."""
        with self.transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE id = ?",
                (iso(now), status, json.dumps(summary), run),
            )

    def record_checks(
        self,
        checks: Sequence[tuple[CheckRow, CaptureRow | None, tuple[str, int] | None]],
        new_files: Sequence[tuple[str, int]],
        now: datetime,
    ) -> None:
        """A batch of checks (and the WARC files opened for them) in one transaction: all or none."""
        with self.transaction() as db:
            for name, size in new_files:
                db.execute("INSERT OR REPLACE INTO warc_files VALUES (?, ?, ?)", (name, iso(now), size))
            for check, capture, warc_size in checks:
                self._record_check(db, check, capture, warc_size)

    def _record_check(
        self,
        db: sqlite3.Connection,
        check: CheckRow,
        capture: CaptureRow | None,
        warc_size: tuple[str, int] | None,
    ) -> None:
        capture_id = self._insert_capture(db, check.link, capture) if capture is not None else None
        if warc_size is not None:
            db.execute("UPDATE warc_files SET committed_size = ? WHERE name = ?", (warc_size[1], warc_size[0]))
        db.execute(
            """INSERT INTO checks (link, run, started_at, elapsed, url, final_url, redirects, http_status,
               failure, detail, payload_digest, capture, similarity, diff, verdict, reason, retried)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                check.link,
                check.run,
                iso(check.started_at),
                round(check.elapsed, 3),
                check.url,
                check.final_url,
                json.dumps(list(check.redirects)),
                check.http_status,
                check.failure,
                check.detail,
                check.payload_digest,
                capture_id,
                check.similarity,
                check.diff,
                check.verdict,
                check.reason,
                int(check.retried),
            ),
        )
        if check.retried or check.keeps_state:
            return
        # Only a page judged ok becomes "what the footnote cited": not a soft 404, a challenge, a parked page.
        first = capture_id if capture is not None and capture.http_status < 300 and check.verdict == "ok" else None
        db.execute(
            """UPDATE links SET verdict = ?, reason = ?, verdict_since = ?, http_status = ?, last_checked = ?,
               failures_in_row = ?, failing_since = ?, final_url = COALESCE(?, final_url),
               etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified),
               last_capture = COALESCE(?, last_capture),
               first_capture = COALESCE(first_capture, ?),
               first_archived = COALESCE(first_archived, ?)
               WHERE id = ?""",
            (
                check.verdict,
                check.reason,
                iso(check.verdict_since),
                check.http_status,
                iso(check.started_at),
                check.failures_in_row,
                iso(check.failing_since),
                check.final_url,
                check.etag,
                check.last_modified,
                capture_id,
                first,
                iso(capture.fetched_at) if first and capture else None,
                check.link,
            ),
        )

    @staticmethod
    def _insert_capture(db: sqlite3.Connection, link: int, capture: CaptureRow) -> int:
        cursor = db.execute(
            """INSERT INTO captures (link, fetched_at, url, final_url, http_status, content_type, warc_file,
               warc_offset, warc_length, revisit_of, payload_digest, content_digest, body_size, text_digest,
               text_length, kind, title, authors, published, language, extractor, warc_start, warc_end,
               memento_url, memento_datetime)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                link,
                iso(capture.fetched_at),
                capture.url,
                capture.final_url,
                capture.http_status,
                capture.content_type,
                capture.warc_file,
                capture.warc_offset,
                capture.warc_length,
                capture.revisit_of,
                capture.payload_digest,
                capture.content_digest,
                capture.body_size,
                capture.text_digest,
                capture.text_length,
                capture.kind,
                capture.title,
                capture.authors,
                capture.published,
                capture.language,
                capture.extractor,
                capture.warc_start,
                capture.warc_end,
                capture.memento_url,
                iso(capture.memento_datetime),
            ),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    # ----- web archives' copies -------------------------------------------------------------

    def memento_needs(self, now: datetime, retry_none_after_days: float = 30.0) -> list[tuple[int, str, str]]:
        """(link, url, reference) for dead or never-captured links without a settled lookup for that date.

        The reference is a citing report's publication date (or, without one, when the link was
        added); a link cited by reports of several dates needs one lookup per date. Lookups that
        failed are asked again; "none" answers after a while (captures after the date may appear).
        """
        rows = self.db.execute(
            """SELECT DISTINCT l.id, l.url, o.reference
               FROM links l JOIN cited_on o ON o.link = l.id
               WHERE l.verdict = 'dead' OR (l.first_capture IS NULL AND l.verdict != 'pending')
               ORDER BY l.id, reference"""
        ).fetchall()
        settled = {
            (row["link"], row["reference"]): (row["status"], parse_iso(row["looked_up_at"]))
            for row in self.db.execute("SELECT link, reference, status, looked_up_at FROM mementos")
        }
        needs = []
        for row in rows:
            status, when = settled.get((row["id"], row["reference"]), (None, None))
            if status == "found":
                continue
            if status == "none" and when is not None and (now - when).days < retry_none_after_days:
                continue
            needs.append((row["id"], row["url"], row["reference"]))
        return needs

    def record_memento(
        self,
        link: int,
        reference: str,
        status: str,
        now: datetime,
        *,
        archive: str | None = None,
        memento_url: str | None = None,
        memento_datetime: datetime | None = None,
        capture: CaptureRow | None = None,
        warc_size: tuple[str, int] | None = None,
        detail: str = "",
    ) -> None:
        """A lookup's answer (found, none or error), with the stored copy, in one transaction."""
        with self.transaction() as db:
            capture_id = self._insert_capture(db, link, capture) if capture is not None else None
            if warc_size is not None:
                db.execute("UPDATE warc_files SET committed_size = ? WHERE name = ?", (warc_size[1], warc_size[0]))
            db.execute(
                """INSERT INTO mementos (link, reference, status, archive, memento_url, memento_datetime, capture,
                   looked_up_at, detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(link, reference) DO UPDATE SET status=excluded.status, archive=excluded.archive,
                   memento_url=excluded.memento_url, memento_datetime=excluded.memento_datetime,
                   capture=excluded.capture, looked_up_at=excluded.looked_up_at, detail=excluded.detail""",
                (link, reference, status, archive, memento_url, iso(memento_datetime), capture_id, iso(now), detail),
            )

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

    def record_save(self, link: int, now: datetime, status: str, detail: str) -> None:
        """A Save Page Now request made for a link."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO saves (link, requested_at, status, detail) VALUES (?, ?, ?, ?)",
                (link, iso(now), status, detail),
            )

    def save_candidates(self, now: datetime, again_after_days: float = 30.0) -> list[tuple[int, str]]:
        """Live links (ok or changed) that no Save Page Now request covered lately."""
        rows = self.db.execute(
            """SELECT l.id, l.url, MAX(s.requested_at) AS last FROM links l LEFT JOIN saves s ON s.link = l.id
               WHERE l.verdict IN ('ok', 'changed') AND l.id IN (SELECT link FROM citations)
               GROUP BY l.id ORDER BY l.id"""
        ).fetchall()
        return [
            (row["id"], row["url"])
            for row in rows
            if row["last"] is None or (now - (parse_iso(row["last"]) or now)).days >= again_after_days
        ]

    # ----- reading ------------------------------------------------------------------------

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
                       (SELECT DISTINCT report, n FROM citations c WHERE c.link = l.id ORDER BY report, n)) AS cited,
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

    # ----- one footnote (check) -------------------------------------------------------------

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

    def checks_of(self, link: int, limit: int = 200) -> list[CheckRecord]:
        """A link's most recent checks (attempts included), oldest first."""
        rows = self.db.execute(
            f"SELECT {columns(CheckRecord)} FROM checks WHERE link = ? ORDER BY started_at DESC, id DESC LIMIT ?",
            (link, limit),
        )
        return [make(CheckRecord, row) for row in reversed(rows.fetchall())]

    # ----- export ---------------------------------------------------------------------------

    def export_rows(self, report: str | None) -> Iterator[ExportRow]:
        """One row per (report, footnote, link) with the first capture, streamed in report order."""
        where = "WHERE c.report = ?" if report else ""
        cursor = self.db.execute(
            f"""SELECT c.report, c.n, c.position, r.title AS report_title, r.published, f.text AS note,
                       l.id AS link, l.url, l.verdict, l.reason, l.http_status, l.first_archived, l.last_checked,
                       l.final_url, l.verdict_since,
                       (SELECT MIN(started_at) FROM checks WHERE link = l.id) AS first_checked,
                       fc.fetched_at, fc.title, fc.text_digest, fc.payload_digest, fc.http_status AS capture_status,
                       fc.final_url AS capture_url, fc.content_type, fc.warc_file, fc.warc_offset,
                       (SELECT json_array(m.memento_url, m.memento_datetime, m.archive, m.looked_up_at,
                                          mc.text_digest, mc.title)
                          FROM mementos m JOIN cited_on o ON o.link = m.link AND o.reference = m.reference
                          LEFT JOIN captures mc ON mc.id = m.capture
                          WHERE m.link = l.id AND m.status = 'found' AND o.report = c.report LIMIT 1) AS memento
                FROM citations c
                JOIN reports r ON r.report = c.report
                JOIN footnotes f ON f.report = c.report AND f.n = c.n
                JOIN links l ON l.id = c.link
                LEFT JOIN captures fc ON fc.id = l.first_capture
                {where}
                ORDER BY c.report, c.n, c.position""",
            (report,) if report else (),
        )
        for row in cursor:
            memento = MementoRow(*json.loads(row[-1])) if row[-1] else None
            yield make(ExportRow, (*row[:-1], memento))

    def export_captures(self, report: str | None) -> Iterator[ExportedCapture]:
        """Every capture of the links cited (by one report, or by any), oldest first, streamed."""
        where = (
            "WHERE l.id IN (SELECT link FROM citations WHERE report = ?)"
            if report
            else "WHERE l.id IN (SELECT link FROM citations)"
        )
        cursor = self.db.execute(
            f"""SELECT {columns(CaptureRecord, "cp")}, l.url FROM captures cp JOIN links l ON l.id = cp.link {where}
                ORDER BY cp.fetched_at, cp.id""",
            (report,) if report else (),
        )
        for *capture, link_url in cursor:
            yield ExportedCapture(CaptureRecord(*capture), link_url)

    # ----- dashboard ------------------------------------------------------------------------

    def report_counts(self) -> list[ReportCounts]:
        """Every report with its number of links per verdict."""
        rows = self.db.execute(
            """SELECT r.report, r.title, r.published, l.verdict, COUNT(DISTINCT l.id) AS links
               FROM reports r LEFT JOIN citations c ON c.report = r.report LEFT JOIN links l ON l.id = c.link
               GROUP BY r.report, l.verdict ORDER BY r.report"""
        )
        reports: dict[str, ReportCounts] = {}
        for name, title, published, verdict, links in rows:
            entry = reports.setdefault(name, ReportCounts(name, title, published, {}))
            if verdict is not None:
                entry.counts[verdict] = links
        return list(reports.values())

    def recent_runs(self, limit: int = 14) -> list[RunRow]:
        """The last runs with their summaries, oldest first."""
        rows = self.db.execute(
            f"SELECT {columns(RunRow)} FROM runs WHERE kind = 'nightly' ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [RunRow.of(row) for row in reversed(rows)]

    def turned(self, verdicts: Sequence[str], limit: int = 500) -> tuple[list[TurnedRow], int]:
        """Links the latest nightly run gave one of these verdicts when their check before gave another.

        Returns at most `limit` of them, newest first, and how many there are in all.
        """
        marks = ",".join("?" * len(verdicts))
        rows = self.db.execute(
            f"""WITH latest AS (SELECT MAX(id) AS id FROM runs WHERE kind = 'nightly'),
                cur AS (
                    SELECT k.link, k.verdict, k.reason, k.started_at FROM checks k JOIN latest ON k.run = latest.id
                    WHERE k.retried = 0 AND k.id = (SELECT MAX(k2.id) FROM checks k2
                                                    WHERE k2.link = k.link AND k2.run = k.run AND k2.retried = 0)),
                judged AS (
                    SELECT cur.*, (SELECT k3.verdict FROM checks k3, latest
                                   WHERE k3.link = cur.link AND k3.run < latest.id AND k3.retried = 0
                                   ORDER BY k3.run DESC, k3.id DESC LIMIT 1) AS before
                    FROM cur WHERE cur.verdict IN ({marks}))
                SELECT l.url, l.id AS link, j.verdict, j.reason, j.started_at, j.before,
                       (SELECT json_group_array(json_object('report', report, 'n', n)) FROM
                           (SELECT DISTINCT report, n FROM citations c WHERE c.link = l.id ORDER BY report, n)
                       ) AS cited,
                       COUNT(*) OVER () AS total
                FROM judged j JOIN links l ON l.id = j.link
                WHERE (j.before IS NULL OR j.before != j.verdict)
                  AND EXISTS (SELECT 1 FROM citations c WHERE c.link = l.id)
                ORDER BY j.started_at DESC LIMIT ?""",
            (*verdicts, limit),
        ).fetchall()
        total = rows[0]["total"] if rows else 0
        turned = [
            TurnedRow(url, link, verdict, reason, started, before, citations(cited))
            for url, link, verdict, reason, started, before, cited, _ in rows
        ]
        return turned, total

    def report_footnotes(self, report: str) -> list[NoteWithLinks]:
        """A report's footnotes, each with its links' state and first capture."""
        notes = [
            NoteWithLinks(n, text, tuple(json.loads(problems or "[]")), [])
            for n, text, problems in self.db.execute(
                "SELECT n, text, problems FROM footnotes WHERE report = ? ORDER BY n", (report,)
            )
        ]
        by_n = {note.n: note for note in notes}
        for row in self.db.execute(
            """SELECT c.n, l.url, l.verdict, l.reason, l.last_checked, l.first_archived, l.final_url,
                      fc.text_digest, fc.fetched_at, fc.title,
                      (SELECT json_array(m.memento_url, m.memento_datetime) FROM mementos m
                          WHERE m.link = l.id AND m.status = 'found' AND m.reference =
                              (SELECT o.reference FROM cited_on o WHERE o.link = l.id AND o.report = c.report LIMIT 1)
                      ) AS memento,
                      CASE WHEN l.verdict = 'changed' THEN
                          (SELECT k.diff FROM checks k WHERE k.link = l.id AND k.diff IS NOT NULL
                           ORDER BY k.started_at DESC LIMIT 1) END AS diff
               FROM citations c JOIN links l ON l.id = c.link LEFT JOIN captures fc ON fc.id = l.first_capture
               WHERE c.report = ? ORDER BY c.n, c.position""",
            (report,),
        ):
            memento_url, memento_datetime = json.loads(row[-2]) if row[-2] else (None, None)
            by_n[row[0]].links.append(make(NoteLink, (*row[:-2], memento_url, memento_datetime, row[-1])))
        return notes
