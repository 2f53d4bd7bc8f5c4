"""The `run` job: add reports, then take each tracked link through capture, store, extract, compare, judge.

run() takes the archive's lock, opens the catalog and the workers, and tears them down in one place;
the night itself (night.py's services, engine.py's loop, linkcheck.py's one link, intake.py's
reports) runs on an asyncio event loop beside the storage thread that owns the catalog's writer.

Imports every stage (it wires them); nothing imports it but the CLI.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shutil
import socket
import ssl
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from archiver.config import Settings, catalog_url, store_url
from archiver.fetching.fetch import Fetcher, Resolver, descriptors_needed, ssl_context
from archiver.judging.decide import Rules
from archiver.judging.workers import WorkerPool
from archiver.outcomes import Checked, Verdict
from archiver.pipeline import webreports
from archiver.pipeline.engine import Engine
from archiver.pipeline.intake import ReportIntake, admit, read_reports
from archiver.pipeline.night import Clock, Night
from archiver.pipeline.nightfiles import NightFiles
from archiver.pipeline.process import OTHER_DESCRIPTORS, quick_gil_handover, room_for_open_files
from archiver.pipeline.sharing import join_night
from archiver.pipeline.summary import Admission, RunSummary
from archiver.reading.webpages import is_url
from archiver.showing.notify import notify_night
from archiver.showing.search import update_index
from archiver.storage.catalog import Catalog, CatalogReader, parse_iso
from archiver.storage.lock import ArchiveLock
from archiver.storage.objectstore import ObjectStore, attach
from archiver.storage.storagethread import StorageThread
from archiver.storage.textstore import prepare_text_store
from archiver.storage.warcstore import WarcStore

__all__ = ["Admission", "RunSummary", "admit", "run", "utc_now"]

TMP_DIR = "tmp"


def utc_now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class _Run:
    """What a run was given and opened before its night: the night's services are built from it."""

    archive: Path
    settings: Settings
    clock: Clock
    catalog: Catalog
    pool: WorkerPool
    summary: RunSummary
    trust: ssl.SSLContext
    resolver: Resolver | None
    on_checked: Callable[[Checked], None]
    on_stopping: Callable[[int], None]
    url: str  # the shared setup's PostgreSQL catalog ("" : ARCHIVE/catalog.sqlite, one machine)
    objects: ObjectStore | None  # the shared setup's bucket for captures (None: the archive directory)


@dataclass(frozen=True, slots=True)
class _Plan:
    """What the night is asked to do, decided before it starts."""

    links: list[tuple[int, str]]  # (link id, host) of the tracked links due, in order
    reports: list[Path]  # report files to read during the night
    pages: list[str]  # report pages (URLs) to read during the night
    intake: ReportIntake
    recheck: float  # hours: stable ok links checked more recently wait
    only_links: set[str] | None
    polling: bool  # registered feeds to poll tonight


def run(
    archive: Path,
    paths: Iterable[Path | str],
    settings: Settings,
    *,
    on_checked: Callable[[Checked], None] = lambda checked: None,
    on_stopping: Callable[[int], None] = lambda in_flight: None,
    clock: Clock = utc_now,
    resolver: Resolver | None = None,
    only_links: set[str] | None = None,
    replace: bool = False,
    feeds: Iterable[str] = (),
) -> RunSummary:
    """The nightly job: add the reports, check every tracked link, update verdicts. Safe to rerun or kill.

    only_links: check just these URLs (`check --live`), not every tracked link.
    replace: a report file may replace an archived report of the same name (never silently).
    paths: report files and directories, and report pages (http(s) URLs); feeds: feeds to register
    (every run polls every registered feed).
    """
    trust = ssl_context()  # a CA file that is not there stops the run before it starts, not half-way
    archive.mkdir(parents=True, exist_ok=True)
    url = catalog_url(archive)
    objects = attach(archive, store_url(archive), proxy=settings.proxy)  # a missing extra: said before anything
    with ArchiveLock(archive), Catalog.open(archive, shared=True, url=url) as catalog, _workers(settings) as pool:
        started = clock()
        machine = socket.gethostname() if url else None
        run_id = catalog.start_run(started, os.getpid(), "nightly" if only_links is None else "live", machine)
        summary = RunSummary(run=run_id, started_at=started)
        job = _Run(
            archive, settings, clock, catalog, pool, summary, trust, resolver, on_checked, on_stopping, url, objects
        )
        status = "failed"  # an archive fault (disk full, a broken catalog): what was committed stays
        try:
            for feed in feeds:
                catalog.add_feed(feed, started)
            status = _night(job, _prepare(job, list(paths), only_links, replace))
        except KeyboardInterrupt:
            status = "interrupted"
        finally:
            _close(job, status)
        if status != "failed":
            update_index(catalog, archive)  # the night's new texts, searchable (each text once)
        # The shared setup's digest is the night's, sent once: by the worker that closed it.
        night = summary.shared
        if status != "failed" and settings.notify and (night is None or night["closed_the_night"]):
            since = parse_iso(night["night_started_at"]) if night is not None else started
            sent = notify_night(catalog, settings, archive, since or started, clock())
            summary.notifications = [result.as_dict() for result in sent]
    return summary


def _prepare(job: _Run, paths: list[Path | str], only_links: set[str] | None, replace: bool) -> _Plan:
    """Before the night: mend the WARC files a kill cut short, clear what a killed run left, plan the links."""
    archive, catalog, summary = job.archive, job.catalog, job.summary
    summary.repaired_warc_files = WarcStore.repair(archive, catalog.warc_committed())
    tmp = archive / TMP_DIR
    shutil.rmtree(tmp, ignore_errors=True)  # bodies of a killed run: never committed
    tmp.mkdir(parents=True, exist_ok=True)
    prepare_text_store(archive)  # before any worker makes text/ab/ folders
    files = [Path(p) for p in paths if not (isinstance(p, str) and is_url(p))]
    pages = [p for p in paths if isinstance(p, str) and is_url(p)]
    polling = only_links is None and bool(catalog.feeds())
    if paths or polling:
        job.pool.warm()  # reports to read: new links likely, so the workers boot while the reports are read
    recheck = 0.0 if only_links is not None else job.settings.recheck_interval
    # The links already tracked start at once; the reports are read and saved while they are
    # checked, and each report's new links join the night as soon as it is saved.
    shared = bool(job.url) and only_links is None  # the shared night's claimer hands out the links
    links = [] if shared else catalog.links_to_check(summary.started_at, recheck, only_links)
    summary.links_to_check = len(links)
    intake = ReportIntake(catalog, summary.started_at, summary, replace)
    return _Plan(links, files, pages if only_links is None else [], intake, recheck, only_links, polling)


def _night(job: _Run, plan: _Plan) -> str:
    """The night on an event loop, with the process tuned for it; its status."""
    reader = CatalogReader.open_readonly(job.archive, job.url)  # link states as links start, beside the writer
    try:
        needed = descriptors_needed(job.settings) + OTHER_DESCRIPTORS
        with quick_gil_handover(), room_for_open_files(needed):
            stopped = asyncio.run(_night_async(job, plan, reader))
    finally:
        reader.close()
    return "stopped" if stopped and job.summary.links_left else "completed"


async def _night_async(job: _Run, plan: _Plan, reader: CatalogReader) -> bool:
    """Open the WARC file, the storage thread and the client; check every link, then ask the web archives
    for the copies the night showed a need for; close everything, whatever happened. True if stopped."""
    loop = asyncio.get_running_loop()
    files = NightFiles(job.archive, job.settings, job.catalog, job.clock, job.objects, bool(job.url))
    store, storage = files.store, files.storage
    engine: Engine | None = None
    try:
        await files.open()
        async with Fetcher(
            job.settings, job.archive / TMP_DIR, resolver=job.resolver, verify=job.trust, clock=job.clock
        ) as fetcher:
            engine = Engine(_services(job, plan, reader, store, storage, fetcher), job.on_stopping)
            if job.url and plan.only_links is None:
                engine.claims = await join_night(engine, job.archive, job.url)
            await _check_everything(engine, plan, loop)
        return engine.stop
    finally:
        if engine is not None and engine.claims is not None:
            job.summary.shared = engine.claims.as_dict()
            engine.claims.close()
        if engine is not None:
            await engine.slots.cancel_all()
            if engine.browser is not None:
                job.summary.browser = engine.browser.version
                await engine.browser.close()
        job.summary.uploads = await files.close()


def _services(
    job: _Run, plan: _Plan, reader: CatalogReader, store: WarcStore, storage: StorageThread, fetcher: Fetcher
) -> Night:
    settings = job.settings
    rules = Rules(
        settings.change_threshold, settings.dead_after_failures, settings.dead_after_hours, settings.rewrite_threshold
    )
    return Night(
        archive=job.archive,
        settings=settings,
        clock=job.clock,
        run_id=job.summary.run,
        catalog=job.catalog,
        reader=reader,
        store=store,
        storage=storage,
        capturer=fetcher,
        fetcher=fetcher,
        pool=job.pool,
        summary=job.summary,
        rules=rules,
        on_checked=job.on_checked,
        only_links=plan.only_links,
        recheck=plan.recheck,
    )


async def _check_everything(engine: Engine, plan: _Plan, loop: asyncio.AbstractEventLoop) -> None:
    settings = engine.night.settings
    engine.deadline = loop.time() + settings.max_duration if settings.max_duration else None
    engine.install_signal_handlers(loop)
    planned = {link_id for link_id, _ in plan.links}
    if plan.reports or plan.pages or plan.polling:
        engine.slots.reading = True
        engine.slots.spawn(read_reports(engine, plan.intake, plan.reports, planned, plan.pages))
    claims = engine.claims
    if claims is not None:
        claims.poll_feed = functools.partial(webreports.poll_feed, engine, plan.intake, planned)
        engine.slots.spawn(claims.run())
    await engine.check_all(plan.links)
    if claims is not None:
        await claims.release_all()
        if not await claims.close_night():
            return  # the web archives' copies are the night's last job: the worker that closes it does it
    engine.night.pool.hurry(loop)  # the web archives' copies come one by one
    engine.night.summary.web_archive = await engine.web_archives()


def _close(job: _Run, status: str) -> None:
    """Record the run's end, whatever ended it, and remove its temporary bodies."""
    summary = job.summary
    summary.finished_at = job.clock()
    summary.status = status
    if status == "failed":
        with contextlib.suppress(Exception):  # the catalog itself may be what failed
            job.catalog.finish_run(summary.run, summary.finished_at, status, summary.as_dict())
    else:
        summary.verdicts = {v.value: 0 for v in Verdict} | job.catalog.counts()
        job.catalog.finish_run(summary.run, summary.finished_at, status, summary.as_dict())
    shutil.rmtree(job.archive / TMP_DIR, ignore_errors=True)


@contextlib.contextmanager
def _workers(settings: Settings) -> Iterator[WorkerPool]:
    """The extraction workers (the first page that needs one starts them all, in the background)."""
    pool = WorkerPool(settings.workers(), settings.extract_timeout, settings.worker_memory)
    try:
        yield pool
    finally:
        pool.shutdown()
