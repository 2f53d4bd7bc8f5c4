"""A phase of the run: find, fetch and store public web archives' copies of links we could not capture."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Protocol
from urllib.parse import urlencode, urlsplit

from archiver.config import Settings
from archiver.errors import archive_fault
from archiver.fetching.fetch import Fetcher
from archiver.fetching.politeness import plan_retry
from archiver.judging.analysis import Analysis, analyse
from archiver.judging.rows import capture_row
from archiver.judging.workers import WorkerFailed, WorkerPool
from archiver.outcomes import Failure, Fetch, is_transient
from archiver.storage.captures import store_fetch
from archiver.storage.catalog import Catalog
from archiver.storage.incidents import log_incident, one_line
from archiver.storage.textstore import make_durable
from archiver.storage.warcstore import Stored, WarcStore
from archiver.webarchives.webarchive import (
    Memento,
    cdx_queries,
    nearest,
    parse_cdx,
    parse_timemap,
    reference_moment,
    timemap_url,
)

MAX_CANDIDATES = 4  # captures tried per lookup before answering "none"
_UNREACHABLE = {Failure.DNS, Failure.DNS_TEMPORARY, Failure.CONNECT, Failure.TLS, Failure.PRIVATE}


class Services(Protocol):
    """What the lookups use of a night's services (the pipeline's Night; webarchives import no pipeline)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def fetcher(self) -> Fetcher: ...
    @property
    def pool(self) -> WorkerPool: ...
    @property
    def storage(self) -> Executor: ...
    @property
    def store(self) -> WarcStore: ...
    @property
    def catalog(self) -> Catalog: ...
    @property
    def archive(self) -> Path: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...


@dataclass(frozen=True, slots=True)
class FoundCopy:
    """What a lookup found: the memento, its raw answer (bodies on disk) and what the worker made of it."""

    archive: str
    memento: Memento
    fetch: Fetch
    analysis: Analysis


@dataclass(frozen=True, slots=True)
class Lookup:
    """A lookup's answer: found, none (no successful capture), or error (ask again on a later run)."""

    status: str
    found: FoundCopy | None = None
    detail: str = ""


class CopyFinder:
    """Looks up, politely and once per link and date, the web archive copy nearest a citing report's date."""

    def __init__(self, night: Services, stopped: Callable[[], bool], only_urls: set[str] | None = None) -> None:
        self.only_urls = only_urls
        self.settings = night.settings
        self.fetcher = night.fetcher
        self.pool = night.pool
        self.storage = night.storage
        self.store = night.store
        self.catalog = night.catalog
        self.archive = night.archive
        self.clock = night.clock
        self.stopped = stopped
        self.rng = random.Random()
        self.next_start: dict[str, float] = {}
        self.unreachable: dict[str, tuple[Failure, str]] = {}
        self.counts: Counter[str] = Counter()

    async def run(self) -> dict[str, int]:
        """Look up every link that needs a copy; with save_missing, ask Save Page Now for live ones."""
        loop = asyncio.get_running_loop()
        if self.settings.web_archive_lookups and (self.settings.wayback_url or self.settings.memento_timemaps):
            needs = await loop.run_in_executor(self.storage, self.catalog.memento_needs, self.clock())
            for link, url, reference in needs:
                if self.only_urls is not None and url not in self.only_urls:
                    continue
                if self.stopped():
                    self.counts["left_for_next_run"] += 1
                    continue
                try:
                    status = await self._look_up_and_store(link, url, reference)
                except Exception as exc:
                    fault = archive_fault(exc)
                    if fault is not None:
                        raise fault from exc
                    # One link's lookup that breaks is that link's: recorded, logged, asked again next run.
                    now = self.clock()
                    log_incident(self.archive, now, f"{url} (web archive lookup)", exc)
                    status = "error"
                    with contextlib.suppress(Exception):
                        detail = f"internal error: {one_line(exc)}"
                        record = partial(self.catalog.record_memento, link, reference, status, now, detail=detail)
                        await loop.run_in_executor(self.storage, record)
                self.counts[status] += 1
        if self.settings.save_missing and self.settings.wayback_url:
            await self.save_missing()
        return dict(self.counts)

    async def _look_up_and_store(self, link: int, url: str, reference: str) -> str:
        answer = await self.lookup(url, reference_moment(reference, self.clock()))
        try:
            await asyncio.get_running_loop().run_in_executor(self.storage, self._store, link, reference, answer)
        finally:
            if answer.found:
                answer.found.fetch.discard()
        return answer.status

    async def _get(self, url: str, delay: float, **kwargs: object) -> Fetch:
        """A request to a web archive: spaced by the archive's delay, retried when it says "not now"."""
        loop = asyncio.get_running_loop()
        host = urlsplit(url).netloc
        if host in self.unreachable:
            # One archive that cannot be reached is not asked again in this run: the lookups wait for the next.
            return Fetch(url, url, failure=self.unreachable[host][0], detail=self.unreachable[host][1])
        attempt = 0
        while True:
            wait = self.next_start.get(host, 0.0) - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            self.next_start[host] = loop.time() + delay
            fetch = await self.fetcher.fetch(url, **kwargs)  # type: ignore[arg-type]
            status = fetch.status if fetch.failure is None else None
            plan = plan_retry(
                fetch.failure,
                status,
                fetch.response.header("retry-after") if fetch.response else None,
                attempt,
                self.clock(),
                retries=self.settings.retries,
                base=self.settings.backoff,
                cap=self.settings.max_backoff,
                rng=self.rng,
            )
            if plan.host_next_run:
                # It asked for a longer pause than a run waits: no more questions to it in this run.
                self.unreachable[host] = (Failure.DEFERRED, f"{host} asked us to wait {plan.host_rest:.0f} s")
            if plan.wait is None:
                if fetch.failure in _UNREACHABLE:
                    self.unreachable[host] = (fetch.failure, f"{host} unreachable: {fetch.detail or fetch.failure}")
                return fetch
            self.next_start[host] = loop.time() + plan.wait
            fetch.discard()
            attempt += 1

    async def _candidates(self, url: str, moment: datetime) -> tuple[list[tuple[str, Memento]], list[str]]:
        found: list[tuple[str, Memento]] = []
        errors: list[str] = []
        delay = self.settings.web_archive_delay
        if self.settings.wayback_url:
            for query in cdx_queries(self.settings.wayback_url, url, moment):
                fetch = await self._get(query, delay)
                try:
                    if fetch.failure is not None or fetch.status != 200 or fetch.decoded is None:
                        errors.append(f"CDX: {fetch.failure or fetch.status}")
                        continue
                    try:
                        mementos = parse_cdx(self.settings.wayback_url, fetch.read_decoded())
                    except ValueError as exc:
                        errors.append(f"CDX: unreadable answer ({exc})")
                        continue
                    found += [(self.settings.wayback_url, m) for m in mementos]
                finally:
                    fetch.discard()
        for prefix in self.settings.memento_timemaps:
            fetch = await self._get(timemap_url(prefix, url), delay)
            try:
                if fetch.failure is None and fetch.status == 404:
                    continue  # the archive has no capture of it
                if fetch.failure is not None or fetch.status != 200 or fetch.decoded is None:
                    errors.append(f"TimeMap {prefix}: {fetch.failure or fetch.status}")
                    continue
                found += [(prefix, m) for m in parse_timemap(fetch.read_decoded())]
            finally:
                fetch.discard()
        return found, errors

    async def lookup(self, url: str, moment: datetime) -> Lookup:
        """The successful capture nearest the moment: the closest before it, else the closest after it."""
        candidates, errors = await self._candidates(url, moment)
        archive_of = {m.url: archive for archive, m in candidates}
        for memento in nearest([m for _, m in candidates], moment)[:MAX_CANDIDATES]:
            fetch = await self._get(memento.raw_url, self.settings.web_archive_delay)
            usable = fetch.failure is None and fetch.status is not None and 200 <= fetch.status < 300
            if fetch.failure is not None or (fetch.status is not None and is_transient(None, fetch.status)):
                errors.append(f"capture {memento.url}: {fetch.failure or fetch.status}")
            if not usable or fetch.decoded is None:
                fetch.discard()
                continue
            try:
                analysis = await self.pool.run(analyse, str(self.archive), fetch.decoded, fetch.content_type, url, None)
            except WorkerFailed as exc:
                errors.append(f"capture {memento.url}: {exc}")
                fetch.discard()
                continue
            signs = analysis.signs
            if signs is not None and (signs.not_found or signs.parked or signs.challenge or signs.telegram_missing):
                fetch.discard()  # the archive captured a "not found" page: not the cited page
                continue
            return Lookup("found", FoundCopy(archive_of[memento.url], memento, fetch, analysis))
        if errors:
            return Lookup("error", detail="; ".join(errors)[:500])
        return Lookup("none", detail="no successful capture in the web archives")

    def _store(self, link: int, reference: str, answer: Lookup) -> None:
        """The copy's records in our WARC, fsynced, then the catalog row: as for our own captures."""
        now = self.clock()
        found = answer.found
        if found is None:
            self.catalog.record_memento(link, reference, answer.status, now, detail=answer.detail)
            return
        stored = store_fetch(self.store, self.catalog, found.fetch, now)
        try:
            make_durable(self.archive, [found.analysis.text_digest])
            self._record_found(link, reference, now, found, stored)
        except BaseException:
            self.store.rollback(stored)
            raise

    def _record_found(self, link: int, reference: str, now: datetime, found: FoundCopy, stored: Stored) -> None:
        fetch, memento = found.fetch, found.memento
        capture = capture_row(
            fetch,
            stored,
            found.analysis,
            url=memento.raw_url,
            memento_url=memento.url,
            memento_datetime=memento.datetime,
        )
        self.catalog.record_memento(
            link,
            reference,
            "found",
            now,
            archive=found.archive,
            memento_url=memento.url,
            memento_datetime=memento.datetime,
            capture=capture,
            warc_size=(stored.response.file, stored.end),
        )

    async def save_missing(self) -> None:
        """Ask Save Page Now to capture live links that no public archive holds yet (credentials from the env)."""
        loop = asyncio.get_running_loop()
        base = self.settings.wayback_url.rstrip("/")
        headers = {}
        access, secret = os.environ.get("IA_ACCESS_KEY"), os.environ.get("IA_SECRET_KEY")
        if access and secret:
            headers = {"Authorization": f"LOW {access}:{secret}", "Accept": "application/json"}
        candidates = await loop.run_in_executor(self.storage, self.catalog.save_candidates, self.clock())
        for link, url in candidates:
            if self.only_urls is not None and url not in self.only_urls:
                continue
            if self.stopped():
                break
            query = f"{base}/cdx/search/cdx?" + urlencode(
                {"url": url, "output": "json", "limit": "1", "filter": "statuscode:2.."}
            )
            check = await self._get(query, self.settings.web_archive_delay)
            try:
                held = (
                    check.failure is None
                    and check.status == 200
                    and check.decoded is not None
                    and bool(parse_cdx(base, check.read_decoded()))
                )
            except ValueError:
                held = False
            finally:
                check.discard()
            if held:
                continue
            saved = await self._get(f"{base}/save", self.settings.save_delay, form={"url": url}, headers=headers)
            saved.discard()
            status = (
                "requested" if saved.failure is None and saved.status is not None and saved.status < 400 else "failed"
            )
            detail = str(saved.failure or saved.status)
            await loop.run_in_executor(self.storage, self.catalog.record_save, link, self.clock(), status, detail)
            self.counts[f"save_{status}"] += 1
