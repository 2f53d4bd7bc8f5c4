"""The `run` job: add reports, then take each tracked link through fetch, store, extract, compare, judge."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from archiver.config import Settings
from archiver.errors import ArchiveError, archive_fault
from archiver.fetching.fetch import Fetcher, Resolver
from archiver.fetching.politeness import HostScheduler, plan_retry
from archiver.judging.analysis import Analysis, analyse, compare_stored, probe_text
from archiver.judging.compare import Comparison, similarity
from archiver.judging.extract import Extracted
from archiver.judging.rows import capture_row
from archiver.judging.signs import classify_redirect, is_telegram_post, probe_path
from archiver.judging.verdict import History, Judgement, Outcome, Verdict, judge
from archiver.judging.workers import WorkerFailed, WorkerPool
from archiver.outcomes import Checked, Failure, Fetch
from archiver.reading.footnotes import footnotes
from archiver.reading.refang import canonical, host_of
from archiver.reading.reports import Report, Unreadable, load_reports
from archiver.storage.catalog import CaptureRow, Catalog, CheckRow, LinkState, iso
from archiver.storage.incidents import log_incident, one_line
from archiver.storage.lock import ArchiveLock
from archiver.storage.reportcopies import keep_copy
from archiver.storage.storagethread import StorageThread, Write
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


def add_reports(
    catalog: Catalog, paths: Iterable[Path], now: datetime, summary: RunSummary, *, replace: bool = False
) -> None:
    """Read the reports and save them with their footnotes; one bad file never stops the others."""
    seen: dict[str, str] = {}
    for item in load_reports(list(paths)):
        if isinstance(item, Unreadable):
            summary.reports_failed.append({"path": item.path, "error": item.reason})
            continue
        report: Report = item
        if report.stem in seen:
            # A report is named by its file's stem: two files of one name in one run would overwrite each other.
            reason = f"{report.path}: a report named {report.stem!r} was already given ({seen[report.stem]}); skipped"
            summary.reports_failed.append({"path": report.path, "error": reason})
            continue
        seen[report.stem] = report.path
        existing = catalog.report_identity(report.stem)
        admission = admit(existing, report.source, report.digest, replace)
        if admission is Admission.REFUSED:
            assert existing is not None
            reason = (
                f"{report.path}: a different report named {report.stem!r} is already archived (from {existing[0]}); "
                "rename this file to archive both, or run with --replace to replace the archived one"
            )
            summary.reports_failed.append({"path": report.path, "error": reason})
            continue
        summary.reports[admission].append(report.stem)
        if report.digest and report.source:
            keep_copy(catalog.path.parent, Path(report.source), report.digest)  # the report as written, for export
        if admission is not Admission.UNCHANGED:
            summary.new_links += catalog.save_report(report, footnotes(report), canonical, host_of, now)


@dataclass(frozen=True, slots=True)
class Probe:
    """A request for a path that cannot exist on a site."""

    url: str


@dataclass(frozen=True, slots=True)
class ProbeAnswer:
    """How a site answered a path that cannot exist."""

    status: int | None
    final_url: str
    text: str | None


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
        self.summary = summary
        self.rng = random.Random()
        self.stop = False
        self.tmp = archive / TMP_DIR
        self.store = WarcStore(archive, settings.warc_max_size, f"archiver-{clock():%Y%m%d%H%M%S}-{os.getpid()}")
        self.done = 0
        self.total = 0
        # Soft-404 probes: one per site and link shape per run, asked only when a page looks suspect.
        self.probe_token = f"{self.rng.getrandbits(64):016x}"
        self.probes: dict[str, asyncio.Future[ProbeAnswer | None]] = {}
        self.probes_started: set[str] = set()
        self.waiting_for_probe = 0
        self.only_links: set[str] | None = None
        self.work_added = asyncio.Event()
        self.tasks: set[asyncio.Task[None]] = set()  # links (and probes) in flight
        self.on_stopping: Callable[[int], None] = lambda in_flight: None
        self.reader: Catalog | None = None  # a second, read-only connection: link states as links start
        self.deadlines: dict[int, float] = {}  # link id -> end of its time budget (event loop time)
        self.deferred = 0  # links of hosts that asked to be left alone until the next run

    async def check_all(self, links: list[tuple[int, str]]) -> None:
        """Check every link, as politeness allows; stop starting new ones at the deadline or a signal."""
        loop = asyncio.get_running_loop()
        self.total = len(links)
        scheduler: HostScheduler[Job] = HostScheduler(
            self.settings.per_host, self.settings.delay, self.settings.concurrency
        )
        for link_id, link_host in links:
            scheduler.add(link_host, (link_id, 0))
        workers = self.settings.extract_workers or os.cpu_count() or 2
        deadline = loop.time() + self.settings.max_duration if self.settings.max_duration else None
        # Fetches in flight plus bodies waiting for extraction: bounded, so memory is too.
        live_cap = self.settings.concurrency + 2 * workers
        self._install_signal_handlers(loop)
        storage = StorageThread(self.archive, self.store, self.catalog, self.clock)
        pool = WorkerPool(workers, self.settings.extract_timeout, self.settings.worker_memory)
        try:
            name, size = await loop.run_in_executor(storage, self.store.start)
            await loop.run_in_executor(storage, self.catalog.register_warc_file, name, size, self.clock())
            tasks = self.tasks
            try:
                async with Fetcher(self.settings, self.tmp, resolver=self.resolver, clock=self.clock) as fetcher:
                    while True:
                        if deadline is not None and loop.time() >= deadline:
                            self.stop = True
                        # A link waiting for its site's probe must not keep that probe from starting.
                        room = live_cap - (len(tasks) - self.waiting_for_probe)
                        if not self.stop and room > 0:
                            for host, job in scheduler.take(loop.time(), room):
                                if isinstance(job, Probe):
                                    work = self._probe(fetcher, scheduler, pool, str(host), job)
                                else:
                                    work = self._check(fetcher, scheduler, pool, storage, str(host), *job)
                                tasks.add(asyncio.create_task(work))
                        if self.stop:
                            self._abandon_probes()
                        if not tasks and (self.stop or scheduler.pending == 0):
                            break
                        # Full: only a finished task makes room, so do not wake for start times.
                        full = live_cap - (len(tasks) - self.waiting_for_probe) <= 0
                        wake = None if full else scheduler.next_wake()
                        timeout = None if wake is None else max(0.0, wake - loop.time())
                        if deadline is not None and not self.stop:
                            timeout = min(timeout if timeout is not None else 1e9, max(0.0, deadline - loop.time()))
                        if tasks:
                            # Wake on a finished task, on the next start time, or on new work added by a
                            # task that keeps running (a link that queued its site's probe and waits for it).
                            waker = asyncio.ensure_future(self.work_added.wait())
                            done, _ = await asyncio.wait(
                                {*tasks, waker}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                            )
                            waker.cancel()
                            self.work_added.clear()
                            done.discard(waker)
                            tasks -= done
                            # Only an archive fault gets out of a link's task: the first stops the run (the
                            # others of its batch say the same, and are read so that none is left unretrieved).
                            failures = [task.exception() for task in done if not task.cancelled()]
                            first = next((failure for failure in failures if failure is not None), None)
                            if first is not None:
                                raise first
                        else:
                            await asyncio.sleep(min(timeout if timeout is not None else 0.5, 0.5))
                    finder = CopyFinder(
                        self.settings,
                        fetcher,
                        pool,
                        storage,
                        self.store,
                        self.catalog,
                        self.archive,
                        self.clock,
                        lambda: self.stop or (deadline is not None and loop.time() >= deadline),
                        only_urls=self.only_links,
                    )
                    self.summary.web_archive = await finder.run()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                with contextlib.suppress(OSError):  # every record was fsynced when written
                    await loop.run_in_executor(storage, self.store.close)
                storage.shutdown(wait=True)
        finally:
            pool.shutdown()
        left = scheduler.pending - sum(1 for url in self.probes if url not in self.probes_started)
        self.summary.links_left = left + self.deferred

    def _install_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        def stop() -> None:
            if self.stop:
                raise KeyboardInterrupt
            self.stop = True
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
            scheduler.done(host)
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
            scheduler.done(host)
            released = True
            wait = plan.wait
            if wait is not None and loop.time() + wait + 1.0 < deadline and not self.stop:
                scheduler.add(host, (link.id, attempt + 1), not_before=loop.time() + wait)
                row = self._check_row(link, fetch, self._attempt_judgement(fetch, now, attempt), None, retried=True)
                await asyncio.wrap_future(storage.write(Write(None, None, lambda _: (row, None))))
                return
            await self._finish(scheduler, pool, storage, host, link, fetch, now)
        except Exception as exc:
            fault = archive_fault(exc)
            if fault is not None:
                raise fault from exc
            if not released:
                scheduler.done(host)
            await self._internal_error(storage, link, fetch, exc)
        finally:
            fetch.discard()

    async def _internal_error(self, storage: StorageThread, link: LinkState, fetch: Fetch, exc: Exception) -> None:
        """Record a link's own error as its failure (history kept), the traceback in the archive's log."""
        now = self.clock()
        log_incident(self.archive, now, link.url, exc)
        reason = f"internal error: {one_line(exc)}"
        since = link.verdict_since if link.verdict == Verdict.FAILING and link.verdict_since else now
        # Our bug is not the site's failure: it neither counts toward "dead" nor resets the count.
        judgement = Judgement(Verdict.FAILING, reason, link.failures_in_row, link.failing_since, since)
        attempt = Fetch(link.url, fetch.final_url, started_at=fetch.started_at, elapsed=fetch.elapsed, detail=reason)
        row = self._check_row(link, attempt, judgement, None)
        try:
            await asyncio.wrap_future(storage.write(Write(None, None, lambda _: (row, None))))
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
            scheduler.done(host)
            released = True
            text = None
            if result.failure is None and result.decoded is not None and result.status is not None:
                with contextlib.suppress(WorkerFailed):  # no text: the probe simply says less
                    text = await pool.run(probe_text, result.decoded, result.content_type, result.final_url)
            answer = ProbeAnswer(result.status if result.failure is None else None, result.final_url, text)
        except Exception as exc:
            fault = archive_fault(exc)
            if fault is not None:
                raise fault from exc
            if not released:
                scheduler.done(host)
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

    def _attempt_judgement(self, fetch: Fetch, now: datetime, attempt: int) -> Judgement:
        what = fetch.failure or f"{fetch.status}"
        return Judgement(Verdict.FAILING, f"{what}, attempt {attempt + 1}, retrying", 0, None, now)

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
        complete = fetch.response is not None and fetch.failure is None
        status = fetch.status or 0
        revisit: Revisit | None = None
        analysis: Analysis | None = None
        if complete and status == 304 and link.last_capture_id is not None:
            revisit = Revisit(
                link.last_capture_url or link.url, link.last_capture_at or now, link.last_payload_digest or "sha1:"
            )
        elif complete and fetch.payload_digest and fetch.payload_digest == link.last_payload_digest:
            revisit = Revisit(link.last_capture_url or link.url, link.last_capture_at or now, fetch.payload_digest)
        if complete and fetch.decoded is not None and fetch.decoded_size <= self.settings.max_decoded:
            # A body already stored is not extracted again: its text is known; its signs are cheap.
            known = link.last_text_digest if revisit is not None else None
            try:
                analysis = await pool.run(
                    analyse,
                    str(self.archive),
                    fetch.decoded,
                    fetch.content_type,
                    fetch.final_url,
                    link.first_text_digest,
                    known,
                    200 <= status < 300,
                )
            except WorkerFailed as exc:
                # The page broke its worker (or hung it): keep the capture, without its text.
                analysis = Analysis(
                    Extracted("unknown", None, extractor="failed", error=str(exc)), None, None, None, None
                )
        elif revisit is not None and status == 304:
            if link.first_text_digest and link.first_text_digest == link.last_text_digest:
                comparison: Comparison | None = Comparison(1.0, "")  # the text first archived: nothing to compare
            else:
                try:
                    comparison = await pool.run(
                        compare_stored, str(self.archive), link.first_text_digest, link.last_text_digest
                    )
                except WorkerFailed:
                    comparison = None
            analysis = Analysis(None, link.last_text_digest, comparison, None, None)
        redirect = classify_redirect(link.url, fetch.final_url) if complete and fetch.hops and status < 300 else None
        soft_404 = None
        if (
            complete
            and 200 <= status < 300
            and analysis is not None
            and redirect is None
            and self._suspect(analysis, fetch)
        ):
            self.waiting_for_probe += 1
            try:
                answer = await self._probe_for(scheduler, host, link.url)
            finally:
                self.waiting_for_probe -= 1
            soft_404 = self._soft_404(answer, analysis, fetch, link)
        comparison = analysis.comparison if analysis else None
        outcome = Outcome(
            checked_at=now,
            failure=fetch.failure,
            detail=fetch.detail,
            status=fetch.status,
            reason_phrase=fetch.response.reason if fetch.response else "",
            similarity=comparison.similarity if comparison else None,
            first_archived=link.first_archived,
            not_modified=status == 304,
            moved_to=fetch.final_url if fetch.hops else None,
            signs=analysis.signs if analysis else None,
            redirect=redirect,
            soft_404=soft_404,
            challenge_header=bool(fetch.response and (fetch.response.header("cf-mitigated") or "") == "challenge"),
        )
        history = History(
            link.failures_in_row, link.failing_since, Verdict(link.verdict), link.verdict_since, link.reason
        )
        judgement = judge(
            outcome,
            history,
            change_threshold=self.settings.change_threshold,
            dead_after_failures=self.settings.dead_after_failures,
            dead_after=timedelta(hours=self.settings.dead_after_hours),
        )
        extracted = analysis.extracted if analysis else None
        if extracted is not None and extracted.error and extracted.text is None:
            # Reachable, captured, but no text made of it ("too large to extract", a broken PDF): say so.
            judgement = replace(judgement, reason=f"{judgement.reason}; no text: {extracted.error}")
        if status == 304 and link.last_capture_id is None:
            complete = False  # a 304 to a request we did not make conditional stores nothing
        # A body whose declared encoding does not decode is no capture of the page, but evidence: stored.
        evidence = fetch.failure == Failure.BAD_ENCODING and fetch.response is not None
        stored = (complete or evidence) and fetch.response is not None
        await asyncio.wrap_future(
            storage.write(
                Write(fetch if stored else None, revisit, self._rows(link, fetch, judgement, analysis, revisit))
            )
        )
        self._count(link, judgement, fetch.status)

    def _suspect(self, analysis: Analysis, fetch: Fetch) -> bool:
        """Whether a 200 answer might be the site's "not found" in disguise: worth a probe."""
        signs = analysis.signs
        if signs is None or signs.not_found or signs.parked or signs.challenge or signs.telegram_missing:
            return False  # decided by the page itself, or not a page
        drifted = analysis.comparison is not None and analysis.comparison.similarity < self.settings.change_threshold
        # A deleted Telegram post shows its channel's page: compare with a post that cannot exist, even at first sight.
        first_sight_post = analysis.comparison is None and is_telegram_post(fetch.url)
        return drifted or bool(fetch.hops) or first_sight_post

    def _soft_404(self, answer: ProbeAnswer | None, analysis: Analysis, fetch: Fetch, link: LinkState) -> str | None:
        """Why the page is the site's answer to a path that does not exist, or None."""
        if answer is None or answer.status is None or not 200 <= answer.status < 300:
            return None
        if fetch.hops and answer.final_url == fetch.final_url and fetch.final_url != link.url:
            return f"soft 404: redirects where a nonexistent path does ({fetch.final_url})"
        if analysis.short_text is None or answer.text is None:
            return None
        page, probe = analysis.short_text, answer.text
        like_probe = min(similarity(page, probe), similarity(probe, page)) >= 0.85
        if like_probe and is_telegram_post(fetch.url):
            return "the Telegram post is gone (t.me shows the same page for a post that does not exist)"
        first_differed = analysis.comparison is not None and analysis.comparison.similarity < 0.5
        if like_probe and first_differed:
            return "soft 404: the page is what the site serves for a path that does not exist"
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
            return self._check_row(link, fetch, judgement, comparison), capture

        return rows

    def _check_row(
        self,
        link: LinkState,
        fetch: Fetch,
        judgement: Judgement,
        comparison: Comparison | None,
        *,
        retried: bool = False,
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
            retried=retried,
            keeps_state=not judgement.observed,
        )


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
    archive.mkdir(parents=True, exist_ok=True)
    # The storage thread owns the catalog's connection while links are checked; the main thread before and after.
    with ArchiveLock(archive), Catalog.open(archive, shared=True) as catalog:
        started = clock()
        run_id = catalog.start_run(started, os.getpid(), "nightly" if only_links is None else "live")
        summary = RunSummary(run=run_id, started_at=started)
        summary.repaired_warc_files = WarcStore.repair(archive, catalog.warc_committed())
        tmp = archive / TMP_DIR
        shutil.rmtree(tmp, ignore_errors=True)  # bodies of a killed run: never committed
        tmp.mkdir(parents=True, exist_ok=True)
        add_reports(catalog, paths, started, summary, replace=replace)
        links = catalog.links_to_check(
            started, 0.0 if only_links is not None else settings.recheck_interval, only_links
        )
        summary.links_to_check = len(links)
        job = _Run(archive, settings, catalog, run_id, clock, on_checked, resolver, summary)
        job.on_stopping = on_stopping
        job.only_links = only_links
        status = "completed"
        job.reader = Catalog.open(archive, readonly=True)
        try:
            asyncio.run(job.check_all(links))
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
