"""The catalog's writes of a report: the report, its footnotes and the links they cite, in one transaction."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from archiver.storage.catalog.schema import Database, iso


class Report(Protocol):
    """What the catalog keeps of a report (reading's Report; storage imports no other stage)."""

    @property
    def stem(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def published(self) -> str | None: ...
    @property
    def authors(self) -> tuple[str, ...]: ...
    @property
    def format(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def digest(self) -> str: ...


class Footnote(Protocol):
    """What the catalog keeps of a footnote (reading's Footnote)."""

    @property
    def n(self) -> int: ...
    @property
    def text(self) -> str | None: ...
    @property
    def problems(self) -> Sequence[object]: ...
    @property
    def unparsed(self) -> Sequence[str]: ...
    @property
    def urls(self) -> Sequence[str]: ...


class ReportWrites:
    """The write side (the catalog's writer)."""

    def transaction(self) -> AbstractContextManager[Database]:
        raise NotImplementedError

    def save_report(
        self,
        report: Report,
        notes: Sequence[Footnote],
        canonical: Callable[[str], str],
        host_of: Callable[[str], str],
        now: datetime,
    ) -> int:
        """Add or refresh a report, its footnotes and what they cite; returns the number of new links."""
        stamp = iso(now)
        new_links = 0
        with self.transaction() as db:
            if getattr(db, "dialect", "sqlite") == "postgresql":  # workers saving the same report: one at a time
                db.execute("LOCK TABLE reports IN SHARE ROW EXCLUSIVE MODE")
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
                        json.dumps(list(note.unparsed)),
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
