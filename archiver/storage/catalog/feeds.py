"""Reports from the web: the feeds a run polls, the entries already read, a web report's validators."""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime

from archiver.storage.catalog.schema import Database, iso


@dataclass(frozen=True, slots=True)
class FeedRow:
    """A registered feed, as `archiver feeds` lists it."""

    url: str
    title: str | None
    added_at: str
    last_polled: str | None
    etag: str | None
    last_modified: str | None
    last_error: str | None
    entries_seen: int


@dataclass(frozen=True, slots=True)
class WebReport:
    """What the archive knows of a report read from a URL: its name and the validators of its page."""

    report: str
    digest: str | None
    etag: str | None
    last_modified: str | None


class FeedQueries:
    """The read side."""

    db: Database

    def feeds(self) -> list[FeedRow]:
        rows = self.db.execute(
            """SELECT f.url, f.title, f.added_at, f.last_polled, f.etag, f.last_modified, f.last_error,
                      (SELECT COUNT(*) FROM feed_entries e WHERE e.feed = f.url)
               FROM feeds f ORDER BY f.added_at, f.url"""
        )
        return [FeedRow(*row) for row in rows]

    def feed_entries(self, feed: str) -> dict[str, str | None]:
        """The entries of a feed already read: key -> the `updated` it had then."""
        return {
            key: updated
            for key, updated in self.db.execute("SELECT key, updated FROM feed_entries WHERE feed = ?", (feed,))
        }

    def web_report(self, source: str) -> WebReport | None:
        """The report read from this page (its canonical URL), if any."""
        row = self.db.execute(
            "SELECT report, digest, etag, last_modified FROM reports WHERE source = ?", (source,)
        ).fetchone()
        return WebReport(*row) if row else None


class FeedWrites:
    """The write side (the catalog's writer)."""

    def transaction(self) -> AbstractContextManager[Database]:
        raise NotImplementedError

    def add_feed(self, url: str, now: datetime) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO feeds (url, added_at) VALUES (?, ?) ON CONFLICT DO NOTHING", (url, iso(now)))

    def remove_feed(self, url: str) -> bool:
        with self.transaction() as db:
            db.execute("DELETE FROM feed_entries WHERE feed = ?", (url,))
            return db.execute("DELETE FROM feeds WHERE url = ?", (url,)).rowcount > 0

    def record_poll(
        self,
        url: str,
        now: datetime,
        *,
        title: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        error: str | None = None,
    ) -> None:
        """A poll's outcome: validators and title when it was read, the error when not (the old ones kept)."""
        with self.transaction() as db:
            if error is not None:
                db.execute("UPDATE feeds SET last_polled = ?, last_error = ? WHERE url = ?", (iso(now), error, url))
            else:
                db.execute(  # a validator given as "" is forgotten: the next poll asks for the whole feed
                    """UPDATE feeds SET last_polled = ?, last_error = NULL, title = COALESCE(?, title),
                       etag = NULLIF(COALESCE(?, etag), ''),
                       last_modified = NULLIF(COALESCE(?, last_modified), '') WHERE url = ?""",
                    (iso(now), title, etag, last_modified, url),
                )

    def entry_read(self, feed: str, key: str, link: str, updated: str | None, report: str, now: datetime) -> None:
        with self.transaction() as db:
            db.execute(
                """INSERT INTO feed_entries (feed, key, link, updated, report, read_at)
                   VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (feed, key) DO UPDATE SET link = excluded.link,
                   updated = excluded.updated, report = excluded.report, read_at = excluded.read_at""",
                (feed, key, link, updated, report, iso(now)),
            )

    def commit_warc(self, name: str, size: int) -> None:
        """A WARC file's records up to size are committed (a report page's, stored outside a check)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE warc_files SET committed_size = ? WHERE name = ? AND committed_size < ?", (size, name, size)
            )

    def web_report_read(
        self, report: str, etag: str | None, last_modified: str | None, published_from: str | None
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE reports SET etag = ?, last_modified = ?, published_from = ? WHERE report = ?",
                (etag, last_modified, published_from, report),
            )
