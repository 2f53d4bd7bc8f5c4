"""Evidence for readers: the report annotated with its archived sources (Robust Links), and a WACZ of them."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from warcio.archiveiterator import ArchiveIterator

from . import server as fixture_server
from .helpers import CHROMIUM_ARGS, FAST, archiver, chromium
from .server import ARTICLE, OTHER_ARTICLE

REPLAY = "https://replay.example.org/sources"
HTML_REPORT = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Evidence</title>
<meta property="article:published_time" content="2020-09-03T10:00:00Z"></head>
<body><h1>Evidence report</h1><p>The ministry said so.<sup>1</sup> It was removed.<sup>2</sup>
A claim with no note.<sup>3</sup></p>
<h2>Notes</h2><ol>
<li><a href="{kept}">Ministry statement</a></li>
<li>Removed story: {gone_defanged}</li>
</ol></body></html>
"""
TEXT_REPORT = """Evidence report in text

September 3, 2020

The ministry said so.[1] It was removed.[2] A claim with no note.[3]

[1] {kept_defanged}; commentary

[2] {gone_defanged}
"""


def defanged(url: str) -> str:
    return url.replace("127.0.0.1", "127(.)0(.)0(.)1")


@pytest.fixture(scope="module")
def evidence_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, fixture_server.Server]]:
    web, stop = fixture_server.start()
    root = tmp_path_factory.mktemp("evidence")
    archive = root / "archive"
    archive.mkdir()
    (archive / "archiver.toml").write_text(FAST + f'replay_url = "{REPLAY}"\n')
    web.pages.update({"kept": ARTICLE * 2, "gone": OTHER_ARTICLE * 2})
    kept, gone = web.url("/page/kept"), web.url("/page/gone")
    (root / "evidence.html").write_text(HTML_REPORT.format(kept=kept, gone_defanged=defanged(gone)))
    (root / "plain.txt").write_text(TEXT_REPORT.format(kept_defanged=defanged(kept), gone_defanged=defanged(gone)))
    first = archiver("run", str(root / "evidence.html"), str(root / "plain.txt"), "--allow-private", archive=archive)
    assert first.returncode == 0, first.stderr
    web.pages.pop("gone")  # night 2: the second source is gone (404)
    assert archiver("run", "--allow-private", archive=archive).returncode == 0
    yield root, archive, web
    stop()


def test_the_annotated_html_report_carries_robust_links(
    evidence_archive: tuple[Path, Path, fixture_server.Server],
) -> None:
    root, store, web = evidence_archive
    out = root / "evidence-annotated.html"
    result = archiver("export", "--format", "report", "--report", "evidence", "--output", str(out), archive=store)
    assert result.returncode == 0, result.stderr
    soup = BeautifulSoup(out.read_text(), "lxml")
    links = {a["data-originalurl"]: a for a in soup.find_all("a", attrs={"data-originalurl": True})}
    kept, gone = web.url("/page/kept"), web.url("/page/gone")
    assert set(links) == {kept, gone}
    for url, anchor in links.items():
        assert anchor["href"] == url  # every footnote link keeps (or gets) its target, written clean
        assert anchor["data-versiondate"] == "2020-09-03"  # the citing report's publication date
        assert anchor["data-versionurl"].startswith(f"{REPLAY}/2") and anchor["data-versionurl"].endswith(url)
    assert links[gone].get_text() == gone  # the de-fanged text link became a real one
    mark = links[gone].find_next_sibling("span", class_="archiver-archived")
    assert mark is not None and "dead" in mark.get_text()
    archived = mark.find("a")
    assert archived is not None and archived["href"] == links[gone]["data-versionurl"]
    assert links[kept].find_next_sibling("span", class_="archiver-archived") is None  # ok: no mark
    assert "Footnotes cited without a note" in soup.get_text() and "[3]" in soup.get_text()


def test_the_annotated_text_and_markdown_reports(evidence_archive: tuple[Path, Path, fixture_server.Server]) -> None:
    _, store, web = evidence_archive
    kept, gone = web.url("/page/kept"), web.url("/page/gone")
    text = archiver("export", "--format", "report", "--report", "plain", archive=store).stdout
    assert f"[1] {kept} (archived copy: {REPLAY}/" in text and "; commentary" in text
    assert f"[2] {gone} (archived copy: {REPLAY}/" in text
    assert "127(.)0(.)0(.)1" not in text  # clean links by default
    assert "Footnotes cited without a note" in text and "- [3] cited in the body" in text
    markdown = archiver("export", "--format", "report", "--report", "plain", "--to", "md", archive=store).stdout
    assert f"(archived copy: <{REPLAY}/" in markdown and "## Footnotes cited without a note" in markdown
    kept_defanged = archiver(
        "export", "--format", "report", "--report", "plain", "--keep-defanged", archive=store
    ).stdout
    assert f"[1] {defanged(kept)} (archived copy:" in kept_defanged


def test_without_a_replay_url_the_mark_gives_the_capture_date(
    evidence_archive: tuple[Path, Path, fixture_server.Server], tmp_path: Path
) -> None:
    _, store, web = evidence_archive
    config = store / "archiver.toml"
    saved = config.read_text()
    config.write_text(FAST)
    try:
        text = archiver("export", "--format", "report", "--report", "plain", archive=store).stdout
        page = archiver("export", "--format", "report", "--report", "plain", "--to", "html", archive=store).stdout
    finally:
        config.write_text(saved)
    assert f"{web.url('/page/gone')} (archived 20" in text and "archived copy" not in text
    gone = BeautifulSoup(page, "lxml").find("a", attrs={"data-originalurl": web.url("/page/gone")})
    assert gone is not None and not gone.has_attr("data-versionurl")
    assert "archived 20" in gone.find_next_sibling("span", class_="archiver-archived").get_text()


def test_a_wacz_of_the_sources_that_validates_and_replays(
    evidence_archive: tuple[Path, Path, fixture_server.Server], tmp_path: Path
) -> None:
    _, store, web = evidence_archive
    out = tmp_path / "sources.wacz"
    result = archiver("export", "--format", "wacz", "--report", "evidence", "--output", str(out), archive=store)
    assert result.returncode == 0, result.stderr
    # The wacz package's own validator, as a user runs it: contents, datapackage, paths and hashes.
    validation = subprocess.run(
        [sys.executable, "-m", "wacz", "validate", "-f", str(out)], capture_output=True, text=True
    )
    assert validation.returncode == 0, validation.stdout + validation.stderr
    assert "Version detected as 1.1.1" in validation.stdout and "the passed WACZ is valid" in validation.stdout
    with zipfile.ZipFile(out) as package:
        names = package.namelist()
        assert "datapackage.json" in names and "pages/pages.jsonl" in names
        assert any(name.startswith("indexes/index.cdx") for name in names)
        lines = package.read("pages/pages.jsonl").decode().splitlines()
        warcs = [name for name in names if name.startswith("archive/") and name.endswith(".warc.gz")]
        records = []
        for name in warcs:
            for record in ArchiveIterator(io.BytesIO(package.read(name))):
                records.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI")))
                record.content_stream().read()
    header, *pages = (json.loads(line) for line in lines)
    assert header["format"] == "json-pages-1.0"
    by_url = {page["url"]: page for page in pages}
    assert set(by_url) == {web.url("/page/kept"), web.url("/page/gone")}
    gone = by_url[web.url("/page/gone")]
    assert gone["footnote"] == 2 and gone["report"] == "evidence" and "footnote 2" in gone["title"]
    assert ("response", web.url("/page/gone")) in records
    with gzip.open(io.BytesIO(zipfile.ZipFile(out).read(next(n for n in names if n.endswith(".cdx.gz"))))) as index:
        entries = index.read().decode().splitlines()
    # The page is the capture the footnote cited (its first, a 200), never the later 404.
    cited = [e for e in entries if "page/gone" in e and '"status": "200"' in e]
    assert cited and any(gone["ts"].replace("-", "").replace(":", "").replace("T", "")[:14] in e for e in cited)


def test_the_annotated_report_renders_in_a_browser(evidence_archive: tuple[Path, Path, fixture_server.Server]) -> None:
    root, store, _ = evidence_archive
    out = root / "render.html"
    assert (
        archiver(
            "export", "--format", "report", "--report", "evidence", "--output", str(out), "--force", archive=store
        ).returncode
        == 0
    )
    browser_path = chromium()
    if browser_path is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium: .ci/run installs it")
        pytest.skip("no chromium on this machine (CI installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(out.as_uri())
        assert page.title() == "Evidence"
        mark = page.locator("span.archiver-archived a")
        assert mark.count() == 1 and mark.first.is_visible()
        assert mark.first.get_attribute("href", timeout=2000).startswith(REPLAY)
        assert "archived" in mark.first.inner_text()
        browser.close()
