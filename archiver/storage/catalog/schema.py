"""The catalog's schema: numbered migrations, the connections that open it, and its time format.

SQLite-specific SQL lives in this package only; the rest of the program calls Catalog's methods.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from archiver.errors import ArchiveError


class DbCursor(Protocol):
    """What the catalog reads of a cursor: sqlite3.Cursor, or postgres.Cursor."""

    @property
    def lastrowid(self) -> int | None: ...
    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Database(Protocol):
    """What the catalog uses of a connection: sqlite3.Connection, or postgres.PgDatabase."""

    @property
    def in_transaction(self) -> bool: ...
    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> DbCursor: ...
    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...
    def close(self) -> None: ...


CATALOG_NAME = "catalog.sqlite"
SHARED_VERSIONS = 1000  # the shared setup's own migrations (postgres.py) are numbered from here

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
    # 7: notifications. A service is known by the SHA-256 of its URL (the URL holds its secrets); a link
    # is told once per service and verdict spell (verdict_since), and only of spells since the service
    # was first configured.
    """
    CREATE TABLE notify_services (service TEXT PRIMARY KEY, first_seen TEXT NOT NULL);
    CREATE TABLE notices (
        service TEXT NOT NULL, link INTEGER NOT NULL REFERENCES links(id), verdict TEXT NOT NULL,
        since TEXT NOT NULL, sent_at TEXT NOT NULL, PRIMARY KEY (service, link, verdict, since)
    );
    """,
    # 8: search finds the captures of a text by its digest.
    """
    CREATE INDEX captures_by_text ON captures(text_digest);
    """,
    # 9: links as written: brackets were kept percent-encoded (the URI form belongs on the wire); the same
    # link (its canonical key unchanged) keeps its history, shown as the report wrote it.
    """
    UPDATE links SET url = replace(replace(replace(replace(url, '%5B', '['), '%5D', ']'), '%5b', '['), '%5d', ']')
        WHERE url LIKE '%!%5B%' ESCAPE '!' OR url LIKE '%!%5D%' ESCAPE '!';
    UPDATE captures SET url = replace(replace(replace(replace(url, '%5B', '['), '%5D', ']'), '%5b', '['), '%5d', ']')
        WHERE url LIKE '%!%5B%' ESCAPE '!' OR url LIKE '%!%5D%' ESCAPE '!';
    UPDATE checks SET url = replace(replace(replace(replace(url, '%5B', '['), '%5D', ']'), '%5b', '['), '%5d', ']')
        WHERE url LIKE '%!%5B%' ESCAPE '!' OR url LIKE '%!%5D%' ESCAPE '!';
    """,
    # 10: reports read from the web (their validators, where their date came from) and the feeds polled.
    """
    ALTER TABLE reports ADD COLUMN etag TEXT;
    ALTER TABLE reports ADD COLUMN last_modified TEXT;
    ALTER TABLE reports ADD COLUMN published_from TEXT;
    CREATE TABLE feeds (
        url TEXT PRIMARY KEY, title TEXT, added_at TEXT NOT NULL, last_polled TEXT, etag TEXT,
        last_modified TEXT, last_error TEXT
    );
    CREATE TABLE feed_entries (
        feed TEXT NOT NULL REFERENCES feeds(url) ON DELETE CASCADE, key TEXT NOT NULL, link TEXT NOT NULL,
        updated TEXT, report TEXT, read_at TEXT NOT NULL, PRIMARY KEY (feed, key)
    );
    """,
    # 11: how a capture was made (a plain fetch, a browser, a site's endpoint) and its screenshot.
    """
    ALTER TABLE captures ADD COLUMN captured_with TEXT NOT NULL DEFAULT 'http';
    ALTER TABLE captures ADD COLUMN screenshot TEXT
    """,
    # 12: the shared setup: a run's machine (its killed runs are its own to mark), a site's links
    # (a worker claims a host and checks its links), where a WARC file was written and where it went.
    """
    ALTER TABLE runs ADD COLUMN machine TEXT;
    CREATE INDEX links_host ON links(host);
    ALTER TABLE warc_files ADD COLUMN machine TEXT;
    ALTER TABLE warc_files ADD COLUMN object_url TEXT;
    ALTER TABLE warc_files ADD COLUMN lost_at TEXT
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


def connect(path: Path, *, shared: bool) -> sqlite3.Connection:
    """A writing connection: WAL, full fsync, foreign keys (shared: may be handed to another thread)."""
    connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=not shared)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA foreign_keys=ON")
    return connection


def applied(db: Database) -> set[int]:
    """The migrations an open catalog has had."""
    return {row[0] for row in db.execute("SELECT version FROM schema_migrations")}


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Apply the migrations a catalog has not had, each in its own transaction."""
    db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)")
    done = applied(db)
    for version, script in enumerate(MIGRATIONS, start=1):
        if version in done:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in script.split(";"):
                if statement.strip():
                    db.execute(statement)
            db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, iso(datetime.now(UTC))))
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    newest = max((version for version in done if version < SHARED_VERSIONS), default=0)
    if newest > len(MIGRATIONS):
        raise ArchiveError(f"{path}: made by a newer archiver (schema {newest}); upgrade archiver")
