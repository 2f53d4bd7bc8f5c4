"""The catalog's writes of the shared setup: a worker's uploaded files, a lost machine, its killed runs."""

from __future__ import annotations

import os
from contextlib import AbstractContextManager
from datetime import datetime

from archiver.storage.catalog.schema import Database, iso


class SharedWrites:
    """The write side (the catalog's writer)."""

    def transaction(self) -> AbstractContextManager[Database]:
        raise NotImplementedError

    def warc_uploaded(self, name: str, object_url: str) -> None:
        """A WARC file is in the object store (confirmed): readers take its records from there."""
        with self.transaction() as db:
            db.execute("UPDATE warc_files SET object_url = ? WHERE name = ?", (object_url, name))

    def forget_machine(self, machine: str, now: datetime) -> tuple[list[str], int]:
        """A worker's machine lost for good: its WARC files never uploaded are marked lost, and the links
        whose first or last capture was in them are made due as never captured (the next night captures
        them again, first). Returns (the files, the links)."""
        with self.transaction() as db:
            files = [
                row[0]
                for row in db.execute(
                    "SELECT name FROM warc_files WHERE machine = ? AND object_url IS NULL AND lost_at IS NULL",
                    (machine,),
                ).fetchall()
            ]
            links = 0
            for name in files:
                db.execute("UPDATE warc_files SET lost_at = ? WHERE name = ?", (iso(now), name))
                links += db.execute(
                    """UPDATE links SET
                       first_capture = CASE WHEN first_capture IN (SELECT id FROM captures WHERE warc_file = ?)
                                       THEN NULL ELSE first_capture END,
                       first_archived = CASE WHEN first_capture IN (SELECT id FROM captures WHERE warc_file = ?)
                                        THEN NULL ELSE first_archived END,
                       last_capture = NULL, etag = NULL, last_modified = NULL
                       WHERE last_capture IN (SELECT id FROM captures WHERE warc_file = ?)
                          OR first_capture IN (SELECT id FROM captures WHERE warc_file = ?)""",
                    (name, name, name, name),
                ).rowcount
        return files, links


def mark_killed(db: Database, machine: str) -> None:
    """This machine's runs left 'running' whose process is gone were killed (other machines' runs go on)."""
    running = db.execute("SELECT id, pid FROM runs WHERE status = 'running' AND machine = ?", (machine,))
    for gone in [row[0] for row in running.fetchall() if not _alive(row[1])]:
        db.execute("UPDATE runs SET status = 'killed' WHERE id = ?", (gone,))


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
