"""What docs/commands.md promises and no other test held it to, each through the CLI where users meet it."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from archiver.pipeline import run

from . import server as fixture_server
from .helpers import FAST, SETTINGS, archiver, make_archive, write_report
from .server import ARTICLE, OTHER_ARTICLE, archive_capture, page


def status(archive: Path) -> dict[str, dict[str, object]]:
    result = archiver("status", "--json", archive=archive)
    assert result.returncode == 0, result.stderr
    return {row["url"]: row for row in json.loads(result.stdout)}


def night(archive: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, object]:
    result = archiver("run", *args, "--allow-private", "--json", archive=archive, env=env)
    assert result.returncode == 0, result.stderr
    summary: dict[str, object] = json.loads(result.stdout)
    return summary


def asked(web: fixture_server.Server, path: str, since: int = 0) -> list[fixture_server.Request]:
    return [r for r in web.requests[since:] if r.path == path]


# ----- reading reports ------------------------------------------------------------------------------------


def test_a_directory_of_text_markdown_and_html_reports(tmp_path: Path) -> None:
    folder = tmp_path / "reports"
    (folder / "deeper").mkdir(parents=True)
    (folder / "brief.md").write_text(
        "# Brief\n\nClaim.[^1] Another.[2]\n\n[^1]: http://example(.)org/md-one\n[2]: hxxps://example[.]org/md-two\n"
    )
    (folder / "deeper" / "paper.html").write_text(
        "<html><body><h1>Paper</h1><p>Claim.<sup>1</sup></p><h2>Notes</h2>"
        "<ol><li><a href='http://example.org/html-one'>source</a></li></ol></body></html>"
    )
    write_report(folder, ["http://example(.)org/txt-one"], "plain")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4 not a report")
    result = archiver("footnotes", str(folder), "--json")
    assert result.returncode == 0, result.stderr
    found = {r["report"]: [u for f in r["footnotes"] for u in f["urls"]] for r in json.loads(result.stdout)}
    assert found == {
        "brief": ["http://example.org/md-one", "https://example.org/md-two"],
        "paper": ["http://example.org/html-one"],
        "plain": ["http://example.org/txt-one"],
    }


@pytest.mark.parametrize(
    ("head", "body", "date"),
    [
        ('<meta name="citation_publication_date" content="2021/10/04">', "", "2021-10-04"),
        ("", '<header><time datetime="2020-09-03T05:00:00Z">3 Sept</time></header>', "2020-09-03"),
        ("", '<footer><time datetime="2024-01-01">updated</time></footer>', None),  # a footer's is not the report's
    ],
)
def test_publication_dates_from_html_metadata_and_a_body_time(
    tmp_path: Path, head: str, body: str, date: str | None
) -> None:
    report = tmp_path / "dated.html"
    report.write_text(
        f"<html><head>{head}</head><body>{body}<h1>Dated</h1><p>Claim.[1]</p>"
        "<p>[1] http://example.org/a</p></body></html>"
    )
    result = archiver("footnotes", str(report), "--json")
    assert json.loads(result.stdout)[0]["published"] == date


# ----- politeness and the flags ------------------------------------------------------------------------------


def test_per_host_and_delay_space_a_sites_requests(web: fixture_server.Server, tmp_path: Path) -> None:
    """--per-host 1 --delay 0.5: one request to the site at a time, starts at least 0.5 s apart (a lower bound:
    no load can make it smaller)."""
    archive = make_archive(tmp_path)
    urls = [web.url(f"/slow?s=0.2&id=spaced{i}") for i in range(3)]
    since = len(web.requests)
    night(archive, str(write_report(tmp_path, urls, "spaced")), "--per-host", "1", "--delay", "0.5")
    starts = sorted(r.at for r in asked(web, "/slow", since) if r.query["id"][0].startswith("spaced"))
    assert len(starts) == 3
    assert all(later - earlier >= 0.5 - 0.01 for earlier, later in itertools.pairwise(starts))


def test_concurrency_1_fetches_one_page_at_a_time_over_every_site(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    other = web.url("/slow?s=0.3&id=c1").replace("127.0.0.1", "localhost")  # another host, the same server
    urls = [web.url("/slow?s=0.3&id=c0"), other, web.url("/slow?s=0.3&id=c2")]
    since = len(web.requests)
    night(archive, str(write_report(tmp_path, urls, "serial")), "--concurrency", "1")
    starts = sorted(r.at for r in asked(web, "/slow", since) if r.query["id"][0] in ("c0", "c1", "c2"))
    assert len(starts) == 3  # each began after the one before had been answered (0.3 s each)
    assert all(later - earlier >= 0.3 - 0.01 for earlier, later in itertools.pairwise(starts))


@pytest.mark.parametrize("flag", [["--per-host", "0"], ["--delay", "-1"], ["--concurrency", "0"], ["--delay", "x"]])
def test_a_flag_out_of_range_is_a_usage_error(tmp_path: Path, flag: list[str]) -> None:
    result = archiver("run", *flag, archive=tmp_path / "archive")
    assert result.returncode == 2 and "Invalid value" in result.stderr
    assert not (tmp_path / "archive" / "catalog.sqlite").exists()


def test_the_archiver_table_and_flags_over_the_file(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path, '[archiver]\nuser_agent = "TableAgent/1"\ndelay = 3600\nretries = 0\n')
    report = write_report(tmp_path, [web.url("/agent?id=t1"), web.url("/agent?id=t2")], "agents")
    night(archive, str(report), "--delay", "0")  # an hour between requests to the site, unless the flag wins
    titles = {row["url"]: row for row in status(archive).values()}
    assert len(titles) == 2 and all(row["verdict"] == "ok" for row in titles.values())
    export = archiver("export", archive=archive)
    assert all(json.loads(line)["title"] == "Asked by TableAgent/1" for line in export.stdout.splitlines())


@pytest.mark.sqlite_catalog
def test_the_archive_from_the_environment_then_the_working_directory(tmp_path: Path) -> None:
    chosen = make_archive(tmp_path / "elsewhere")
    report = write_report(tmp_path, ["http://127.0.0.1:9/x"], "where")
    env = {"ARCHIVER_ARCHIVE": str(chosen)}
    result = archiver("run", str(report), "--allow-private", "--no-web-archive", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert (chosen / "catalog.sqlite").exists() and not (tmp_path / "archive").exists()
    os.environ.pop("ARCHIVER_ARCHIVE", None)
    result = archiver("run", str(report), "--allow-private", "--no-web-archive", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "archive" / "catalog.sqlite").exists()


def test_two_interrupts_end_the_run_at_once_with_130(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path, FAST.replace("total_timeout = 4.0", "total_timeout = 30.0"))
    urls = [web.url(f"/slow?s=20&id=int{i}") for i in range(4)]
    since = len(web.requests)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "archiver",
            "run",
            str(write_report(tmp_path, urls, "interrupted")),
            "--allow-private",
            "--archive",
            str(archive),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert process.stderr is not None
    deadline = time.monotonic() + 60
    while len(asked(web, "/slow", since)) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.extend(iter(process.stderr.readline, "")), daemon=True)
    reader.start()
    os.killpg(process.pid, signal.SIGINT)  # the first: finish what is in flight (20 s pages)
    while not any("stopping" in line for line in said) and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)  # the second: at once
    process.wait(timeout=60)
    reader.join(10)
    process.stderr.close()
    err = "".join(said)
    assert process.returncode == 130, err
    runs = json.loads(archiver("status", "--json", archive=archive).stdout)
    assert all(row["verdict"] == "pending" for row in runs)  # nothing was half-recorded


# ----- reports in the archive ------------------------------------------------------------------------------


def test_an_edited_report_is_updated(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    web.pages.update({"ed1": ARTICLE, "ed2": OTHER_ARTICLE})
    report = write_report(tmp_path, [web.url("/page/ed1")], "edited")
    assert night(archive, str(report))["reports"]["added"] == ["edited"]  # type: ignore[index]
    assert night(archive, str(report))["reports"]["unchanged"] == ["edited"]  # type: ignore[index]
    write_report(tmp_path, [web.url("/page/ed1"), web.url("/page/ed2")], "edited")
    summary = night(archive, str(report))
    assert summary["reports"]["updated"] == ["edited"]  # type: ignore[index]
    assert summary["links"]["new"] == 1  # type: ignore[index]


def test_exporting_a_report_after_its_file_moved(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    web.pages["moved1"] = ARTICLE
    report = write_report(tmp_path / "drafts", [web.url("/page/moved1")], "moving", title="A report that moves")
    night(archive, str(report))
    shutil.rmtree(tmp_path / "drafts")
    result = archiver("export", "--format", "report", "--report", "moving", "--to", "md", archive=archive)
    assert result.returncode == 0, result.stderr
    assert "A report that moves" in result.stdout and web.url("/page/moved1") in result.stdout


# ----- fetching ----------------------------------------------------------------------------------------------


def test_if_modified_since_on_the_next_run(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    night(archive, str(write_report(tmp_path, [web.url("/modified")], "modified")))
    since = len(web.requests)
    night(archive)
    again = asked(web, "/modified", since)
    assert [r.headers.get("if-modified-since") for r in again] == ["Thu, 03 Sep 2020 10:00:00 GMT"]
    (row,) = status(archive).values()
    assert row["verdict"] == "ok" and row["http_status"] == 304


def test_a_short_retry_after_is_honoured_within_the_run(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path, FAST.replace("retries = 1", "retries = 2"))
    since = len(web.requests)
    night(archive, str(write_report(tmp_path, [web.url("/too-many")], "retry")))
    attempts = asked(web, "/too-many", since)
    assert len(attempts) == 2
    assert attempts[1].at - attempts[0].at >= 1.0 - 0.01  # Retry-After: 1 (a lower bound)
    (row,) = status(archive).values()
    assert row["verdict"] == "ok"


def test_failing_links_are_checked_before_stable_ones(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path, FAST.replace("retries = 1", "retries = 0"))
    report = write_report(tmp_path, [web.url("/article?id=stable"), web.url("/status/503?id=unsettled")], "order")
    night(archive, str(report))
    since = len(web.requests)
    night(archive, "--concurrency", "1")
    order = [r.path for r in web.requests[since:] if r.path in ("/article", "/status/503")]
    assert order == ["/status/503", "/article"]


def test_407_is_blocked(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    night(archive, str(write_report(tmp_path, [web.url("/status/407")], "proxyauth")))
    (row,) = status(archive).values()
    assert row["verdict"] == "blocked"


@pytest.mark.sqlite_catalog
def test_extract_timeout_and_worker_memory_keep_the_capture_without_its_text(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    """The caps apply to reading reports too (a report is read in a worker): the report is added on a
    first night with the defaults, then the page changes and the caps are met on the second."""
    for setting in ("extract_timeout = 0.001\n", "worker_memory = 1048576\n"):
        name = setting.split(" ", 1)[0]
        web.pages[name] = ARTICLE * 2
        archive = make_archive(tmp_path / name)
        night(archive, str(write_report(tmp_path, [web.url(f"/page/{name}")], name)))
        (archive / "archiver.toml").write_text(FAST + setting)
        web.pages[name] = OTHER_ARTICLE * 40
        records = sum(w.stat().st_size for w in (archive / "warc").glob("*.warc.gz"))
        night(archive)
        (row,) = status(archive).values()
        # The cap met: "too large to extract", or, where a worker cannot even start under it, "crashed".
        assert re.search(r"no text: (too large to extract|the worker process crashed)", str(row["reason"])), row
        assert sum(w.stat().st_size for w in (archive / "warc").glob("*.warc.gz")) > records  # the capture is kept


# ----- proxies and trust -------------------------------------------------------------------------------------


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "ALL_PROXY", "all_proxy"])
def test_a_proxy_from_the_environment(web: fixture_server.Server, tmp_path: Path, variable: str) -> None:
    archive = make_archive(tmp_path)
    since = len(web.requests)
    report = write_report(tmp_path, ["http://news.invalid/agent?id=env"], "envproxy")
    night(archive, str(report), env={variable: web.base})
    (seen,) = [r for r in web.requests[since:] if r.path == "/agent"]
    assert seen.target == "http://news.invalid/agent?id=env"  # the proxy was asked for the page
    (row,) = status(archive).values()
    assert row["verdict"] == "ok"


def test_no_proxy_goes_direct(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    dead_proxy = "http://127.0.0.1:9"
    report = write_report(tmp_path, [web.url("/agent?id=direct")], "noproxy")
    night(archive, str(report), env={"HTTP_PROXY": dead_proxy, "NO_PROXY": "127.0.0.1"})
    (row,) = status(archive).values()
    assert row["verdict"] == "ok"


def test_a_socks_proxy(web: fixture_server.Server, tmp_path: Path) -> None:
    from .socks import SocksServer

    archive = make_archive(tmp_path)
    with SocksServer() as socks:
        report = write_report(tmp_path, [web.url("/agent?id=socks")], "socks")
        night(archive, str(report), "--proxy", f"socks5://127.0.0.1:{socks.port}")
        assert socks.targets == [("127.0.0.1", web.port)]
    (row,) = status(archive).values()
    assert row["verdict"] == "ok"


def test_https_proxy_tunnels_and_ssl_cert_dir_trusts(tmp_path: Path) -> None:
    """HTTPS_PROXY for https URLs (a CONNECT tunnel), and the test CA trusted through SSL_CERT_DIR."""
    import trustme

    from .test_fetch import _ConnectProxy

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    tls, stop = fixture_server.start(context)
    proxy = _ConnectProxy()
    certs = tmp_path / "certs"
    certs.mkdir()
    ca.cert_pem.write_to_path(str(certs / "test-ca.pem"))
    subprocess.run(["openssl", "rehash", str(certs)], check=True, capture_output=True)
    try:
        archive = make_archive(tmp_path)
        report = write_report(tmp_path, [tls.url("/article")], "tls")
        env = {"HTTPS_PROXY": f"http://127.0.0.1:{proxy.port}", "SSL_CERT_DIR": str(certs)}
        night(archive, str(report), env=env)
    finally:
        proxy.stop()
        stop()
    assert proxy.tunnels == [f"127.0.0.1:{tls.port}"]
    (row,) = status(archive).values()
    assert row["verdict"] == "ok", row


# ----- web archives ------------------------------------------------------------------------------------------


def test_no_web_archive_asks_none(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path, FAST.replace("web_archive_lookups = false", f'wayback_url = "{web.base}"'))
    since = len(web.requests)
    night(archive, str(write_report(tmp_path, [web.url("/status/404?id=nowa")], "nowa")), "--no-web-archive")
    assert not [r for r in web.requests[since:] if r.path.startswith("/cdx")]
    night(archive)  # without the flag, the dead link's copy is looked up
    assert [r for r in web.requests[since:] if r.path.startswith("/cdx")]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def test_lookups_are_spaced_and_a_none_is_asked_again_after_30_days(web: fixture_server.Server, tmp_path: Path) -> None:
    gone = [web.url(f"/status/404?id=spacing{i}") for i in range(2)]
    settings = SETTINGS.replace(web_archive_lookups=True, wayback_url=web.base, web_archive_delay=0.5, retries=0)
    archive, clock = tmp_path / "archive", Clock()
    since = len(web.requests)
    run(archive, [write_report(tmp_path, gone, "spacing")], settings, clock=clock)
    lookups = sorted(r.at for r in web.requests[since:] if r.path.startswith("/cdx"))
    assert len(lookups) >= 2 and all(b - a >= 0.5 - 0.01 for a, b in itertools.pairwise(lookups))

    def lookups_now() -> int:
        before = len(web.requests)
        run(archive, [], settings, clock=clock)
        return len([r for r in web.requests[before:] if r.path.startswith("/cdx")])

    clock.now += timedelta(days=10)
    assert lookups_now() == 0  # "none" is settled for a while
    clock.now += timedelta(days=21)
    assert lookups_now() >= 2  # past 30 days: captures made since may exist


# ----- export and dashboard ----------------------------------------------------------------------------------


def test_every_export_field_of_the_contract(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    report = write_report(tmp_path, [web.url("/redirect/2")], "fields", title="Field report")
    night(archive, str(report))
    (row,) = [json.loads(line) for line in archiver("export", archive=archive).stdout.splitlines()]
    assert row["report_title"] == "Field report" and row["published"] == "2020-09-03"
    assert row["note"].startswith("http://127.0.0.1") and row["http_status"] == 200
    assert row["final_url"].endswith("/article") and row["first_archived"] and row["verdict_since"]
    assert len(row["text_digest"]) == 64 and row["warc_file"].endswith(".warc.gz")
    assert isinstance(row["warc_offset"], int) and row["warc_offset"] >= 0
    with (archive / "warc" / row["warc_file"]).open("rb") as warc:
        from warcio.archiveiterator import ArchiveIterator

        warc.seek(row["warc_offset"])
        record = next(iter(ArchiveIterator(warc)))
        assert record.rec_type == "response"


def test_the_dashboard_by_default_most_broken_first_with_copies(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path, FAST.replace("web_archive_lookups = false", f'wayback_url = "{web.base}"'))
    web.pages["fine"] = ARTICLE
    gone = web.url("/status/404?id=dash")
    archive_capture(web, gone, "20200815000000", page("Before", ARTICLE))
    healthy = write_report(tmp_path, [web.url("/page/fine")], "healthy")
    broken = write_report(tmp_path, [gone, web.url("/status/410?id=dash2")], "broken")
    night(archive, str(healthy), str(broken))
    result = archiver("dashboard", archive=archive)
    assert result.returncode == 0, result.stderr
    index = archive / "dashboard" / "index.html"
    assert result.stdout.strip() == str(index)
    html = index.read_text()
    assert html.index(">broken<") < html.index(">healthy<")
    report_page = (archive / "dashboard" / "reports" / "broken.html").read_text()
    assert f"{web.base}/web/20200815000000/{gone}" in report_page
