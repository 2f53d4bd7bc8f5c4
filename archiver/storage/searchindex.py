"""The full-text index of every archived text: SQLite FTS5 in its own file beside the catalog
(ARCHIVE/search.sqlite), so that indexing never blocks the catalog's writers.

A text is indexed once, keyed by its digest, however many links and captures share it; the index
remembers the last capture it has seen, so each run (and a first search of an older archive) adds
only what is new. What it holds are the texts' stems (searchtext.py); ranking is FTS5's bm25.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType

from archiver.errors import ArchiveError
from archiver.storage.catalog.pgsearch import PgSearchIndex
from archiver.storage.catalog.postgres import PgDatabase
from archiver.storage.searchtext import indexed

SEARCH_NAME = "search.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS texts (id INTEGER PRIMARY KEY, digest TEXT NOT NULL UNIQUE);
CREATE VIRTUAL TABLE IF NOT EXISTS words USING fts5(stems, content='', tokenize='unicode61 remove_diacritics 0');
CREATE TABLE IF NOT EXISTS seen (what TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


def open_index(archive: Path, catalog: object) -> SearchIndex | PgSearchIndex:
    """The index beside a catalog: PostgreSQL's own (pgsearch.py) for a shared catalog, else
    ARCHIVE/search.sqlite (opened for use on other threads than its opener's too)."""
    url = getattr(getattr(catalog, "db", None), "url", None)
    if isinstance(url, str) and url:
        return PgSearchIndex(PgDatabase(url))
    return SearchIndex.open(archive, shared=True)


class SearchIndex:
    """One connection to ARCHIVE/search.sqlite."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.db = connection
        self.path = path

    @classmethod
    def open(cls, archive: Path, *, shared: bool = False) -> SearchIndex:
        """Open (and create) the index; shared: its connection may be used by another thread than its opener."""
        path = archive / SEARCH_NAME
        try:
            connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=not shared)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise ArchiveError(
                f"{path}: not a usable search index ({exc}); `archiver search --reindex` rebuilds it"
            ) from exc
        except OSError as exc:
            raise ArchiveError(f"{path}: cannot open the search index: {exc}") from exc
        return cls(connection, path)

    def __enter__(self) -> SearchIndex:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @property
    def last_capture(self) -> int:
        """The newest capture id whose text is indexed (0 for a new index)."""
        row = self.db.execute("SELECT value FROM seen WHERE what = 'capture'").fetchone()
        return int(row[0]) if row else 0

    def add(self, texts: Iterable[tuple[str, str]], last_capture: int) -> int:
        """Index (digest, text) pairs not indexed yet, and remember the capture they reach: one transaction.
        Returns how many texts were new."""
        added = 0
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for digest, text in texts:
                cursor = self.db.execute("INSERT OR IGNORE INTO texts (digest) VALUES (?)", (digest,))
                if cursor.rowcount:
                    row = (cursor.lastrowid, indexed(text))
                    self.db.execute("INSERT INTO words (rowid, stems) VALUES (?, ?)", row)
                    added += 1
            self.db.execute("INSERT OR REPLACE INTO seen (what, value) VALUES ('capture', ?)", (last_capture,))
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        return added

    def add_stems(self, stems: Iterable[tuple[str, str]]) -> None:
        """Index texts whose words were made elsewhere (digest, stems), not yet indexed; one transaction.
        The last capture seen does not move: the catch-up after the night still walks these captures."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for digest, words in stems:
                cursor = self.db.execute("INSERT OR IGNORE INTO texts (digest) VALUES (?)", (digest,))
                if cursor.rowcount:
                    self.db.execute("INSERT INTO words (rowid, stems) VALUES (?, ?)", (cursor.lastrowid, words))
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def known(self, digests: Iterable[str]) -> set[str]:
        """Which of these digests are indexed."""
        wanted = list(digests)
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(
                row[0] for row in self.db.execute(f"SELECT digest FROM texts WHERE digest IN ({marks})", chunk)
            )
        return found

    def search(self, match: str, limit: int, offset: int = 0) -> list[tuple[str, float]]:
        """(digest, bm25 score) of the texts that match, best first. sqlite3.OperationalError for a MATCH
        that FTS5 cannot read."""
        rows = self.db.execute(
            """SELECT t.digest, bm25(words) AS score FROM words JOIN texts t ON t.id = words.rowid
               WHERE words MATCH ? ORDER BY score LIMIT ? OFFSET ?""",
            (match, limit, offset),
        )
        return [(digest, float(score)) for digest, score in rows]

    def clear(self) -> None:
        """Forget everything (a rebuild follows)."""
        self.db.execute("BEGIN IMMEDIATE")
        self.db.execute("DELETE FROM texts")
        self.db.execute("INSERT INTO words (words) VALUES ('delete-all')")  # a contentless table's way
        self.db.execute("DELETE FROM seen")
        self.db.execute("COMMIT")
