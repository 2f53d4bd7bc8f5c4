"""The storage thread's group commit: writes that arrive together share one commit; calls never wait."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from archiver.storage.catalog import Catalog
from archiver.storage.storagethread import StorageThread, Write
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
