"""One link's check: capture -> retry plan -> analyse -> probe -> judge -> store.

The decisions are judging's (decide.py): this module only sequences them, asks the capturer for the
page and the workers for its text, and hands the rows to the storage thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from archiver.errors import archive_fault
from archiver.fetching.politeness import plan_retry
from archiver.judging.analysis import Analysis, analyse, compare_stored
from archiver.judging.decide import (
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
from archiver.judging.verdict import Judgement
from archiver.judging.workers import WorkerFailed
from archiver.outcomes import CapturedWith, CaptureRow, CheckRow, Fetch, LinkState
from archiver.pipeline import behindwalls
from archiver.storage.incidents import log_incident, one_line
from archiver.storage.storagethread import Write
from archiver.storage.warcstore import Revisit, Stored

if TYPE_CHECKING:
    from archiver.pipeline.engine import Engine


async def check_link(engine: Engine, host: str, link: LinkState, attempt: int) -> None:
    """One link's attempt; any error of its own becomes its recorded failure, an archive fault stops the run."""
    night = engine.night
    loop = asyncio.get_running_loop()
    fetch = Fetch(link.url, link.url)
    released = False
    try:
        conditional = (
            link.last_capture_id is not None and link.verdict in ("ok", "changed") and link.last_captured_with == "http"
        )
        # One budget for all of a link's attempts in this run: a server dripping bytes costs at most that.
        deadline = engine.deadlines.setdefault(link.id, loop.time() + night.settings.link_budget)
        fetch = await night.capturer.capture(
            link.url,
            etag=link.etag if conditional else None,
            last_modified=link.last_modified if conditional else None,
            timeout=deadline - loop.time(),
        )
        night.summary.attempts += 1
        now = night.clock()
        wait = _plan(engine, host, fetch, attempt, now)
        engine.release(host)
        released = True
        if wait is not None and loop.time() + wait + 1.0 < deadline and not engine.stop:
            engine.scheduler.add(host, (link.id, attempt + 1), not_before=loop.time() + wait)
            row = check_row(link, fetch, retrying(fetch, now, attempt), None, night.run_id, retried=True)
            await engine.slots.store(night.storage, Write(None, None, lambda _: (row, None)))
            return
        await _finish(engine, host, link, fetch, now)
    except Exception as exc:
        engine.stop_on_archive_fault(exc, host, released)
        await _internal_error(engine, link, fetch, exc)
    finally:
        fetch.discard()


def _plan(engine: Engine, host: str, fetch: Fetch, attempt: int, now: datetime) -> float | None:
    """What the answer means for the site (rest, or wait for the next run) and for this link: the seconds
    to wait before trying it again, or None."""
    settings = engine.night.settings
    plan = plan_retry(
        fetch.failure,
        fetch.status if fetch.failure is None else None,
        fetch.response.header("retry-after") if fetch.response else None,
        attempt,
        now,
        retries=settings.retries,
        base=settings.backoff,
        cap=settings.max_backoff,
        rng=engine.rng,
    )
    if plan.host_rest is not None:
        engine.scheduler.defer_host(host, asyncio.get_running_loop().time() + plan.host_rest)
    if plan.host_next_run:
        engine.defer_to_next_run(host)
    return plan.wait


async def _finish(engine: Engine, host: str, link: LinkState, fetch: Fetch, now: datetime) -> None:
    """Analyse the answer, probe the site when the page looks suspect, judge, store."""
    night = engine.night
    revisit = choose_revisit(link, fetch, now)
    analysis = await _analyse(engine, link, fetch, revisit)
    wall = soft = None
    unread = False
    if analysis is not None and analysis.wall is not None:
        # A shell or a wall, not the page: read it another way, or say what stands in front of it.
        reading = await behindwalls.read_behind(engine, link, fetch, analysis.wall)
        fetch, analysis, wall, soft = reading.fetch, reading.analysis, reading.wall, reading.gone
        unread = analysis is None
        revisit = None if fetch.captured_with != CapturedWith.HTTP else revisit  # a new capture, not a revisit
        now = night.clock()
    redirect = redirect_of(link, fetch, analysis)
    if analysis is not None and redirect is None and looks_suspect(analysis, fetch, night.settings.change_threshold):
        with engine.slots.waiting_for_its_probe():
            answer = await engine.probe_for(host, link.url)
        soft = soft_404(answer, analysis, fetch, link)
    judgement = decide(link, outcome_of(link, fetch, analysis, redirect, soft, now, wall), analysis, night.rules)
    rows = _rows(engine, link, fetch, judgement, analysis, revisit)
    # What a wall showed is not stored: it would become the page the footnote cited.
    stored = not unread and to_store(link, fetch, revisit, now, night.settings.revisit_interval)
    stems = None
    if stored and analysis is not None and analysis.text_digest is not None and analysis.stems is not None:
        stems = (analysis.text_digest, analysis.stems)  # a new text: indexed as its batch commits
    await engine.slots.store(night.storage, Write(fetch if stored else None, revisit, rows, stems))
    engine.count(link, judgement, fetch.status)


async def _analyse(engine: Engine, link: LinkState, fetch: Fetch, revisit: Revisit | None) -> Analysis | None:
    """What a worker makes of the body: text, signs, comparison (a known text is not extracted again)."""
    night = engine.night
    archive = str(night.archive)
    if answered(fetch) and fetch.decoded is not None and fetch.decoded_size <= night.settings.max_decoded:
        known = link.last_text_digest if revisit is not None else None
        ok = 200 <= (fetch.status or 0) < 300
        try:
            return await night.pool.run(
                analyse,
                archive,
                fetch.decoded,
                fetch.content_type,
                fetch.final_url,
                link.first_text_digest,
                known,
                ok,
                link.url,
            )
        except WorkerFailed as exc:
            # The page broke its worker (or hung it): keep the capture, without its text.
            return Analysis(Extracted("unknown", None, extractor="failed", error=str(exc)), None, None, None, None)
    if revisit is not None and fetch.status == 304:
        comparison = known_comparison(link)
        if comparison is None:
            try:
                comparison = await night.pool.run(
                    compare_stored, archive, link.first_text_digest, link.last_text_digest
                )
            except WorkerFailed:
                comparison = None
        return Analysis(None, link.last_text_digest, comparison, None, None)
    return None


def _rows(
    engine: Engine,
    link: LinkState,
    fetch: Fetch,
    judgement: Judgement,
    analysis: Analysis | None,
    revisit: Revisit | None,
) -> Callable[[Stored | None], tuple[CheckRow, CaptureRow | None]]:
    """The catalog rows of a check, made on the storage thread once its records have a place."""
    comparison = analysis.comparison if analysis else None
    run_id = engine.night.run_id

    def rows(stored: Stored | None) -> tuple[CheckRow, CaptureRow | None]:
        capture = None
        if stored is not None:
            revisit_of = link.last_capture_id if revisit else None
            capture = capture_row(fetch, stored, analysis, revisit=revisit, revisit_of=revisit_of)
        replaces = capture is not None and analysis is not None and analysis.replaces_first
        return check_row(link, fetch, judgement, comparison, run_id, replaces_first=replaces), capture

    return rows


async def _internal_error(engine: Engine, link: LinkState, fetch: Fetch, exc: Exception) -> None:
    """Record a link's own error as its failure (history kept), the traceback in the archive's log."""
    night = engine.night
    now = night.clock()
    log_incident(night.archive, now, link.url, exc)
    reason = f"internal error: {one_line(exc)}"
    judgement = internal_error(link, reason, now)
    attempt = Fetch(link.url, fetch.final_url, started_at=fetch.started_at, elapsed=fetch.elapsed, detail=reason)
    row = check_row(link, attempt, judgement, None, night.run_id)
    try:
        await night.storage.write_soon(Write(None, None, lambda _: (row, None)))
    except Exception as again:
        fault = archive_fault(again)
        if fault is not None:
            raise fault from again
        log_incident(night.archive, now, f"{link.url} (recording the error)", again)
    engine.count(link, judgement, None)
