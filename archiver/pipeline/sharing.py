"""A worker's share of a shared night: the hosts it claims, how long it holds them, when it lets go.

In the shared setup (a PostgreSQL catalog) any number of `archiver run` processes share a night. A
worker checks only the links of hosts it holds a lease on (storage/catalog/leases.py), so a host's
politeness (connections, delay, Retry-After, back-off) is one worker's at a time, across machines.
The claimer runs as one of the night's tasks: it claims hosts while it has room, hands their due
links to the engine, renews its leases, marks a host done once every link of it is committed, and
gives back what it holds when the run stops early. While other workers still hold hosts it waits,
to take over the hosts of a worker that died when their leases run out.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from archiver.reading.refang import host_of
from archiver.storage.catalog import CatalogReader, iso
from archiver.storage.catalog.feeds import FeedRow
from archiver.storage.catalog.leases import Leases, SharedNightRow
from archiver.storage.catalog.postgres import PgDatabase

if TYPE_CHECKING:
    from archiver.pipeline.engine import Engine

T = TypeVar("T")
CLAIM_BATCH = 16  # hosts claimed at once: workers starting together share the hosts out


def worker_name() -> str:
    """This worker as the leases name it: its machine, its process, and a nonce (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Claims:
    """The hosts this worker holds tonight and what is left of each."""

    def __init__(self, engine: Engine, leases: Leases, plans: CatalogReader, night: SharedNightRow) -> None:
        settings = engine.night.settings
        self.engine = engine
        self.leases = leases
        self.plans = plans  # its own connection: the claimer's queries never wait for a link's
        self.night = night
        # Hosts held at once: as many as the fetch slots keep busy, more while slots stand idle (the
        # night is bound by the sites' delay, not by this machine): none idles while hosts wait.
        self.target = max(1, settings.concurrency // max(1, settings.per_host))
        self.idle_room = max(1, CLAIM_BATCH * max(1, settings.per_host) // 2)  # free slots that mean room
        self.held: dict[str, int] = {}  # host -> its links not yet committed
        self.scheduled: dict[str, set[int]] = {}  # host -> links handed to the engine tonight
        self.deferred: set[str] = set()  # hosts that asked to be left alone until the next run
        self.settled: set[str] = set()  # held hosts with nothing outstanding: to finish
        self.joining: set[str] = set()  # hosts of links a report read tonight made due
        self.feeds: dict[str, list[FeedRow]] = {}  # host -> registered feeds: polled by whoever claims it
        self.poll_feed: Callable[[FeedRow], Coroutine[Any, Any, None]] | None = None
        self.changed = asyncio.Event()
        self.claimed = 0
        self.closed = False  # this worker found the night done and closed it

    # ----- what the engine tells it -----------------------------------------------------------------

    def link_done(self, host: str) -> None:
        """A link of a held host is committed (or will not be checked tonight)."""
        if host in self.held:
            self.held[host] -= 1
            if self.held[host] <= 0:
                self.settled.add(host)
                self.changed.set()

    def host_deferred(self, host: str) -> None:
        self.deferred.add(host)

    def joined(self, due: list[tuple[int, str]]) -> list[tuple[int, str]]:
        """Links a report read tonight made due: their hosts join the night (the claimer asks which of
        their links are still due tonight, whoever checked them); none is started here directly."""
        self.joining.update(host for _, host in due)
        self.changed.set()
        return []

    # ----- the claimer ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Claim, renew, finish, until the night has nothing left for this worker (or the run stops)."""
        loop = asyncio.get_running_loop()
        renew_every = self.leases.seconds / 3
        next_renew = loop.time() + renew_every
        try:
            while not self.engine.stop:
                await self._join()
                await self._finish_settled()
                if loop.time() >= next_renew:
                    await self._renew()
                    next_renew = loop.time() + renew_every
                wanted = self.target - len(self.held) if len(self.held) < self.target else 0
                if not wanted and self._idle():
                    wanted = CLAIM_BATCH
                # A full batch claimed: there may be more to take at once.
                wait = (
                    0.0 if wanted and await self._claim(wanted) == min(wanted, CLAIM_BATCH) else min(renew_every, 1.0)
                )
                if not self.held:
                    claimable, held_by_others = await _call(self.leases.outlook)
                    if claimable == 0 and held_by_others == 0 and not self.engine.slots.reading:
                        return
                    # Reports still being read add hosts; a dead worker's hosts come free when its leases end.
                    wait = 0.0 if claimable else 0.5 if self.engine.slots.reading else min(renew_every, 2.0)
                self.changed.clear()
                if wait:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.changed.wait(), wait)
        finally:
            self.changed.set()

    async def release_all(self) -> None:
        """After the night's last task: give back the hosts still held (a stop, a deadline) undone, so that
        another worker may take them over at once; their leases would run out by themselves anyway."""
        held = list(self.held)
        self.held.clear()
        with contextlib.suppress(Exception):
            await _call(self.leases.release, held)

    async def close_night(self) -> bool:
        """Close the night if every host is done: True for the one worker that does (it does the night's
        last jobs: the web archives' copies, the digest)."""
        self.closed = await _call(self.leases.close_night, self.engine.night.clock())
        return self.closed

    def close(self) -> None:
        self.leases.close()
        self.plans.close()

    def as_dict(self) -> dict[str, Any]:
        """What the run's summary says of this worker's share."""
        return {
            "worker": self.leases.worker,
            "night": self.night.id,
            "night_started_at": iso(self.night.started_at),
            "opened_the_night": self.night.opened_here,
            "hosts_claimed": self.claimed,
            "closed_the_night": self.closed,
        }

    def _idle(self) -> bool:
        """Room for another batch of hosts at full speed: the night is bound by the sites' delays, not by
        this worker (whose slots fill up, extraction's backlog included, when its CPU is what binds)."""
        engine = self.engine
        fetching = engine.scheduler.in_flight + self.idle_room <= engine.night.settings.concurrency
        return fetching and engine.slots.room() >= self.idle_room

    async def _join(self) -> None:
        hosts, self.joining = self.joining, set()
        mine = {host for host in hosts if host in self.held}
        if hosts - mine:
            await _call(self.leases.add_hosts, hosts - mine)
        for host in mine:
            due = await _call(self._due, host)
            if due:
                self.settled.discard(host)
                self._schedule(host, due, front=True)  # a new report's links first on their site

    async def _claim(self, room: int) -> int:
        """Claim up to room hosts (a batch at most) and hand their due links to the engine; how many."""
        hosts = await _call(self.leases.claim, min(room, CLAIM_BATCH))
        for host in hosts:
            self.claimed += 1
            self.held[host] = 0
            self.scheduled[host] = set()
            for feed in self.feeds.pop(host, []) if self.poll_feed is not None else []:
                self.held[host] += 1
                self.engine.slots.spawn(self._poll(host, feed))
            due = await _call(self._due, host)
            if due:
                self._schedule(host, due)
            elif not self.held[host]:
                self.settled.add(host)
        return len(hosts)

    async def _poll(self, host: str, feed: FeedRow) -> None:
        assert self.poll_feed is not None
        try:
            await self.poll_feed(feed)
        finally:
            self.link_done(host)

    def _due(self, host: str) -> list[int]:
        night = self.engine.night
        links = self.plans.links_to_check(
            self.night.started_at, night.recheck, host=host, unchecked_in_night=self.night.id
        )
        return [link for link, _ in links if link not in self.scheduled.get(host, ())]

    def _schedule(self, host: str, links: list[int], *, front: bool = False) -> None:
        self.held[host] += len(links)
        self.scheduled[host].update(links)
        for link in reversed(links) if front else links:
            self.engine.scheduler.add(host, (link, 0), front=front)
        self.engine.total += len(links)
        self.engine.night.summary.links_to_check += len(links)
        self.engine.slots.wake()

    async def _finish_settled(self) -> None:
        while self.settled:
            host = self.settled.pop()
            if host not in self.held:
                continue
            # Links that joined the night since the host was claimed (another worker's report) are due too.
            more = [] if host in self.deferred else await _call(self._due, host)
            if more:
                self._schedule(host, more)
                continue
            await _call(self.leases.finish, host)
            del self.held[host]

    async def _renew(self) -> None:
        kept = await _call(self.leases.renew, list(self.held))
        for host in set(self.held) - kept:  # the lease ran out (a stall): the host may be another's now
            del self.held[host]
            # What is queued for it waits as for a host that asked to be left alone: its probes answered
            # "none", its errands abandoned (they would wait for a turn forever), its links left.
            self.engine.defer_to_next_run(host)


async def _call(func: Callable[..., T], *args: Any) -> T:
    """A catalog call off the event loop (the leases' connection is a blocking one)."""
    return await asyncio.get_running_loop().run_in_executor(None, func, *args)


def open_claims(archive: Path, url: str, worker: str, seconds: float) -> tuple[Leases, CatalogReader]:
    """The claimer's two connections: its leases (writes) and its plans (reads)."""
    leases = Leases(PgDatabase(url), worker, seconds)
    try:
        plans = CatalogReader.open_readonly(archive, url)
    except BaseException:
        leases.close()
        raise
    return leases, plans


async def join_night(engine: Engine, archive: Path, url: str) -> Claims:
    """Join tonight's shared night (or open it, listing the hosts with links due): this worker's Claims."""
    night = engine.night
    leases, plans = await _call(open_claims, archive, url, worker_name(), night.settings.lease_seconds)
    now = night.clock()
    feeds: dict[str, list[FeedRow]] = {}

    def due_hosts() -> set[str]:  # a feed's host too: its holder polls it
        return {host for _, host in plans.links_to_check(now, night.recheck)} | set(feeds)

    try:
        for feed in await _call(plans.feeds):
            feeds.setdefault(host_of(feed.url), []).append(feed)
        row = await _call(leases.join, now, due_hosts, night.run_id)
    except BaseException:
        leases.close()
        plans.close()
        raise
    claims = Claims(engine, leases, plans, row)
    claims.feeds = feeds
    return claims
