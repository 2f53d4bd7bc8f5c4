"""Moving a one-machine archive to the shared setup: its SQLite catalog into PostgreSQL, its files
(WARC files, texts, screenshots, report copies) into the object store, then a check of both.

Rows keep their ids (every reference stays true) and are copied with ON CONFLICT DO NOTHING, objects
are put under the same relative paths: a move that was cut short, or one made again after more
nights on the old archive, copies what is missing and nothing twice. The source is only read.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archiver.errors import ArchiveError
from archiver.storage.catalog import CATALOG_NAME, CatalogReader
from archiver.storage.catalog.postgres import PgDatabase, open_shared, redacted
from archiver.storage.objectstore import ObjectStore
from archiver.storage.reportcopies import REPORT_DIR
from archiver.storage.screenshots import SCREENSHOT_DIR
from archiver.storage.textstore import TEXT_DIR
from archiver.storage.warcstore import WARC_DIR

# Parents before children (foreign keys); each table's primary key names a row already copied.
TABLES: tuple[tuple[str, str], ...] = (
    ("reports", "report"),
    ("footnotes", "report, n"),
    ("links", "id"),
    ("citations", "report, n, position"),
    ("runs", "id"),
    ("warc_files", "name"),
    ("captures", "id"),
    ("checks", "id"),
    ("mementos", "id"),
    ("saves", "id"),
    ("notify_services", "service"),
    ("notices", "service, link, verdict, since"),
    ("feeds", "url"),
    ("feed_entries", "feed, key"),
)
_IDENTITIES = ("links", "runs", "captures", "checks", "mementos", "saves")
_BATCH = 5000


@dataclass
class MoveReport:
    """What a move copied and what its check found (problems empty: the target holds everything)."""

    rows: dict[str, tuple[int, int]] = field(default_factory=dict)  # table -> (source rows, target rows)
    objects: dict[str, int] = field(default_factory=dict)  # folder -> files in the store, checked
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tables": {name: {"source": s, "target": t} for name, (s, t) in self.rows.items()},
            "objects": self.objects,
            "problems": self.problems,
            "verified": not self.problems,
        }


def move_catalog(archive: Path, url: str, progress: Callable[[str], None]) -> MoveReport:
    """Copy every row of an archive's SQLite catalog into a PostgreSQL one (made or brought up to date),
    then compare the tables' counts."""
    CatalogReader.open_readonly(archive).close()  # an older catalog is brought up to date first
    source = sqlite3.connect(f"{(archive / CATALOG_NAME).resolve().as_uri()}?mode=ro", uri=True)
    target = open_shared(url, readonly=False)
    report = MoveReport()
    try:
        for table, key in TABLES:
            columns = [row[1] for row in source.execute(f"PRAGMA table_info({table})").fetchall()]
            progress(f"{table}: copying")
            _copy_table(source, target, table, key, columns)
        for table in _IDENTITIES:  # new rows get ids after the copied ones
            target.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 0) + 1, false) FROM {table}"
            )
        for table, _ in TABLES:
            count = int(source.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
            copied = int(target.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
            report.rows[table] = (count, copied)
            if copied < count:
                report.problems.append(f"{table}: {count} rows here, {copied} in {redacted(url)}")
    finally:
        target.close()
        source.close()
    return report


def _copy_table(source: sqlite3.Connection, target: PgDatabase, table: str, key: str, columns: list[str]) -> None:
    names = ", ".join(columns)
    marks = ", ".join("?" * len(columns))
    insert = f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT ({key}) DO NOTHING"
    cursor = source.execute(f"SELECT {names} FROM {table} ORDER BY {key}")
    while True:
        rows = cursor.fetchmany(_BATCH)
        if not rows:
            return
        target.execute("BEGIN")
        try:
            target.executemany(insert, [tuple(row) for row in rows])
        except BaseException:
            target.execute("ROLLBACK")
            raise
        target.execute("COMMIT")


def move_files(archive: Path, store: ObjectStore, target_url: str, progress: Callable[[str], None]) -> MoveReport:
    """Put the archive's files into the store (those not there with the same size), name the WARC files'
    objects in the catalog, then check every object's digest against the file's."""
    report = MoveReport()
    existing = _listing(store)
    catalog = PgDatabase(target_url)
    try:
        for folder in (WARC_DIR, TEXT_DIR, SCREENSHOT_DIR, REPORT_DIR):
            count = 0
            for path in _files(archive / folder):
                relative = path.relative_to(archive).as_posix()
                if existing.get(store.key(relative)) != path.stat().st_size:
                    store.upload_file(path, relative)
                if folder == WARC_DIR:
                    catalog.execute(
                        "UPDATE warc_files SET object_url = ? WHERE name = ?", (store.url_of(relative), path.name)
                    )
                problem = _verify(store, path, relative)
                if problem:
                    report.problems.append(problem)
                count += 1
            report.objects[folder] = count
            progress(f"{folder}: {count} files in {store.url}")
    finally:
        catalog.close()
    return report


def _files(folder: Path) -> Iterator[Path]:
    if folder.is_dir():
        paths = (p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".tmp"))
        yield from sorted(p for p in paths if "orphaned" not in p.relative_to(folder).parts)


def _listing(store: ObjectStore) -> dict[str, int]:
    sizes: dict[str, int] = {}
    paginator = store.client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=store.bucket, Prefix=f"{store.prefix}/" if store.prefix else ""):
        for item in page.get("Contents", []):
            sizes[item["Key"]] = int(item["Size"])
    return sizes


def _verify(store: ObjectStore, path: Path, relative: str) -> str | None:
    """The object's SHA-256 against the file's: None when they match."""
    if path.stat().st_size == 0:
        return None
    local = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            local.update(chunk)
    remote = hashlib.sha256()
    try:
        for chunk in store.get_range(relative, 0, path.stat().st_size):
            remote.update(chunk)
    except ArchiveError as exc:
        return str(exc)
    return None if remote.digest() == local.digest() else f"{store.url_of(relative)}: its digest differs from {path}"
