"""Reports from the web during the night: report pages named on the command line, and the entries of
every registered feed. A page is fetched by the night's fetcher (the address guard, proxy, TLS and
retries of any fetch), asked again conditionally on later runs, stored in the WARC, kept as the
report's copy, read in a worker by the HTML footnote reader, and saved as a report file would be.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from typing import TYPE_CHECKING

from archiver.fetching.politeness import plan_retry
from archiver.judging.workers import WorkerFailed
from archiver.outcomes import Failure, Fetch
from archiver.pipeline.probes import Abandoned
from archiver.reading.feeds import Feed, read_feed
from archiver.reading.refang import host_of
from archiver.reading.webpages import Page, page_key, page_name, read_page
from archiver.storage.captures import store_fetch
from archiver.storage.catalog.feeds import FeedRow
from archiver.storage.reportcopies import keep_bytes

if TYPE_CHECKING:
    from archiver.pipeline.engine import Engine
    from archiver.pipeline.intake import ReportIntake


async def polite_fetch(engine: Engine, url: str, etag: str | None, last_modified: str | None) -> Fetch:
    """Fetch as a link is fetched: in its site's turn (per-host connections, delay, Retry-After), with the
    night's retries and back-off for what may pass. A night that stops first gives a failure, not a hang."""
    night, settings = engine.night, engine.night.settings
    attempt = 0
    while True:
        try:
            async with engine.turn(host_of(url)):
                fetch = await night.fetcher.fetch(url, etag=etag, last_modified=last_modified)
        except Abandoned:
            return Fetch(url, url, failure=Failure.TIMEOUT, detail="the night ended before its site's turn came")
        plan = plan_retry(
            fetch.failure,
            fetch.status if fetch.failure is None else None,
            fetch.response.header("retry-after") if fetch.response else None,
            attempt,
            night.clock(),
            retries=settings.retries,
            base=settings.backoff,
            cap=settings.max_backoff,
            rng=engine.rng,
        )
        if plan.wait is None or engine.stop:
            return fetch
        fetch.discard()
        await asyncio.sleep(plan.wait)
        attempt += 1


async def read_report_page(
    engine: Engine, intake: ReportIntake, url: str, planned: set[int], feed_date: str | None = None
) -> str | None:
    """Read and save one report page; its report's name when it was read (new, edited or unchanged),
    None when it could not be (the reason is in the run's summary)."""
    night = engine.night
    loop = asyncio.get_running_loop()
    known = await loop.run_in_executor(night.storage, night.catalog.web_report, page_key(url))
    fetch = await polite_fetch(
        engine, url, etag=known.etag if known else None, last_modified=known.last_modified if known else None
    )
    try:
        if fetch.status == 304 and known is not None:
            intake.summary.reports["unchanged"].append(known.report)
            return known.report
        if fetch.failure is not None or not 200 <= (fetch.status or 0) < 300 or fetch.decoded is None:
            return _failed(
                intake, url, fetch.detail or f"{fetch.status} {fetch.response.reason if fetch.response else ''}"
            )
        try:
            data = fetch.read_decoded()  # read once: parsed in a worker, then kept as the report's copy
            page = await night.pool.run(read_page, data, url, fetch.final_url)
        except WorkerFailed as exc:
            return _failed(intake, url, str(exc))
        except Exception as exc:  # the worker's ReportError (binary, no encoding) or our bug: this report's
            return _failed(intake, url, str(exc) or type(exc).__name__)
        name, due = await loop.run_in_executor(night.storage, _save, engine, intake, url, fetch, data, page, feed_date)
        engine.add(_fresh(due, planned))
        return name
    finally:
        fetch.discard()


def _failed(intake: ReportIntake, url: str, reason: str) -> str | None:
    """A report page that could not be read: said in the run's summary; no name."""
    intake.summary.reports_failed.append({"path": url, "error": f"{url}: {reason.strip()} (tried again next run)"})
    return None


def _fresh(due: list[tuple[int, str]], planned: set[int]) -> list[tuple[int, str]]:
    fresh = [(link_id, host) for link_id, host in due if link_id not in planned]
    planned.update(link_id for link_id, _ in fresh)
    return fresh


def _save(
    engine: Engine, intake: ReportIntake, url: str, fetch: Fetch, data: bytes, page: Page, feed_date: str | None
) -> tuple[str, list[tuple[int, str]]]:
    """On the storage thread: store the page's exchange, keep its bytes, save it as a report."""
    night, catalog = engine.night, engine.night.catalog
    existing = catalog.web_report(page.key)
    name = existing.report if existing else page_name(page.key, lambda n: catalog.report_identity(n) is not None)
    report = page.report
    published_from = "report" if report.published else ("feed" if feed_date else None)
    report = dataclasses.replace(
        report, stem=name, path=url, published=report.published or feed_date, published_from=published_from
    )
    stored = store_fetch(night.store, catalog, fetch, night.clock())
    keep_bytes(night.archive, data, report.digest, ".html")
    if name in intake.seen:  # the same page reached through another URL tonight: one report
        same = existing is not None and existing.digest == report.digest
        intake.summary.reports["unchanged" if same else "updated"].append(name)
        saved = None
    else:
        saved = intake.add(report)
    catalog.web_report_read(
        name,
        fetch.response.header("etag") if fetch.response else None,
        fetch.response.header("last-modified") if fetch.response else None,
        published_from,
    )
    catalog.commit_warc(stored.response.file, stored.end)
    due = catalog.links_to_check(intake.now, night.recheck, night.only_links, report=saved) if saved else []
    return name, due


async def poll_feeds(engine: Engine, intake: ReportIntake, planned: set[int]) -> None:
    """Poll every registered feed: an entry never read (or updated since) has its page read as a report."""
    night = engine.night
    for feed in await asyncio.get_running_loop().run_in_executor(night.storage, night.catalog.feeds):
        if engine.stop:
            return
        await poll_feed(engine, intake, planned, feed)


async def poll_feed(engine: Engine, intake: ReportIntake, planned: set[int], feed: FeedRow) -> None:
    """Poll one feed (in the shared setup, by the worker that holds its host tonight)."""
    intake.summary.feeds["polled"] += 1
    fetch = await polite_fetch(engine, feed.url, etag=feed.etag, last_modified=feed.last_modified)
    try:
        await _poll(engine, intake, feed.url, fetch, planned)
    finally:
        fetch.discard()


async def _poll(engine: Engine, intake: ReportIntake, url: str, fetch: Fetch, planned: set[int]) -> None:
    """One feed's answer: nothing more for a 304; its new entries read; one line in the summary for a feed
    that is unreachable, no feed, or malformed (the run goes on)."""
    night = engine.night
    loop = asyncio.get_running_loop()
    record = functools.partial(night.catalog.record_poll, url, night.clock())
    if fetch.status == 304:
        await loop.run_in_executor(night.storage, record)
        return
    error = None
    if fetch.failure is not None or not 200 <= (fetch.status or 0) < 300 or fetch.decoded is None:
        error = fetch.detail or f"{fetch.status} {fetch.response.reason if fetch.response else ''}".strip()
    else:
        try:
            read: Feed = await night.pool.run(read_feed, fetch.read_decoded(), fetch.final_url, fetch.content_type)
        except Exception as exc:  # not a feed, malformed, too slow to read
            error = str(exc) or type(exc).__name__
    if error is not None:
        intake.summary.feeds["failed"].append({"feed": url, "error": error})
        await loop.run_in_executor(night.storage, functools.partial(record, error=error))
        return
    unread = await _read_entries(engine, intake, url, read, planned)
    response = fetch.response
    etag = response.header("etag") if response else None
    modified = response.header("last-modified") if response else None
    if unread:  # an entry's page failed: the feed is read whole next run (a 304 would skip that entry)
        etag = modified = ""
    await loop.run_in_executor(
        night.storage, functools.partial(record, title=read.title, etag=etag, last_modified=modified)
    )


async def _read_entries(engine: Engine, intake: ReportIntake, feed: str, read: Feed, planned: set[int]) -> int:
    """The entries not read yet (or updated since): each page read as a report, marked read once it was.
    Returns how many could not be read (tried again next run)."""
    unread = 0
    night = engine.night
    loop = asyncio.get_running_loop()
    seen = await loop.run_in_executor(night.storage, night.catalog.feed_entries, feed)
    for entry in read.entries:
        if entry.key in seen and seen[entry.key] == entry.updated:
            continue
        name = await read_report_page(engine, intake, entry.link, planned, feed_date=entry.published)
        if name is None:
            unread += 1  # its page failed: the entry stays unread, and is tried again next run
            continue
        intake.summary.feeds["new_entries"] += entry.key not in seen
        await loop.run_in_executor(
            night.storage, night.catalog.entry_read, feed, entry.key, entry.link, entry.updated, name, night.clock()
        )
    return unread
