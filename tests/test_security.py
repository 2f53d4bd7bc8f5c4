"""A hostile report or page must not script a reader's browser, stop the night, or eat the machine.

Each test is one of the security review's reproductions, run where users meet it: the CLI on real
files against a local server, the exported HTML opened in Chromium.
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from archiver.fetching.netguard import is_public, parse_address, refusal
from archiver.fetching.politeness import retry_after
from archiver.reading import report_html
from archiver.reading.reports import Unreadable, parse_report, read_or_say_why
from archiver.reading.safetext import printable, quote_controls, without_userinfo
from archiver.showing.annotate import Annotations, LinkCopy, annotate_html, text_to_html
from archiver.showing.sanitize import CONTENT_SECURITY_POLICY, web_url
from bench.hostile_reports import INPUTS, cpu

from . import server as fixture_server
from .helpers import CHROMIUM_ARGS, FAST, archiver, chromium, make_archive
from .server import ARTICLE

ESC = "\x1b"


def export_html(archive: Path, report: str, out: Path) -> subprocess.CompletedProcess[str]:
    return archiver("export", "--format", "report", "--report", report, "--to", "html", "-o", str(out), archive=archive)


# ----- 1. script injection in the HTML export ------------------------------------------------------------

INJECTING_NOTE = (
    "Injection [1].\n\n"
    "[1] http://127.0.0.1:9/http://127.0.0.1:9/x/autofocus/onfocus=document.title=1337// "
    "http://127.0.0.1:9/x/autofocus/onfocus=document.title=1337//\n"
)
HOSTILE_HTML_REPORT = """<!DOCTYPE html><html><head><title>Hostile report</title>
<meta http-equiv="refresh" content="0;url=javascript:document.title='refresh'">
<script>document.title = 'script ran'</script><base href="javascript:alert(1)//"></head>
<body onload="document.title='onload ran'"><h1>Hostile report</h1>
<p>Claim.<sup>1</sup> <img src="x" onerror="document.title='onerror ran'"></p>
<p><a href="javascript:document.title='clicked'" id="js">click</a>
<a href=" java&#9;script:document.title='tab'" id="tab">tab</a>
<svg><a xlink:href="javascript:alert(1)"><text>svg</text></a><animate attributeName="href" to="javascript:1"/></svg>
<iframe srcdoc="<script>parent.document.title='iframe ran'</script>"></iframe>
<form action="javascript:alert(1)"><button formaction="javascript:alert(2)">go</button></form></p>
<h2>Notes</h2><ol><li>http://127.0.0.1:9/page/one</li></ol></body></html>
"""


def _open_in_chromium(path: Path) -> tuple[str, str]:
    """The page's title and body HTML after it loaded, focus and all, in a real Chromium."""
    browser_path = chromium()
    if browser_path is None:
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium: .ci/run installs it")
        pytest.skip("no chromium on this machine (CI installs it): the export's script test needs a browser")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(path.as_uri())
            page.wait_for_timeout(300)  # autofocus and onfocus fire after load
            for selector in ("#js", "#tab"):
                if page.locator(selector).count():
                    page.locator(selector).click()
            page.wait_for_timeout(100)
            return page.title(), page.content()
        finally:
            browser.close()


def test_text_report_export_runs_no_script(tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    report = tmp_path / "inject.txt"
    report.write_text(INJECTING_NOTE)
    assert archiver("run", str(report), "--allow-private", archive=archive).returncode == 0
    out = tmp_path / "inject.html"
    result = export_html(archive, "inject", out)
    assert result.returncode == 0, result.stderr
    written = out.read_text()
    assert "Content-Security-Policy" in written
    anchors = BeautifulSoup(written, "lxml").find_all("a")
    assert len(anchors) == 2 and all(set(a.attrs) == {"href", "data-originalurl", "data-versiondate"} for a in anchors)
    title, content = _open_in_chromium(out)
    assert title == "Report" or "1337" not in title, title
    assert "1337" not in title
    assert 'onfocus="' not in content


def test_html_report_export_is_sanitised(tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    report = tmp_path / "hostile.html"
    report.write_text(HOSTILE_HTML_REPORT)
    assert archiver("run", str(report), "--allow-private", archive=archive).returncode == 0
    out = tmp_path / "hostile-out.html"
    result = export_html(archive, "hostile", out)
    assert result.returncode == 0, result.stderr
    written = out.read_text()
    for forbidden in ("<script", "onload=", "onerror=", "javascript:", "<iframe", "<base", 'http-equiv="refresh"'):
        assert forbidden not in written.lower(), forbidden
    assert written.count("Content-Security-Policy") == 1
    assert "Claim." in written and "Hostile report" in written  # the document itself stays
    title, _ = _open_in_chromium(out)
    assert title == "Hostile report"


def test_text_to_html_builds_links_as_elements() -> None:
    html_text = text_to_html(INJECTING_NOTE, "T")
    links = re.findall(r"<a [^>]*>", html_text)
    assert len(links) == 2
    for link in links:
        assert re.fullmatch(r'<a href="[^"<>]*">', link), link
    assert '<a href="http://127.0.0.1:9/x/autofocus/onfocus=document.title=1337//">' in html_text


def test_annotated_report_keeps_its_marks_after_sanitising() -> None:
    copy = LinkCopy("http://example.com/a", "dead", "2020-09-03T00:00:00Z", "http://127.0.0.1/replay/a", None)
    annotations = Annotations({1: [copy]}, [], None)
    out = annotate_html('<p>x</p><ol><li><a href="http://example.com/a" onclick="x()">a</a></li></ol>', annotations)
    assert 'data-versionurl="http://127.0.0.1/replay/a"' in out and "archiver-archived" in out
    assert "onclick" not in out
    assert out.index("Content-Security-Policy") < out.index("<body")


@pytest.mark.parametrize(
    ("value", "web"),
    [
        ("http://x", True),
        ("https://x", True),
        ("/relative", True),
        ("#fn-1", True),
        ("mailto:a@b", True),
        ("javascript:alert(1)", False),
        (" JaVa\tScRiPt:alert(1)", False),
        ("java\nscript:alert(1)", False),
        ("vbscript:x", False),
        ("data:text/html,<script>", False),
    ],
)
def test_only_web_urls_survive(value: str, web: bool) -> None:
    assert web_url(value) is web


def test_dashboard_carries_the_policy(tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    report = tmp_path / "r.txt"
    report.write_text("R [1].\n\n[1] http://127.0.0.1:9/x\n")
    assert archiver("run", str(report), "--allow-private", archive=archive).returncode == 0
    out = tmp_path / "dash"
    assert archiver("dashboard", "--output", str(out), archive=archive).returncode == 0
    pages = list(out.rglob("*.html"))
    assert pages and all(CONTENT_SECURITY_POLICY in page.read_text() for page in pages)


# ----- 2. one report file never stops the night -----------------------------------------------------------


def test_deeply_nested_report_beside_a_good_one(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    reports = tmp_path / "reports"
    reports.mkdir()
    (reports / "nested.html").write_text("<html><body><h1>Nested</h1>" + "<div>" * 5000 + "x" + "</div>" * 5000)
    web.pages["good"] = ARTICLE
    (reports / "good.txt").write_text(f"Good [1].\n\n[1] {web.url('/page/good')}\n")
    result = archiver("run", str(reports), "--allow-private", archive=archive)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    status = archiver("status", "--json", archive=archive)
    assert '"verdict": "ok"' in status.stdout and "/page/good" in status.stdout


def test_a_report_over_the_time_limit_is_that_reports_failure(web: fixture_server.Server, tmp_path: Path) -> None:
    """Read in a worker process with a time limit: a report that takes too long is named, the rest go on."""
    # The limit is the pages' too: 0.4 s keeps a small report and a page well inside it on a loaded machine,
    # while reading the enormous one takes a second or more (30,000 notes).
    archive = make_archive(tmp_path, FAST + "extract_timeout = 0.4\n")
    reports = tmp_path / "reports"
    reports.mkdir()
    rows = "".join(f"<p>[{i}] note {i} http://example(.)com/{i}</p>" for i in range(1, 30000))
    (reports / "enormous.html").write_text(f"<html><body><h1>Big</h1><h2>Notes</h2>{rows}</body></html>")
    web.pages["good2"] = ARTICLE
    (reports / "good.txt").write_text(f"Good [1].\n\n[1] {web.url('/page/good2')}\n")
    result = archiver("run", str(reports), "--allow-private", archive=archive)
    assert result.returncode == 0, result.stderr
    assert "enormous.html" in result.stderr and "too slow or too large to read" in result.stderr
    status = archiver("status", "--json", archive=archive)
    assert "/page/good2" in status.stdout


def test_our_own_bug_on_one_report_is_that_reports_failure(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def broken(text: str, *, stem: str, path: str) -> object:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(report_html, "parse", broken)
    path = tmp_path / "r.html"
    path.write_text("<p>x</p>")
    item = read_or_say_why(path)
    assert isinstance(item, Unreadable)
    assert "internal error reading the report: RecursionError" in item.reason
    assert "Traceback" in item.trace and "RecursionError" in item.trace


# ----- 3. report parsing in linear time ------------------------------------------------------------------


@pytest.mark.parametrize("name", INPUTS)  # the benchmark's inputs (bench/hostile_reports.py)
def test_report_parsing_is_linear(name: str) -> None:
    """Four times the input is about four times the work, where quadratic code does sixteen (it took
    10-25 s at these sizes). The bound, 8x on the least CPU time of three tries, leaves room for a loaded
    machine and for bs4's own costs, not for n²."""
    make, fmt = INPUTS[name]
    small, large = make(8000), make(32000)
    once = cpu(lambda: parse_report(small, stem="r", fmt=fmt))
    four = cpu(lambda: parse_report(large, stem="r", fmt=fmt))
    assert four < max(8 * once, 0.1), (name, once, four)


# ----- 4. stacked Content-Encoding -----------------------------------------------------------------------


STACKED_PROBE = """
import asyncio, json, resource, sys
from pathlib import Path
from archiver.config import Settings
from archiver.fetching.fetch import Fetcher

async def main():
    settings = Settings(allow_private=True, retries=0)
    async with Fetcher(settings, Path(sys.argv[2])) as fetcher:
        await fetcher.fetch(sys.argv[1].replace("stacked-encoding", "page/warm"))
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        result = await fetcher.fetch(sys.argv[1])
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(json.dumps({"failure": str(result.failure), "detail": result.detail, "grew_kib": after - before}))

asyncio.run(main())
"""


def test_stacked_encodings_are_refused_in_constant_memory(web: fixture_server.Server, tmp_path: Path) -> None:
    web.pages["warm"] = ARTICLE
    result = subprocess.run(
        [sys.executable, "-c", STACKED_PROBE, web.url("/stacked-encoding"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    import json

    answer = json.loads(result.stdout)
    assert answer["failure"] == "bad_encoding"
    assert "8000 content codings stacked" in answer["detail"]
    assert answer["grew_kib"] < 16 * 1024, answer  # one decompressor per layer grew it by 256 MiB


# ----- 5. terminal escape sequences ----------------------------------------------------------------------


def test_escape_sequences_reach_no_output(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    report = tmp_path / "esc.txt"
    report.write_text(f"Escapes [1].\n\n[1] {web.url('/escape-title')}\n")
    outputs = [archiver("run", str(report), "--allow-private", archive=archive)]
    outputs.append(archiver("status", archive=archive))
    outputs.append(archiver("status", "--verdict", "dead,ok,changed,blocked,failing", archive=archive))
    outputs.append(archiver("check", "esc", "1", archive=archive))
    outputs.append(archiver("export", "--format", "md", archive=archive))
    for result in outputs:
        assert result.returncode == 0, result.stderr
        for stream in (result.stdout, result.stderr):
            assert ESC not in stream and "\x9b" not in stream, result.args
    assert "Page not found" in outputs[3].stdout


def test_control_characters() -> None:
    assert printable(f"a{ESC}]0;PWNED\x07b\x9bc\td\ne\x7f") == "a]0;PWNEDbc\td\ne"
    assert quote_controls("http://x/a\x1b[2J b") == "http://x/a%1B[2J%20b"


# ----- 6. CSV formula injection --------------------------------------------------------------------------


def test_csv_cells_never_start_a_formula(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    report = tmp_path / "f.txt"
    report.write_text(f"Formula [1].\n\n[1] {web.url('/formula')}\n")
    assert archiver("run", str(report), "--allow-private", archive=archive).returncode == 0
    result = archiver("export", "--format", "csv", archive=archive)
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows[0]["title"].startswith("'=HYPERLINK(")
    assert rows[0]["text"].startswith("'=HYPERLINK(")  # the page text opens with its title
    for row in rows:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value


# ----- 7. the small ones ---------------------------------------------------------------------------------


def test_save_page_now_credentials_stay_with_their_origin(tmp_path: Path) -> None:
    web, stop = fixture_server.start()
    other, stop_other = fixture_server.start()
    try:
        web.archive["save_redirect"] = other.url("/elsewhere")
        web.pages["live"] = ARTICLE
        url = web.url("/page/live?a=1&output=xml&limit=99")
        archive = make_archive(
            tmp_path, FAST + "web_archive_lookups = true\nweb_archive_delay = 0.0\nsave_delay = 0.0\n"
        )
        (archive / "archiver.toml").write_text(
            (archive / "archiver.toml").read_text().replace("web_archive_lookups = false\n", "")
            + f'wayback_url = "{web.base}"\n'
        )
        report = tmp_path / "spn.txt"
        report.write_text(f"SPN [1].\n\n[1] {url}\n")
        env = {"IA_ACCESS_KEY": "key", "IA_SECRET_KEY": "s3cr3t"}
        result = archiver("run", str(report), "--allow-private", "--save-missing", archive=archive, env=env)
        assert result.returncode == 0, result.stderr
        saves = [r for r in web.requests if r.path == "/save"]
        assert saves and saves[0].headers.get("authorization") == "LOW key:s3cr3t"
        hops = [r for r in other.requests if r.path == "/elsewhere"]
        assert hops, "the redirect was followed"
        assert all("authorization" not in r.headers for r in hops)
        cdx = [r for r in web.requests if r.path == "/cdx/search/cdx" and r.query.get("limit") == ["1"]]
        assert cdx and cdx[0].query["url"] == [url]  # encoded: the cited URL's own & and = stay in it
    finally:
        stop()
        stop_other()


@pytest.mark.parametrize("value", ["²", "١٢", "1e3", "-5", "  "])
def test_retry_after_takes_ascii_digits_only(value: str) -> None:
    assert retry_after(value, datetime(2026, 1, 1, tzinfo=UTC)) is None


def test_retry_after_seconds() -> None:
    assert retry_after(" 12 ", datetime(2026, 1, 1, tzinfo=UTC)) == 12.0


@pytest.mark.parametrize(
    "host", ["64:ff9b:1::a00:1", "fec0::1", "::127.0.0.1", "::ffff:0:127.0.0.1", "[::ffff:0:7f00:1]"]
)
def test_address_guard_refuses_embedded_and_site_local(host: str) -> None:
    assert refusal(host) is not None


def test_address_guard_keeps_public_ipv6() -> None:
    address = parse_address("2606:4700:4700::1111")
    assert address is not None and is_public(address)


def test_proxy_password_is_never_printed(tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    for proxy in ("http://user:s3cr3t@[bad", "ftp://user:s3cr3t@proxy.example:21", "http://user:s3cr3t@host:99999"):
        result = archiver("run", "--proxy", proxy, archive=archive)
        assert result.returncode != 0
        assert "s3cr3t" not in result.stdout + result.stderr, proxy
        assert "***@" in result.stderr
    (archive / "archiver.toml").write_text(FAST + 'proxy = "http://user:s3cr3t@[bad"\n')
    result = archiver("run", archive=archive)
    assert result.returncode != 0 and "s3cr3t" not in result.stdout + result.stderr


def test_without_userinfo() -> None:
    assert without_userinfo("postgresql://me:pw@db/x") == "postgresql://***@db/x"
    assert without_userinfo("http://proxy:3128") == "http://proxy:3128"
