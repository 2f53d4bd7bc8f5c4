"""The storage thread: the one writer of WARC records and catalog rows, in batches (one fsync, one transaction).

Links finish faster than a disk syncs: while one batch is being fsynced and committed, the
next links' writes queue up and become the next batch (a group commit). A batch also waits
up to GATHER seconds for company: a commit, an fsync, the index pages rewritten and the GIL
handed back and forth with the event loop are paid per batch, not per link. While it gathers, the
thread sleeps through the writes (a call, a hurry or a full batch wake it), and the event loop
hears of a batch's commit once, not once per link. The durability
promise is the one-link-at-a-time promise: a batch's records are written and fsynced before
the one transaction that commits every row pointing at them; a kill at any moment leaves
records no row points at, which the next run cuts (WarcStore.repair).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from archiver.errors import archive_fault
from archiver.outcomes import CaptureRow, CheckRow, Fetch
from archiver.storage.catalog import Catalog
from archiver.storage.catalog.pgsearch import PgSearchIndex
from archiver.storage.searchindex import SearchIndex
from archiver.storage.textstore import make_durable, text_relative
from archiver.storage.uploads import Uploads
from archiver.storage.warcstore import Revisit, Stored, WarcStore

T = TypeVar("T")
MAX_BATCH = 256
# How long a batch's first write waits for others: without it batches stay small and each costs a
# commit's CPU and fsync (docs/benchmarks.md).
GATHER = 0.05

Rows = tuple[CheckRow, CaptureRow | None]
_HURRY = object()  # ends a batch's wait for company: no more writes are coming soon
_DONE = object()  # the batch goes now
_STOP = object()  # the batch goes now, and the thread ends


@dataclass(frozen=True, slots=True)
class Write:
    """One link's check: its fetch's records (when it is stored), then its rows, made once the records have a place."""

    fetch: Fetch | None
    revisit: Revisit | None
    rows: Callable[[Stored | None], Rows]
    stems: tuple[str, str] | None = None  # (text digest, its words for the search index), for a new text


class _LoopWaiter:
    """A write's waiter on an event loop, answered with the rest of its batch in one hand-over to that loop.

    A concurrent Future wrapped for asyncio wakes the thread's GIL and the loop's self-pipe once a link;
    these are delivered together: one call_soon_threadsafe a batch."""

    __slots__ = ("answer", "future", "loop", "outbox")

    def __init__(self, loop: asyncio.AbstractEventLoop, outbox: list[_LoopWaiter]) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] = loop.create_future()
        self.answer: BaseException | bool | None = False  # False: not answered yet; None: committed
        self.outbox = outbox

    def set_running_or_notify_cancel(self) -> bool:
        return not self.future.cancelled()  # the run stopped waiting for it: not made

    def done(self) -> bool:
        return self.answer is not False or self.future.done()

    def settle(self, error: BaseException | None) -> None:
        self.answer = error
        self.outbox.append(self)


def _deliver(waiters: list[_LoopWaiter]) -> None:
    """On the waiters' event loop: answer a batch's writes."""
    for waiter in waiters:
        if waiter.future.done():
            continue
        if isinstance(waiter.answer, BaseException):
            waiter.future.set_exception(waiter.answer)
        else:
            waiter.future.set_result(None)


Waiter = Future[None] | _LoopWaiter


@dataclass(frozen=True, slots=True)
class _Done:
    future: Waiter
    item: Write
    check: CheckRow
    capture: CaptureRow | None
    stored: Stored | None


class StorageThread(Executor):
    """An executor of one thread that owns the WARC store and the catalog's connection, batching link writes."""

    def __init__(
        self, root: Path, store: WarcStore, catalog: Catalog, now: Callable[[], datetime], gather: float = GATHER
    ) -> None:
        self.root = root
        self.gather = gather
        # opened on the thread by open_search(): the night's search index (SQLite's or PostgreSQL's)
        self.search: SearchIndex | PgSearchIndex | None = None
        self.uploads: Uploads | None = None  # the shared setup's object store: what a commit makes final goes up
        self.store = store
        self.catalog = catalog
        self.now = now
        self._queue: queue.SimpleQueue[tuple[Waiter | Future[Any], Any] | object | None] = queue.SimpleQueue()
        self._wake = threading.Event()  # ends a batch's wait for company: a call, a hurry, the end, a full batch
        self._outbox: list[_LoopWaiter] = []  # answered loop waiters, delivered once the batch is done
        self._thread = threading.Thread(target=self._serve, name="storage", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Run a call on the storage thread, in order with the writes."""
        future: Future[T] = Future()
        self._queue.put((future, (fn, args, kwargs)))
        self._wake.set()
        return future

    def write(self, item: Write) -> Future[None]:
        """Store one link's check; the future is done when its row is committed (or failed)."""
        future: Future[None] = Future()
        self._put_write(future, item)
        return future

    def write_soon(self, item: Write) -> asyncio.Future[None]:
        """write() for the running event loop: its future is answered with the rest of its batch, at once."""
        waiter = _LoopWaiter(asyncio.get_running_loop(), self._outbox)
        self._put_write(waiter, item)
        return waiter.future

    def _put_write(self, waiter: Waiter, item: Write) -> None:
        self._queue.put((waiter, item))
        if self._queue.qsize() >= MAX_BATCH - 1:
            self._wake.set()  # with the gathering batch's first write, a full batch: no reason to wait

    def hurry(self) -> None:
        """Commit the batch being gathered now: the run knows no other write is coming soon."""
        self._queue.put(_HURRY)
        self._wake.set()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._queue.put(None)
        self._wake.set()
        if wait:
            self._thread.join()

    def _serve(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            if first is _HURRY:
                continue
            assert isinstance(first, tuple)
            items = [first]
            # Writes wait a moment for more writes; a call (start, close, a lookup) runs at once.
            until = time.monotonic() + self.gather if isinstance(first[1], Write) else 0.0
            while True:
                self._wake.clear()  # a wake-up from now on is for what is queued after this drain began
                ended = self._drain(items)
                left = until - time.monotonic()
                if ended is not None or left <= 0:
                    break
                self._wake.wait(left)  # asleep while writes arrive: not woken once a link
            self._run(items)
            if ended is _STOP:
                return

    def _drain(self, items: list[tuple[Waiter | Future[Any], Any]]) -> object | None:
        """Take what is queued into the batch; _DONE when the batch must go now, _STOP at the end."""
        while len(items) < MAX_BATCH:
            try:
                following = self._queue.get_nowait()
            except queue.Empty:
                return None
            if following is None:
                return _STOP
            if following is _HURRY:
                return _DONE
            assert isinstance(following, tuple)
            items.append(following)
            if not isinstance(following[1], Write):
                return _DONE
        return _DONE

    def _run(self, items: list[tuple[Waiter | Future[Any], Any]]) -> None:
        try:
            self._run_items(items)
        except BaseException as exc:
            # Even a failure to undo (a disk that cannot be truncated) must answer every waiter.
            for future, _ in items:
                _settle(future, exc)
        finally:
            self._post()

    def _post(self) -> None:
        """Hand the batch's answers to the loops waiting for them, one hand-over a loop."""
        answered, self._outbox[:] = list(self._outbox), []
        by_loop: dict[asyncio.AbstractEventLoop, list[_LoopWaiter]] = {}
        for waiter in answered:
            by_loop.setdefault(waiter.loop, []).append(waiter)
        for loop, waiters in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits any more
                loop.call_soon_threadsafe(_deliver, waiters)

    def _run_items(self, items: list[tuple[Waiter | Future[Any], Any]]) -> None:
        writes: list[tuple[Waiter, Write]] = []
        for future, item in items:
            if isinstance(item, Write):
                writes.append((future, item))
                continue
            self._flush(writes)  # a call sees every write queued before it committed
            writes = []
            assert isinstance(future, Future)  # a call's waiter
            if future.set_running_or_notify_cancel():
                fn, args, kwargs = item
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:
                    _settle(future, exc)
                else:
                    _settle(future, None, result)
        self._flush(writes)

    def _flush(self, writes: list[tuple[Waiter, Write]]) -> None:
        # A write whose waiter was cancelled before it started (the run is stopping) is not made.
        writes = [(future, item) for future, item in writes if future.set_running_or_notify_cancel()]
        if not writes:
            return
        done: list[_Done] = []
        for future, item in writes:
            try:
                stored = self.store.write_fetch(item.fetch, item.revisit, sync=False) if item.fetch else None
                check, capture = item.rows(stored)
                done.append(_Done(future, item, check, capture, stored))
            except BaseException as exc:  # write_fetch cut its own partial records
                _settle(future, exc)
        if not done:
            return
        try:
            self._make_durable(done)
            self._commit(done)
        except Exception as exc:
            error: Exception = exc
            try:
                self._undo(done)  # nothing of the batch is committed: neither are its records
            except Exception as undo:
                error = undo  # the store now refuses every record: say why
            if archive_fault(error) is not None or len(done) == 1:
                for failed in done:
                    _settle(failed.future, error)
                return
            # One row is wrong (a bug), not the disk: store the others again, one at a time.
            for single in done:
                self._store_alone(single.future, single.item)
            return
        self._index([item.item.stems for item in done if item.item.stems is not None])
        self._upload(done)
        for committed in done:
            _settle(committed.future, None)

    def _index(self, stems: list[tuple[str, str]]) -> None:
        """A committed batch's new texts into the search index (its own file: no catalog lock). Best effort:
        what is missed here is indexed after the night, from the catalog's captures."""
        if not stems or self.search is None:
            return
        try:
            self.search.add_stems(stems)
        except Exception:  # a broken or locked index file costs the night nothing
            self.search = None

    def _upload(self, done: list[_Done]) -> None:
        """A committed batch's texts and screenshots, and the WARC files it closed, to the object store."""
        if self.uploads is None:
            return
        captures = [item.capture for item in done if item.capture is not None]
        self.uploads.files([text_relative(c.text_digest) for c in captures if c.text_digest])
        self.uploads.files([c.screenshot for c in captures if c.screenshot])
        for name in self.store.closed_files():
            self.uploads.warc(name)

    def _store_alone(self, future: Waiter, item: Write) -> None:
        """A write of a batch that failed for another's fault, made again on its own."""
        try:
            stored = self.store.write_fetch(item.fetch, item.revisit) if item.fetch else None
            check, capture = item.rows(stored)
            single = _Done(future, item, check, capture, stored)
            try:
                self._make_durable([single])
                self._commit([single])
            except BaseException:
                self._undo([single])
                raise
        except BaseException as exc:
            _settle(future, exc)
        else:
            _settle(future, None)

    def _make_durable(self, done: list[_Done]) -> None:
        """The batch's records and texts on disk, before any row that points at them is committed."""
        if all(d.stored is None and d.capture is None for d in done):
            return  # check rows only (an unchanged page, a failure): no file for them to point at
        if not make_durable(self.root, [d.capture.text_digest for d in done if d.capture is not None]):
            self.store.sync()  # no syncfs here: the WARC file gets its own fsync

    def _commit(self, done: list[_Done]) -> None:
        rotations = [item.stored.rotated for item in done if item.stored is not None and item.stored.rotated]
        self.catalog.record_checks(
            [
                (
                    item.check,
                    item.capture,
                    (item.stored.response.file, item.stored.end) if item.stored is not None else None,
                )
                for item in done
            ],
            rotations,
            self.now(),
        )

    def _undo(self, done: list[_Done]) -> None:
        """Cut the batch's records out of the current file: nothing commits them."""
        starts = [
            item.stored.start
            for item in done
            if item.stored is not None and item.stored.response.file == self.store.name
        ]
        if starts:
            self.store.cut(min(starts))


def _settle(future: Waiter | Future[Any], error: BaseException | None, result: Any = None) -> None:
    """Answer a waiter, once: one that was answered (or given up) already is left alone."""
    if future.done():
        return
    if isinstance(future, _LoopWaiter):
        future.settle(error)
    elif error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
