"""`archiver export` in every format, with round trips, and the dashboard in a real headless browser."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.showing.names import safe_name

from . import server as fixture_server
from .helpers import CHROMIUM_ARGS, FAST, archiver, chromium
from .server import ARTICLE, OTHER_ARTICLE

REPORT = """Export test report: <Minsk> & "Moscow"

September 3, 2020

Claim one.[1] Claim two.[2] Missing.[3]

[1] {a}; {b}

[2] {c}
"""


@pytest.fixture(scope="module")
def export_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, fixture_server.Server]]:
    web, stop = fixture_server.start()
    root = tmp_path_factory.mktemp("export")
    archive = root / "archive"
    archive.mkdir()
    (archive / "archiver.toml").write_text(FAST)
    web.pages.update({"a": ARTICLE * 2, "b": ARTICLE, "c": "&lt;script&gt;alert(1)&lt;/script&gt; " + OTHER_ARTICLE})
    report = root / "exp.txt"
    report.write_text(REPORT.format(a=web.url("/page/a"), b=web.url("/redirect/2"), c=web.url("/page/c")))
    other = root / "other report.txt"
    other.write_text(f"Other\n\nOctober 1, 2020\n\nClaim.[1]\n\n[1] {web.url('/page/a')}\n")
    assert archiver("run", str(report), str(other), "--allow-private", archive=archive).returncode == 0
    web.pages["a"] = OTHER_ARTICLE * 2
    web.pages.pop("c")
    assert archiver("run", "--allow-private", archive=archive).returncode == 0
    yield archive, web
    stop()


def test_jsonl(export_archive: tuple[Path, fixture_server.Server]) -> None:
    root, web = export_archive
    result = archiver("export", archive=root)
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["report"], r["n"], r["url"]) for r in rows] == [
        ("exp", 1, web.url("/page/a")),
        ("exp", 1, web.url("/redirect/2")),
        ("exp", 2, web.url("/page/c")),
        ("other report", 1, web.url("/page/a")),
    ]
    first = rows[0]
    assert {
        "report",
        "n",
        "url",
        "verdict",
        "title",
        "fetched_at",
        "text",
        "reason",
        "first_checked",
        "last_checked",
        "digest",
    } <= set(first)
    assert first["verdict"] == "changed"
    assert "Mishustin said on September 3" in first["text"]  # the text the footnote cited, not today's
    assert first["digest"].startswith("sha1:")
    assert rows[2]["verdict"] == "dead" and "grain harvests" in rows[2]["text"]
    only = archiver("export", "--report", "other report", archive=root)
    assert [json.loads(line)["report"] for line in only.stdout.splitlines()] == ["other report"]


def test_csv_round_trip(export_archive: tuple[Path, fixture_server.Server], tmp_path: Path) -> None:
    root, _ = export_archive
    target = tmp_path / "out.csv"
    result = archiver("export", "--format", "csv", "--output", str(target), archive=root)
    assert result.returncode == 0, result.stderr
    assert "exported 4 rows" in result.stderr
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    jsonl = [json.loads(line) for line in archiver("export", archive=root).stdout.splitlines()]
    assert len(rows) == 4
    for row, expected in zip(rows, jsonl, strict=True):
        assert row["url"] == expected["url"] and row["text"] == (expected["text"] or "")
        assert int(row["n"]) == expected["n"]


def test_existing_file_needs_force(export_archive: tuple[Path, fixture_server.Server], tmp_path: Path) -> None:
    root, _ = export_archive
    target = tmp_path / "out.jsonl"
    target.write_text("precious")
    refused = archiver("export", "--output", str(target), archive=root)
    assert refused.returncode == 1
    assert "exists; use --force" in refused.stderr
    assert target.read_text() == "precious"
    assert archiver("export", "--output", str(target), "--force", archive=root).returncode == 0
    assert target.read_text().count("\n") == 4


def test_markdown(export_archive: tuple[Path, fixture_server.Server]) -> None:
    root, web = export_archive
    result = archiver("export", "--format", "md", "--report", "exp", archive=root)
    assert result.returncode == 0
    md = result.stdout
    assert md.startswith('# Export test report: <Minsk> & "Moscow"\n')
    assert "## Footnote 1\n" in md and "## Footnote 2\n" in md
    assert f"### <{web.url('/page/a')}>" in md
    assert "**changed**: text" in md
    assert "> Mishustin said on September 3" in md
    assert ", captured 20" in md


def test_warc_round_trip(export_archive: tuple[Path, fixture_server.Server], tmp_path: Path) -> None:
    root, web = export_archive
    target = tmp_path / "exp.warc.gz"
    result = archiver("export", "--format", "warc", "--report", "exp", "--output", str(target), archive=root)
    assert result.returncode == 0, result.stderr
    records = []
    with target.open("rb") as stream:
        for record in ArchiveIterator(stream, check_digests="raise"):
            records.append((record.rec_type, record.rec_headers, record.content_stream().read()))
    types = [r[0] for r in records]
    assert types[0] == "warcinfo"
    assert {"response", "request", "conversion"} <= set(types)
    assert all(h.get_header("WARC-Block-Digest") for t, h, _ in records if t in ("response", "request"))
    ids = {h.get_header("WARC-Record-ID"): t for t, h, _ in records}
    conversions = [(h, body) for t, h, body in records if t == "conversion"]
    assert all(ids.get(h.get_header("WARC-Refers-To")) == "response" for h, _ in conversions)
    assert any(b"Mishustin said on September 3" in body for _, body in conversions)
    redirects = [
        h for t, h, _ in records if t == "response" and h.get_header("WARC-Target-URI") == web.url("/redirect/2")
    ]
    assert redirects  # the redirect hops come along, so a replay can follow them
    # The archive's own records, byte for byte: the same payload digests as the catalog's.
    jsonl = [json.loads(line) for line in archiver("export", "--report", "exp", archive=root).stdout.splitlines()]
    digests = {h.get_header("WARC-Payload-Digest") for t, h, _ in records if t == "response"}
    assert {row["digest"] for row in jsonl} <= digests


def test_safe_names() -> None:
    assert safe_name("000_c1b9237a46e35f67") == "000_c1b9237a46e35f67"
    for hostile in ("../../etc/passwd", ".hidden", "a/b", "con\x00trol", "a b"):
        name = safe_name(hostile)
        assert "/" not in name and "\x00" not in name and not name.startswith(".")
    assert safe_name("a b") != safe_name("a_b")


def test_dashboard_in_a_real_browser(export_archive: tuple[Path, fixture_server.Server], tmp_path: Path) -> None:
    root, _ = export_archive
    out = tmp_path / "dash"
    result = archiver("dashboard", "--output", str(out), archive=root)
    assert result.returncode == 0, result.stderr
    index = out / "index.html"
    assert result.stdout.strip() == str(index)
    assert "<script>alert(1)</script>" not in "".join(p.read_text() for p in out.rglob("*.html"))
    assert (out / "style.css").is_file()
    for page in out.rglob("*.html"):  # no external assets: it opens from disk, offline (its stylesheet beside it)
        text = re.sub(r'<link rel="stylesheet" href="(\.\./)*style\.css">', "", page.read_text(), count=1)
        assert not re.search(r"<(script|img|iframe|link)\b[^>]*\b(src|href)=|url\(", text), page

    browser_path = chromium()
    if browser_path is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium: .ci/run installs it")
        pytest.skip("no chromium on this machine (CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(index.as_uri())
        assert page.title() == "Archive health"
        assert page.locator("#total-dead").inner_text() == "1"
        assert page.locator("#total-changed").inner_text() == "1"
        assert page.locator("#total-ok").inner_text() == "1"
        turned = page.locator("#turned").inner_text()
        assert "dead" in turned and "changed" in turned
        assert page.locator("svg[aria-label='verdicts over the last runs'] rect").count() >= 2
        row = page.locator("#reports tr", has_text="exp")
        assert row.locator("td[data-verdict='dead']").inner_text() == "1"
        page.click("#reports a:text-is('exp')")
        page.wait_for_load_state()
        assert page.url.endswith("/reports/exp.html")
        assert page.locator("h1").inner_text() == 'Export test report: <Minsk> & "Moscow"'
        assert page.locator("#fn-1").count() == 1 and page.locator("#fn-3").count() == 1
        badge = page.locator(".v-dead").first.evaluate("e => getComputedStyle(e).backgroundColor")
        assert badge == "rgb(198, 40, 40)"  # the shared stylesheet, loaded from disk
        page.click("text=Archived text")
        assert "Mishustin said on September 3" in page.locator("blockquote").first.inner_text()
        page.locator("#fn-2 ~ details summary").first.click()
        body = page.locator("body").inner_text()
        assert "<script>alert(1)</script>" in body  # shown as text, never run
        page.screenshot(path=str(tmp_path / "report.png"))
        browser.close()


def test_the_catalog_reads_typed_rows_built_from_their_columns(
    export_archive: tuple[Path, fixture_server.Server],
) -> None:
    """Rows are built from the query's columns by position: each field must hold what its name says."""
    from archiver.storage.catalog import CatalogReader
    from archiver.storage.readrows import CaptureRecord, CheckRecord, ExportRow, LinkRow, NoteWithLinks, StatusRow

    root, web = export_archive
    with CatalogReader.open_readonly(root) as catalog:
        rows = list(catalog.status_rows())
        assert all(isinstance(row, StatusRow) for row in rows)
        by_url = {row.url: row for row in rows}
        gone = by_url[web.url("/page/c")]
        assert (gone.verdict, gone.http_status) == ("dead", 404)
        assert [(c.report, c.n) for c in gone.cited_by] == [("exp", 2)]
        links = catalog.cited_links("exp", 1)
        assert [type(link) for link in links] == [LinkRow, LinkRow]
        assert [link.url for link in links] == [web.url("/page/a"), web.url("/redirect/2")]
        assert links[1].final_url == web.url("/article") and links[1].host == links[0].host
        captures = catalog.captures_of(links[0].id)
        assert all(isinstance(c, CaptureRecord) for c in captures) and captures[0].id == links[0].first_capture
        assert captures[0].warc_file.endswith(".warc.gz") and captures[0].http_status == 200
        assert captures[0].content_type is not None and captures[0].content_type.startswith("text/html")
        checks = catalog.checks_of(links[0].id)
        assert all(isinstance(c, CheckRecord) for c in checks) and checks[-1].verdict == "changed"
        assert checks[0].url == web.url("/page/a") and checks[0].retried == 0
        exported = list(catalog.export_rows("exp"))
        assert all(isinstance(row, ExportRow) for row in exported)
        assert [(row.n, row.position, row.url) for row in exported][:2] == [
            (1, 0, web.url("/page/a")),
            (1, 1, web.url("/redirect/2")),
        ]
        assert exported[0].report_title is not None and exported[0].warc_file == captures[0].warc_file
        notes = catalog.report_footnotes("exp")
        assert all(isinstance(note, NoteWithLinks) for note in notes)
        assert [(note.n, note.problems) for note in notes] == [(1, ()), (2, ()), (3, ("missing",))]
        assert [link.verdict for link in notes[1].links] == ["dead"] and notes[0].links[0].fetched_at


HIDE_WACZ = """
import sys
sys.modules["wacz"] = sys.modules["wacz.main"] = None  # as if the wacz extra were not installed
sys.argv = ["archiver", *sys.argv[1:]]
from archiver.cli import main
main()
"""


def test_wacz_without_its_extra_is_one_line(export_archive: tuple[Path, fixture_server.Server], tmp_path: Path) -> None:
    """The core install has no py-wacz: the export says which extra to install, writes nothing, exits 1."""
    root, _ = export_archive
    out = tmp_path / "sources.wacz"
    result = subprocess.run(
        [sys.executable, "-c", HIDE_WACZ, "export", "--format", "wacz", "-o", str(out), "--archive", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == ("archiver: error: WACZ export needs the wacz extra: pip install 'archiver[wacz]'")
    assert not out.exists()
