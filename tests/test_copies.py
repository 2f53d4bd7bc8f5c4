"""Dead before we saw it: the web archive's copy nearest the report's date, against a local fake archive."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from archiver.config import Settings
from archiver.pipeline import run
from archiver.showing.lookup import lookup_footnote
from archiver.storage.catalog import Catalog
from archiver.webarchives.webarchive import Memento, nearest, parse_cdx, parse_timemap, raw_url, reference_moment

from . import server as fixture_server
from .helpers import SETTINGS, write_report
from .server import ARTICLE, OTHER_ARTICLE, archive_capture, page

A_PAGE = page("Union State talks", ARTICLE)
B_PAGE = page("Harvest", OTHER_ARTICLE)
NOT_FOUND = page("404 Not Found", "Sorry, the page you requested was not found. ")


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


FRESH_WEB = True  # a server of its own for each test (the fake web archive keeps state)


def settings(web: fixture_server.Server, **changes: object) -> Settings:
    """The nightly tests' settings, with the fake archive on the test server as the Wayback Machine."""
    defaults: dict[str, object] = {
        "retries": 2,
        "web_archive_lookups": True,
        "wayback_url": web.base,
        "web_archive_delay": 0.0,
    }
    return SETTINGS.replace(**(defaults | changes))


def status(archive: Path) -> dict[str, dict[str, object]]:
    with Catalog.open(archive) as catalog:
        return {row.url.split("/", 3)[3]: row.as_json() for row in catalog.status_rows()}


def test_closest_before_else_after_and_none(web: fixture_server.Server, tmp_path: Path) -> None:
    before, after, nothing = web.url("/page/before"), web.url("/page/after"), web.url("/page/nothing")
    for stamp in ("20200801000000", "20200901120000", "20201001000000"):
        archive_capture(web, before, stamp, A_PAGE)
    archive_capture(web, after, "20210101000000", B_PAGE)
    archive_capture(web, after, "20201201000000", B_PAGE)
    report = write_report(tmp_path, name="r", published="September 3, 2020", urls=[before, after, nothing])
    archive = tmp_path / "archive"
    summary = run(archive, [report], settings(web), clock=Clock())
    assert summary.web_archive == {"found": 2, "none": 1}
    rows = status(archive)
    assert rows["page/before"]["verdict"] == "dead"
    assert rows["page/before"]["memento_datetime"] == "2020-09-01T12:00:00Z"
    assert rows["page/before"]["memento_url"] == f"{web.base}/web/20200901120000/{before}"
    assert rows["page/after"]["memento_datetime"] == "2020-12-01T00:00:00Z"
    assert rows["page/nothing"]["memento_url"] is None and rows["page/nothing"]["memento_datetime"] is None
    with Catalog.open(archive) as catalog:
        answer = lookup_footnote(catalog, archive, "r", 1)
    memento = answer["urls"][0]["memento"]
    assert memento["url"] == f"{web.base}/web/20200901120000/{before}"
    assert memento["datetime"] == "2020-09-01T12:00:00Z"
    assert "Mishustin said on September 3" in memento["text"]
    with Catalog.open(archive) as catalog:
        assert lookup_footnote(catalog, archive, "r", 3)["urls"][0]["memento"] is None
    # The copy's bytes were asked for in the archive's raw mode (id_), never as the rewritten replay page.
    copies = sorted(r.target for r in web.requests if r.path.startswith("/web/"))
    assert copies == [f"/web/20200901120000id_/{before}", f"/web/20201201000000id_/{after}"]


def test_a_captured_not_found_page_is_skipped(web: fixture_server.Server, tmp_path: Path) -> None:
    url = web.url("/page/gone")
    archive_capture(web, url, "20200815000000", A_PAGE)
    archive_capture(web, url, "20200902000000", NOT_FOUND)  # closer, but it is the "not found" itself
    report = write_report(tmp_path, name="r", published="2020-09-03", urls=[url])
    archive = tmp_path / "archive"
    run(archive, [report], settings(web), clock=Clock())
    assert status(archive)["page/gone"]["memento_datetime"] == "2020-08-15T00:00:00Z"


def test_archive_down_then_back(web: fixture_server.Server, tmp_path: Path) -> None:
    url = web.url("/page/gone")
    archive_capture(web, url, "20200815000000", A_PAGE)
    web.archive["mode"] = "down"
    report = write_report(tmp_path, name="r", published="2020-09-03", urls=[url])
    archive = tmp_path / "archive"
    clock = Clock()
    summary = run(archive, [report], settings(web, retries=1), clock=clock)
    assert summary.status == "completed"
    assert summary.web_archive == {"error": 1}
    assert status(archive)["page/gone"]["memento_url"] is None
    web.archive["mode"] = None
    summary = run(archive, [], settings(web), clock=clock)
    assert summary.web_archive == {"found": 1}
    assert status(archive)["page/gone"]["memento_datetime"] == "2020-08-15T00:00:00Z"
    summary = run(archive, [], settings(web), clock=clock)
    assert summary.web_archive == {}  # found once: not asked again


def test_archive_429_is_retried(web: fixture_server.Server, tmp_path: Path) -> None:
    url = web.url("/page/gone")
    archive_capture(web, url, "20200815000000", A_PAGE)
    web.archive["mode"] = "429-once"
    report = write_report(tmp_path, name="r", published="2020-09-03", urls=[url])
    archive = tmp_path / "archive"
    summary = run(archive, [report], settings(web), clock=Clock())
    assert summary.web_archive == {"found": 1}
    assert sum(1 for r in web.requests if r.path == "/cdx/search/cdx") == 3  # the 429, its retry, the "after" query


def test_several_reports_with_different_dates(web: fixture_server.Server, tmp_path: Path) -> None:
    url = web.url("/page/shared")
    archive_capture(web, url, "20200901000000", A_PAGE)
    archive_capture(web, url, "20210501000000", B_PAGE)
    early = write_report(tmp_path, name="early", published="September 3, 2020", urls=[url])
    late = write_report(tmp_path, name="late", published="June 1, 2021", urls=[url])
    archive = tmp_path / "archive"
    summary = run(archive, [late, early], settings(web), clock=Clock())
    assert summary.web_archive == {"found": 2}
    assert status(archive)["page/shared"]["memento_datetime"] == "2020-09-01T00:00:00Z"  # the earliest report's
    with Catalog.open(archive) as catalog:
        early_copy = lookup_footnote(catalog, archive, "early", 1)["urls"][0]["memento"]
        late_copy = lookup_footnote(catalog, archive, "late", 1)["urls"][0]["memento"]
    assert early_copy["datetime"] == "2020-09-01T00:00:00Z" and "Mishustin" in early_copy["text"]
    assert late_copy["datetime"] == "2021-05-01T00:00:00Z" and "grain harvests" in late_copy["text"]


def test_no_lookup_for_ok_links_and_lookup_for_never_captured(web: fixture_server.Server, tmp_path: Path) -> None:
    web.pages["alive"] = ARTICLE
    alive, hanging = web.url("/page/alive"), web.url("/hang")
    archive_capture(web, hanging, "20200815000000", A_PAGE)
    report = write_report(tmp_path, name="r", published="2020-09-03", urls=[alive, hanging])
    archive = tmp_path / "archive"
    run(archive, [report], settings(web, read_timeout=0.3, total_timeout=1, retries=0), clock=Clock())
    looked_up = [r.query["url"][0] for r in web.requests if r.path == "/cdx/search/cdx"]
    assert alive not in looked_up
    assert hanging in looked_up  # failing and never captured: its copy matters already
    rows = status(archive)
    assert rows["hang"]["verdict"] == "failing" and rows["hang"]["memento_datetime"] == "2020-08-15T00:00:00Z"
    assert rows["page/alive"]["memento_url"] is None


def test_memento_timemap_archive(web: fixture_server.Server, tmp_path: Path) -> None:
    url = web.url("/page/gone")
    archive_capture(web, "timemap:" + url, "20200820000000", A_PAGE)
    report = write_report(tmp_path, name="r", published="2020-09-03", urls=[url])
    archive = tmp_path / "archive"
    summary = run(
        archive, [report], settings(web, wayback_url="", memento_timemaps=(f"{web.base}/timemap/link/",)), clock=Clock()
    )
    assert summary.web_archive == {"found": 1}
    assert status(archive)["page/gone"]["memento_url"] == f"{web.base}/other/20200820000000/{url}"


def test_save_missing_asks_only_for_live_links_without_a_capture(web: fixture_server.Server, tmp_path: Path) -> None:
    web.pages.update({"held": ARTICLE, "unheld": ARTICLE})
    held, unheld = web.url("/page/held"), web.url("/page/unheld")
    archive_capture(web, held, "20200815000000", A_PAGE)
    report = write_report(tmp_path, name="r", published="2020-09-03", urls=[held, unheld])
    archive = tmp_path / "archive"
    summary = run(archive, [report], settings(web, save_missing=True, save_delay=0.0), clock=Clock())
    saves = [r for r in web.requests if r.path == "/save"]
    assert len(saves) == 1 and saves[0].method == "POST"
    assert summary.web_archive == {"save_requested": 1}


def test_check_and_export_show_the_copy(web: fixture_server.Server, tmp_path: Path) -> None:
    url = web.url("/page/gone")
    archive_capture(web, url, "20200901000000", A_PAGE)
    report = write_report(tmp_path, name="r", published="2020-09-03", urls=[url])
    archive = tmp_path / "archive"
    run(archive, [report], settings(web), clock=Clock())
    check = subprocess.run(
        [sys.executable, "-m", "archiver", "check", "r", "1", "--archive", str(archive)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "web archive's copy" in check.stdout and "2020-09-01" in check.stdout
    assert "│ Mishustin said on September 3" in check.stdout
    export = subprocess.run(
        [sys.executable, "-m", "archiver", "export", "--archive", str(archive)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    row = json.loads(export.stdout.splitlines()[0])
    assert row["source"] == "web-archive"
    assert row["memento_url"] == f"{web.base}/web/20200901000000/{url}"
    assert "Mishustin said on September 3" in row["text"]
    assert row["fetched_at"] == "2020-09-01T00:00:00Z"


# ---- pure parts ------------------------------------------------------------------------------


def test_parse_cdx_and_nearest() -> None:
    body = json.dumps(
        [
            ["timestamp", "original", "statuscode", "mimetype"],
            ["20200101000000", "http://a/", "200", "text/html"],
            ["20200905000000", "http://a/", "200", "text/html"],
            ["20200902000000", "http://a/", "404", "text/html"],
        ]
    ).encode()
    mementos = parse_cdx("https://web.archive.org", body)
    assert mementos[0].raw_url == "https://web.archive.org/web/20200101000000id_/http://a/"
    moment = reference_moment("2020-09-03", datetime.now(UTC))
    assert [m.datetime.day for m in nearest(mementos, moment)] == [1, 5]  # the 404 is no candidate
    assert parse_cdx("x", b"") == [] and parse_cdx("x", b"[]") == []


def test_parse_timemap() -> None:
    body = (
        b'<http://a/>; rel="original",\n<https://arch.example/web/20200901000000/http://a/>; rel="first memento";'
        b' datetime="Tue, 01 Sep 2020 00:00:00 GMT",\n<https://arch.example/timemap/link/http://a/>; '
        b'rel="self"; type="application/link-format"'
    )
    assert parse_timemap(body) == [
        Memento(
            "https://arch.example/web/20200901000000/http://a/",
            "https://arch.example/web/20200901000000id_/http://a/",
            datetime(2020, 9, 1, tzinfo=UTC),
        )
    ]
    assert raw_url("https://x/wayback/20200101000000/http://a/") == "https://x/wayback/20200101000000id_/http://a/"


def test_an_unreachable_archive_is_not_asked_again_in_the_run(tmp_path: Path) -> None:
    import socket as socket_module

    asked: list[str] = []

    async def nxdomain(host: str, port: int) -> list[str]:
        asked.append(host)
        raise socket_module.gaierror(socket_module.EAI_NONAME, "Name or service not known")

    with socket_module.socket() as sock:  # a port nobody listens on: the links fail, never captured
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    urls = [f"http://127.0.0.1:{port}/gone/{i}" for i in range(5)]
    report = write_report(tmp_path, name="r", published="2020-09-03", urls=urls)
    archive = tmp_path / "archive"
    changes = {"retries": 0, "wayback_url": "http://archive.invalid", "web_archive_delay": 0.0}
    summary = run(
        archive, [report], SETTINGS.replace(web_archive_lookups=True, **changes), clock=Clock(), resolver=nxdomain
    )
    assert summary.status == "completed"
    assert summary.web_archive == {"error": 5}  # recorded, to be asked again on a later run
    assert asked == ["archive.invalid"]  # once, not twice for each of the five links
