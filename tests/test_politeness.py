"""Per-host politeness and the retry policy, on a clock the test turns."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

from archiver.fetching.politeness import HostScheduler, backoff, retry_after
from archiver.outcomes import is_transient


def test_per_host_connections_and_delay() -> None:
    scheduler: HostScheduler[str] = HostScheduler(per_host=2, delay=1.0, concurrency=10)
    for i in range(5):
        scheduler.add("a", f"a{i}")
    scheduler.add("b", "b0")
    started = scheduler.take(0.0)
    assert [item for _, item in started] == ["a0", "b0"]  # one start per host until the delay passes
    assert scheduler.take(0.5) == []
    assert [item for _, item in scheduler.take(1.0)] == ["a1"]  # two in flight on a: its cap
    assert scheduler.take(2.0) == []
    scheduler.done("a")
    assert [item for _, item in scheduler.take(2.0)] == ["a2"]
    assert scheduler.next_wake() is None  # a is at its cap: only a finished fetch makes room
    scheduler.done("a")
    assert scheduler.next_wake() == 3.0  # then the delay still holds


def test_front_of_the_queue_for_links_never_captured() -> None:
    scheduler: HostScheduler[str] = HostScheduler(per_host=1, delay=1.0, concurrency=10)
    for name in ("old1", "old2"):
        scheduler.add("a", name)
    for name in reversed(("new1", "new2")):  # a report read during the night: its links go first, in order
        scheduler.add("a", name, front=True)
    order = []
    for now in range(4):
        order += [item for _, item in scheduler.take(float(now))]
        scheduler.done("a")
    assert order == ["new1", "new2", "old1", "old2"]


def test_global_concurrency_and_limit() -> None:
    scheduler: HostScheduler[int] = HostScheduler(per_host=1, delay=0.0, concurrency=3)
    for host in range(10):
        scheduler.add(host, host)
    assert len(scheduler.take(0.0, limit=2)) == 2
    assert len(scheduler.take(0.0)) == 1  # the third slot
    assert scheduler.take(0.0) == []
    assert scheduler.pending == 7


def test_deferred_host_and_retry_later() -> None:
    scheduler: HostScheduler[str] = HostScheduler(per_host=1, delay=0.0, concurrency=5)
    scheduler.add("a", "x")
    scheduler.defer_host("a", 30.0)  # a Retry-After
    assert scheduler.take(10.0) == []
    assert scheduler.next_wake() == 30.0
    assert [i for _, i in scheduler.take(30.0)] == ["x"]
    scheduler.done("a")
    scheduler.add("a", "retry", not_before=45.0)
    assert scheduler.take(40.0) == [] and scheduler.pending == 1
    assert [i for _, i in scheduler.take(45.0)] == ["retry"]


def test_transient_or_permanent() -> None:
    assert is_transient("timeout", None) and is_transient("reset", None) and is_transient("dns_temporary", None)
    assert not is_transient("dns", None) and not is_transient("too_large", None)
    assert is_transient(None, 503) and is_transient(None, 429)
    assert not is_transient(None, 404) and not is_transient(None, 200)


def test_retry_after_and_backoff() -> None:
    now = datetime(2026, 11, 24, tzinfo=UTC)
    assert retry_after("120", now) == 120.0
    assert retry_after(format_datetime(now + timedelta(seconds=30), usegmt=True), now) == 30.0
    assert retry_after("soon", now) is None and retry_after(None, now) is None
    rng = random.Random(1)
    waits = [backoff(attempt, 2.0, 60.0, rng) for attempt in range(8)]
    assert all(1.0 <= w <= 60.0 for w in waits)
