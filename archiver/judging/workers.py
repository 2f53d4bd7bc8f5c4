"""The worker processes for CPU work: one job at a time each, replaced when one crashes, hangs or runs out of memory.

Each worker is a process forked by a forkserver that imported the extractor once, talking to
the run over its own pipe. The event loop watches the pipes itself (add_reader): no executor
thread, no queue feeder thread, no hop between threads per job. A job goes only to an idle
worker, so sending it never waits on a busy one.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import pickle
import resource
import signal
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler
from typing import Any, TypeVar

T = TypeVar("T")

TOO_LARGE = "too large to extract"
# Imported once by the forkserver, before it forks any worker: a worker (and a replacement) starts
# with trafilatura and lxml loaded, instead of each importing them on its first page.
PRELOAD = ["archiver.judging.analysis", "trafilatura", "trafilatura.utils"]
_OUT_OF_MEMORY = "out of memory"
# Workers yield the CPU to the run's own process: it is the one that keeps every fetch moving (a starved
# event loop reads late, and its time-outs are not the sites' fault). With as many workers as cores and
# the same priority, the scheduler gave the run a third of two cores, and it set the pace of the night.
WORKER_NICENESS = 10


def start_forkserver() -> None:
    """Start the forkserver now, so that its imports run beside the caller's (it is the workers' parent).

    A failure here is left to the pool, which tries again when a page needs a worker and says why."""
    multiprocessing.get_context("forkserver").set_forkserver_preload(PRELOAD)
    with contextlib.suppress(OSError):
        multiprocessing.forkserver.ensure_running()


class WorkerFailed(Exception):
    """A worker crashed, overran its time or its memory on this job (the job's page is to blame, or bad luck)."""


class _Crashed(Exception):
    """The worker died under a job (killed, segfault): the job may be tried once more on a new one."""


def _start_worker(limit: int) -> None:
    """In each worker: leave Ctrl-C to the run (no worker traceback); yield the CPU to the run; cap the
    address space, so that a pathological page raises MemoryError instead of eating the host."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    if limit > 0:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = limit if hard == resource.RLIM_INFINITY else min(limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))


def _serve(conn: Connection, limit: int) -> None:
    """A worker's life: a job in, its result (or its exception) out, until the run hangs up."""
    _start_worker(limit)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        func, args = job
        try:
            reply: tuple[str, Any] = ("ok", func(*args))
        except MemoryError:
            # The heap stays bloated after a MemoryError: say so and make room for a fresh worker.
            conn.send(("failed", _OUT_OF_MEMORY))
            return
        except BaseException as exc:
            reply = ("raised", exc)
        try:
            conn.send(reply)
        except MemoryError:
            conn.send(("failed", _OUT_OF_MEMORY))
            return
        except (pickle.PicklingError, TypeError, AttributeError) as exc:  # a result or exception that cannot travel
            conn.send(("raised", RuntimeError(f"{type(reply[1]).__name__} could not be sent back: {exc}")))


class _Worker:
    """One worker process and the run's end of its pipe."""

    def __init__(self, context: Any, limit: int) -> None:
        self.job: _Job | None = None  # the job it runs now
        self.timer: asyncio.TimerHandle | None = None  # that job's time limit
        self.loop: asyncio.AbstractEventLoop | None = None  # the event loop watching its pipe
        self.conn, child = context.Pipe(duplex=True)
        self.process: BaseProcess = context.Process(target=_serve, args=(child, limit), daemon=True)
        self.process.start()
        child.close()

    def stop(self, kill: bool) -> None:
        """Hang up (the worker exits after its job) or kill it now; reap it either way."""
        if kill:
            self.process.kill()
        else:
            with contextlib.suppress(OSError):
                self.conn.send(None)
        self.conn.close()
        self.process.join(5 if not kill else None)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


@dataclass(eq=False)
class _Job:
    """A call waiting for a worker, then running in one; answer gets (kind, value)."""

    func: Callable[..., Any]
    args: tuple[Any, ...]
    answer: asyncio.Future[tuple[str, Any]]


class WorkerPool:
    """Worker processes with a time and memory limit per job; a worker that fails is replaced.

    Jobs wait in one queue; the moment a worker answers, the event loop hands it the next job
    in the same callback, so a worker never idles while pages wait.
    """

    def __init__(self, workers: int, timeout: float, memory_limit: int = 0) -> None:
        self.workers = max(1, workers)
        self.timeout = timeout
        self.memory_limit = memory_limit
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._count = 0  # workers up or being started: never more than self.workers
        self._starting: threading.Thread | None = None
        self._warm_error: Exception | None = None
        self._pending: deque[_Job] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None  # told when a worker the warming thread started is up
        self._lock = threading.Lock()  # the warming thread hands its workers over under it

    @property
    def started(self) -> int:
        """How many worker processes are up."""
        with self._lock:
            return len(self._idle) + len(self._busy)

    def _claim(self) -> bool:
        """Room for one more worker? Then it is counted now (under the lock), before it starts."""
        with self._lock:
            if self._count >= self.workers:
                return False
            self._count += 1
            return True

    def warm(self) -> None:
        """Start the missing workers in the background: the first job needs them, not the event loop.

        Starting the first worker waits for the forkserver's imports (a third of a second): done
        on the event loop it would stall every fetch in flight. A run whose pages are all
        unchanged (304) never needs a worker, and never starts one."""
        if self._starting is not None and self._starting.is_alive():
            return

        def start() -> None:
            try:
                while self._claim():
                    try:
                        worker = _Worker(self._context, self.memory_limit)
                    except BaseException:
                        with self._lock:
                            self._count -= 1
                        raise
                    with self._lock:
                        self._idle.append(worker)
                    loop = self._loop
                    if loop is not None:
                        with contextlib.suppress(RuntimeError):  # that loop has closed
                            loop.call_soon_threadsafe(self._dispatch, loop)
            except Exception as exc:
                self._warm_error = exc
                loop = self._loop
                if loop is not None:
                    with contextlib.suppress(RuntimeError):
                        loop.call_soon_threadsafe(self._dispatch, loop)

        self._starting = threading.Thread(target=start, name="workers-warm", daemon=True)
        self._starting.start()

    def _dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Give waiting jobs to idle workers; start missing workers (in the background) for the rest."""
        while self._pending:
            job = self._pending[0]
            if job.answer.done():  # its caller stopped waiting before it started
                self._pending.popleft()
                continue
            with self._lock:
                worker = self._idle.pop() if self._idle else None
                if worker is not None:
                    self._busy.add(worker)
            if worker is None:
                if self._warm_error is not None and self.started == 0:
                    error, self._warm_error = self._warm_error, None
                    for waiting in self._pending:
                        if not waiting.answer.done():
                            waiting.answer.set_exception(error)
                    self._pending.clear()
                elif self._count < self.workers:
                    self.warm()
                return
            self._pending.popleft()
            self._start(worker, job, loop)

    def _start(self, worker: _Worker, job: _Job, loop: asyncio.AbstractEventLoop) -> None:
        try:
            payload = _pickle((job.func, job.args))
        except Exception as exc:  # the job's own fault (an argument that cannot travel): the worker is fine
            self._release(worker, healthy=True)
            job.answer.set_exception(exc)
            return
        try:
            worker.conn.send_bytes(payload)
        except OSError:
            self._release(worker, healthy=False)
            job.answer.set_result(("crashed", None))
            return
        worker.job = job
        worker.timer = loop.call_later(self.timeout, self._timed_out, worker, job, loop)
        if worker.loop is not loop:
            # The loop watches a worker's pipe for as long as the worker lives: no watch set up per page.
            self._unwatch(worker)
            loop.add_reader(worker.conn.fileno(), self._readable, worker, loop)
            worker.loop = loop

    def _readable(self, worker: _Worker, loop: asyncio.AbstractEventLoop) -> None:
        job, worker.job = worker.job, None
        if worker.timer is not None:
            worker.timer.cancel()
            worker.timer = None
        try:
            reply = worker.conn.recv()
        except (EOFError, OSError):
            reply = ("crashed", None)
        if job is None:  # an idle worker's pipe spoke: it died between jobs
            with self._lock:
                gone = worker in self._idle
                if gone:
                    self._idle.remove(worker)
                    self._count -= 1
            if gone:
                self._unwatch(worker)
                worker.stop(kill=True)
            return
        if not job.answer.done():  # a caller that stopped waiting (the run stopping) gets nothing
            job.answer.set_result(reply)
        self._release(worker, healthy=reply[0] in ("ok", "raised"))
        self._dispatch(loop)  # the next page, now: no loop turn between one job and the next

    def _timed_out(self, worker: _Worker, job: _Job, loop: asyncio.AbstractEventLoop) -> None:
        # A hung worker never answers: it goes, and a fresh one takes its place.
        if worker.job is not job:
            return
        worker.job = worker.timer = None
        if not job.answer.done():
            job.answer.set_result(("timeout", None))
        self._release(worker, healthy=False)
        self._dispatch(loop)

    @staticmethod
    def _unwatch(worker: _Worker) -> None:
        """Stop watching a worker's pipe (before it is closed: a closed descriptor's number is reused)."""
        if worker.loop is not None and not worker.loop.is_closed():
            with contextlib.suppress(Exception):
                worker.loop.remove_reader(worker.conn.fileno())
        worker.loop = None

    def _release(self, worker: _Worker, healthy: bool) -> None:
        with self._lock:
            self._busy.discard(worker)
            if healthy:
                self._idle.append(worker)
            else:
                self._count -= 1
        if not healthy:
            self._unwatch(worker)
            worker.stop(kill=True)

    async def _once(self, func: Callable[..., T], args: tuple[Any, ...]) -> T:
        loop = asyncio.get_running_loop()
        self._loop = loop
        job = _Job(func, args, loop.create_future())
        self._pending.append(job)
        self._dispatch(loop)
        kind, value = await job.answer  # cancelled: the job is dropped before it starts, or its answer is
        if kind == "ok":
            return value  # type: ignore[no-any-return]
        if kind == "raised":
            raise value
        if kind == "timeout":
            raise WorkerFailed(f"{TOO_LARGE}: no result within {self.timeout:g} s")
        if kind == "failed":
            raise WorkerFailed(f"{TOO_LARGE}: over the worker's {self.memory_limit >> 20} MB")
        raise _Crashed

    async def run(self, func: Callable[..., T], *args: Any) -> T:
        """func(*args) in a worker; WorkerFailed if it crashes twice, overruns the time limit or the memory cap."""
        try:
            return await self._once(func, args)
        except _Crashed:
            pass  # bad luck or the job's fault: once more, on a fresh worker
        try:
            return await self._once(func, args)
        except _Crashed:
            raise WorkerFailed("the worker process crashed") from None

    def shutdown(self) -> None:
        """Stop the workers: idle ones hang up, busy ones (a run stopping mid-job) are killed."""
        if self._starting is not None:
            self._starting.join()
            self._starting = None
        with self._lock:
            idle, busy = self._idle, list(self._busy)
            self._idle, self._busy, self._count = [], set(), 0
        self._pending.clear()
        for worker in idle:
            self._unwatch(worker)
            worker.stop(kill=False)
        for worker in busy:
            self._unwatch(worker)
            worker.stop(kill=True)


def _pickle(job: tuple[Callable[..., Any], tuple[Any, ...]]) -> bytes:
    return bytes(ForkingPickler.dumps(job))
