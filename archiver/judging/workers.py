"""The process pool for CPU work, replaced when a worker crashes, hangs or runs out of memory."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import resource
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

TOO_LARGE = "too large to extract"
# Imported once by the forkserver, before it forks any worker: a worker (and a replacement pool) starts
# with trafilatura and lxml loaded, instead of each importing them on its first page.
PRELOAD = ["archiver.judging.analysis", "trafilatura", "trafilatura.utils"]


class WorkerFailed(Exception):
    """A worker crashed, overran its time or its memory on this job (the job's page is to blame, or bad luck)."""


def _start_worker(limit: int) -> None:
    """In each worker: leave Ctrl-C to the run (no worker traceback); cap the address space, so that a
    pathological page raises MemoryError instead of eating the host."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if limit > 0:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _ready() -> None:
    """A job that does nothing: its worker has started."""


class WorkerPool:
    """ProcessPoolExecutor on the forkserver, with a time and memory limit per job and a fresh pool after a crash."""

    def __init__(self, workers: int, timeout: float, memory_limit: int = 0) -> None:
        self.workers = max(1, workers)
        self.timeout = timeout
        self.memory_limit = memory_limit
        self.generation = 0
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)
        self._pool = self._make()

    def warm(self) -> None:
        """Start the workers now, in the background, so that they are ready when the first page arrives.

        A run calls this before it reads its reports: starting a worker waits for the forkserver's
        imports, which then overlap with that work instead of delaying it."""
        pool = self._pool

        def start() -> None:
            with contextlib.suppress(RuntimeError, BrokenProcessPool):  # shut down meanwhile: nothing to warm
                for _ in range(self.workers):
                    pool.submit(_ready)

        threading.Thread(target=start, name="workers-warm", daemon=True).start()

    def _make(self) -> ProcessPoolExecutor:
        self.generation += 1
        return ProcessPoolExecutor(
            self.workers, mp_context=self._context, initializer=_start_worker, initargs=(self.memory_limit,)
        )

    def _replace(self, generation: int, kill: bool) -> None:
        if generation != self.generation:
            return  # another job already replaced it
        old = self._pool
        if kill:
            # A hung worker never returns: the pool cannot take it back, so it goes with its pool.
            for process in list(getattr(old, "_processes", {}).values()):
                process.kill()
        old.shutdown(wait=False, cancel_futures=True)
        self._pool = self._make()

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        """func(*args) in a worker; WorkerFailed if it crashes twice, overruns the time limit or the memory cap."""
        loop = asyncio.get_running_loop()
        crashes = moves = 0
        while True:
            pool, generation = self._pool, self.generation
            try:
                return await asyncio.wait_for(loop.run_in_executor(pool, func, *args), self.timeout)
            except BrokenProcessPool:
                crashes += 1
                self._replace(generation, kill=False)  # a crash (or a sibling's): try once more on a new pool
                if crashes == 2:
                    raise WorkerFailed("the worker process crashed") from None
            except asyncio.CancelledError:
                task = asyncio.current_task()
                moves += 1
                if generation == self.generation or task is None or task.cancelling() or moves > 3:
                    raise
                # Not cancelled by our caller: the pool it waited in was replaced under it. Run it on the new one.
            except TimeoutError:
                self._replace(generation, kill=True)
                raise WorkerFailed(f"{TOO_LARGE}: no result within {self.timeout:g} s") from None
            except MemoryError:
                # The worker's heap stays bloated after a MemoryError: the pool goes, its jobs move to a new one.
                self._replace(generation, kill=False)
                raise WorkerFailed(f"{TOO_LARGE}: over the worker's {self.memory_limit >> 20} MB") from None

    def shutdown(self) -> None:
        """Stop the workers."""
        self._pool.shutdown(wait=True, cancel_futures=True)
