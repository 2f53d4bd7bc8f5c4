"""Back-pressure: how many links and probes may be in flight, and when the loop must wait.

One object answers the loop's questions (is there room to start another, should the workers stop
waiting for company, is the night draining) and keeps the counts those answers come from, as
scrapy's engine asks its downloader and scraper whether to back out.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Iterator
from typing import Any

from archiver.storage.storagethread import StorageThread, Write


class Slots:
    """The tasks in flight and the live slots they hold; wakes the loop when one frees.

    live_cap bounds fetches in flight plus bodies waiting for extraction, so memory is bounded too.
    """

    def __init__(self, live_cap: int) -> None:
        self.live_cap = live_cap
        self.tasks: set[asyncio.Task[None]] = set()
        self.finished: list[asyncio.Task[None]] = []  # tasks done since the loop last looked
        self.work_added = asyncio.Event()
        self.waiting_for_probe = 0  # links waiting for their site's soft-404 probe
        self.waiting_for_storage = 0  # links whose check is only waiting for its batch's commit
        self.full = False  # every live slot taken: the loop waits for one to free
        self.draining = False  # nothing left to start: the tasks in flight are the last ones
        self.reading = False  # reports still being read: their links may join the night

    def live(self) -> int:
        """The tasks that hold a live slot. A link waiting for its site's probe must not keep that
        probe from starting; links waiting only for their batch's commit (up to another live_cap of
        them, so memory stays bounded) must not keep the next fetches from starting."""
        return len(self.tasks) - self.waiting_for_probe - min(self.waiting_for_storage, self.live_cap)

    def room(self) -> int:
        """How many more tasks may start now."""
        return self.live_cap - self.live()

    def needs_backout(self, pending: int) -> bool:
        """Whether the loop must wait for a task to finish before starting anything; notes the night's state."""
        self.full = self.room() <= 0
        self.draining = pending == 0
        return self.full

    def last_pages(self, pending: int, pool_holds: int, stopping: bool) -> bool:
        """Whether the workers should stop waiting for company: a batch sent now may be the last one."""
        return stopping or (not self.reading and pending < pool_holds)

    def wake(self) -> None:
        self.work_added.set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self._on_finished)

    def _on_finished(self, task: asyncio.Task[None]) -> None:
        self.finished.append(task)
        self.work_added.set()

    @contextlib.contextmanager
    def waiting_for_its_probe(self) -> Iterator[None]:
        self.waiting_for_probe += 1
        try:
            yield
        finally:
            self.waiting_for_probe -= 1

    async def store(self, storage: StorageThread, item: Write) -> None:
        """Hand a check to the storage thread and wait until its batch is committed."""
        self.waiting_for_storage += 1
        if self.full:
            self.work_added.set()  # a slot is free: the loop may start the next fetch
        try:
            committed = storage.write_soon(item)
            if self.draining and self.waiting_for_storage >= len(self.tasks):
                storage.hurry()  # the night's last writes: no company is coming for them
            await committed
        finally:
            self.waiting_for_storage -= 1

    async def wait(self, timeout: float | None) -> None:
        """Until a task finishes, a fetch frees its slot, new work arrives, or the timeout. Tasks tell the
        loop themselves (a done-callback each): no wait over all of them. Only an archive fault gets out
        of a task: the first is raised (the others of its batch say the same, and are read)."""
        if not self.tasks:
            timeout = min(timeout if timeout is not None else 0.5, 0.5)
        if not self.work_added.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self.work_added.wait()
        self.work_added.clear()
        done, self.finished = self.finished, []
        self.tasks.difference_update(done)
        failures = [task.exception() for task in done if not task.cancelled()]
        first = next((failure for failure in failures if failure is not None), None)
        if first is not None:
            raise first

    async def cancel_all(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
