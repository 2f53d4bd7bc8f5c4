"""`archiver run` and `archiver status` as cron and people run them, against a real local server."""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from . import server as fixture_server
from .helpers import FAST, archiver, make_archive, write_report


def status(archive: Path) -> dict[str, dict[str, object]]:
    result = archiver("status", "--json", archive=archive)
    assert result.returncode == 0, result.stderr
    return {row["url"]: row for row in json.loads(result.stdout)}


CASES = {
    "/article": "ok",
    "/gzip": "ok",
    "/brotli": "ok",
    "/cp1251": "ok",
    "/pdf": "ok",
    "/json": "ok",
    "/image": "ok",
    "/redirect/2": "ok",
    "/flaky": "ok",
    "/status/404": "dead",
    "/status/410": "dead",
    "/status/403": "blocked",
    "/status/401": "blocked",
    "/status/451": "blocked",
    "/status/500": "failing",
    "/hang": "failing",
    "/drop": "failing",
    "/huge": "failing",
    "/gzip-bomb": "failing",
    "/loop/a": "failing",
}


def test_many_reports_are_read_ahead_and_saved_in_their_order(web: fixture_server.Server, tmp_path: Path) -> None:
    """Reports are read several at a time in the workers (a night's hundred no longer trickle in one by
    one), yet saved in the order given; an unreadable one among them costs only itself."""
    archive = make_archive(tmp_path)
    reports = tmp_path / "reports"
    for i in range(40):
        write_report(reports, [web.url(f"/article?r={i}")], f"r{i:02d}", defang=True)
    (reports / "r17-bad.txt").write_bytes(b"\x00\x01\x02binary")
    result = archiver("run", str(reports), "--allow-private", "--json", archive=archive)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["reports"]["added"] == [f"r{i:02d}" for i in range(40)]
    assert [Path(failed["path"]).name for failed in summary["reports"]["failed"]] == ["r17-bad.txt"]
    assert summary["verdicts"]["ok"] == 40


@pytest.mark.sqlite_catalog
def test_run_then_status_then_rerun(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    urls = [web.url(path) for path in CASES]
    report = write_report(tmp_path, urls, "local", defang=True)
    result = archiver("run", str(report), "--allow-private", "--json", archive=archive)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed"
    assert summary["reports"]["added"] == ["local"]
    assert summary["links"]["checked"] == len(CASES)
    assert set(summary["verdicts"]) == {"ok", "changed", "dead", "failing", "blocked", "pending"}
    assert sum(summary["verdicts"].values()) == len(CASES)
    # cron's log: one plain line per link, no progress bar
    assert result.stderr.count(" ok ") >= 1 and "\x1b[" not in result.stderr

    rows = status(archive)
    got = {url.removeprefix(web.base): row["verdict"] for url, row in rows.items()}
    assert got == CASES
    article = rows[web.url("/article")]
    assert article["http_status"] == 200
    assert article["reason"] == "200, first capture"
    assert article["cited_by"] == [{"report": "local", "n": 1}]
    assert article["first_archived"] and article["last_checked"]
    assert rows[web.url("/redirect/2")]["final_url"] == web.url("/article")
    assert "404" in str(rows[web.url("/status/404")]["reason"])
    assert "too large" in str(rows[web.url("/gzip-bomb")]["reason"])

    db = sqlite3.connect(archive / "catalog.sqlite")
    texts = dict(db.execute("SELECT url, text_digest FROM captures WHERE text_digest IS NOT NULL").fetchall())
    assert set(texts) >= {web.url(p) for p in ("/article", "/gzip", "/brotli", "/cp1251", "/pdf", "/json")}
    # identical main text is stored once
    assert len({texts[web.url(p)] for p in ("/article", "/gzip", "/brotli")}) == 1
    cp1251 = (archive / "text" / texts[web.url("/cp1251")][:2] / f"{texts[web.url('/cp1251')]}.txt").read_text()
    assert "Мишустин заявил" in cp1251
    pdf = (archive / "text" / texts[web.url("/pdf")][:2] / f"{texts[web.url('/pdf')]}.txt").read_text()
    assert "Union State agreement signed in Minsk" in pdf
    redirects = json.loads(
        db.execute("SELECT redirects FROM checks WHERE url = ?", (web.url("/redirect/2"),)).fetchone()[0]
    )
    assert [r["status"] for r in redirects] == [302, 302]
    flaky_attempts = db.execute("SELECT COUNT(*) FROM checks WHERE url = ?", (web.url("/flaky"),)).fetchone()[0]
    assert flaky_attempts == 2  # a 503, then the retry that got the page

    # The rerun: conditional request for /article, an identical payload elsewhere: nothing stored again.
    captures_before = db.execute("SELECT COUNT(*) FROM captures").fetchone()[0]
    texts_before = sorted(p.name for p in (archive / "text").rglob("*.txt"))
    result = archiver("run", "--allow-private", "--json", archive=archive)
    assert result.returncode == 0, result.stderr
    rows = status(archive)
    assert rows[web.url("/article")]["verdict"] == "ok"
    assert rows[web.url("/article")]["reason"] == "304, not modified"
    assert rows[web.url("/gzip")]["reason"] == "200, text unchanged"
    assert sorted(p.name for p in (archive / "text").rglob("*.txt")) == texts_before
    # Recorded less than revisit_interval (a week) ago: the check rows say "unchanged", no record is added.
    # (/gzip is captured again: its server gzips anew each time, so its bytes, and their digest, differ.)
    new = db.execute("SELECT url, revisit_of FROM captures LIMIT -1 OFFSET ?", (captures_before,)).fetchall()
    assert new == [(web.url("/gzip"), None)]
    rerun_warcs = sorted((archive / "warc").glob("*.warc.gz"))[-1]
    with rerun_warcs.open("rb") as stream:
        assert "revisit" not in {r.rec_type for r in ArchiveIterator(stream)}
    checks = db.execute("SELECT COUNT(*) FROM checks WHERE url = ?", (web.url("/article"),)).fetchone()[0]
    assert checks == 2

    # With revisit_interval = 0 every check of an unchanged page leaves its revisit record.
    with (archive / "archiver.toml").open("a") as config:
        config.write("revisit_interval = 0\n")
    result = archiver("run", "--allow-private", "--json", archive=archive)
    assert result.returncode == 0, result.stderr
    revisits = db.execute("SELECT COUNT(*) FROM captures WHERE revisit_of IS NOT NULL").fetchone()[0]
    assert revisits >= 5
    assert db.execute("SELECT COUNT(*) FROM captures").fetchone()[0] > captures_before

    # Every WARC record is readable, revisits included, and the catalog's offsets point at responses.
    records = []
    for warc in sorted((archive / "warc").glob("*.warc.gz")):
        with warc.open("rb") as stream:
            records += [(r.rec_type, r.rec_headers.get_header("WARC-Target-URI")) for r in ArchiveIterator(stream)]
    kinds = {kind for kind, _ in records}
    assert kinds == {"warcinfo", "response", "request", "revisit"}
    profiles = set()
    for warc in sorted((archive / "warc").glob("*.warc.gz")):
        with warc.open("rb") as stream:
            profiles |= {
                r.rec_headers.get_header("WARC-Profile") for r in ArchiveIterator(stream) if r.rec_type == "revisit"
            }
    assert profiles == {
        "http://netpreserve.org/warc/1.1/revisit/server-not-modified",  # the 304 of /article
        "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
    }
    for file, offset in db.execute("SELECT warc_file, warc_offset FROM captures"):
        with (archive / "warc" / file).open("rb") as stream:
            stream.seek(offset)
            record = next(iter(ArchiveIterator(stream)))
            assert record.rec_type in ("response", "revisit")


def test_status_table_groups_by_verdict(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    report = write_report(tmp_path, [web.url("/article"), web.url("/status/404")], "two", defang=True)
    assert archiver("run", str(report), "--allow-private", archive=archive).returncode == 0
    # On a terminal: a summary per verdict, then the links that are not ok, grouped, the worst first.
    result = archiver("status", archive=archive, env={"FORCE_COLOR": "1", "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    assert "2 links" in result.stdout and "dead (1)" in result.stdout and "two #2" in result.stdout
    assert "ok (1)" not in result.stdout and "1 ok links not listed" in result.stdout
    # Off a terminal: one whole line per link, for grep and cut.
    result = archiver("status", archive=archive)
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    dead = next(line for line in lines if "/status/404" in line).split("\t")
    assert dead[0] == "dead" and dead[1] == web.url("/status/404") and dead[3] == "two #2"


def test_private_addresses_refused_by_default(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    report = write_report(tmp_path, [web.url("/article")], "private", defang=True)
    before = web.hits["/article"]
    result = archiver("run", str(report), "--json", archive=archive)
    assert result.returncode == 0
    row = status(archive)[web.url("/article")]
    assert row["verdict"] == "failing"
    assert "non-public address" in str(row["reason"])
    assert web.hits["/article"] == before


def test_sample_report_unreachable_exits_0_with_reasons(tmp_path: Path) -> None:
    """The sample's 22 real hosts, never reached: every request goes to a proxy on 127.0.0.1 that is not
    there (a proxy resolves names itself, so nothing is looked up either). Each link fails with its reason."""
    from .conftest import SAMPLE

    archive = make_archive(tmp_path)
    proxy = f"http://127.0.0.1:{closed_port()}"
    result = archiver("run", str(SAMPLE), "--json", "--proxy", proxy, "--no-web-archive", archive=archive)
    assert result.returncode == 0, result.stderr
    rows = status(archive)
    assert len(rows) == 22
    assert {row["verdict"] for row in rows.values()} == {"failing"}
    assert all("connect" in str(row["reason"]).lower() for row in rows.values()), rows


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_bad_report_does_not_stop_the_run(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    good = write_report(tmp_path, [web.url("/article")], "good", defang=True)
    (tmp_path / "bad.txt").write_bytes(b"\x00\x01\x02binary")
    # A path that does not exist is a usage error before anything runs (a typo in a crontab).
    result = archiver("run", str(good), str(tmp_path / "missing.txt"), "--allow-private", archive=archive)
    assert result.returncode == 2 and "missing.txt" in result.stderr and "does not exist" in result.stderr
    assert "Traceback" not in result.stderr and not (archive / "catalog.sqlite").exists()
    # A file that is no report is reported and skipped; the others are archived.
    result = archiver("run", str(good), str(tmp_path / "bad.txt"), "--allow-private", "--json", archive=archive)
    assert result.returncode == 0
    summary = json.loads(result.stdout)
    assert summary["reports"]["added"] == ["good"]
    assert len(summary["reports"]["failed"]) == 1
    assert "archiver: error:" in result.stderr and "bad.txt" in result.stderr
    assert summary["verdicts"]["ok"] == 1


@pytest.mark.sqlite_catalog
def test_unusable_archive_is_a_clear_error(tmp_path: Path) -> None:
    target = tmp_path / "file-not-dir"
    target.write_text("x")
    result = archiver("status", archive=target)
    assert result.returncode in (1, 2)
    assert "error" in result.stderr.lower()
    broken = make_archive(tmp_path)
    (broken / "catalog.sqlite").write_bytes(b"this is not sqlite" * 100)
    result = archiver("status", archive=broken)
    assert result.returncode == 1
    assert result.stderr.startswith("archiver: error:") and "catalog" in result.stderr


def test_bad_configuration_is_a_clear_error(tmp_path: Path) -> None:
    archive = make_archive(tmp_path, "per_host = 'many'\n")
    result = archiver("run", archive=archive)
    assert result.returncode == 1
    assert "per_host must be int" in result.stderr


def test_a_missing_ca_file_stops_the_run_before_it_begins(web: fixture_server.Server, tmp_path: Path) -> None:
    report = write_report(tmp_path, [web.url("/article")], "r", defang=True)
    archive = tmp_path / "archive"
    result = archiver("run", str(report), archive=archive, env={"SSL_CERT_FILE": str(tmp_path / "missing.pem")})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"archiver: error: cannot load the trusted CAs: SSL_CERT_FILE {tmp_path / 'missing.pem'}: no such file"
    ]
    assert not archive.exists()  # no run begun and left unfinished


def _slow_report(web: fixture_server.Server, tmp_path: Path, n: int, seconds: float) -> Path:
    return write_report(tmp_path, [web.url(f"/slow?s={seconds}&id={i}") for i in range(n)], "slow")


def test_two_runs_at_once(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path, FAST.replace("per_host = 4", "per_host = 1"))
    report = _slow_report(web, tmp_path, 6, 0.5)
    slow_before = web.hits["/slow"]  # the module's server is shared: count from here
    first = subprocess.Popen(
        [sys.executable, "-m", "archiver", "run", str(report), "--allow-private", "--archive", str(archive)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + 20
        while time.time() < deadline and not (archive / "run.lock").exists():
            time.sleep(0.05)
        while time.time() < deadline and web.hits["/slow"] == slow_before:  # the first run holds the lock, fetching
            time.sleep(0.05)
        second = archiver("run", "--allow-private", archive=archive)
        assert second.returncode == 75
        assert "another archiver run holds the archive" in second.stderr
        assert "pid" in second.stderr
    finally:
        first.communicate(timeout=120)
    assert first.returncode == 0
    assert archiver("run", "--allow-private", archive=archive).returncode == 0  # the lock went with the first run


@pytest.mark.sqlite_catalog
def test_kill_9_mid_run_then_a_clean_rerun(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path, FAST.replace("per_host = 4", "per_host = 2"))
    report = _slow_report(web, tmp_path, 16, 0.8)  # 16 pages of 0.8 s (under the 1 s read time-out), two at a time
    proc = subprocess.Popen(
        [sys.executable, "-m", "archiver", "run", str(report), "--allow-private", "--archive", str(archive)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    db_path = archive / "catalog.sqlite"
    deadline = time.time() + 60
    captured = 0
    while time.time() < deadline and captured < 3:
        time.sleep(0.1)
        if db_path.exists():
            try:
                with sqlite3.connect(db_path) as db:
                    captured = db.execute("SELECT COUNT(*) FROM captures").fetchone()[0]
            except sqlite3.OperationalError:
                pass
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process tree, extraction workers included
    proc.communicate()
    assert 3 <= captured < 16

    # Still readable after the kill: the catalog opens and every stored WARC record parses.
    assert archiver("status", "--json", archive=archive).returncode == 0
    result = archiver("run", "--allow-private", "--json", archive=archive)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["verdicts"]["ok"] == 16
    with sqlite3.connect(db_path) as db:
        statuses = [row[0] for row in db.execute("SELECT status FROM runs ORDER BY id")]
        assert statuses == ["killed", "completed"]
        per_link = db.execute("SELECT link, COUNT(*) FROM captures WHERE revisit_of IS NULL GROUP BY link").fetchall()
        assert len(per_link) == 16 and all(count == 1 for _, count in per_link)  # nothing stored twice
        captures = db.execute("SELECT COUNT(*) FROM captures").fetchone()[0]
    responses = 0
    for warc in (archive / "warc").glob("*.warc.gz"):
        with warc.open("rb") as stream:
            responses += sum(r.rec_type in ("response", "revisit") for r in ArchiveIterator(stream))
    assert responses == captures  # no orphan record left by the killed run


def test_max_duration_stops_in_time_and_the_next_run_starts_with_what_was_left(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    archive = make_archive(tmp_path, FAST.replace("per_host = 4", "per_host = 1"))
    report = _slow_report(web, tmp_path, 8, 0.4)
    result = archiver("run", str(report), "--allow-private", "--max-duration", "1", "--json", archive=archive)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["status"] == "stopped"
    left = summary["links"]["left_for_next_run"]
    assert left >= 3 and summary["links"]["checked"] + left == 8
    assert summary["verdicts"]["pending"] == left
    pending = {url.split("id=")[1] for url, row in status(archive).items() if row["verdict"] == "pending"}
    assert len(pending) == left
    before = len(web.requests)
    result = archiver("run", "--allow-private", "--max-duration", "1", "--json", archive=archive)
    asked = [r.query["id"][0] for r in web.requests[before:] if r.path == "/slow"]
    assert asked and set(asked[: len(pending)]) <= pending  # what the last run left, this one does first


def test_a_new_reports_links_join_the_night_first_on_their_site(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path, FAST.replace("per_host = 4", "per_host = 1").replace("delay = 0.0", "delay = 1.5"))
    old = write_report(tmp_path, [web.url("/article?id=old1"), web.url("/article?id=old2")], "old", defang=True)
    assert archiver("run", str(old), "--allow-private", archive=archive).returncode == 0
    new = write_report(tmp_path, [web.url("/article?id=new1"), web.url("/article?id=new2")], "new", defang=True)
    before = len(web.requests)
    # The tracked links start at once; the new report is read meanwhile, and its never captured
    # links go to the front of the site's queue (one connection, 1.5 s apart: reading a report takes
    # milliseconds, so a loaded machine still reads it long before the site's second request).
    result = archiver("run", str(new), "--allow-private", "--json", archive=archive)
    assert result.returncode == 0, result.stderr
    asked = [r.query["id"][0] for r in web.requests[before:] if r.path == "/article" and "id" in r.query]
    assert asked == ["old1", "new1", "new2", "old2"]
    summary = json.loads(result.stdout)
    assert summary["links"]["to_check"] == summary["links"]["checked"] == 4
    assert summary["links"]["new"] == 2 and summary["reports"]["added"] == ["new"]
    assert {row["verdict"] for row in status(archive).values()} == {"ok"}


def test_recheck_interval_lets_stable_links_skip_runs(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path, FAST + "recheck_interval = 24.0\n")
    report = write_report(tmp_path, [web.url("/plain-article"), web.url("/status/500")], "two", defang=True)
    assert archiver("run", str(report), "--allow-private", archive=archive).returncode == 0
    hits = web.hits["/plain-article"], web.hits["/status/500"]
    result = archiver("run", "--allow-private", "--json", archive=archive)
    assert json.loads(result.stdout)["links"]["to_check"] == 1  # the ok link waits; the failing one does not
    assert web.hits["/plain-article"] == hits[0] and web.hits["/status/500"] > hits[1]


def test_the_archive_is_created_by_the_first_run_and_never_by_reading(tmp_path: Path) -> None:
    archive = tmp_path / "new" / "archive"
    for command in (["status"], ["status", "--json"], ["check", "r", "1"], ["export"], ["dashboard"]):
        result = archiver(*command, archive=archive)
        assert result.returncode == 1, (command, result.stderr)
        assert result.stderr.startswith("archiver: error:") and "no such archive directory" in result.stderr
        assert not archive.exists() and not archive.parent.exists()
    result = archiver("run", "--json", archive=archive)
    assert result.returncode == 0, result.stderr
    assert (archive / "catalog.sqlite").exists()
    assert archiver("status", "--json", archive=archive).stdout.strip() == "[]"
    assert archiver("export", archive=archive).stdout == ""


def test_repair_sets_aside_what_the_catalog_does_not_know(tmp_path: Path) -> None:
    from archiver.storage.warcstore import WarcStore

    warc = tmp_path / "warc"
    warc.mkdir()
    (warc / "known.warc.gz").write_bytes(b"committed" + b"partial record")
    (warc / "unknown.warc.gz").write_bytes(b"a file from a run the catalog never heard of")
    repaired = WarcStore.repair(tmp_path, {"known.warc.gz": len(b"committed")})
    assert sorted(repaired) == ["known.warc.gz", "unknown.warc.gz"]
    assert (warc / "known.warc.gz").read_bytes() == b"committed"
    assert (warc / "orphaned" / "known.warc.gz.tail-9").read_bytes() == b"partial record"
    assert (warc / "orphaned" / "unknown.warc.gz").read_bytes().startswith(b"a file from a run")


def test_two_reports_of_one_name_in_one_run(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write_report(tmp_path / "a", [web.url("/article")], "same", defang=True)
    second = write_report(tmp_path / "b", [web.url("/gzip")], "same", defang=True)
    result = archiver("run", str(first), str(second), "--allow-private", "--json", archive=archive)
    assert result.returncode == 0
    summary = json.loads(result.stdout)
    assert summary["reports"]["added"] == ["same"]
    assert "already given" in summary["reports"]["failed"][0]["error"]
    assert list(status(archive)) == [web.url("/article")]


def test_sigterm_finishes_what_is_in_flight_and_stops(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path, FAST.replace("per_host = 4", "per_host = 1"))
    report = _slow_report(web, tmp_path, 10, 0.5)
    before = web.hits["/slow"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "archiver", "run", str(report), "--allow-private", "--json", "--archive", str(archive)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 30
    while time.time() < deadline and web.hits["/slow"] < before + 2:  # fetching: its handlers are in place
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert summary["status"] == "stopped"
    assert summary["links"]["left_for_next_run"] > 0
    assert summary["links"]["checked"] + summary["links"]["left_for_next_run"] == 10
    assert archiver("run", "--allow-private", "--json", archive=archive).returncode == 0  # the rest, next time
    assert all(row["verdict"] == "ok" for row in status(archive).values())


def test_every_record_reads_with_warcio_whatever_the_content_encoding(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    """warcio's content_stream() and `warcio check` read every record we write (brotli included: warcio#73)."""
    archive = make_archive(tmp_path)
    paths = ["/article", "/gzip", "/brotli", "/deflate-raw", "/chunked", "/redirect/2", "/status/404"]
    report = write_report(tmp_path, [web.url(p) for p in paths], "encodings", defang=True)
    assert archiver("run", str(report), "--allow-private", archive=archive).returncode == 0
    asked = [r.headers.get("accept-encoding", "") for r in web.requests if r.path in paths]
    assert asked and all("br" not in value.split(", ") for value in asked)  # as wget and Heritrix: no br
    exported = tmp_path / "export.warc.gz"
    result = archiver("export", "--format", "warc", "--output", str(exported), archive=archive)
    assert result.returncode == 0, result.stderr
    files = [*sorted((archive / "warc").glob("*.warc.gz")), exported]
    bodies: dict[str, bytes] = {}
    for path in files:
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                body = record.content_stream().read()
                if record.rec_type == "response" and path != exported:
                    bodies[record.rec_headers.get_header("WARC-Target-URI")] = body
    for path in ("/article", "/gzip", "/deflate-raw", "/chunked"):
        assert b"Mishustin" in bodies[web.url(path)] or "Мишустин".encode() in bodies[web.url(path)], path
    assert bodies[web.url("/brotli")]  # read to its end, decoded or not, with no error
    check = subprocess.run(
        [str(Path(sys.executable).with_name("warcio")), "check", *map(str, files)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_transaction_inside_another_is_undone_alone(tmp_path: Path) -> None:
    """Reports are saved in one transaction, each in a savepoint: one that fails leaves the others saved."""
    from datetime import UTC, datetime

    from archiver.storage.catalog import Catalog, CatalogReader

    stamp = datetime(2020, 9, 3, tzinfo=UTC).isoformat()
    with Catalog.open(tmp_path / "archive") as catalog:
        with catalog.transaction() as db:
            db.execute("INSERT INTO reports (report, added_at, updated_at) VALUES ('a', ?, ?)", (stamp, stamp))
            with pytest.raises(RuntimeError), catalog.transaction() as inner:
                inner.execute("INSERT INTO reports (report, added_at, updated_at) VALUES ('b', ?, ?)", (stamp, stamp))
                raise RuntimeError("this report could not be saved")
            db.execute("INSERT INTO reports (report, added_at, updated_at) VALUES ('c', ?, ?)", (stamp, stamp))
        assert catalog.report_names() == ["a", "c"]
    with CatalogReader.open_readonly(tmp_path / "archive") as again:
        assert again.report_names() == ["a", "c"]  # committed, not just visible


def test_a_low_limit_on_open_files_does_not_fail_the_sites(web: fixture_server.Server, tmp_path: Path) -> None:
    """Started with a soft limit of 32 open files (most systems start at 1,024; the default 128 fetches and
    hundreds of sites kept alive need more), the run raises it for the night: no site fails for it."""
    urls = [f"{web.base}/slow?s=0.5&id={i}" for i in range(40)]
    config = FAST.replace("per_host = 4", "per_host = 40").replace("concurrency = 8", "concurrency = 40")
    archive = make_archive(tmp_path, config)
    report = write_report(tmp_path, urls, "many-at-once", defang=True)
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (32, hard))

    result = subprocess.run(
        [sys.executable, "-m", "archiver", "run", str(report), "--archive", str(archive), "--allow-private", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=low_limit,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["verdicts"]["ok"] == 40
    assert {row["verdict"] for row in status(archive).values()} == {"ok"}


def test_the_open_files_limit_is_put_back_after_the_night() -> None:
    """run() is a library call too: the caller's limit is its own again afterwards, and never set past the hard one."""
    from archiver.pipeline.process import room_for_open_files

    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    _, hard = before
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
        with room_for_open_files(4096):
            raised = resource.getrlimit(resource.RLIMIT_NOFILE)
        assert raised == (4096 if hard == resource.RLIM_INFINITY else min(4096, hard), hard)
        assert resource.getrlimit(resource.RLIMIT_NOFILE) == (64, hard)
        with room_for_open_files(32):  # enough already: left alone
            assert resource.getrlimit(resource.RLIMIT_NOFILE) == (64, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, before)
