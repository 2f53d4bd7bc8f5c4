"""Nightly runs over a small synthetic web whose pages change between runs: verdicts users can trust."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from archiver.pipeline import run
from archiver.storage.catalog import Catalog

from . import server as fixture_server
from .helpers import SETTINGS
from .helpers import write_report as _write_report
from .server import ARTICLE, OTHER_ARTICLE

LONG = ARTICLE * 2


class Clock:
    """Nights one day apart, seconds ticking within a night."""

    def __init__(self) -> None:
        self.night = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
        self.tick = 0

    def __call__(self) -> datetime:
        self.tick += 1
        return self.night + timedelta(milliseconds=self.tick)

    def next_night(self) -> None:
        self.night += timedelta(days=1)
        self.tick = 0


FRESH_WEB = True
write_report = functools.partial(_write_report, name="web", title="Synthetic web")


def verdicts(archive: Path) -> dict[str, tuple[str, str]]:
    with Catalog.open(archive) as catalog:
        return {row.url.split("/", 3)[3]: (row.verdict, row.reason) for row in catalog.status_rows()}


PATHS = [
    "page/stable",
    "rotating",
    "page/rewritten",
    "page/edited",
    "page/removed",
    "soft/story",
    "quiet/story",
    "home-redirect/story",
    "news/2020/09/story",
    "parked",
    "challenge",
    "geo",
    "status/500",
    "hang-once",
    "moved",
    "status/403",
    "telegram/keep",
    "telegram/gone",
]


def test_four_nights_on_a_changing_web(web: fixture_server.Server, tmp_path: Path) -> None:
    base = "http://news.example"
    urls = [f"{base}/{p}" for p in PATHS if not p.startswith("telegram/")]
    urls += ["http://t.me/nexta_tv/3889", "http://t.me/nexta_live/10395"]
    web.pages.update(
        {
            "stable": LONG,
            "rewritten": LONG,
            "edited": LONG,
            "removed": LONG,
            "/soft/story": LONG,
            "/quiet/story": LONG,
            "/home-redirect/story": LONG,
            "/news/2020/09/story": LONG,
            "/parked": LONG,
            "/hang-once": "hang",
            "t.me/nexta_tv/3889": "Let them negotiate with the Kremlin, the people decide. March on Sunday at 14:00.",
            "t.me/nexta_live/10395": "Protesters in Minsk hold signs: We are Belarus, not a Russian region.",
        }
    )
    archive = tmp_path / "archive"
    settings = SETTINGS.replace(proxy=web.base)  # the test server answers for every host name
    clock = Clock()
    path = write_report(tmp_path, urls)

    run(archive, [path], settings, clock=clock)
    night1 = verdicts(archive)
    assert night1["page/stable"][0] == "ok"
    assert night1["parked"][0] == "ok"  # a real page the first night
    assert night1["challenge"][0] == "blocked" and "challenge" in night1["challenge"][1]
    assert night1["geo"][0] == "blocked" and "geo-blocked" in night1["geo"][1]
    assert night1["status/403"][0] == "blocked"
    assert night1["status/500"][0] == "failing"
    assert night1["hang-once"][0] == "failing"  # a time-out is never dead on the first night
    assert night1["moved"][0] == "ok" and "moved to http://news.example/article" in night1["moved"][1]
    assert night1["nexta_tv/3889"][0] == "ok"

    # Night 2: one page rewritten, one edited lightly, the rest removed in every way a site removes things.
    web.pages["rewritten"] = OTHER_ARTICLE * 2
    web.pages["edited"] = LONG.replace("Mishustin", "Mikhail Mishustin", 1) + " An update was added later today."
    for key in (
        "removed",
        "/soft/story",
        "/quiet/story",
        "/home-redirect/story",
        "/news/2020/09/story",
        "/parked",
        "t.me/nexta_live/10395",
    ):
        web.pages.pop(key)
    web.pages["/hang-once"] = "answer"
    clock.next_night()
    run(archive, [], settings, clock=clock)
    night2 = verdicts(archive)
    assert night2["page/stable"][0] == "ok"
    assert night2["rotating"][0] == "ok"
    assert night2["page/rewritten"][0] == "changed"
    assert "similar to the capture of 2026-11-24" in night2["page/rewritten"][1]
    assert night2["page/edited"][0] == "ok"
    assert night2["page/removed"] == ("dead", "404 Not Found since 2026-11-25")
    assert night2["soft/story"][0] == "dead" and "soft 404" in night2["soft/story"][1]
    assert night2["quiet/story"][0] == "dead" and "soft 404" in night2["quiet/story"][1]
    assert night2["home-redirect/story"][0] == "dead" and "home page" in night2["home-redirect/story"][1]
    assert night2["news/2020/09/story"][0] == "dead" and "section index" in night2["news/2020/09/story"][1]
    assert night2["parked"][0] == "dead" and "parked" in night2["parked"][1]
    assert night2["nexta_live/10395"][0] == "dead" and "Telegram post" in night2["nexta_live/10395"][1]
    assert night2["nexta_tv/3889"][0] == "ok"
    assert night2["hang-once"][0] == "ok"  # the one-off time-out passed
    assert night2["status/500"][0] == "failing"

    # Nights 3 and 4: lasting failures become dead after 3 runs spanning 48 hours; the rest stays put.
    clock.next_night()
    run(archive, [], settings, clock=clock)
    night3 = verdicts(archive)
    assert night3["status/500"][0] == "dead"
    assert night3["status/500"][1].startswith("failing in 3 runs since 2026-11-24")
    clock.next_night()
    run(archive, [], settings, clock=clock)
    night4 = verdicts(archive)
    assert night4["page/removed"] == ("dead", "404 Not Found since 2026-11-25")  # since when: kept
    assert night4["page/rewritten"][0] == "changed"
    dead = {k for k, (v, _) in night4.items() if v == "dead"}
    assert dead == {
        "page/removed",
        "soft/story",
        "quiet/story",
        "home-redirect/story",
        "news/2020/09/story",
        "parked",
        "nexta_live/10395",
        "status/500",
    }
    assert {k for k, (v, _) in night4.items() if v == "ok"} == {
        "page/stable",
        "rotating",
        "page/edited",
        "hang-once",
        "moved",
        "nexta_tv/3889",
    }


def test_failing_needs_the_time_span_too(web: fixture_server.Server, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    clock = Clock()
    path = write_report(tmp_path, [web.url("/status/503")])
    for _ in range(4):  # four runs in one night: many failures, but not 48 hours of them
        run(archive, [path], SETTINGS.replace(retries=0), clock=clock)
    assert verdicts(archive)["status/503"][0] == "failing"


def test_probe_is_asked_only_when_a_page_looks_suspect(web: fixture_server.Server, tmp_path: Path) -> None:
    web.pages["/quiet/a"] = LONG
    archive = tmp_path / "archive"
    path = write_report(tmp_path, [web.url("/quiet/a"), web.url("/article")])
    clock = Clock()
    run(archive, [path], SETTINGS, clock=clock)
    clock.next_night()
    run(archive, [], SETTINGS, clock=clock)
    assert not any("archiver-probe" in r.path for r in web.requests)  # nothing suspect: no extra request
    web.pages.pop("/quiet/a")
    clock.next_night()
    run(archive, [], SETTINGS, clock=clock)
    probes = [r.path for r in web.requests if "archiver-probe" in r.path]
    assert len(probes) == 1 and probes[0].startswith("/quiet/archiver-probe-")
    assert verdicts(archive)["quiet/a"][0] == "dead"


def test_a_lone_suspect_link_gets_its_probe(web: fixture_server.Server, tmp_path: Path) -> None:
    # The only link in flight waits for its site's probe: the run must start that probe, not wait for ever.
    web.pages["/quiet/lone"] = LONG
    archive = tmp_path / "archive"
    path = write_report(tmp_path, [web.url("/quiet/lone")])
    clock = Clock()
    run(archive, [path], SETTINGS, clock=clock)
    web.pages.pop("/quiet/lone")
    clock.next_night()
    run(archive, [], SETTINGS, clock=clock)
    assert verdicts(archive)["quiet/lone"][0] == "dead"


def test_a_deleted_telegram_post_is_dead_at_first_sight(web: fixture_server.Server, tmp_path: Path) -> None:
    # t.me shows the channel's page, with its own description, for a post that is gone.
    channel = "Independent news from Belarus. Send us your videos and photos."
    web.pages["t.me/nexta_live/10405"] = channel  # the "post" text is only the channel's description...
    web.pages["t.me/nexta_live/10395"] = "Protesters in Minsk hold signs: We are Belarus, not a Russian region."
    original = fixture_server.telegram_page

    def channel_page(name: str, post: str, text: str | None) -> str:
        return original(name, post, text if text is not None else channel)

    fixture_server.telegram_page = channel_page  # ...which every post that does not exist shows too
    try:
        archive = tmp_path / "archive"
        path = write_report(tmp_path, ["http://t.me/nexta_live/10405", "http://t.me/nexta_live/10395"])
        run(archive, [path], SETTINGS.replace(proxy=web.base), clock=Clock())
    finally:
        fixture_server.telegram_page = original
    got = verdicts(archive)
    assert got["nexta_live/10405"][0] == "dead" and "Telegram post is gone" in got["nexta_live/10405"][1]
    assert got["nexta_live/10395"][0] == "ok"


def test_one_clock_dates_every_record_of_a_nightly_sequence(web: fixture_server.Server, tmp_path: Path) -> None:
    """Runs on a fake clock (nights of 2026-11-24 and 25): every date the archive records comes from it."""
    import sqlite3

    from warcio.archiveiterator import ArchiveIterator

    web.pages.update({"stable": LONG, "rewritten": LONG})
    archive = tmp_path / "archive"
    settings = SETTINGS.replace(proxy=web.base)
    clock = Clock()
    path = write_report(tmp_path, [f"http://news.example/{p}" for p in ("page/stable", "page/rewritten", "status/404")])
    run(archive, [path], settings, clock=clock)
    web.pages["rewritten"] = OTHER_ARTICLE * 2
    clock.next_night()
    run(archive, [], settings, clock=clock)

    days = {"2026-11-24", "2026-11-25"}
    found: list[str] = []
    with sqlite3.connect(archive / "catalog.sqlite") as db:
        for table, columns in {
            "runs": ("started_at", "finished_at"),
            "checks": ("started_at",),
            "captures": ("fetched_at",),
            "links": ("verdict_since", "last_checked", "first_archived", "failing_since"),
            "warc_files": ("created_at",),
        }.items():
            for column in columns:
                found += [row[0] for row in db.execute(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")]
    for warc in (archive / "warc").glob("*.warc.gz"):
        with warc.open("rb") as stream:
            found += [record.rec_headers.get_header("WARC-Date") for record in ArchiveIterator(stream)]
    leaks = sorted(value for value in found if value[:10] not in days)
    assert found and not leaks, leaks


def test_the_nights_last_pages_do_not_wait_for_company(
    web: fixture_server.Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages wait for a batch, so that a worker runs them back to back; not the night's last ones."""
    import archiver.pipeline
    from archiver.judging.workers import WorkerPool

    class Patient(WorkerPool):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs, linger=30)  # a page would wait 30 s for company

    monkeypatch.setattr(archiver.pipeline, "WorkerPool", Patient)
    for name in ("one", "two", "three"):
        web.pages[f"batch-{name}"] = ARTICLE
    archive = tmp_path / "archive"
    path = write_report(tmp_path, [web.url(f"/page/batch-{name}") for name in ("one", "two", "three")])
    started = time.monotonic()
    run(archive, [path], SETTINGS, clock=Clock())
    # Hurried: none of the three waited 30 s for the batch that never came (the bound leaves room for load).
    assert time.monotonic() - started < 25
    assert [verdict for verdict, _ in verdicts(archive).values()] == ["ok", "ok", "ok"]
    with Catalog.open(archive) as catalog:
        assert all(row.first_archived for row in catalog.status_rows())
