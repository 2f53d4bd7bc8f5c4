"""The night's loop: start each link's check and each probe as politeness and back-pressure allow,
stop starting at the deadline or a signal, and end when nothing is left in flight."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from archiver.errors import archive_fault
from archiver.fetching.politeness import HostScheduler
from archiver.judging.decide import ProbeAnswer
from archiver.judging.verdict import Judgement
from archiver.outcomes import Checked, LinkState
from archiver.pipeline import behindwalls, linkcheck
from archiver.pipeline.night import Night
from archiver.pipeline.probes import Errand, Job, Probe, Probes, ask
from archiver.pipeline.sharing import Claims
from archiver.pipeline.slots import Slots
from archiver.storage.incidents import log_incident
from archiver.webarchives.copies import CopyFinder


class Engine:
    """One night's scheduling state over the night's services."""

    def __init__(self, night: Night, on_stopping: Callable[[int], None]) -> None:
        settings = night.settings
        self.night = night
        self.scheduler: HostScheduler[Job] = HostScheduler(settings.per_host, settings.delay, settings.concurrency)
        self.slots = Slots(settings.concurrency + night.pool.holds)
        self.rng = random.Random()
        self.probes = Probes(f"{self.rng.getrandbits(64):016x}")
        self.on_stopping = on_stopping
        self.stop = False
        self.deadline: float | None = None  # event loop time past which no new fetch starts
        self.deadlines: dict[int, float] = {}  # link id -> end of its time budget (event loop time)
        self.deferred = 0  # links of hosts that asked to be left alone until the next run
        self.done = 0
        self.total = 0
        self.errands: set[Errand] = set()  # the night's own requests waiting for (or holding) a site's turn
        self.errands_queued = 0  # of them, in the scheduler's queues
        self.claims: Claims | None = None  # the shared setup: the hosts this worker holds tonight
        # Script-built pages' browser (started when the first one needs it), or why there is none.
        self.browser, self.no_browser = behindwalls.make_browser(self)

    # ----- the loop -----------------------------------------------------------------------------------

    async def check_all(self, links: list[tuple[int, str]]) -> None:
        """Check every link (and those the reports being read add), as politeness allows."""
        loop = asyncio.get_running_loop()
        scheduler, slots, pool = self.scheduler, self.slots, self.night.pool
        self.total += len(links)
        for link_id, link_host in links:
            scheduler.add(link_host, (link_id, 0))
        while True:
            self.stop = self.stop or self.past_deadline()
            if not self.stop and slots.room() > 0:
                for host, job in scheduler.take(loop.time(), slots.room()):
                    slots.spawn(self._task(str(host), job))
            if self.stop:
                self.probes.abandon()
                self._abandon_errands()
            if not slots.tasks and (self.stop or scheduler.pending == 0):
                break
            full = slots.needs_backout(scheduler.pending)  # only a finished task makes room: no start times
            if slots.last_pages(scheduler.pending, pool.holds, self.stop):
                pool.hurry(loop)
            wake = None if full else scheduler.next_wake()
            await slots.wait(self._timeout(None if wake is None else max(0.0, wake - loop.time())))
        left = scheduler.pending - self.probes.not_started() - self.errands_queued  # links only
        self.night.summary.links_left = left + self.deferred

    def add(self, due: list[tuple[int, str]]) -> None:
        """Links a report read during the night made due: to the front of their site's queue (in the shared
        setup, those of hosts this worker holds; the others wait for whoever claims their host)."""
        if self.claims is not None:
            due = self.claims.joined(due)  # counted when the claimer schedules them
        self.night.summary.links_to_check += len(due)
        for link_id, host in reversed(due):
            self.scheduler.add(host, (link_id, 0), front=True)
        self.total += len(due)
        if due:
            self.slots.wake()

    def _timeout(self, timeout: float | None) -> float | None:
        if self.deadline is not None and not self.stop:
            remaining = max(0.0, self.deadline - asyncio.get_running_loop().time())
            return min(timeout if timeout is not None else 1e9, remaining)
        return timeout

    def past_deadline(self) -> bool:
        return self.deadline is not None and asyncio.get_running_loop().time() >= self.deadline

    def install_signal_handlers(self, loop: asyncio.AbstractEventLoop) -> None:
        """Ctrl-C or SIGTERM: start nothing new, finish what is in flight; a second one stops at once."""

        def stop() -> None:
            if self.stop:
                raise KeyboardInterrupt
            self.stop = True
            self.slots.wake()
            self.on_stopping(len(self.slots.tasks))

        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not the main thread
                loop.add_signal_handler(sig, stop)

    # ----- what a task tells the loop -----------------------------------------------------------------

    def release(self, host: str) -> None:
        """A fetch is over: its connection slot is free, and the loop hears of it at once (not when
        its link's task ends, after extraction and storage), so the next fetch starts now."""
        self.scheduler.done(host)
        if self.scheduler.pending:
            self.slots.wake()

    def stop_on_archive_fault(self, exc: Exception, host: str, released: bool) -> None:
        """An archive fault stops the run (ArchiveError); any other error is one job's: its host slot is freed."""
        fault = archive_fault(exc)
        if fault is not None:
            raise fault from exc
        if not released:
            self.release(host)

    def defer_to_next_run(self, host: str) -> None:
        """The host asked for a longer pause than a run waits: its links not yet started wait for the next run."""
        for job in self.scheduler.drop_host(host):
            if isinstance(job, Probe):
                self.probes.never(job.url)
            elif isinstance(job, Errand):
                self.errands_queued -= 1
                job.abandon()  # a report page or feed of this host: tried again next run
            else:
                self.deferred += 1
                if self.claims is not None:
                    self.claims.link_done(host)
        if self.claims is not None:
            self.claims.host_deferred(host)

    def probe_for(self, host: str, url: str) -> asyncio.Future[ProbeAnswer | None]:
        """The probe of this link's site and shape, asked once per run."""
        probe_url, answer, new = self.probes.wanted(url)
        if new:
            self.scheduler.add(host, Probe(probe_url))
            self.slots.wake()
        return answer

    def count(self, link: LinkState, judgement: Judgement, status: int | None) -> None:
        """One link done: the summary's counts and the caller's progress."""
        summary = self.night.summary
        self.done += 1
        summary.links_checked += 1
        summary.this_run[judgement.verdict] = summary.this_run.get(judgement.verdict, 0) + 1
        self.night.on_checked(Checked(link.url, judgement.verdict, judgement.reason, status, self.done, self.total))
        if self.claims is not None:
            self.claims.link_done(link.host)

    @contextlib.asynccontextmanager
    async def turn(self, host: str) -> AsyncIterator[None]:
        """Wait for a site's turn as its links do (per-host connections, delay, Retry-After), hold it while
        the body runs: how the night's own requests (report pages, feeds) stay polite."""
        loop = asyncio.get_running_loop()
        errand = Errand(loop.create_future(), loop.create_future())
        self.errands.add(errand)
        self.errands_queued += 1
        self.scheduler.add(host, errand, front=True)
        self.slots.wake()
        try:
            await errand.granted  # Abandoned when the night stops first
            yield
        finally:
            self.errands.discard(errand)
            if not errand.finished.done():
                errand.finished.set_result(None)

    def _abandon_errands(self) -> None:
        for errand in list(self.errands):
            errand.abandon()

    # ----- the tasks ----------------------------------------------------------------------------------

    def _task(self, host: str, job: Job) -> Coroutine[Any, Any, None]:
        if isinstance(job, Probe):
            return self._probe(host, job)
        if isinstance(job, Errand):
            self.errands_queued -= 1
            return self._errand(host, job)
        return self._check(host, *job)

    async def _errand(self, host: str, errand: Errand) -> None:
        """Give an errand its site's turn and free the site's slot when it is done."""
        if errand.granted.done():  # abandoned before its turn
            self.release(host)
            return
        errand.granted.set_result(None)
        try:
            await errand.finished
        finally:
            self.release(host)

    async def _check(self, host: str, link_id: int, attempt: int) -> None:
        """Load what the link's check needs to know (the plan holds only its id), then check it."""
        try:
            link = self.night.reader.link_state(link_id)
        except Exception as exc:
            self.release(host)
            fault = archive_fault(exc)
            raise (fault or exc) from exc
        await linkcheck.check_link(self, host, link, attempt)

    async def _probe(self, host: str, probe: Probe) -> None:
        """Ask the host for a page that cannot exist: what its "not found" looks like (soft 404s)."""
        self.probes.started.add(probe.url)
        answer: ProbeAnswer | None = None
        released = False

        def fetched() -> None:
            nonlocal released
            self.release(host)
            released = True

        try:
            answer = await ask(self.night, probe, fetched)
        except Exception as exc:
            self.stop_on_archive_fault(exc, host, released)
            log_incident(self.night.archive, self.night.clock(), f"{probe.url} (soft-404 probe)", exc)
        finally:
            self.probes.answer(probe.url, answer)

    async def web_archives(self) -> dict[str, int]:
        """Copies held by public web archives, for links dead or never captured (as the deadline allows)."""
        finder = CopyFinder(self.night, lambda: self.stop or self.past_deadline(), only_urls=self.night.only_links)
        return await finder.run()
