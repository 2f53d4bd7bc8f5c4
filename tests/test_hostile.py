"""Hostile servers and odd URLs: every link ends with a verdict, in its time budget, in bounded memory."""

from __future__ import annotations

import functools
import json
import os
import random
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
from warcio.archiveiterator import ArchiveIterator

from archiver.fetching.politeness import HostScheduler, backoff, plan_retry
from archiver.pipeline import run
from archiver.reading.refang import MAX_URL_LENGTH, to_uri
from archiver.storage.catalog import Catalog

from . import server as fixture_server
from .helpers import SETTINGS
from .helpers import write_report as _write_report
from .server import ARTICLE

GiB = 1 << 30


FRESH_WEB = True
write_report = functools.partial(_write_report, name="hostile", title="Hostile")


def rows(archive: Path) -> dict[str, dict[str, object]]:
    with Catalog.open(archive, create=False) as catalog:
        return {row.url: row.as_json() for row in catalog.status_rows()}


def target_uris(archive: Path) -> list[tuple[str, str]]:
    found = []
    for path in sorted((archive / "warc").glob("*.warc.gz")):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type in ("request", "response"):
                    found.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI")))
    return found


# ----- odd URLs ------------------------------------------------------------------------------------------


def test_to_uri_punycode_percent_encoding_and_limits() -> None:
    assert to_uri("http://пример.рф/путь?q=да#frag")[0] == (
        "http://xn--e1afmkfd.xn--p1ai/%D0%BF%D1%83%D1%82%D1%8C?q=%D0%B4%D0%B0"
    )
    assert to_uri("http://example.com/a\u202eb c\x01d")[0] == "http://example.com/a%E2%80%AEb%20c%01d"
    assert to_uri("http://example.com/100%")[0] == "http://example.com/100%25"
    assert to_uri("http://example.com/%d0%bf")[0] == "http://example.com/%D0%BF"  # escapes kept, not doubled
    assert to_uri("http://example.com:99999/x")[0] is None
    assert to_uri("http://ex\u202eample.com/")[0] is None
    uri, why = to_uri("http://example.com/" + "a" * MAX_URL_LENGTH)
    assert uri is None and "too long" in why


@pytest.mark.parametrize("through_proxy", [False, True])
def test_bidi_control_and_cyrillic_urls_are_fetched_and_stored_as_uris(
    through_proxy: bool, web: fixture_server.Server, tmp_path: Path
) -> None:
    odd = "a\u202egnp.exe"  # a right-to-left override, as in a spoofed file name
    web.pages[quote(odd)] = ARTICLE
    web.pages[quote("статья")] = ARTICLE + " Cyrillic."
    host = "http://odd.example" if through_proxy else web.base
    urls = [f"{host}/page/{odd}", f"{host}/page/статья", f"{host}/to-cyrillic"]
    settings = SETTINGS.replace(proxy=web.base) if through_proxy else SETTINGS
    archive = tmp_path / "archive"
    summary = run(archive, [write_report(tmp_path, urls)], settings)
    assert summary.status == "completed"
    found = rows(archive)
    assert set(found) == set(urls)  # the catalog keeps each URL as the report wrote it
    assert {found[url]["verdict"] for url in urls} == {"ok"}
    assert found[urls[2]]["final_url"] == f"{host}/page/%D1%81%D1%82%D0%B0%D1%82%D1%8C%D1%8F"
    uris = [uri for _, uri in target_uris(archive)]
    assert uris and all(uri.isascii() and " " not in uri for uri in uris)
    assert f"{host}/page/a%E2%80%AEgnp.exe" in uris
    if through_proxy:
        assert any(r.target.startswith("http://odd.example/page/a%E2%80%AE") for r in web.requests)


def test_a_url_too_long_to_fetch_is_failing_with_a_reason(web: fixture_server.Server, tmp_path: Path) -> None:
    long_url = web.url("/page/" + "a" * (1 << 20))
    archive = tmp_path / "archive"
    report = tmp_path / "long.txt"
    report.write_text(f"Long\n\nSeptember 3, 2020\n\nBody.[1]\n\n[1] {long_url}\n")
    run(archive, [report], SETTINGS)
    (row,) = rows(archive).values()
    assert row["verdict"] == "failing" and "URL too long to fetch" in str(row["reason"])


# ----- time budget and retries -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/drip", "/drip-headers"])
def test_a_slow_drip_costs_at_most_the_links_budget(path: str, web: fixture_server.Server, tmp_path: Path) -> None:
    settings = SETTINGS.replace(total_timeout=2.0, link_budget=3.0, retries=5, backoff=0.1, read_timeout=5.0)
    archive = tmp_path / "archive"
    run(archive, [write_report(tmp_path, [web.url(path)])], settings)
    (row,) = rows(archive).values()
    assert row["verdict"] == "failing" and "timed out" in str(row["reason"])
    with Catalog.open(archive, create=False) as catalog:
        attempts = catalog.db.execute("SELECT started_at, elapsed FROM checks").fetchall()
    # Five retries allowed, but the budget ends them: at most two time-outs fit, and their sum stays in it.
    assert 1 <= len(attempts) <= 2
    # The budget is the point: without it five retries of 2 s would take 10 s; the margin is for a loaded machine.
    assert sum(elapsed for _, elapsed in attempts) <= 3.0 + 1.5


def test_backoff_grows_with_each_attempt_and_has_jitter() -> None:
    rng = random.Random(7)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    for attempt in range(5):
        waits = {backoff(attempt, 1.0, 60.0, rng) for _ in range(50)}
        assert min(waits) >= 2**attempt / 2 and max(waits) <= 2**attempt and len(waits) > 1
    plans = [plan_retry("timeout", None, None, a, now, retries=9, base=1.0, cap=60.0, rng=rng) for a in range(5)]
    assert all(p.wait is not None for p in plans)
    assert [p.wait for p in plans] == sorted(p.wait for p in plans if p.wait is not None)  # never shorter
    last = plan_retry("timeout", None, None, 2, now, retries=2, base=1.0, cap=60.0, rng=rng)
    assert last.wait is None  # no retry left
    assert plan_retry(None, 404, None, 0, now, retries=2, base=1.0, cap=60.0, rng=rng).wait is None
    asked = plan_retry(None, 429, "30", 0, now, retries=2, base=1.0, cap=60.0, rng=rng)
    assert asked.wait == 30.0 and asked.host_rest == 30.0 and not asked.host_next_run
    long = plan_retry(None, 429, "3600", 0, now, retries=2, base=1.0, cap=60.0, rng=rng)
    assert long.wait is None and long.host_next_run and long.host_rest == 3600.0


def test_drop_host_takes_out_its_queued_and_waiting_work() -> None:
    scheduler: HostScheduler[str] = HostScheduler(1, 0.0, 4)
    for item in ("a1", "a2", "a3"):
        scheduler.add("a", item)
    scheduler.add("a", "a-retry", not_before=5.0)
    scheduler.add("b", "b1")
    assert scheduler.take(0.0) == [("a", "a1"), ("b", "b1")]
    assert sorted(scheduler.drop_host("a")) == ["a-retry", "a2", "a3"]
    scheduler.done("a")
    assert scheduler.take(10.0) == [] and scheduler.pending == 0


def test_a_long_retry_after_defers_the_hosts_other_links_to_the_next_run(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    web.pages["busy"] = "yes"
    urls = [web.url(f"/busy/{i}") for i in range(5)]
    settings = SETTINGS.replace(per_host=1, delay=0.3)
    archive = tmp_path / "archive"
    report = write_report(tmp_path, urls)
    summary = run(archive, [report], settings)
    assert summary.status == "completed"
    assert summary.links_checked == 1 and summary.links_left == 4
    assert sum(1 for r in web.requests if r.path.startswith("/busy/")) == 1  # the others were not asked at once
    verdicts = sorted(str(row["verdict"]) for row in rows(archive).values())
    assert verdicts == ["blocked", "pending", "pending", "pending", "pending"]

    web.pages["busy"] = ""
    summary = run(archive, [report], settings)
    assert {str(row["verdict"]) for row in rows(archive).values()} == {"ok"}


# ----- broken encodings, bloated pages ---------------------------------------------------------------------


def test_a_body_whose_encoding_does_not_decode_is_failing_with_its_bytes_kept(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    archive = tmp_path / "archive"
    run(archive, [write_report(tmp_path, [web.url("/gzip-broken"), web.url("/gzip")])], SETTINGS)
    found = rows(archive)
    broken = found[web.url("/gzip-broken")]
    assert broken["verdict"] == "failing" and "content encoding broken" in str(broken["reason"])
    assert found[web.url("/gzip")]["verdict"] == "ok"
    assert ("response", web.url("/gzip-broken")) in target_uris(archive)  # the evidence is stored


def _tree_rss(root: int) -> int:
    """Resident memory of a process and all its descendants, from /proc (bytes)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier += children
    total = 0
    for pid in tree:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1]) * 1024
    return total


def test_bloated_pages_keep_the_process_tree_under_a_gibibyte(web: fixture_server.Server, tmp_path: Path) -> None:
    paths = ["/bloated/huge-html", "/bloated/links", "/bloated/nested", "/article"]
    archive = tmp_path / "archive"
    archive.mkdir()
    (archive / "archiver.toml").write_text("delay = 0.0\nweb_archive_lookups = false\nextract_workers = 2\n")
    report = write_report(tmp_path, [web.url(p) for p in paths])
    process = subprocess.Popen(
        [sys.executable, "-m", "archiver", "run", str(report), "--archive", str(archive), "--allow-private", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(process.pid))
            done.wait(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    out, err = process.communicate(timeout=300)
    done.set()
    sampler.join()
    assert process.returncode == 0, err
    assert json.loads(out)["status"] == "completed"
    assert 0 < peak < GiB, f"peak RSS of the tree {peak / 2**20:.0f} MB"
    found = rows(archive)
    huge = found[web.url("/bloated/huge-html")]
    assert huge["verdict"] == "ok" and "too large to extract" in str(huge["reason"])
    links = found[web.url("/bloated/links")]
    assert links["verdict"] == "ok" and "too large to extract" in str(links["reason"]), links["reason"]
    assert found[web.url("/bloated/nested")]["verdict"] == "ok"
    assert found[web.url("/article")]["verdict"] == "ok"
    stored = {uri for kind, uri in target_uris(archive) if kind == "response"}
    assert {web.url(p) for p in paths} <= stored  # raw captures kept, text or not


def test_a_long_retry_after_defers_only_its_own_service(web: fixture_server.Server, tmp_path: Path) -> None:
    """Two services on one address are two sites: one asking for an hour's pause does not stop the other."""
    other, stop_other = fixture_server.start()
    try:
        web.pages["busy"] = "yes"
        other.pages["fine"] = ARTICLE
        urls = [web.url(f"/busy/{i}") for i in range(3)] + [other.url("/page/fine"), other.url("/article")]
        archive = tmp_path / "archive"
        summary = run(archive, [write_report(tmp_path, urls)], SETTINGS.replace(per_host=1, delay=0.3))
        found = rows(archive)
        assert found[other.url("/page/fine")]["verdict"] == found[other.url("/article")]["verdict"] == "ok"
        assert summary.links_left == 2  # the busy service's other two links wait for the next run
    finally:
        stop_other()
