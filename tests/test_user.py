"""What a user meets: no report silently replaced, history never rewritten, reading never writes, clear errors."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from archiver.reading.reports import parse_report

from . import server as fixture_server
from .helpers import FAST, archiver, make_archive, write_report
from .server import ARTICLE, OTHER_ARTICLE

FRESH_WEB = True


def status(archive: Path, *args: str) -> list[dict[str, object]]:
    result = archiver("status", "--json", *args, archive=archive)
    assert result.returncode == 0, result.stderr
    rows: list[dict[str, object]] = json.loads(result.stdout)
    return rows


# ----- no report is silently replaced ---------------------------------------------------------------


def test_a_report_of_the_same_name_is_refused_unless_replace_is_asked(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    archive = make_archive(tmp_path)
    web.pages.update({"a": ARTICLE, "b": OTHER_ARTICLE})
    first = write_report(tmp_path / "coll" / "a", [web.url("/page/a")], "report", title="Report A")
    second = write_report(tmp_path / "coll" / "b", [web.url("/page/b")], "report", title="Report B")
    assert archiver("run", str(first), "--allow-private", archive=archive).returncode == 0

    result = archiver("run", str(second), "--allow-private", "--json", archive=archive)
    assert result.returncode == 0  # one refused report never stops the run
    summary = json.loads(result.stdout)
    assert summary["reports"]["added"] == [] and len(summary["reports"]["failed"]) == 1
    message = summary["reports"]["failed"][0]["error"]
    assert "already archived" in message and str(first.resolve()) in message and "--replace" in message
    assert "archiver: error:" in result.stderr and "rename" in result.stderr
    assert [row["url"] for row in status(archive)] == [web.url("/page/a")]  # the first report is still there

    # Re-adding the same file is a no-op, not "added"; a moved copy is the same report.
    result = archiver("run", str(first), "--allow-private", "--json", archive=archive)
    assert json.loads(result.stdout)["reports"]["added"] == []
    assert json.loads(result.stdout)["reports"]["unchanged"] == ["report"]
    moved = tmp_path / "elsewhere" / "report.txt"
    moved.parent.mkdir()
    shutil.copy(first, moved)
    result = archiver("run", str(moved), "--allow-private", "--json", archive=archive)
    assert json.loads(result.stdout)["reports"]["moved"] == ["report"]

    result = archiver("run", str(second), "--replace", "--allow-private", "--json", archive=archive)
    assert json.loads(result.stdout)["reports"]["replaced"] == ["report"]
    assert [row["url"] for row in status(archive)] == [web.url("/page/b")]


# ----- a live check never rewrites history -----------------------------------------------------------


@pytest.mark.sqlite_catalog
def test_a_refused_live_check_keeps_the_verdict_and_its_date(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    report = write_report(tmp_path, [web.url("/status/404")], "gone")
    assert archiver("run", str(report), "--allow-private", archive=archive).returncode == 0
    (before,) = status(archive)
    assert before["verdict"] == "dead"

    result = archiver("check", "gone", "1", "--live", "--json", archive=archive)  # no --allow-private
    assert result.returncode == 0, result.stderr
    (after,) = status(archive)
    assert after["verdict"] == "dead"
    assert after["verdict_since"] == before["verdict_since"] and after["reason"] == before["reason"]
    link = json.loads(result.stdout)["urls"][0]
    assert "non-public address" in link["checks"][-1]["reason"]  # the attempt is in the history
    with sqlite3.connect(archive / "catalog.sqlite") as db:
        kinds = [row[0] for row in db.execute("SELECT kind FROM runs ORDER BY id")]
    assert kinds == ["nightly", "live"]
    index = archiver("dashboard", archive=archive).stdout.strip()
    assert Path(index).read_text().count("<rect") == 1  # one bar: the nightly run, not the live check


def test_a_time_out_after_dead_keeps_it_dead_since_the_same_day() -> None:
    from datetime import UTC, datetime, timedelta

    from archiver.judging.verdict import History, Outcome, Verdict, judge

    since = datetime(2026, 11, 20, tzinfo=UTC)
    history = History(0, None, Verdict.DEAD, since, "404 Not Found since 2026-11-20")
    outcome = Outcome(checked_at=since + timedelta(days=3), failure="timeout")
    judgement = judge(outcome, history, change_threshold=0.6, dead_after_failures=3, dead_after=timedelta(hours=48))
    assert judgement.verdict == "dead" and judgement.since == since
    assert judgement.reason == "404 Not Found since 2026-11-20; now timed out"
    back = judge(
        Outcome(checked_at=since + timedelta(days=4), status=200, reason_phrase="OK"),
        history,
        change_threshold=0.6,
        dead_after_failures=3,
        dead_after=timedelta(hours=48),
    )
    assert back.verdict == "ok" and back.since == since + timedelta(days=4)


# ----- reading never writes -----------------------------------------------------------------------------


@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """The directory made read-only for everyone (root included: a read-only bind mount), else chmod."""
    if os.geteuid() == 0:
        bound = subprocess.run(["mount", "--bind", "-o", "ro", str(directory), str(directory)], capture_output=True)
        if bound.returncode != 0:
            pytest.skip(f"cannot make a read-only mount here: {bound.stderr.decode().strip()}")
        # Some kernels need a remount for the read-only flag of a bind mount.
        subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], capture_output=True)
        try:
            yield
        finally:
            subprocess.run(["umount", str(directory)], check=False)
    else:
        modes = {p: p.stat().st_mode for p in [directory, *directory.rglob("*")]}
        for path in modes:
            path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)


def test_a_read_only_archive_can_be_read_and_a_run_says_why_it_cannot(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    archive = make_archive(tmp_path)
    web.pages["ro"] = ARTICLE
    report = write_report(tmp_path, [web.url("/page/ro")], "ro")
    assert archiver("run", str(report), "--allow-private", archive=archive).returncode == 0
    with read_only(archive):
        assert [row["verdict"] for row in status(archive)] == ["ok"]
        check = archiver("check", "ro", "1", "--json", archive=archive)
        assert check.returncode == 0, check.stderr
        assert "Mishustin" in json.loads(check.stdout)["urls"][0]["archived_text"]
        export = archiver("export", archive=archive)
        assert export.returncode == 0 and json.loads(export.stdout.splitlines()[0])["report"] == "ro"
        out = tmp_path / "dash"
        assert archiver("dashboard", "--output", str(out), archive=archive).returncode == 0
        run = archiver("run", "--allow-private", archive=archive)
        assert run.returncode == 1
        assert run.stderr.startswith("archiver: error:") and "Traceback" not in run.stderr
        assert len(run.stderr.strip().splitlines()) == 1


# ----- bad options --------------------------------------------------------------------------------------


def test_a_bad_proxy_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    result = archiver("run", "--proxy", "notaurl", archive=tmp_path / "archive")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "proxy 'notaurl' is not a proxy URL" in result.stderr


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("per_host = 0", "per-host must be at least 1, not 0"),
        ("delay = -5", "delay must be at least 0, not -5.0"),
        ("change_threshold = 7", "change-threshold must be between 0 and 1, not 7.0"),
        ('proxy = "notaurl"', "is not a proxy URL"),
        ('max_duration = "soon"', "max-duration must be a number"),
    ],
)
def test_configuration_values_are_checked_like_the_flags(setting: str, message: str, tmp_path: Path) -> None:
    key = setting.split(" =")[0]
    base = "".join(line + "\n" for line in FAST.splitlines() if line and not line.startswith(key + " "))
    archive = make_archive(tmp_path, base + setting + "\n")
    result = archiver("run", archive=archive)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("archiver: error:") and message in result.stderr
    assert "archiver.toml" in result.stderr


# ----- the publication date is the report's own -----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "published"),
    [
        ("A report\n\nSeptember 3, 2020, 5:00 EDT\n\nBody text.[1]\n\n[1] https://example.com/a\n", "2020-09-03"),
        ("A report\n\nPublished: 4 Oct 2021\n\nBody.[1]\n\n[1] https://example.com/a\n", "2021-10-04"),
        (
            "A report\n\nMINSK, Sept. 3, 2020 — Lukashenko met Mishustin.[1]\n\n[1] https://example.com/a\n",
            "2020-09-03",
        ),
        # A date in the prose, in a note, in a footer: none of them is the report's.
        (
            "A report\n\nA study from 12 March 2015 found that the ministry lied.[1]\n\n[1] https://example.com/a\n",
            None,
        ),
        ("A report\n\nBody.[1]\n\n[1] https://example.com/a, accessed 3 Sept 2020\n", None),
        ("A report\n\nBody.[1]\n\n[1] https://example.com/a\n\nUpdated 5 January 2021 © Example\n", None),
    ],
)
def test_the_publication_date_comes_from_where_reports_state_it(text: str, published: str | None) -> None:
    assert parse_report(text, stem="r").published == published


def test_html_and_markdown_dates_from_metadata_not_from_prose() -> None:
    html = (
        "<html><head><title>R</title></head><body><h1>R</h1><p>In a study of 12 March 2015 we read.<sup>1</sup></p>"
        "<ol><li>https://example.com/a <time datetime='2019-01-01'>1 Jan 2019</time></li></ol>"
        "<footer><time datetime='2022-02-02'>2 Feb 2022</time></footer></body></html>"
    )
    assert parse_report(html, stem="r", fmt="html").published is None
    tagged = html.replace("<head>", "<head><meta property='article:published_time' content='2020-09-03T10:00'>")
    assert parse_report(tagged, stem="r", fmt="html").published == "2020-09-03"
    markdown = "---\ntitle: R\ndate: 2020-09-03\n---\n\nA study of 12 March 2015.[^1]\n\n[^1]: https://example.com/a\n"
    assert parse_report(markdown, stem="r", fmt="markdown").published == "2020-09-03"


@pytest.mark.sqlite_catalog
def test_without_a_date_the_web_archive_lookup_uses_when_the_report_was_added(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    archive = make_archive(tmp_path)
    report = tmp_path / "undated.txt"
    report.write_text(f"Undated\n\nA study from 12 March 2015 says so.[1]\n\n[1] {web.url('/status/404')}\n")
    assert archiver("run", str(report), "--allow-private", archive=archive).returncode == 0
    with sqlite3.connect(archive / "catalog.sqlite") as db:
        published, added = db.execute("SELECT published, added_at FROM reports").fetchone()
        (reference,) = db.execute("SELECT reference FROM cited_on").fetchone()
    assert published is None and reference == added[:10]


# ----- output that survives a pipe ------------------------------------------------------------------


def test_markup_in_notes_prints_as_written_and_long_urls_stay_whole(web: fixture_server.Server, tmp_path: Path) -> None:
    long_url = web.url("/page/" + "very-long-path-segment-" * 8 + "iz.ru")
    web.pages["very-long-path-segment-" * 8 + "iz.ru"] = ARTICLE
    report = write_report(tmp_path, [long_url], "markup [bold]", extra=" See [/] and [bold]x[/bold].")
    report.write_text(report.read_text() + "\n[2] [/] not a link [bold] either\n")
    result = subprocess.run(
        [sys.executable, "-m", "archiver", "footnotes", str(report)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert long_url in result.stdout and "markup [bold]" in result.stdout
    archive = make_archive(tmp_path)
    assert archiver("run", str(report), "--allow-private", archive=archive).returncode == 0
    listed = archiver("status", archive=archive).stdout
    assert next(line for line in listed.splitlines() if "iz.ru" in line).split("\t")[1] == long_url
    for n in ("1", "2"):
        check = archiver("check", "markup [bold]", n, archive=archive)
        assert check.returncode == 0 and "Traceback" not in check.stderr
    # Markup in a note prints as written, not as rich's styles.
    assert "[/] not a link [bold] either" in archiver("check", "markup [bold]", "2", archive=archive).stdout


def _on_a_terminal(args: list[str], timeout: float = 60) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal; its exit status and what it printed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(args, stdout=follower, stderr=follower, stdin=subprocess.DEVNULL)
    os.close(follower)
    output = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return process.wait(timeout=timeout), output.decode("utf-8", "replace")


def test_a_warc_export_to_a_terminal_is_refused(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    report = write_report(tmp_path, [web.url("/article")], "w")
    assert archiver("run", str(report), "--allow-private", archive=archive).returncode == 0
    code, output = _on_a_terminal(
        [sys.executable, "-m", "archiver", "export", "--format", "warc", "--archive", str(archive)]
    )
    assert code == 2 and "binary" in output and "WARC/1.1" not in output


def test_failed_web_archive_lookups_show_in_the_summary_on_a_terminal(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    archive = make_archive(
        tmp_path,
        FAST.replace("web_archive_lookups = false", "web_archive_lookups = true")
        + f'wayback_url = "http://127.0.0.1:{web.port}/down-archive"\nweb_archive_delay = 0.0\n',
    )
    web.archive["mode"] = "down"
    report = write_report(tmp_path, [web.url("/status/404")], "lookups")
    code, output = _on_a_terminal(
        [sys.executable, "-m", "archiver", "run", str(report), "--allow-private", "--archive", str(archive)]
    )
    assert code == 0, output
    assert "web archive lookups: error 1 (1 failed: asked again next run)" in output


def test_ctrl_c_says_what_it_finishes_and_no_worker_traceback(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path, FAST.replace("total_timeout = 4.0", "total_timeout = 20.0"))
    urls = [web.url(f"/slow?s=3&id={i}") for i in range(4)] + [web.url(f"/slow?s=0.1&id=q{i}") for i in range(8)]
    report = write_report(tmp_path, urls, "slow")
    process = subprocess.Popen(
        [sys.executable, "-m", "archiver", "run", str(report), "--allow-private", "--archive", str(archive)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while web.hits["/slow"] < 4 and time.monotonic() < deadline:  # the slow fetches are in flight
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal does: the whole process group
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err  # one Ctrl-C: what is in flight is finished, the run ends cleanly
    assert "stopping: finishing" in err and "fetches in flight" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


# ----- status a user can ask questions of; check answers both questions --------------------------------


def test_status_filters(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    web.pages.update({"one": ARTICLE, "two": ARTICLE * 2})
    a = write_report(tmp_path, [web.url("/page/one"), web.url("/status/404")], "a")
    b = write_report(tmp_path, [web.url("/page/two"), web.url("/status/403")], "b")
    assert archiver("run", str(a), str(b), "--allow-private", archive=archive).returncode == 0
    assert {row["url"] for row in status(archive, "--verdict", "dead,blocked")} == {
        web.url("/status/404"),
        web.url("/status/403"),
    }
    assert {row["url"] for row in status(archive, "--report", "b")} == {web.url("/page/two"), web.url("/status/403")}
    assert status(archive, "--since", "2999-01-01") == []
    assert len(status(archive, "--since", "2000-01-01")) == 4
    bad = archiver("status", "--verdict", "gone", archive=archive)
    assert bad.returncode == 2 and "unknown verdict 'gone'" in bad.stderr
    unknown = archiver("status", "--report", "nope", archive=archive)
    assert unknown.returncode == 1 and "no report 'nope'" in unknown.stderr


def test_check_says_since_when_a_link_changed_and_names_unusable_links(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    archive = make_archive(tmp_path)
    web.pages["moving"] = ARTICLE * 2
    report = write_report(tmp_path, [web.url("/page/moving")], "c")
    report.write_text(report.read_text() + "\n[2] mailto:press@example.org; javascript:void(0)\n")
    assert archiver("run", str(report), "--allow-private", archive=archive).returncode == 0
    web.pages["moving"] = OTHER_ARTICLE * 2
    assert archiver("run", "--allow-private", archive=archive).returncode == 0
    (row,) = [r for r in status(archive) if r["verdict"] == "changed"]
    answer = archiver("check", "c", "1", archive=archive).stdout
    assert f"changed since {str(row['verdict_since'])[:10]}" in answer
    unusable = json.loads(archiver("check", "c", "2", "--json", archive=archive).stdout)
    assert unusable["unparsed"] == ["mailto:press@example.org", "javascript:void(0)"]
    assert "mailto:press@example.org" in unusable["message"] and "no link that can be fetched" in unusable["message"]


def test_dashboard_links_its_urls_shows_a_diff_and_tells_runs_of_a_day_apart(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    archive = make_archive(tmp_path)
    web.pages["dash"] = ARTICLE * 2
    report = write_report(tmp_path, [web.url("/page/dash")], "d")
    assert archiver("run", str(report), "--allow-private", archive=archive).returncode == 0
    web.pages["dash"] = OTHER_ARTICLE * 2
    assert archiver("run", "--allow-private", archive=archive).returncode == 0
    index = Path(archiver("dashboard", archive=archive).stdout.strip())
    page = (index.parent / "reports" / "d.html").read_text()
    assert f'href="{web.url("/page/dash")}"' in page
    assert 'class="diff"' in page and "What changed" in page
    chart = index.read_text()
    assert chart.count('text-anchor="middle"') == 4  # two runs of one day: a date and a time under each bar


def test_a_long_reports_dashboard_page_lists_ok_footnotes_compactly(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path)
    urls = [web.url(f"/plain-article?n={i}") for i in range(45)] + [web.url("/status/404")]
    report = write_report(tmp_path, urls, "long")
    assert archiver("run", str(report), "--allow-private", archive=archive).returncode == 0
    index = Path(archiver("dashboard", archive=archive).stdout.strip())
    page = (index.parent / "reports" / "long.html").read_text()
    assert "45 footnotes whose links are ok" in page
    assert '<p class="ok-list">1–45</p>' in page  # numbers in runs, not a link each: small at a million links
    assert '<meta name="referrer" content="no-referrer">' in page  # no Referer to the cited sites
    assert 'id="fn-46"' in page and "404" in page  # the one that needs a look, in full
    assert "<blockquote>" not in page  # a long page links its texts instead of quoting them
