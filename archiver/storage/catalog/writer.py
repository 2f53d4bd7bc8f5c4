"""The catalog's writer: the one connection that changes the catalog, one short transaction per batch.

During a night only the storage thread writes (reports as they are read, checks in batches, web
archive copies); before and after it the main thread starts and finishes the run. INSERT column
lists are made from the rows' dataclass fields, so a new capture column is one field and one
migration.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import Any

from archiver.errors import ArchiveError
from archiver.outcomes import LINK_STATE, CaptureRow, CheckRow
from archiver.storage.catalog import notices
from archiver.storage.catalog.feeds import FeedWrites
from archiver.storage.catalog.reader import CatalogReader
from archiver.storage.catalog.reportwrites import ReportWrites
from archiver.storage.catalog.schema import CATALOG_NAME, Database, connect, iso, migrate
from archiver.storage.catalog.sharedwrites import SharedWrites, mark_killed
from archiver.storage.readrows import NewsRow


@dataclass(frozen=True, slots=True)
class _Insert:
    """An INSERT made from a row dataclass's fields: its SQL, and the values of a row in column order."""

    sql: str
    get: Callable[[Any], tuple[Any, ...]]
    convert: tuple[tuple[int, Callable[[Any], Any]], ...]  # (position, how a value is written)

    @classmethod
    def of(
        cls, table: str, row: type, extra: str, convert: dict[str, Callable[[Any], Any]], skip: Callable[[Any], bool]
    ) -> _Insert:
        names = [f.name for f in fields(row) if not skip(f)]
        columns = [*names, extra]
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        positions = tuple((names.index(name), how) for name, how in convert.items())
        return cls(sql, attrgetter(*names), positions)

    def values(self, row: Any, extra: Any) -> list[Any]:
        values = [*self.get(row), extra]
        for position, how in self.convert:
            values[position] = how(values[position])
        return values


_WARC_FILE = """INSERT INTO warc_files (name, created_at, committed_size, machine) VALUES (?, ?, ?, ?)
    ON CONFLICT (name) DO UPDATE SET created_at = excluded.created_at, committed_size = excluded.committed_size"""
_CAPTURES = _Insert.of("captures", CaptureRow, "link", {"fetched_at": iso, "memento_datetime": iso}, lambda f: False)
_CHECKS = _Insert.of(
    "checks",
    CheckRow,
    "capture",
    {"started_at": iso, "elapsed": lambda s: round(s, 3), "redirects": lambda r: json.dumps(list(r)), "retried": int},
    lambda f: f.metadata == LINK_STATE,
)


class Catalog(CatalogReader, FeedWrites, ReportWrites, SharedWrites):
    """The writing connection to ARCHIVE/catalog.sqlite (WAL mode); it reads as CatalogReader does."""

    machine: str | None = None  # the shared setup: the machine whose worker writes (its WARC files are its own)

    @classmethod
    def open(cls, archive: Path, *, create: bool = True, shared: bool = False, url: str = "") -> Catalog:
        """Open (and create or migrate) the catalog of an archive directory.

        shared: the connection may be handed to another thread (one at a time).
        """
        path = archive / CATALOG_NAME
        if url:  # the shared setup: PostgreSQL; the archive directory is this worker's own
            from archiver.storage.catalog.postgres import open_shared

            archive.mkdir(parents=True, exist_ok=True)
            return cls(open_shared(url, readonly=False), path)
        try:
            if create:
                archive.mkdir(parents=True, exist_ok=True)
            elif not path.exists():
                raise ArchiveError(f"{archive}: no archive here (no {CATALOG_NAME}); run `archiver run` first")
            connection = connect(path, shared=shared)
            migrate(connection, path)
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(f"{path}: not a usable catalog: {exc}") from exc
        except OSError as exc:
            raise ArchiveError(f"{archive}: cannot use this archive directory: {exc}") from exc
        return cls(connection, path)

    @contextmanager
    def transaction(self) -> Iterator[Database]:
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

    # ----- the run --------------------------------------------------------------------------

    def register_warc_file(self, name: str, size: int, now: datetime) -> None:
        """A new WARC file and the size of its committed beginning (the warcinfo record)."""
        with self.transaction() as db:
            db.execute(_WARC_FILE, (name, iso(now), size, self.machine))

    def start_run(self, now: datetime, pid: int, kind: str = "nightly", machine: str | None = None) -> int:
        """Record a run's start (kind: "nightly", or "live" for `check --live`); mark runs a kill left 'running'.

        machine: the shared setup's worker's machine; other workers run beside it, so only this machine's
        runs whose process is gone are marked."""
        with self.transaction() as db:
            if machine is None:
                db.execute("UPDATE runs SET status = 'killed' WHERE status = 'running'")
            else:
                self.machine = machine
                mark_killed(db, machine)
            cursor = db.execute(
                "INSERT INTO runs (started_at, status, pid, kind, machine) VALUES (?, 'running', ?, ?, ?)",
                (iso(now), pid, kind, machine),
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
                db.execute(_WARC_FILE, (name, iso(now), size, self.machine))
            for check, capture, warc_size in checks:
                self._record_check(db, check, capture, warc_size)

    def _record_check(
        self,
        db: Database,
        check: CheckRow,
        capture: CaptureRow | None,
        warc_size: tuple[str, int] | None,
    ) -> None:
        capture_id = self._insert_capture(db, check.link, capture) if capture is not None else None
        if warc_size is not None:
            db.execute("UPDATE warc_files SET committed_size = ? WHERE name = ?", (warc_size[1], warc_size[0]))
        db.execute(_CHECKS.sql, _CHECKS.values(check, capture_id))
        if check.retried or check.keeps_state:
            return
        # Only a page judged ok becomes "what the footnote cited": not a soft 404, a challenge, a parked page.
        first = capture_id if capture is not None and capture.http_status < 300 and check.verdict == "ok" else None
        db.execute(
            """UPDATE links SET verdict = ?, reason = ?, verdict_since = ?, http_status = ?, last_checked = ?,
               failures_in_row = ?, failing_since = ?, final_url = COALESCE(?, final_url),
               etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified),
               last_capture = COALESCE(?, last_capture),
               first_capture = CASE WHEN ? THEN ? ELSE COALESCE(first_capture, ?) END,
               first_archived = CASE WHEN ? THEN ? ELSE COALESCE(first_archived, ?) END
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
                *(bool(first and check.replaces_first), first, first),
                *(bool(first and check.replaces_first), *[iso(capture.fetched_at) if first and capture else None] * 2),
                check.link,
            ),
        )

    @staticmethod
    def _insert_capture(db: Database, link: int, capture: CaptureRow) -> int:
        cursor = db.execute(_CAPTURES.sql, _CAPTURES.values(capture, link))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    # ----- notifications --------------------------------------------------------------------

    def register_service(self, service: str, now: datetime) -> None:
        """A notification service seen for the first time is owed only what happens from now on."""
        with self.transaction() as db:
            notices.register_service(db, service, now)

    def record_notices(self, service: str, told: Sequence[NewsRow], now: datetime) -> None:
        """What a service was told, so that a rerun of the night never tells it twice."""
        with self.transaction() as db:
            notices.record_notices(db, service, told, now)

    # ----- web archives' copies -------------------------------------------------------------

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

    def record_save(self, link: int, now: datetime, status: str, detail: str) -> None:
        """A Save Page Now request made for a link."""
        with self.transaction() as db:
            db.execute(
                "INSERT INTO saves (link, requested_at, status, detail) VALUES (?, ?, ?, ?)",
                (link, iso(now), status, detail),
            )
