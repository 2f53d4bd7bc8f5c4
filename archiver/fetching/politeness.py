"""Per-host politeness and retry policy: who may be fetched now, and when to try again (clock injected)."""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Generic, TypeVar

from archiver.outcomes import is_transient

T = TypeVar("T")


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a Retry-After header asks us to wait (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # "²".isdigit() is true too, and float("²") raises
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential back-off with jitter: the wait grows with each attempt; retries do not arrive in step."""
    top = min(cap, base * 2**attempt)
    return rng.uniform(top / 2, top)


@dataclass(frozen=True, slots=True)
class RetryPlan:
    """What to do after an attempt: retry after `wait` seconds, or not in this run; and whether the host must rest."""

    wait: float | None  # seconds before the next attempt of this link in this run; None: no more in this run
    host_rest: float | None = None  # seconds the whole host must rest (it said "not now": 429, 503, Retry-After)
    host_next_run: bool = False  # it asked for a pause longer than a run waits: its other links wait for the next run


def plan_retry(
    failure: str | None,
    status: int | None,
    retry_after_header: str | None,
    attempt: int,
    now: datetime,
    *,
    retries: int,
    base: float,
    cap: float,
    rng: random.Random,
) -> RetryPlan:
    """The one place that decides the wait before another attempt (from 0), as is_transient decides whether."""
    if not is_transient(failure, status):
        return RetryPlan(None)
    asked = retry_after(retry_after_header, now) if failure is None else None
    if asked is not None and asked > cap:
        # The server asked for the longest pause: fetching the host's other links now is the worst answer.
        return RetryPlan(None, asked, host_next_run=True)
    wait = asked if asked is not None else backoff(attempt, base, cap, rng)
    rest = wait if failure is None and (status in (429, 503) or asked is not None) else None
    return RetryPlan(wait if attempt < retries else None, rest)


@dataclass(slots=True)
class _Host(Generic[T]):
    queue: deque[T] = field(default_factory=deque)
    in_flight: int = 0
    next_start: float = 0.0
    scheduled: bool = False


class HostScheduler(Generic[T]):
    """Hands out work so that no host gets more than per_host connections, nor two starts within delay.

    "delay" is the pause between two request starts to one host, so a host serves at most
    min(1/delay, per_host/latency) requests a second; the global cap bounds everything.
    """

    def __init__(self, per_host: int, delay: float, concurrency: int) -> None:
        self.per_host = max(1, per_host)
        self.delay = max(0.0, delay)
        self.concurrency = max(1, concurrency)
        self._hosts: dict[Hashable, _Host[T]] = {}
        self._ready: list[tuple[float, int, Hashable]] = []  # (earliest start, tie-break, host)
        self._later: list[tuple[float, int, Hashable, T]] = []  # retries waiting for their time
        self._tie = itertools.count()
        self.in_flight = 0
        self._queued = 0

    def _schedule(self, key: Hashable) -> None:
        host = self._hosts[key]
        if not host.scheduled and host.queue and host.in_flight < self.per_host:
            host.scheduled = True
            heapq.heappush(self._ready, (host.next_start, next(self._tie), key))

    def add(self, key: Hashable, item: T, not_before: float | None = None, *, front: bool = False) -> None:
        """Queue an item for a host (at the front of its queue with front); with not_before, not before that time."""
        self._hosts.setdefault(key, _Host())
        self._queued += 1
        if not_before is not None:
            heapq.heappush(self._later, (not_before, next(self._tie), key, item))
            return
        if front:
            self._hosts[key].queue.appendleft(item)
        else:
            self._hosts[key].queue.append(item)
        self._schedule(key)

    def drop_host(self, key: Hashable) -> list[T]:
        """Take every queued item of a host out (it asked us to come back another day): they are returned."""
        host = self._hosts.get(key)
        if host is None:
            return []
        dropped = list(host.queue)
        host.queue.clear()
        later = [entry for entry in self._later if entry[2] == key]
        if later:
            self._later = [entry for entry in self._later if entry[2] != key]
            heapq.heapify(self._later)
            dropped += [entry[3] for entry in later]
        self._queued -= len(dropped)
        return dropped

    def defer_host(self, key: Hashable, until: float) -> None:
        """Start nothing more on this host before a time (a Retry-After, a 429)."""
        host = self._hosts.setdefault(key, _Host())
        host.next_start = max(host.next_start, until)

    def take(self, now: float, limit: int | None = None) -> list[tuple[Hashable, T]]:
        """Every item that may start now (at most limit); each is counted in flight until done()."""
        while self._later and self._later[0][0] <= now:
            _, _, key, item = heapq.heappop(self._later)
            self._hosts[key].queue.appendleft(item)
            self._schedule(key)
        started: list[tuple[Hashable, T]] = []
        while self._ready and self.in_flight < self.concurrency and (limit is None or len(started) < limit):
            when, tie, key = self._ready[0]
            host = self._hosts[key]
            if host.next_start > when:  # deferred since it was scheduled: reschedule at its new time
                heapq.heapreplace(self._ready, (host.next_start, tie, key))
                continue
            if not host.queue:  # emptied since it was scheduled (drop_host)
                heapq.heappop(self._ready)
                host.scheduled = False
                continue
            if when > now:
                break
            heapq.heappop(self._ready)
            host.scheduled = False
            started.append((key, host.queue.popleft()))
            host.in_flight += 1
            host.next_start = now + self.delay
            self.in_flight += 1
            self._queued -= 1
            self._schedule(key)
        return started

    def done(self, key: Hashable) -> None:
        """An item of this host finished (successfully or not)."""
        self._hosts[key].in_flight -= 1
        self.in_flight -= 1
        self._schedule(key)

    def next_wake(self) -> float | None:
        """When take() may next hand out something, if nothing finishes before."""
        times = []
        if self._ready and self.in_flight < self.concurrency:
            times.append(max(self._ready[0][0], self._hosts[self._ready[0][2]].next_start))
        if self._later:
            times.append(self._later[0][0])
        return min(times) if times else None

    @property
    def pending(self) -> int:
        """Items queued and not yet started."""
        return self._queued
