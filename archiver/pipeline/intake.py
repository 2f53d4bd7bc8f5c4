"""Reports read during the night: each in a worker process (a time and memory limit, so a hostile
file costs that report, not the night), saved on the storage thread with its footnotes, and the
links it makes due sent to the front of their sites' queues (the night's first duty)."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from archiver.errors import archive_fault
from archiver.judging.workers import TOO_LARGE, WorkerFailed, WorkerPool
from archiver.pipeline import webreports
from archiver.pipeline.summary import Admission, RunSummary
from archiver.reading.footnotes import footnotes
from archiver.reading.refang import canonical, host_of
from archiver.reading.reports import Report, Unreadable, read_or_say_why, report_files
from archiver.reading.webpages import is_url
from archiver.storage.catalog import Catalog
from archiver.storage.incidents import log_incident, log_trace, one_line
from archiver.storage.reportcopies import keep_copy

if TYPE_CHECKING:
    from archiver.pipeline.engine import Engine


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
        if report.digest and report.source and not is_url(report.source):
            keep_copy(self.catalog.path.parent, Path(report.source), report.digest)  # as written, for export
        if admission is not Admission.UNCHANGED:
            summary.new_links += self.catalog.save_report(report, footnotes(report), canonical, host_of, self.now)
        summary.reports[admission].append(report.stem)
        return report.stem if admission is not Admission.UNCHANGED else None


async def read_reports(
    engine: Engine,
    intake: ReportIntake,
    reports: list[Path],
    planned: set[int],
    pages: Sequence[str] = (),
) -> None:
    """Read and save each report (files, then pages from the web, then every registered feed's new
    entries), one at a time; its due links not already planned join the night."""
    night = engine.night
    loop = asyncio.get_running_loop()

    def save(item: Report | Unreadable) -> list[tuple[int, str]]:
        stem = intake.add(item)
        if stem is None:
            return []
        return night.catalog.links_to_check(intake.now, night.recheck, night.only_links, report=stem)

    engine.slots.reading = True
    reads = _ReadAhead(report_files(reports), night.pool, loop)
    try:
        while (item := await reads.next()) is not None:
            due = await loop.run_in_executor(night.storage, save, item)
            fresh = [(link_id, host) for link_id, host in due if link_id not in planned]
            planned.update(link_id for link_id, _ in fresh)
            engine.add(fresh)
        for url in pages:
            await webreports.read_report_page(engine, intake, url, planned)
        if engine.claims is None:  # the shared setup: the worker that holds a feed's host polls it
            await webreports.poll_feeds(engine, intake, planned)
    finally:
        reads.cancel()
        engine.slots.reading = False
        engine.slots.wake()


# Reports being read at once: each waits for a free worker, which a batch of pages holds a while, so one
# at a time a night's hundred reports trickled in over the whole night (docs/benchmarks.md, the heavy
# pages' round). They are still saved one by one, in order.
READ_AHEAD = 16


class _ReadAhead:
    """The reports, read in the workers up to READ_AHEAD ahead of the one being saved."""

    def __init__(self, found: Iterator[Path | Unreadable], pool: WorkerPool, loop: asyncio.AbstractEventLoop) -> None:
        self._found = found
        self._pool = pool
        self._loop = loop
        self._reading: deque[asyncio.Future[Report | Unreadable]] = deque()

    async def next(self) -> Report | Unreadable | None:
        """The next report in order (read, or why not), or None after the last."""
        while len(self._reading) < READ_AHEAD and (found := next(self._found, None)) is not None:
            if isinstance(found, Unreadable):
                done: asyncio.Future[Report | Unreadable] = self._loop.create_future()
                done.set_result(found)
                self._reading.append(done)
            else:
                self._reading.append(asyncio.ensure_future(_read_one(found, self._pool, self._loop)))
        return await self._reading.popleft() if self._reading else None

    def cancel(self) -> None:
        """Stop reading what will not be saved (the run is stopping)."""
        for reading in self._reading:
            reading.cancel()
        self._reading.clear()


async def _read_one(path: Path, pool: WorkerPool, loop: asyncio.AbstractEventLoop) -> Report | Unreadable:
    reading = asyncio.ensure_future(pool.run(read_or_say_why, path))
    pool.hurry(loop)  # a report waits for no batch: its links are the night's first duty
    try:
        return await reading
    except WorkerFailed as exc:
        reason = str(exc).replace(TOO_LARGE, "too slow or too large to read")
        return Unreadable(str(path), f"{path}: {reason}")
