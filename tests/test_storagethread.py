"""The storage thread's group commit: writes that arrive together share one commit; calls never wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from archiver.storage.catalog import Catalog
from archiver.storage.storagethread import MAX_BATCH, StorageThread, Write
from archiver.storage.warcstore import WarcStore


class _Ledger:
    """Stands in for the catalog: what was committed, batch by batch, and when calls ran."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def record_checks(self, checks: Sequence[tuple[Any, Any, Any]], new_files: Sequence[Any], now: datetime) -> None:
        self.events.append([check for check, _, _ in checks])


def _thread(tmp_path: Path, ledger: _Ledger, gather: float) -> StorageThread:
    store = cast(WarcStore, None)  # check rows only: no record is written
    return StorageThread(tmp_path, store, cast(Catalog, ledger), lambda: datetime.now(UTC), gather=gather)


def _check(name: str) -> Write:
    return Write(None, None, lambda _stored: (cast(Any, name), None))


def test_writes_arriving_within_the_window_share_one_commit(tmp_path: Path) -> None:
    ledger = _Ledger()
    storage = _thread(tmp_path, ledger, gather=3.0)
    try:
        futures = []
        for n in range(3):
            futures.append(storage.write(_check(f"link {n}")))
            time.sleep(0.2)  # the thread is idle between them: without a window, three commits
        for future in futures:
            future.result(timeout=30)
    finally:
        storage.shutdown()
    assert ledger.events == [["link 0", "link 1", "link 2"]]


def test_without_a_window_each_write_that_finds_the_thread_idle_commits_alone(tmp_path: Path) -> None:
    ledger = _Ledger()
    storage = _thread(tmp_path, ledger, gather=0.0)
    try:
        for n in range(3):
            storage.write(_check(f"link {n}")).result(timeout=30)
    finally:
        storage.shutdown()
    assert ledger.events == [["link 0"], ["link 1"], ["link 2"]]


def test_a_call_ends_the_window_and_sees_the_writes_before_it(tmp_path: Path) -> None:
    ledger = _Ledger()
    storage = _thread(tmp_path, ledger, gather=600.0)  # a call that waited for the window would time out below
    try:
        written = storage.write(_check("link 0"))
        called = storage.submit(lambda: ledger.events.append("call"))
        called.result(timeout=30)
        written.result(timeout=30)
    finally:
        storage.shutdown()
    assert ledger.events == [["link 0"], "call"]


def test_shutdown_commits_a_gathering_batch_at_once(tmp_path: Path) -> None:
    ledger = _Ledger()
    storage = _thread(tmp_path, ledger, gather=600.0)
    written = storage.write(_check("link 0"))
    storage.shutdown()  # joins the thread: it must not sit out the window
    assert written.result(timeout=0) is None
    assert ledger.events == [["link 0"]]


def test_hurry_commits_the_gathering_batch_without_waiting_out_the_window(tmp_path: Path) -> None:
    ledger = _Ledger()
    storage = _thread(tmp_path, ledger, gather=600.0)  # sat out, the window would time the test out
    try:
        storage.hurry()  # a stray hurry with nothing gathering is ignored
        first = storage.write(_check("link 0"))
        second = storage.write(_check("link 1"))
        storage.hurry()
        first.result(timeout=30)
        second.result(timeout=30)
        third = storage.write(_check("link 2"))
        storage.hurry()
        third.result(timeout=30)
    finally:
        storage.shutdown()
    assert ledger.events == [["link 0", "link 1"], ["link 2"]]


def test_an_event_loop_hears_of_a_batch_once_and_every_write_in_it_is_answered(tmp_path: Path) -> None:
    ledger = _Ledger()
    storage = _thread(tmp_path, ledger, gather=600.0)
    handovers = []

    async def night() -> None:
        loop = asyncio.get_running_loop()
        original = loop.call_soon_threadsafe

        def counted(*args: Any, **kwargs: Any) -> Any:
            handovers.append(args[0])
            return original(*args, **kwargs)

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign]
        waiters = [storage.write_soon(_check(f"link {n}")) for n in range(5)]
        storage.hurry()
        assert await asyncio.wait_for(asyncio.gather(*waiters), timeout=30) == [None] * 5

    try:
        asyncio.run(night())
    finally:
        storage.shutdown()
    assert ledger.events == [[f"link {n}" for n in range(5)]]
    assert len(handovers) == 1  # a wrapped concurrent Future each: five wake-ups of the loop


def test_a_write_the_run_stopped_waiting_for_is_not_made(tmp_path: Path) -> None:
    ledger = _Ledger()
    storage = _thread(tmp_path, ledger, gather=600.0)

    async def night() -> None:
        given_up = storage.write_soon(_check("link 0"))
        kept = storage.write_soon(_check("link 1"))
        given_up.cancel()  # the run is stopping: the first link's task was cancelled
        storage.hurry()
        await asyncio.wait_for(kept, timeout=30)

    try:
        asyncio.run(night())
    finally:
        storage.shutdown()
    assert ledger.events == [["link 1"]]


def test_the_thread_sleeps_through_the_writes_of_its_window(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """It takes a window's writes in one go when the window ends, not woken once a write."""
    ledger = _Ledger()
    storage = _thread(tmp_path, ledger, gather=3.0)  # five writes 0.05 s apart: a twelvefold margin under load
    drains = []
    original = StorageThread._drain

    def counted(self: StorageThread, items: list[Any]) -> object | None:
        drains.append(len(items))
        return original(self, items)

    monkeypatch.setattr(StorageThread, "_drain", counted)
    try:
        futures = []
        for n in range(5):
            futures.append(storage.write(_check(f"link {n}")))
            time.sleep(0.05)
        for future in futures:
            future.result(timeout=30)
    finally:
        storage.shutdown()
    assert ledger.events == [[f"link {n}" for n in range(5)]]
    assert drains == [1, 1]  # on the first write, then once when the window ended: none for links 1-4


def test_a_full_batch_goes_without_waiting_out_the_window(tmp_path: Path) -> None:
    ledger = _Ledger()
    storage = _thread(tmp_path, ledger, gather=600.0)  # sat out, the window would time the test out
    try:
        futures = [storage.write(_check("link 0"))]
        time.sleep(0.2)  # the thread now waits out its window for company
        futures += [storage.write(_check(f"link {n}")) for n in range(1, MAX_BATCH)]
        for future in futures:
            future.result(timeout=30)
    finally:
        storage.shutdown()
    assert sum(len(batch) for batch in ledger.events) == MAX_BATCH
