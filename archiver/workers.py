"""The process pool for CPU work: replaced when a worker crashes or hangs, so one page never stops a run."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")


class WorkerFailed(Exception):
    """A worker crashed or overran its time on this job (the job's page is to blame, or bad luck)."""


class WorkerPool:
    """ProcessPoolExecutor on the forkserver, with a time limit per job and a fresh pool after a crash."""

    def __init__(self, workers: int, timeout: float) -> None:
        self.workers = max(1, workers)
        self.timeout = timeout
        self.generation = 0
        self._context = multiprocessing.get_context("forkserver")
        self._pool = self._make()

    def _make(self) -> ProcessPoolExecutor:
        self.generation += 1
        return ProcessPoolExecutor(self.workers, mp_context=self._context)

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
        """func(*args) in a worker; WorkerFailed if it crashes twice or overruns the time limit."""
        loop = asyncio.get_running_loop()
        for _ in range(2):
            pool, generation = self._pool, self.generation
            try:
                return await asyncio.wait_for(loop.run_in_executor(pool, func, *args), self.timeout)
            except BrokenProcessPool:
                self._replace(generation, kill=False)  # a crash (or a sibling's): try once more on a new pool
            except TimeoutError:
                self._replace(generation, kill=True)
                raise WorkerFailed(f"no result within {self.timeout:g} s") from None
        raise WorkerFailed("the worker process crashed")

    def shutdown(self) -> None:
        """Stop the workers."""
        self._pool.shutdown(wait=True, cancel_futures=True)
