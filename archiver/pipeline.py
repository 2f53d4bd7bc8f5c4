"""The `run` job: add reports, then take each tracked link through fetch, store, extract, compare, judge."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import resource
import shutil
import signal
import ssl
import sys
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from archiver.config import Settings
from archiver.errors import ArchiveError, archive_fault
from archiver.fetching.fetch import Fetcher, Resolver, descriptors_needed, ssl_context
from archiver.fetching.politeness import HostScheduler, plan_retry
from archiver.judging.analysis import Analysis, analyse, compare_stored, probe_text
from archiver.judging.decide import (
    ProbeAnswer,
    Rules,
    answered,
    check_row,
    choose_revisit,
    decide,
    internal_error,
    known_comparison,
    looks_suspect,
    outcome_of,
    redirect_of,
    retrying,
    soft_404,
    to_store,
)
from archiver.judging.extract import Extracted
from archiver.judging.rows import capture_row
from archiver.judging.signs import probe_path
from archiver.judging.verdict import Judgement
from archiver.judging.workers import TOO_LARGE, WorkerFailed, WorkerPool
from archiver.outcomes import Checked, Fetch, Verdict
from archiver.reading.footnotes import footnotes
from archiver.reading.refang import canonical, host_of
from archiver.reading.reports import Report, Unreadable, read_or_say_why, report_files
from archiver.storage.catalog import CaptureRow, Catalog, CheckRow, LinkState, iso
from archiver.storage.incidents import log_incident, log_trace, one_line
from archiver.storage.lock import ArchiveLock
from archiver.storage.reportcopies import keep_copy
from archiver.storage.storagethread import StorageThread, Write
from archiver.storage.textstore import prepare_text_store
from archiver.storage.warcstore import Revisit, Stored, WarcStore
from archiver.webarchives.copies import CopyFinder

TMP_DIR = "tmp"
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, UTC."""
    return datetime.now(UTC)


class Admission(StrEnum):
    """What adding a report file to the archive does."""

    ADDED = "added"  # a name the archive did not know
    UPDATED = "updated"  # the same file, edited since
    MOVED = "moved"  # the same content, from another place
    UNCHANGED = "unchanged"  # the same file, as archived: nothing to do
    REPLACED = "replaced"  # another report of the same name, replaced as asked (--replace)
    REFUSED = "refused"  # another report of the same name: never replaced silently


def admit(existing: tuple[str | None, str | None] | None, source: str, digest: str, replace: bool) -> Admission:
    """Whether a report file may be (re)added under its name, given the (source, digest) archived under it."""
    if existing is None:
        return Admission.ADDED
    old_source, old_digest = existing
    if old_source is None or not digest:
        return Admission.UPDATED  # archived before reports had an identity (or parsed from memory): adopt it
    if old_source == source:
        return Admission.UNCHANGED if old_digest == digest else Admission.UPDATED
    if old_digest == digest:
        return Admission.MOVED
    return Admission.REPLACED if replace else Admission.REFUSED


@dataclass(slots=True)
class RunSummary:
    """What a run did."""

    run: int
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"
    reports: dict[str, list[str]] = field(default_factory=lambda: {a.value: [] for a in Admission if a != "refused"})
    reports_failed: list[dict[str, str]] = field(default_factory=list)
    new_links: int = 0
    links_to_check: int = 0
    links_checked: int = 0
    links_left: int = 0
    attempts: int = 0
    this_run: dict[str, int] = field(default_factory=dict)
    verdicts: dict[str, int] = field(default_factory=dict)
    repaired_warc_files: list[str] = field(default_factory=list)
    web_archive: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The --json summary."""
        duration = (self.finished_at - self.started_at).total_seconds() if self.finished_at else None
        return {
            "run": self.run,
            "status": self.status,
            "started_at": iso(self.started_at),
            "finished_at": iso(self.finished_at),
            "duration_seconds": round(duration, 3) if duration else duration,
            "reports": {**self.reports, "failed": self.reports_failed},
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
            "web_archive": self.web_archive,
        }


class ReportIntake:
    """Reads reports and saves them with their footnotes, one at a time; one bad file never stops the others."""

    def __init__(self, catalog: Catalog, now: datetime, summary: RunSummary, replace: bool) -> None:
        self.catalog = catalog
        self.now = now
        self.summary = summary
        self.replace = replace
        self.seen: dict[str, str] = {}  # report name -> the file it was read from in this run

    def add(self, item: Report | Unreadable) -> str | None:
        """Save one read report (or note why not): its name when it was saved (new or changed).

        A report that breaks our own code is that report's failure (its traceback in the archive's
        log), never the night's; a fault of the archive's disk stops the run."""
        try:
            return self._add(item)
        except Exception as exc:
            if archive_fault(exc) is not None:
                raise
            log_incident(self.catalog.path.parent, self.now, f"{item.path} (reading the report)", exc)
            self.summary.reports_failed.append({"path": item.path, "error": f"internal error: {one_line(exc)}"})
            return None

    def _add(self, item: Report | Unreadable) -> str | None:
        summary = self.summary
        if isinstance(item, Unreadable):
            if item.trace:
                log_trace(self.catalog.path.parent, self.now, f"{item.path} (reading the report)", item.trace)
            summary.reports_failed.append({"path": item.path, "error": item.reason})
            return None
        report: Report = item
        if report.stem in self.seen:
            # A report is named by its file's stem: two files of one name in one run would overwrite each other.
            first = self.seen[report.stem]
            reason = f"{report.path}: a report named {report.stem!r} was already given ({first}); skipped"
            summary.reports_failed.append({"path": report.path, "error": reason})
            return None
        self.seen[report.stem] = report.path
        existing = self.catalog.report_identity(report.stem)
        admission = admit(existing, report.source, report.digest, self.replace)
        if admission is Admission.REFUSED:
            assert existing is not None
            reason = (
                f"{report.path}: a different report named {report.stem!r} is already archived (from {existing[0]}); "
                "rename this file to archive both, or run with --replace to replace the archived one"
            )
            summary.reports_failed.append({"path": report.path, "error": reason})
            return None
        if report.digest and report.source:
            keep_copy(self.catalog.path.parent, Path(report.source), report.digest)  # as written, for export
        if admission is not Admission.UNCHANGED:
            summary.new_links += self.catalog.save_report(report, footnotes(report), canonical, host_of, self.now)
        summary.reports[admission].append(report.stem)
        return report.stem if admission is not Admission.UNCHANGED else None


@dataclass(frozen=True, slots=True)
class Probe:
    """A request for a path that cannot exist on a site."""

    url: str


Job = tuple[int, int] | Probe  # (link id, attempt), or a soft-404 probe


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
        self.trust: ssl.SSLContext | None = None  # the trusted CAs (checked before the run began)
        self.summary = summary
        self.rng = random.Random()
        self.stop = False
        self.tmp = archive / TMP_DIR
        prefix = f"archiver-{clock():%Y%m%d%H%M%S}-{os.getpid()}"
        self.store = WarcStore(archive, settings.warc_max_size, prefix, clock)
        self.done = 0
        self.total = 0
        # Soft-404 probes: one per site and link shape per run, asked only when a page looks suspect.
        self.probe_token = f"{self.rng.getrandbits(64):016x}"
        self.probes: dict[str, asyncio.Future[ProbeAnswer | None]] = {}
        self.probes_started: set[str] = set()
        self.waiting_for_probe = 0
        self.waiting_for_storage = 0  # links whose check is only waiting for its batch's commit
        self.full = False  # every live slot taken: the loop waits for one to free
        self.draining = False  # nothing left to start: the tasks in flight are the last ones
        self.reading = False  # reports still being read: their links may join the night
        self.only_links: set[str] | None = None
        self.work_added = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()  # links (and probes) in flight
        self.finished: list[asyncio.Task[None]] = []  # tasks done since the loop last looked
        self.deadline: float | None = None  # event loop time past which no new fetch starts
        self.on_stopping: Callable[[int], None] = lambda in_flight: None
        self.rules = Rules(settings.change_threshold, settings.dead_after_failures, settings.dead_after_hours)
        self.reader: Catalog | None = None  # a second, read-only connection: link states as links start
        self.deadlines: dict[int, float] = {}  # link id -> end of its time budget (event loop time)
        self.deferred = 0  # links of hosts that asked to be left alone until the next run
        self.reports: list[Path] = []  # report files to read during the night
        self.intake: ReportIntake | None = None
        self.recheck = 0.0  # the re-check interval the plan was made with (hours)

    async def night(self, links: list[tuple[int, str]], pool: WorkerPool) -> None:
        """The night's wiring: open the WARC file and the client; check every link; then ask the web
        archives for the copies the night showed a need for; close everything, whatever happened."""
        loop = asyncio.get_running_loop()
        self.deadline = loop.time() + self.settings.max_duration if self.settings.max_duration else None
        self._install_signal_handlers(loop)
        storage = StorageThread(self.archive, self.store, self.catalog, self.clock)
        try:
            name, size = await loop.run_in_executor(storage, self.store.start)
            await loop.run_in_executor(storage, self.catalog.register_warc_file, name, size, self.clock())
            async with Fetcher(
                self.settings, self.tmp, resolver=self.resolver, verify=self.trust, clock=self.clock
            ) as fetcher:
                await self.check_all(links, fetcher, pool, storage, live_cap=self.settings.concurrency + pool.holds)
                pool.hurry(loop)  # the web archives' copies come one by one
                self.summary.web_archive = await self.web_archives(fetcher, pool, storage)
        finally:
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(*self.tasks, return_exceptions=True)
            with contextlib.suppress(OSError):  # every record was fsynced when written
                await loop.run_in_executor(storage, self.store.close)
            storage.shutdown(wait=True)

    def _past_deadline(self) -> bool:
        return self.deadline is not None and asyncio.get_running_loop().time() >= self.deadline

    async def check_all(
        self, links: list[tuple[int, str]], fetcher: Fetcher, pool: WorkerPool, storage: StorageThread, live_cap: int
    ) -> None:
        """Check every link, as politeness allows; stop starting new ones at the deadline or a signal.

        live_cap bounds fetches in flight plus bodies waiting for extraction, so memory is bounded too.
        """
        loop = asyncio.get_running_loop()
        self.total = len(links)
        scheduler: HostScheduler[Job] = HostScheduler(
            self.settings.per_host, self.settings.delay, self.settings.concurrency
        )
        for link_id, link_host in links:
            scheduler.add(link_host, (link_id, 0))
        tasks = self.tasks
        if self.reports and self.intake is not None:
            planned = {link_id for link_id, _ in links}
            self.reading = True
            self._spawn(self._read_reports(storage, scheduler, self.intake, planned, pool))
        while True:
            self.stop = self.stop or self._past_deadline()
            room = live_cap - self._live(live_cap)
            if not self.stop and room > 0:
                for host, job in scheduler.take(loop.time(), room):
                    if isinstance(job, Probe):
                        work = self._probe(fetcher, scheduler, pool, str(host), job)
                    else:
                        work = self._check(fetcher, scheduler, pool, storage, str(host), *job)
                    self._spawn(work)
            if self.stop:
                self._abandon_probes()
            if not tasks and (self.stop or scheduler.pending == 0):
                break
            # Full: only a finished task makes room, so do not wake for start times.
            self.full = full = live_cap - self._live(live_cap) <= 0
            self.draining = scheduler.pending == 0
            if self.stop or (not self.reading and scheduler.pending < pool.holds):
                # The night's last pages: a batch sent now could be the one the night waits for at its end.
                pool.hurry(loop)
            wake = None if full else scheduler.next_wake()
            await self._wait(None if wake is None else max(0.0, wake - loop.time()))
        left = scheduler.pending - sum(1 for url in self.probes if url not in self.probes_started)
        self.summary.links_left = left + self.deferred

    async def _read_reports(
        self,
        storage: StorageThread,
        scheduler: HostScheduler[Job],
        intake: ReportIntake,
        planned: set[int],
        pool: WorkerPool,
    ) -> None:
        """Read each report in a worker process (a time and memory limit, so a hostile file costs that
        report, not the night), then save it on the storage thread (it owns the catalog), one at a time;
        the links each one makes due go to the front of their site's queue (the night's first duty)."""
        loop = asyncio.get_running_loop()

        def save(item: Report | Unreadable) -> list[tuple[int, str]]:
            stem = intake.add(item)
            if stem is None:
                return []
            return self.catalog.links_to_check(intake.now, self.recheck, self.only_links, report=stem)

        try:
            for found in report_files(self.reports):
                item = found if isinstance(found, Unreadable) else await self._read_one(found, pool, loop)
                due = await loop.run_in_executor(storage, save, item)
                fresh = [(link_id, host) for link_id, host in due if link_id not in planned]
                for link_id, host in reversed(fresh):
                    planned.add(link_id)
                    scheduler.add(host, (link_id, 0), front=True)
                self.total += len(fresh)
                self.summary.links_to_check += len(fresh)
                if fresh:
                    self.work_added.set()
        finally:
            self.reading = False
            self.work_added.set()

    @staticmethod
    async def _read_one(path: Path, pool: WorkerPool, loop: asyncio.AbstractEventLoop) -> Report | Unreadable:
        reading = asyncio.ensure_future(pool.run(read_or_say_why, path))
        pool.hurry(loop)  # a report waits for no batch: its links are the night's first duty
        try:
            return await reading
        except WorkerFailed as exc:
            reason = str(exc).replace(TOO_LARGE, "too slow or too large to read")
            return Unreadable(str(path), f"{path}: {reason}")

    def _live(self, live_cap: int) -> int:
        """The tasks that hold a live slot. A link waiting for its site's probe must not keep that
        probe from starting; links waiting only for their batch's commit (up to another live_cap of
        them, so memory stays bounded) must not keep the next fetches from starting."""
        return len(self.tasks) - self.waiting_for_probe - min(self.waiting_for_storage, live_cap)

    async def _store(self, storage: StorageThread, item: Write) -> None:
        """Hand a check to the storage thread and wait until its batch is committed."""
        self.waiting_for_storage += 1
        if self.full:
            self.work_added.set()  # a slot is free: the loop may start the next fetch
        try:
            committed = storage.write_soon(item)
            if self.draining and self.waiting_for_storage >= len(self.tasks):
                storage.hurry()  # the night's last writes: no company is coming for them
            await committed
        finally:
            self.waiting_for_storage -= 1

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self._on_finished)

    def _on_finished(self, task: asyncio.Task[None]) -> None:
        self.finished.append(task)
        self.work_added.set()

    def _release(self, scheduler: HostScheduler[Job], host: str) -> None:
        """A fetch is over: its connection slot is free, and the loop hears of it at once (not when
        its link's task ends, after extraction and storage), so the next fetch starts now."""
        scheduler.done(host)
        if scheduler.pending:
            self.work_added.set()

    async def _wait(self, timeout: float | None) -> None:
        """Until a task finishes, a fetch frees its slot, the next start time, new work (a queued probe),
        or the deadline. Tasks tell the loop themselves (a done-callback each): no wait over all of them."""
        loop = asyncio.get_running_loop()
        if self.deadline is not None and not self.stop:
            timeout = min(timeout if timeout is not None else 1e9, max(0.0, self.deadline - loop.time()))
        if not self.tasks:
            timeout = min(timeout if timeout is not None else 0.5, 0.5)
        if not self.work_added.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self.work_added.wait()
        self.work_added.clear()
        done, self.finished = self.finished, []
        self.tasks.difference_update(done)
        # Only an archive fault gets out of a link's task: the first stops the run (the others of its
        # batch say the same, and are read so that none is left unretrieved).
        failures = [task.exception() for task in done if not task.cancelled()]
        first = next((failure for failure in failures if failure is not None), None)
        if first is not None:
            raise first

    async def web_archives(self, fetcher: Fetcher, pool: WorkerPool, storage: StorageThread) -> dict[str, int]:
        """Copies held by public web archives, for links dead or never captured (as the deadline allows)."""
        finder = CopyFinder(
            self.settings,
            fetcher,
            pool,
            storage,
            self.store,
            self.catalog,
            self.archive,
            self.clock,
            lambda: self.stop or self._past_deadline(),
            only_urls=self.only_links,
        )
        return await finder.run()

    def _install_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        def stop() -> None:
            if self.stop:
                raise KeyboardInterrupt
            self.stop = True
            self.work_added.set()
            self.on_stopping(len(self.tasks))

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
                loop.add_signal_handler(sig, stop)

    async def _check(
        self,
        fetcher: Fetcher,
        scheduler: HostScheduler[Job],
        pool: WorkerPool,
        storage: StorageThread,
        host: str,
        link_id: int,
        attempt: int,
    ) -> None:
        """Load what the link's check needs to know (the plan holds only its id), then check it."""
        try:
            assert self.reader is not None
            link = self.reader.link_state(link_id)
        except Exception as exc:
            self._release(scheduler, host)
            fault = archive_fault(exc)
            raise (fault or exc) from exc
        await self._check_link(fetcher, scheduler, pool, storage, host, link, attempt)

    async def _check_link(
        self,
        fetcher: Fetcher,
        scheduler: HostScheduler[Job],
        pool: WorkerPool,
        storage: StorageThread,
        host: str,
        link: LinkState,
        attempt: int,
    ) -> None:
        """One link's attempt; any error of its own becomes its recorded failure, an archive fault stops the run."""
        loop = asyncio.get_running_loop()
        fetch = Fetch(link.url, link.url)
        released = False
        try:
            conditional = link.last_capture_id is not None and link.verdict in ("ok", "changed")
            # One budget for all of a link's attempts in this run: a server dripping bytes costs at most that.
            deadline = self.deadlines.setdefault(link.id, loop.time() + self.settings.link_budget)
            fetch = await fetcher.fetch(
                link.url,
                etag=link.etag if conditional else None,
                last_modified=link.last_modified if conditional else None,
                timeout=deadline - loop.time(),
            )
            self.summary.attempts += 1
            now = self.clock()
            plan = plan_retry(
                fetch.failure,
                fetch.status if fetch.failure is None else None,
                fetch.response.header("retry-after") if fetch.response else None,
                attempt,
                now,
                retries=self.settings.retries,
                base=self.settings.backoff,
                cap=self.settings.max_backoff,
                rng=self.rng,
            )
            if plan.host_rest is not None:
                scheduler.defer_host(host, loop.time() + plan.host_rest)
            if plan.host_next_run:
                self._defer_to_next_run(scheduler, host)
            self._release(scheduler, host)
            released = True
            wait = plan.wait
            if wait is not None and loop.time() + wait + 1.0 < deadline and not self.stop:
                scheduler.add(host, (link.id, attempt + 1), not_before=loop.time() + wait)
                row = check_row(link, fetch, retrying(fetch, now, attempt), None, self.run_id, retried=True)
                await self._store(storage, Write(None, None, lambda _: (row, None)))
                return
            await self._finish(scheduler, pool, storage, host, link, fetch, now)
        except Exception as exc:
            self._stop_on_archive_fault(exc, scheduler, host, released)
            await self._internal_error(storage, link, fetch, exc)
        finally:
            fetch.discard()

    def _stop_on_archive_fault(self, exc: Exception, scheduler: HostScheduler[Job], host: str, released: bool) -> None:
        """An archive fault stops the run (ArchiveError); any other error is one job's: its host slot is freed."""
        fault = archive_fault(exc)
        if fault is not None:
            raise fault from exc
        if not released:
            self._release(scheduler, host)

    async def _internal_error(self, storage: StorageThread, link: LinkState, fetch: Fetch, exc: Exception) -> None:
        """Record a link's own error as its failure (history kept), the traceback in the archive's log."""
        now = self.clock()
        log_incident(self.archive, now, link.url, exc)
        reason = f"internal error: {one_line(exc)}"
        judgement = internal_error(link, reason, now)
        attempt = Fetch(link.url, fetch.final_url, started_at=fetch.started_at, elapsed=fetch.elapsed, detail=reason)
        row = check_row(link, attempt, judgement, None, self.run_id)
        try:
            await storage.write_soon(Write(None, None, lambda _: (row, None)))
        except Exception as again:
            fault = archive_fault(again)
            if fault is not None:
                raise fault from again
            log_incident(self.archive, now, f"{link.url} (recording the error)", again)
        self._count(link, judgement, None)

    def _count(self, link: LinkState, judgement: Judgement, status: int | None) -> None:
        self.done += 1
        self.summary.links_checked += 1
        self.summary.this_run[judgement.verdict] = self.summary.this_run.get(judgement.verdict, 0) + 1
        self.on_checked(Checked(link.url, judgement.verdict, judgement.reason, status, self.done, self.total))

    async def _probe(
        self, fetcher: Fetcher, scheduler: HostScheduler[Job], pool: WorkerPool, host: str, probe: Probe
    ) -> None:
        """Ask the host for a page that cannot exist: what its "not found" looks like (soft 404s)."""
        self.probes_started.add(probe.url)
        answer: ProbeAnswer | None = None
        result = Fetch(probe.url, probe.url)
        released = False
        try:
            result = await fetcher.fetch(probe.url)
            self._release(scheduler, host)
            released = True
            text = None
            if result.failure is None and result.decoded is not None and result.status is not None:
                with contextlib.suppress(WorkerFailed):  # no text: the probe simply says less
                    text = await pool.run(probe_text, result.decoded, result.content_type, result.final_url)
            answer = ProbeAnswer(result.status if result.failure is None else None, result.final_url, text)
        except Exception as exc:
            self._stop_on_archive_fault(exc, scheduler, host, released)
            log_incident(self.archive, self.clock(), f"{probe.url} (soft-404 probe)", exc)  # judged without it
        finally:
            result.discard()
            future = self.probes[probe.url]
            if not future.done():
                future.set_result(answer)

    def _probe_for(self, scheduler: HostScheduler[Job], host: str, url: str) -> asyncio.Future[ProbeAnswer | None]:
        """The probe of this link's site and shape, asked once per run."""
        probe_url = probe_path(url, self.probe_token)
        if probe_url not in self.probes:
            self.probes[probe_url] = asyncio.get_running_loop().create_future()
            scheduler.add(host, Probe(probe_url))
            self.work_added.set()
        return self.probes[probe_url]

    def _abandon_probes(self) -> None:
        """On stop, the probes not started never will be: their waiters judge without them."""
        for url, future in self.probes.items():
            if url not in self.probes_started and not future.done():
                future.set_result(None)

    def _defer_to_next_run(self, scheduler: HostScheduler[Job], host: str) -> None:
        """The host asked for a longer pause than a run waits: its links not yet started wait for the next run."""
        for job in scheduler.drop_host(host):
            if isinstance(job, Probe):
                future = self.probes.get(job.url)
                if future is not None and not future.done():
                    future.set_result(None)
                self.probes_started.add(job.url)  # never to start: not a link left over
            else:
                self.deferred += 1

    async def _finish(
        self,
        scheduler: HostScheduler[Job],
        pool: WorkerPool,
        storage: StorageThread,
        host: str,
        link: LinkState,
        fetch: Fetch,
        now: datetime,
    ) -> None:
        """Analyse the answer, probe the site when the page looks suspect, judge, store: the decisions are decide's."""
        revisit = choose_revisit(link, fetch, now)
        analysis = await self._analyse(pool, link, fetch, revisit)
        redirect = redirect_of(link, fetch)
        soft = None
        if analysis is not None and redirect is None and looks_suspect(analysis, fetch, self.settings.change_threshold):
            self.waiting_for_probe += 1
            try:
                answer = await self._probe_for(scheduler, host, link.url)
            finally:
                self.waiting_for_probe -= 1
            soft = soft_404(answer, analysis, fetch, link)
        judgement = decide(link, outcome_of(link, fetch, analysis, redirect, soft, now), analysis, self.rules)
        rows = self._rows(link, fetch, judgement, analysis, revisit)
        stored = to_store(link, fetch, revisit, now, self.settings.revisit_interval)
        await self._store(storage, Write(fetch if stored else None, revisit, rows))
        self._count(link, judgement, fetch.status)

    async def _analyse(
        self, pool: WorkerPool, link: LinkState, fetch: Fetch, revisit: Revisit | None
    ) -> Analysis | None:
        """What a worker makes of the body: text, signs, comparison (a known text is not extracted again)."""
        if answered(fetch) and fetch.decoded is not None and fetch.decoded_size <= self.settings.max_decoded:
            known = link.last_text_digest if revisit is not None else None
            try:
                return await pool.run(
                    analyse,
                    str(self.archive),
                    fetch.decoded,
                    fetch.content_type,
                    fetch.final_url,
                    link.first_text_digest,
                    known,
                    200 <= (fetch.status or 0) < 300,
                )
            except WorkerFailed as exc:
                # The page broke its worker (or hung it): keep the capture, without its text.
                return Analysis(Extracted("unknown", None, extractor="failed", error=str(exc)), None, None, None, None)
        if revisit is not None and fetch.status == 304:
            comparison = known_comparison(link)
            if comparison is None:
                try:
                    comparison = await pool.run(
                        compare_stored, str(self.archive), link.first_text_digest, link.last_text_digest
                    )
                except WorkerFailed:
                    comparison = None
            return Analysis(None, link.last_text_digest, comparison, None, None)
        return None

    def _rows(
        self, link: LinkState, fetch: Fetch, judgement: Judgement, analysis: Analysis | None, revisit: Revisit | None
    ) -> Callable[[Stored | None], tuple[CheckRow, CaptureRow | None]]:
        """The catalog rows of a check, made on the storage thread once its records have a place."""
        comparison = analysis.comparison if analysis else None

        def rows(stored: Stored | None) -> tuple[CheckRow, CaptureRow | None]:
            capture = None
            if stored is not None:
                revisit_of = link.last_capture_id if revisit else None
                capture = capture_row(fetch, stored, analysis, revisit=revisit, revisit_of=revisit_of)
            return check_row(link, fetch, judgement, comparison, self.run_id), capture

        return rows


# The event loop shares the GIL with the storage thread: an answer that arrives while the storage
# thread runs Python waits for the hand-over, 5 ms by default. 1 ms keeps fetches moving (at 20,000
# links, a run bound by 32 connections: 59.6 -> 56.1 s, CPU no higher).
GIL_SWITCH_INTERVAL = 0.001


@contextlib.contextmanager
def _quick_gil_handover() -> Iterator[None]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, GIL_SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(before)


# Open files beside the fetcher's sockets: WARC and catalog files, spooled bodies, the workers' pipes.
OTHER_DESCRIPTORS = 256


@contextlib.contextmanager
def _room_for_open_files(needed: int) -> Iterator[None]:
    """The process's soft limit on open files raised toward `needed` for the night (never past the hard
    limit), then put back. Most systems start processes at 1,024: a night over a few hundred sites kept
    alive would run out, and "Too many open files" would read as the sites' failure."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    raised = soft != resource.RLIM_INFINITY and soft < wanted
    if raised:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    try:
        yield
    finally:
        if raised:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


@contextlib.contextmanager
def _workers(settings: Settings) -> Iterator[WorkerPool]:
    """The extraction workers (the first page that needs one starts them all, in the background)."""
    pool = WorkerPool(settings.workers(), settings.extract_timeout, settings.worker_memory)
    try:
        yield pool
    finally:
        pool.shutdown()


def run(
    archive: Path,
    paths: Iterable[Path],
    settings: Settings,
    *,
    on_checked: Callable[[Checked], None] = lambda checked: None,
    on_stopping: Callable[[int], None] = lambda in_flight: None,
    clock: Clock = utc_now,
    resolver: Resolver | None = None,
    only_links: set[str] | None = None,
    replace: bool = False,
) -> RunSummary:
    """The nightly job: add the reports, check every tracked link, update verdicts. Safe to rerun or kill.

    only_links: check just these URLs (`check --live`), not every tracked link.
    replace: a report file may replace an archived report of the same name (never silently).
    """
    trust = ssl_context()  # a CA file that is not there stops the run before it starts, not half-way
    archive.mkdir(parents=True, exist_ok=True)
    # The storage thread owns the catalog's connection while links are checked; the main thread before and after.
    with ArchiveLock(archive), Catalog.open(archive, shared=True) as catalog, _workers(settings) as pool:
        started = clock()
        run_id = catalog.start_run(started, os.getpid(), "nightly" if only_links is None else "live")
        summary = RunSummary(run=run_id, started_at=started)
        summary.repaired_warc_files = WarcStore.repair(archive, catalog.warc_committed())
        tmp = archive / TMP_DIR
        shutil.rmtree(tmp, ignore_errors=True)  # bodies of a killed run: never committed
        tmp.mkdir(parents=True, exist_ok=True)
        prepare_text_store(archive)  # before any worker makes text/ab/ folders
        paths = list(paths)
        if paths:
            pool.warm()  # reports to read: new links likely, so the workers boot while the reports are read
        recheck = 0.0 if only_links is not None else settings.recheck_interval
        # The links already tracked start at once; the reports are read and saved while they are
        # checked, and each report's new links join the night as soon as it is saved.
        links = catalog.links_to_check(started, recheck, only_links)
        summary.links_to_check = len(links)
        job = _Run(archive, settings, catalog, run_id, clock, on_checked, resolver, summary)
        job.on_stopping = on_stopping
        job.trust = trust
        job.only_links = only_links
        job.reports = paths
        job.intake = ReportIntake(catalog, started, summary, replace)
        job.recheck = recheck
        status = "completed"
        job.reader = Catalog.open(archive, readonly=True)
        try:
            with _quick_gil_handover(), _room_for_open_files(descriptors_needed(settings) + OTHER_DESCRIPTORS):
                asyncio.run(job.night(links, pool))
        except KeyboardInterrupt:
            status = "interrupted"
        except ArchiveError:
            job.reader.close()
            # Disk full, permissions, a broken catalog: what was committed stays; the next run carries on.
            summary.finished_at = clock()
            summary.status = "failed"
            with contextlib.suppress(Exception):
                catalog.finish_run(run_id, summary.finished_at, "failed", summary.as_dict())
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        job.reader.close()
        if job.stop and status == "completed":
            status = "stopped" if summary.links_left else "completed"
        summary.finished_at = clock()
        summary.status = status
        summary.verdicts = {v.value: 0 for v in Verdict} | catalog.counts()
        catalog.finish_run(run_id, summary.finished_at, status, summary.as_dict())
        shutil.rmtree(tmp, ignore_errors=True)
    return summary
