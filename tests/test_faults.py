"""One link's failure is that link's; a fault of the archive (a full disk) stops the run cleanly, damaging nothing."""

from __future__ import annotations

import contextlib
import functools
import json
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver import pipeline
from archiver.pipeline import intake, linkcheck
from archiver.storage.catalog import Catalog
from archiver.storage.warcstore import WarcStore
from archiver.webarchives.copies import CopyFinder

from . import faults
from . import server as fixture_server
from .helpers import SETTINGS
from .helpers import write_report as _write_report
from .server import ARTICLE, OTHER_ARTICLE
from .test_copies import settings as archive_settings

FRESH_WEB = True
write_report = functools.partial(_write_report, name="faults", title="Faults")


def rows(archive: Path) -> dict[str, dict[str, Any]]:
    with Catalog.open(archive, create=False) as catalog:
        return {row.url.rsplit("/", 1)[1]: row.as_json() for row in catalog.status_rows()}


def warc_records(archive: Path) -> list[tuple[str, str, bytes]]:
    """(type, target URI, decoded payload) of every record of every WARC file, read to its end by warcio."""
    records = []
    for path in sorted((archive / "warc").glob("*.warc.gz")):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                records.append((record.rec_type, uri, record.content_stream().read()))
    return records


def _write_then_fail(original: Callable[..., Any]) -> Callable[..., Any]:
    def write_exchange(self: WarcStore, exchange: Any, *args: Any) -> Any:
        location = original(self, exchange, *args)
        if faults.MARK in exchange.url:
            raise RuntimeError("injected fault after a record was written")
        return location

    return write_exchange


def _catalog_refusing(original: Callable[..., Any]) -> Callable[..., Any]:
    def record_check(self: Catalog, db: Any, check: Any, capture: Any, warc_size: Any) -> None:
        if faults.MARK in check.url and capture is not None:
            raise RuntimeError("injected fault in the catalog row")
        original(self, db, check, capture, warc_size)

    return record_check


def inject(stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if stage in ("extract", "signs", "compare"):
        monkeypatch.setattr(linkcheck, "analyse", getattr(faults, f"analyse_breaking_{stage}"))
    elif stage == "warc":
        monkeypatch.setattr(WarcStore, "_write_exchange", _write_then_fail(WarcStore._write_exchange))
    elif stage == "catalog":
        monkeypatch.setattr(Catalog, "_record_check", _catalog_refusing(Catalog._record_check))


@pytest.mark.parametrize("stage", ["extract", "signs", "compare", "warc", "catalog"])
def test_a_fault_in_one_links_handling_is_that_links_failure(
    stage: str, web: fixture_server.Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    web.pages.update({"before": ARTICLE, "boom": ARTICLE * 2, "after": OTHER_ARTICLE})
    report = write_report(tmp_path, [web.url(f"/page/{name}") for name in ("before", "boom", "after")])
    archive = tmp_path / "archive"
    if stage == "compare":  # comparing needs a first text: archive it on a first night
        pipeline.run(archive, [report], SETTINGS)
        web.pages["boom"] = OTHER_ARTICLE * 2
    inject(stage, monkeypatch)

    summary = pipeline.run(archive, [report], SETTINGS)

    assert summary.status == "completed"
    found = rows(archive)
    assert found["boom"]["verdict"] == "failing"
    assert found["boom"]["reason"].startswith("internal error: RuntimeError: injected fault")
    assert "\n" not in found["boom"]["reason"]
    assert found["before"]["verdict"] == found["after"]["verdict"] == "ok"
    log = (archive / "logs" / "errors.log").read_text()
    assert "Traceback" in log and "injected fault" in log and web.url("/page/boom") in log
    records = warc_records(archive)  # every file reads to its end
    responses = Counter(uri.rsplit("/", 1)[1] for kind, uri, _ in records if kind == "response")
    assert responses["before"] >= 1 and responses["after"] >= 1
    if stage in ("warc", "catalog"):
        # The records of the failed link were cut back: no catalog row points at them, no reader meets them.
        assert responses["boom"] == 0
        with sqlite3.connect(archive / "catalog.sqlite") as db:
            committed = dict(db.execute("SELECT name, committed_size FROM warc_files").fetchall())
        for path in (archive / "warc").glob("*.warc.gz"):
            assert path.stat().st_size == committed[path.name]


def test_an_internal_error_keeps_the_history_of_a_dead_link(
    web: fixture_server.Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = write_report(tmp_path, [web.url("/page/boom"), web.url("/page/fine")])
    web.pages["fine"] = ARTICLE
    archive = tmp_path / "archive"
    pipeline.run(archive, [report], SETTINGS)  # /page/boom answers 404: dead
    before = rows(archive)["boom"]
    assert before["verdict"] == "dead"
    web.pages["boom"] = ARTICLE
    inject("extract", monkeypatch)
    pipeline.run(archive, [report], SETTINGS)
    after = rows(archive)["boom"]
    assert after["verdict"] == "failing" and after["reason"].startswith("internal error")
    with sqlite3.connect(archive / "catalog.sqlite") as db:
        in_row = db.execute("SELECT failures_in_row FROM links WHERE url LIKE '%boom'").fetchone()[0]
    assert in_row == 0  # our bug does not count toward "dead"


def test_a_fault_in_one_web_archive_lookup_is_that_links(
    web: fixture_server.Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = write_report(tmp_path, [web.url("/page/gone-boom"), web.url("/page/gone-too")])
    original = CopyFinder.lookup

    async def lookup(self: CopyFinder, url: str, moment: Any) -> Any:
        if faults.MARK in url:
            raise RuntimeError("injected fault in the lookup")
        return await original(self, url, moment)

    monkeypatch.setattr(CopyFinder, "lookup", lookup)
    archive = tmp_path / "archive"
    summary = pipeline.run(archive, [report], archive_settings(web))
    assert summary.status == "completed"
    assert summary.web_archive == {"error": 1, "none": 1}
    found = rows(archive)
    assert found["gone-boom"]["verdict"] == found["gone-too"]["verdict"] == "dead"
    assert "injected fault in the lookup" in (archive / "logs" / "errors.log").read_text()


# ----- a disk that fills up mid-run -------------------------------------------------------------------


def _words(seed: int, count: int) -> str:
    rng = random.Random(seed)  # text that does not compress away, so the disk really fills
    return " ".join(
        "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 9))) for _ in range(count)
    )


@contextlib.contextmanager
def small_disk(kind: str, tmp_path: Path) -> Iterator[tuple[Path, Callable[[], None] | None]]:
    """A directory on a disk of about 1.5 MB: a real tmpfs (root), or a file-size limit on the run's processes."""
    if kind == "tmpfs":
        mount = tmp_path / "small"
        mount.mkdir()
        made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1536k", "tmpfs", str(mount)], capture_output=True)
        if made.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here (not root?): {made.stderr.decode().strip()}")
        try:
            yield mount, None
        finally:
            subprocess.run(["umount", "-l", str(mount)], check=False)
    else:
        directory = tmp_path / "limited"
        directory.mkdir()

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))

        yield directory, limit


@pytest.mark.parametrize("kind", ["tmpfs", "fsize"])
def test_a_full_disk_stops_the_run_cleanly_and_the_next_run_carries_on(
    kind: str, web: fixture_server.Server, tmp_path: Path
) -> None:
    names = [f"article{i:02d}" for i in range(40)]
    for i, name in enumerate(names):
        web.pages[name] = _words(i, 6000)  # about 40 KB of text each
    report = write_report(tmp_path, [web.url(f"/page/{name}") for name in names])
    config = (
        "delay = 0.0\nper_host = 4\nconcurrency = 4\nretries = 0\nextract_workers = 1\nweb_archive_lookups = false\n"
    )
    with small_disk(kind, tmp_path) as (disk, limit):
        archive = disk / "archive"
        archive.mkdir()
        (archive / "archiver.toml").write_text(config)
        command = [sys.executable, "-m", "archiver", "run", str(report), "--archive", str(archive), "--allow-private"]
        full = subprocess.run(command, capture_output=True, text=True, timeout=300, preexec_fn=limit)
        assert full.returncode == 1, full.stderr
        errors = [line for line in full.stderr.splitlines() if line.startswith("archiver: error:")]
        assert errors and "cannot" in errors[0], full.stderr
        assert "Traceback" not in full.stderr, full.stderr[-5000:]
        with sqlite3.connect(archive / "catalog.sqlite") as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        records = warc_records(archive)  # readable to the end of every file
        assert all(uri for kind, uri, _ in records if kind != "warcinfo")
        moved = tmp_path / "bigger"
        shutil.copytree(archive, moved)

    again = subprocess.run(
        [sys.executable, "-m", "archiver", "run", "--archive", str(moved), "--allow-private", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["status"] == "completed"
    found = rows(moved)
    assert {found[name]["verdict"] for name in names} == {"ok"}
    responses = Counter(uri for kind, uri, _ in warc_records(moved) if kind == "response")
    assert set(responses) == {web.url(f"/page/{name}") for name in names}
    assert set(responses.values()) == {1}  # nothing stored twice (a second fetch of a same page is a revisit)
    with sqlite3.connect(moved / "catalog.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        texts = db.execute("SELECT COUNT(*) FROM captures WHERE text_digest IS NOT NULL").fetchone()[0]
    assert texts >= len(names)
    for name in names[:3]:
        check = subprocess.run(
            [
                sys.executable,
                "-m",
                "archiver",
                "check",
                "faults",
                str(names.index(name) + 1),
                "--json",
                "--archive",
                str(moved),
            ],
            capture_output=True,
            text=True,
        )
        assert _words(names.index(name), 6000)[:200] in json.loads(check.stdout)["urls"][0]["archived_text"]


def test_a_report_that_breaks_our_code_is_that_reports_failure_not_the_nights(
    web: fixture_server.Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    web.pages.update({"fine": ARTICLE})
    good = write_report(tmp_path, [web.url("/page/fine")], name="good")
    bad = write_report(tmp_path, [web.url("/page/never")], name="bad")
    real = intake.footnotes

    def breaking(report: Any) -> Any:
        if report.stem == "bad":
            raise RuntimeError("injected fault in the footnote parser")
        return real(report)

    monkeypatch.setattr(intake, "footnotes", breaking)
    summary = pipeline.run(tmp_path / "archive", [bad, good], SETTINGS)

    assert summary.status == "completed"
    assert summary.reports["added"] == ["good"]
    assert summary.reports_failed == [
        {"path": str(bad), "error": "internal error: RuntimeError: injected fault in the footnote parser"}
    ]
    assert set(rows(tmp_path / "archive")) == {"fine"}  # checked; the broken report's link never saved
    log = (tmp_path / "archive" / "logs" / "errors.log").read_text()
    assert "Traceback" in log and "injected fault in the footnote parser" in log and str(bad) in log
