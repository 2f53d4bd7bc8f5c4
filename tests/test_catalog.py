"""Catalog.save_report: a report's footnotes and the links they cite, stored in a statement a table."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from archiver.reading.refang import canonical, host_of
from archiver.storage.catalog import Catalog

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _report(stem: str) -> Any:
    return SimpleNamespace(
        stem=stem, path=f"{stem}.txt", title=stem, published=None, authors=(), format="text", source="", digest=""
    )


def _note(n: int, *urls: str) -> Any:
    return SimpleNamespace(n=n, text=" ".join(urls), problems=(), unparsed=(), urls=list(urls))


def _cited(catalog: Catalog, stem: str) -> list[tuple[int, int, str]]:
    rows = catalog.db.execute(
        "SELECT c.n, c.position, l.url FROM citations c JOIN links l ON l.id = c.link WHERE c.report = ?"
        " ORDER BY c.n, c.position",
        (stem,),
    )
    return [(row[0], row[1], row[2]) for row in rows]


def test_a_long_report_its_repeated_links_and_a_second_report_sharing_them(tmp_path: Path) -> None:
    urls = [f"https://news.example/{i}" for i in range(1_200)]  # more than one lookup's worth of links
    notes = [_note(i + 1, url) for i, url in enumerate(urls)]
    notes.append(_note(1_201, "https://NEWS.example/7", urls[8]))  # the same links, spelled otherwise
    with Catalog.open(tmp_path) as catalog:
        assert catalog.save_report(_report("long"), notes, canonical, host_of, NOW) == 1_200
        cited = _cited(catalog, "long")
        assert len(cited) == 1_202
        assert cited[:2] == [(1, 0, urls[0]), (2, 0, urls[1])]
        # A link keeps the spelling it was first cited with; the other spelling cites the same link.
        assert cited[-2:] == [(1_201, 0, urls[7]), (1_201, 1, urls[8])]
        first_ids = [row[0] for row in catalog.db.execute("SELECT id FROM links ORDER BY id")]
        assert [row[0] for row in catalog.db.execute("SELECT url FROM links ORDER BY id")] == urls  # cited order

        shared = [_note(1, urls[0], "https://other.example/new"), _note(2, "https://other.example/new")]
        assert catalog.save_report(_report("second"), shared, canonical, host_of, NOW) == 1
        assert _cited(catalog, "second") == [
            (1, 0, urls[0]),
            (1, 1, "https://other.example/new"),
            (2, 0, "https://other.example/new"),
        ]
        assert catalog.db.execute("SELECT host FROM links WHERE url = ?", ("https://other.example/new",)).fetchone()[
            0
        ] == host_of("https://other.example/new")

        # Read again: nothing new, its citations replaced rather than doubled, the links' ids kept.
        assert catalog.save_report(_report("long"), notes, canonical, host_of, NOW) == 0
        assert len(_cited(catalog, "long")) == 1_202
        assert [row[0] for row in catalog.db.execute("SELECT id FROM links ORDER BY id")][:1_200] == first_ids


def test_a_read_only_catalog_has_no_write_method(tmp_path: Path) -> None:
    """Commands that only read open a CatalogReader: the writer's methods are not there to call."""
    from archiver.storage.catalog import CatalogReader

    Catalog.open(tmp_path).close()
    with CatalogReader.open_readonly(tmp_path) as reader:
        for write in ("save_report", "record_checks", "start_run", "finish_run", "record_memento", "transaction"):
            assert not hasattr(reader, write), write
        assert reader.report_names() == []


def test_insert_columns_come_from_the_rows_fields() -> None:
    """A capture column is a CaptureRow field (and a migration): the INSERT lists every field, nothing else."""
    from dataclasses import fields

    from archiver.outcomes import CaptureRow, CheckRow
    from archiver.storage.catalog.writer import _CAPTURES, _CHECKS

    assert _CAPTURES.sql.startswith("INSERT INTO captures (" + ", ".join(f.name for f in fields(CaptureRow)))
    check_columns = _CHECKS.sql.split("(", 1)[1].split(")", 1)[0].split(", ")
    assert "verdict_since" not in check_columns and "keeps_state" not in check_columns
    assert {"link", "verdict", "reason", "retried", "capture"} <= set(check_columns)
    assert len(check_columns) == len([f for f in fields(CheckRow) if not f.metadata]) + 1
