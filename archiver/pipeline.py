"""The `run` job: add reports, then take each tracked link through fetch, store, extract, compare, judge."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import random
import shutil
import signal
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from archiver.catalog import CaptureRow, Catalog, CheckRow, LinkState, iso
from archiver.compare import Comparison, compare
from archiver.config import Settings
from archiver.extract import Extracted, extract_file
from archiver.fetch import Fetch, Fetcher, Resolver
from archiver.footnotes import footnotes
from archiver.lock import ArchiveLock
from archiver.politeness import HostScheduler, backoff, is_transient, retry_after
from archiver.refang import canonical, host_of
from archiver.reports import Report, Unreadable, load_reports
from archiver.textstore import get_text, put_text
from archiver.verdict import History, Judgement, Outcome, Verdict, judge
from archiver.warcstore import Revisit, WarcStore

TMP_DIR = "tmp"
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Checked:
    """One link's check, as progress reports it."""

    url: str
    verdict: str
    reason: str
    http_status: int | None
    done: int
    total: int


@dataclass(slots=True)
class RunSummary:
    """What a run did."""

    run: int
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"
    reports_added: list[str] = field(default_factory=list)
    reports_failed: list[dict[str, str]] = field(default_factory=list)
    new_links: int = 0
    links_to_check: int = 0
    links_checked: int = 0
    links_left: int = 0
    attempts: int = 0
    this_run: dict[str, int] = field(default_factory=dict)
    verdicts: dict[str, int] = field(default_factory=dict)
    repaired_warc_files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The --json summary."""
        duration = (self.finished_at - self.started_at).total_seconds() if self.finished_at else None
        return {
            "run": self.run,
            "status": self.status,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration_seconds": round(duration, 3) if duration else duration,
            "reports": {"added": self.reports_added, "failed": self.reports_failed},
            "links": {
                "new": self.new_links,
                "to_check": self.links_to_check,
                "checked": self.links_checked,
                "left_for_next_run": self.links_left,
                "fetch_attempts": self.attempts,
            },
            "this_run": self.this_run,
            "verdicts": self.verdicts,
            "repaired_warc_files": self.repaired_warc_files,
        }


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the extraction worker made of a body."""

    extracted: Extracted
    text_digest: str | None
    comparison: Comparison | None


def analyse(root: str, decoded: str, content_type: str, url: str, first_digest: str | None) -> Analysis:
    """Extract, store the text and compare it with the first capture's: the CPU work, run in a worker process."""
    extracted = extract_file(decoded, content_type, url)
    digest = put_text(Path(root), extracted.text) if extracted.text else None
    comparison = None
    if first_digest and extracted.text is not None:
        first = get_text(Path(root), first_digest)
        if first is not None:
            comparison = compare(first, extracted.text)
    return Analysis(extracted, digest, comparison)


def compare_stored(root: str, first_digest: str | None, digest: str | None) -> Comparison | None:
    """Compare two stored texts (a revisit whose text is known)."""
    if not first_digest or not digest:
        return None
    if first_digest == digest:
        return Comparison(1.0, "")
    first, new = get_text(Path(root), first_digest), get_text(Path(root), digest)
    return compare(first, new) if first is not None and new is not None else None


def add_reports(catalog: Catalog, paths: Iterable[Path], now: datetime, summary: RunSummary) -> None:
    """Read the reports and save them with their footnotes; one bad file never stops the others."""
    for item in load_reports(list(paths)):
        if isinstance(item, Unreadable):
            summary.reports_failed.append({"path": item.path, "error": item.reason})
            continue
        report: Report = item
        summary.new_links += catalog.save_report(report, footnotes(report), canonical, host_of, now)
        summary.reports_added.append(report.stem)


class _Run:
    """The asynchronous part of a run: scheduling, fetching, storing."""

    def __init__(
        self,
        archive: Path,
        settings: Settings,
        catalog: Catalog,
        run_id: int,
        clock: Clock,
        on_checked: Callable[[Checked], None],
        resolver: Resolver | None,
        summary: RunSummary,
    ) -> None:
        self.archive = archive
        self.settings = settings
        self.catalog = catalog
        self.run_id = run_id
        self.clock = clock
        self.on_checked = on_checked
        self.resolver = resolver
        self.summary = summary
        self.rng = random.Random()
        self.stop = False
        self.tmp = archive / TMP_DIR
        self.store = WarcStore(archive, settings.warc_max_size, f"archiver-{clock():%Y%m%d%H%M%S}-{os.getpid()}")
        self.done = 0
        self.total = 0

    async def check_all(self, links: list[LinkState]) -> None:
        """Check every link, as politeness allows; stop starting new ones at the deadline or a signal."""
        loop = asyncio.get_running_loop()
        self.total = len(links)
        scheduler: HostScheduler[tuple[LinkState, int]] = HostScheduler(
            self.settings.per_host, self.settings.delay, self.settings.concurrency
        )
        for link in links:
            scheduler.add(link.host, (link, 0))
        workers = self.settings.extract_workers or os.cpu_count() or 2
        deadline = loop.time() + self.settings.max_duration if self.settings.max_duration else None
        # Fetches in flight plus bodies waiting for extraction: bounded, so memory is too.
        live_cap = self.settings.concurrency + 2 * workers
        self._install_signal_handlers(loop)
        storage = ThreadPoolExecutor(1, thread_name_prefix="storage")
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            name, size = await loop.run_in_executor(storage, self.store.start)
            await loop.run_in_executor(storage, self.catalog.register_warc_file, name, size, self.clock())
            tasks: set[asyncio.Task[None]] = set()
            try:
                async with Fetcher(self.settings, self.tmp, resolver=self.resolver) as fetcher:
                    while True:
                        if deadline is not None and loop.time() >= deadline:
                            self.stop = True
                        if not self.stop and len(tasks) < live_cap:
                            for host, (link, attempt) in scheduler.take(loop.time(), live_cap - len(tasks)):
                                tasks.add(
                                    asyncio.create_task(
                                        self._check(fetcher, scheduler, pool, storage, str(host), link, attempt)
                                    )
                                )
                        if not tasks and (self.stop or scheduler.pending == 0):
                            break
                        wake = scheduler.next_wake()
                        timeout = None if wake is None else max(0.0, wake - loop.time())
                        if deadline is not None and not self.stop:
                            timeout = min(timeout if timeout is not None else 1e9, max(0.0, deadline - loop.time()))
                        if tasks:
                            done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
                            tasks -= done
                            for task in done:
                                task.result()  # a bug in one link's handling is a bug: let it show
                        else:
                            await asyncio.sleep(min(timeout if timeout is not None else 0.5, 0.5))
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                await loop.run_in_executor(storage, self.store.close)
                storage.shutdown(wait=True)
        self.summary.links_left = scheduler.pending

    def _install_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        def stop() -> None:
            if self.stop:
                raise KeyboardInterrupt
            self.stop = True

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
                loop.add_signal_handler(sig, stop)

    async def _check(
        self,
        fetcher: Fetcher,
        scheduler: HostScheduler[tuple[LinkState, int]],
        pool: Executor,
        storage: Executor,
        host: str,
        link: LinkState,
        attempt: int,
    ) -> None:
        loop = asyncio.get_running_loop()
        fetch = Fetch(link.url, link.url)
        try:
            conditional = link.last_capture_id is not None and link.verdict in ("ok", "changed")
            fetch = await fetcher.fetch(
                link.url,
                etag=link.etag if conditional else None,
                last_modified=link.last_modified if conditional else None,
            )
            self.summary.attempts += 1
            now = self.clock()
            wait = self._retry_wait(fetch, now)
            if wait is not None and fetch.status in (429, 503):
                scheduler.defer_host(host, loop.time() + wait)
            scheduler.done(host)
            if wait is not None and attempt < self.settings.retries and not self.stop:
                scheduler.add(host, (link, attempt + 1), not_before=loop.time() + wait)
                row = self._check_row(link, fetch, None, self._attempt_judgement(fetch, now, attempt), None)
                await loop.run_in_executor(storage, self.catalog.record_check, row, None, None)
                return
            await self._finish(pool, storage, link, fetch, now)
        finally:
            fetch.discard()

    def _retry_wait(self, fetch: Fetch, now: datetime) -> float | None:
        """Seconds to wait before retrying this outcome within the run, or None for no retry."""
        if not is_transient(fetch.failure, fetch.status if fetch.failure is None else None):
            return None
        asked = retry_after(fetch.response.header("retry-after"), now) if fetch.response else None
        if asked is not None:
            return asked if asked <= self.settings.max_backoff else None
        return backoff(0, self.settings.backoff, self.settings.max_backoff, self.rng)

    def _attempt_judgement(self, fetch: Fetch, now: datetime, attempt: int) -> Judgement:
        what = fetch.failure or f"{fetch.status}"
        return Judgement(Verdict.FAILING, f"{what}, attempt {attempt + 1}, retrying", 0, None, now)

    async def _finish(self, pool: Executor, storage: Executor, link: LinkState, fetch: Fetch, now: datetime) -> None:
        loop = asyncio.get_running_loop()
        root = str(self.archive)
        analysis: Analysis | None = None
        revisit: Revisit | None = None
        text_digest: str | None = None
        comparison: Comparison | None = None
        complete = fetch.response is not None and fetch.failure is None
        if complete and fetch.status == 304 and link.last_capture_id is not None:
            revisit = Revisit(
                link.last_capture_url or link.url, link.last_capture_at or now, link.last_payload_digest or "sha1:"
            )
            text_digest = link.last_text_digest
        elif complete and fetch.payload_digest and fetch.payload_digest == link.last_payload_digest:
            revisit = Revisit(link.last_capture_url or link.url, link.last_capture_at or now, fetch.payload_digest)
            text_digest = link.last_text_digest
        elif complete and fetch.decoded_path is not None and fetch.status is not None and fetch.status < 300:
            analysis = await loop.run_in_executor(
                pool,
                analyse,
                root,
                str(fetch.decoded_path),
                fetch.content_type,
                fetch.final_url,
                link.first_text_digest,
            )
            text_digest, comparison = analysis.text_digest, analysis.comparison
        if revisit is not None and fetch.status is not None and fetch.status < 300:
            comparison = await loop.run_in_executor(pool, compare_stored, root, link.first_text_digest, text_digest)
        outcome = Outcome(
            checked_at=now,
            failure=fetch.failure,
            detail=fetch.detail,
            status=fetch.status,
            reason_phrase=fetch.response.reason if fetch.response else "",
            similarity=comparison.similarity if comparison else None,
            first_archived=link.first_archived,
            not_modified=fetch.status == 304,
            moved_to=fetch.final_url if fetch.hops else None,
        )
        history = History(link.failures_in_row, link.failing_since, Verdict(link.verdict), link.verdict_since)
        judgement = judge(
            outcome,
            history,
            change_threshold=self.settings.change_threshold,
            dead_after_failures=self.settings.dead_after_failures,
            dead_after=timedelta(hours=self.settings.dead_after_hours),
        )
        if fetch.status == 304 and link.last_capture_id is None:
            complete = False  # a 304 to a request we did not make conditional stores nothing
        await loop.run_in_executor(
            storage, self._store, link, fetch, judgement, analysis, revisit, text_digest, comparison, complete
        )
        self.done += 1
        self.summary.links_checked += 1
        self.summary.this_run[judgement.verdict] = self.summary.this_run.get(judgement.verdict, 0) + 1
        self.on_checked(Checked(link.url, judgement.verdict, judgement.reason, fetch.status, self.done, self.total))

    def _store(
        self,
        link: LinkState,
        fetch: Fetch,
        judgement: Judgement,
        analysis: Analysis | None,
        revisit: Revisit | None,
        text_digest: str | None,
        comparison: Comparison | None,
        complete: bool,
    ) -> None:
        """WARC records, fsync, then the catalog row that points at them: in that order, in one thread."""
        capture = None
        warc_size = None
        if complete and fetch.response is not None:
            location, name, size, rotated = self.store.write_fetch(fetch, revisit)
            if rotated:
                self.catalog.register_warc_file(rotated, 0, self.clock())
            warc_size = (name, size)
            extracted = analysis.extracted if analysis else None
            capture = CaptureRow(
                fetched_at=fetch.response.fetched_at,
                url=fetch.url,
                final_url=fetch.final_url,
                http_status=fetch.response.status,
                content_type=fetch.content_type,
                warc_file=location.file,
                warc_offset=location.offset,
                warc_length=location.length,
                revisit_of=link.last_capture_id if revisit else None,
                payload_digest=fetch.payload_digest
                if revisit is None or fetch.status != 304
                else revisit.payload_digest,
                content_digest=fetch.content_digest,
                body_size=fetch.body_size,
                text_digest=text_digest,
                text_length=len(extracted.text) if extracted and extracted.text else None,
                kind=extracted.kind if extracted else None,
                title=extracted.title if extracted else None,
                authors=extracted.authors if extracted else None,
                published=extracted.date if extracted else None,
                language=extracted.language if extracted else None,
                extractor=extracted.extractor if extracted else None,
            )
        row = self._check_row(link, fetch, capture, judgement, comparison)
        self.catalog.record_check(row, capture, warc_size)

    def _check_row(
        self,
        link: LinkState,
        fetch: Fetch,
        capture: CaptureRow | None,
        judgement: Judgement,
        comparison: Comparison | None,
    ) -> CheckRow:
        response = fetch.response
        ok_response = response is not None and fetch.failure is None and response.status < 300
        return CheckRow(
            link=link.id,
            run=self.run_id,
            started_at=fetch.started_at,
            elapsed=fetch.elapsed,
            url=fetch.url,
            final_url=fetch.final_url,
            redirects=[{"url": h.url, "status": h.status, "location": h.header("location")} for h in fetch.hops],
            http_status=fetch.status,
            failure=fetch.failure,
            detail=fetch.detail,
            payload_digest=fetch.payload_digest,
            similarity=comparison.similarity if comparison else None,
            diff=comparison.diff if comparison and comparison.diff else None,
            verdict=judgement.verdict,
            reason=judgement.reason,
            verdict_since=judgement.since,
            failures_in_row=judgement.failures_in_row,
            failing_since=judgement.failing_since,
            etag=response.header("etag") if ok_response and response else None,
            last_modified=response.header("last-modified") if ok_response and response else None,
        )


def run(
    archive: Path,
    paths: Iterable[Path],
    settings: Settings,
    *,
    on_checked: Callable[[Checked], None] = lambda checked: None,
    clock: Clock = utc_now,
    resolver: Resolver | None = None,
) -> RunSummary:
    """The nightly job: add the reports, check every tracked link, update verdicts. Safe to rerun or kill."""
    archive.mkdir(parents=True, exist_ok=True)
    # The storage thread owns the catalog's connection while links are checked; the main thread before and after.
    with ArchiveLock(archive), Catalog.open(archive, shared=True) as catalog:
        started = clock()
        run_id = catalog.start_run(started, os.getpid())
        summary = RunSummary(run=run_id, started_at=started)
        summary.repaired_warc_files = WarcStore.repair(archive, catalog.warc_committed())
        tmp = archive / TMP_DIR
        shutil.rmtree(tmp, ignore_errors=True)  # bodies of a killed run: never committed
        tmp.mkdir(parents=True, exist_ok=True)
        add_reports(catalog, paths, started, summary)
        links = catalog.links_to_check(started, settings.recheck_interval)
        summary.links_to_check = len(links)
        job = _Run(archive, settings, catalog, run_id, clock, on_checked, resolver, summary)
        status = "completed"
        try:
            asyncio.run(job.check_all(links))
        except KeyboardInterrupt:
            status = "interrupted"
        if job.stop and status == "completed":
            status = "stopped" if summary.links_left else "completed"
        summary.finished_at = clock()
        summary.status = status
        summary.verdicts = {v.value: 0 for v in Verdict} | catalog.counts()
        catalog.finish_run(run_id, summary.finished_at, status, summary.as_dict())
        shutil.rmtree(tmp, ignore_errors=True)
    return summary
