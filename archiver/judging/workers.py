"""The worker processes for CPU work: one job at a time each, replaced when one crashes, hangs or runs out of memory.

Each worker is a process forked by a forkserver that imported the extractor once, talking to
the run over its own pipe. The event loop watches the pipes itself (add_reader): no executor
thread, no queue feeder thread, no hop between threads per job. Jobs go only to an idle worker,
so sending them never waits on a busy one, and they go in batches: a worker runs a batch back to
back, answering each job as it ends, without waiting for the run between jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
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
# A page that waits alone for the run to hand it over costs more: the worker sleeps between pages
# and wakes to cold caches (docs/benchmarks.md, "Why the defaults"). So pages wait for company: BATCH
# of them, BATCH_BYTES of arguments, or LINGER seconds for the oldest; hurry() ends the waiting for
# the night's last pages.
BATCH = 32
BATCH_BYTES = 4 * 1024 * 1024
LINGER = 0.25


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
    """A worker's life: a batch of jobs in, each one's result (or exception) out as it ends, until the run hangs up."""
    _start_worker(limit)
    while True:
        try:
            batch = conn.recv()
        except (EOFError, OSError):
            return
        if batch is None:
            return
        for payload in batch:
            if not _answer(conn, payload):
                return


def _answer(conn: Connection, payload: bytes) -> bool:
    """Run one job and send its answer; False when the worker must go (out of memory)."""
    try:
        func, args = pickle.loads(payload)
        reply: tuple[str, Any] = ("ok", func(*args))
    except MemoryError:
        # The heap stays bloated after a MemoryError: say so and make room for a fresh worker.
        conn.send(("failed", _OUT_OF_MEMORY))
        return False
    except BaseException as exc:
        reply = ("raised", exc)
    try:
        conn.send(reply)
    except MemoryError:
        conn.send(("failed", _OUT_OF_MEMORY))
        return False
    except (pickle.PicklingError, TypeError, AttributeError) as exc:  # a result or exception that cannot travel
        conn.send(("raised", RuntimeError(f"{type(reply[1]).__name__} could not be sent back: {exc}")))
    return True


class _Worker:
    """One worker process and the run's end of its pipe."""

    def __init__(self, context: Any, limit: int) -> None:
        self.jobs: deque[_Job] = deque()  # its batch: the first one runs now, the others wait their turn in it
        self.timer: asyncio.TimerHandle | None = None  # the running job's time limit
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
    """A call (pickled) waiting for a worker, then in one's batch; answer gets (kind, value)."""

    payload: bytes
    answer: asyncio.Future[tuple[str, Any]]
    queued: float  # event loop time it began to wait


class _Queue:
    """Jobs waiting for a worker, and when they go: a batch's worth, the oldest waited LINGER, or hurrying."""

    def __init__(self, batch: int, batch_bytes: int, linger: float) -> None:
        self.batch = max(1, batch)
        self.batch_bytes = batch_bytes
        self.linger = linger
        self.hurrying = False
        self.jobs: deque[_Job] = deque()
        self.size = 0  # bytes of arguments waiting
        # When the oldest waiting job has waited long enough, and the event loop that will say so.
        self.wake: tuple[asyncio.AbstractEventLoop, asyncio.TimerHandle] | None = None

    def add(self, job: _Job, *, first: bool = False) -> None:
        if first:
            self.jobs.appendleft(job)
        else:
            self.jobs.append(job)
        self.size += len(job.payload)

    def drop_abandoned(self) -> None:
        """Jobs at the head whose callers stopped waiting before they started."""
        while self.jobs and self.jobs[0].answer.done():
            self.size -= len(self.jobs.popleft().payload)

    def ready(self, loop: asyncio.AbstractEventLoop, lingered: Callable[[asyncio.AbstractEventLoop], None]) -> bool:
        """Do the waiting jobs go now? If not, `lingered` is called when the oldest has waited LINGER."""
        if self.hurrying or len(self.jobs) >= self.batch or self.size >= self.batch_bytes:
            return True
        due = self.jobs[0].queued + self.linger
        if loop.time() >= due:
            return True
        wake = self.wake
        if wake is None or wake[0] is not loop or wake[1].when() > due:  # none yet, another loop's, or too late
            if wake is not None:
                wake[1].cancel()
            self.wake = (loop, loop.call_at(due, lingered, loop))
        return False

    def take(self, idle: int) -> list[_Job]:
        """The next batch: up to BATCH jobs and BATCH_BYTES (one job at least); hurrying, an even share
        for each idle worker, so that the night's last pages end together."""
        size = self.batch
        if self.hurrying:
            size = min(size, -(-len(self.jobs) // max(1, idle)))
        jobs: list[_Job] = []
        weight = 0
        while self.jobs and len(jobs) < size:
            job = self.jobs[0]
            if jobs and weight + len(job.payload) > self.batch_bytes:
                break
            self.jobs.popleft()
            self.size -= len(job.payload)
            if job.answer.done():  # its caller stopped waiting before it started
                continue
            jobs.append(job)
            weight += len(job.payload)
        return jobs

    def fail_all(self, error: BaseException) -> None:
        for waiting in self.jobs:
            if not waiting.answer.done():
                waiting.answer.set_exception(error)
        self.clear()

    def clear(self) -> None:
        self.jobs.clear()
        self.size = 0
        if self.wake is not None:
            self.wake[1].cancel()
            self.wake = None


class WorkerPool:
    """Worker processes with a time and memory limit per job; a worker that fails is replaced.

    Jobs wait in one queue until there are enough of them for a batch (or the oldest has waited
    long enough, or the caller hurries the pool); an idle worker then gets the batch in one message.
    A worker's answer to the last job of its batch hands it the next batch in the same callback.
    """

    def __init__(
        self,
        workers: int,
        timeout: float,
        memory_limit: int = 0,
        *,
        batch: int = BATCH,
        batch_bytes: int = BATCH_BYTES,
        linger: float = LINGER,
    ) -> None:
        self.workers = max(1, workers)
        self.timeout = timeout
        self.memory_limit = memory_limit
        self._queue = _Queue(batch, batch_bytes, linger)
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)
        self._idle: list[_Worker] = []
        self._busy: set[_Worker] = set()
        self._count = 0  # workers up or being started: never more than self.workers
        self._starting: threading.Thread | None = None
        self._warm_error: Exception | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # told when a worker the warming thread started is up
        self._lock = threading.Lock()  # the warming thread hands its workers over under it

    @property
    def holds(self) -> int:
        """How many jobs the pool may hold at once when it is kept busy: a batch waiting, one in each worker."""
        return (self.workers + 1) * self._queue.batch

    @property
    def started(self) -> int:
        """How many worker processes are up."""
        with self._lock:
            return len(self._idle) + len(self._busy)

    def hurry(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """No more waiting for company: what waits goes to the idle workers now, and so does every later job
        (the night's last pages: nothing is coming after them). Once is enough: the run may say it every turn."""
        if self._queue.hurrying:
            return  # every job since went at once
        self._queue.hurrying = True
        loop = loop or self._loop
        if loop is not None and self._queue.jobs:
            self._dispatch(loop)

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

    def _lingered(self, loop: asyncio.AbstractEventLoop) -> None:
        self._queue.wake = None
        self._dispatch(loop)

    def _dispatch(self, loop: asyncio.AbstractEventLoop) -> None:
        """Give waiting jobs to idle workers, a batch each; start missing workers (in the background) for the rest."""
        queue = self._queue
        if queue.jobs and self._count < self.workers and self._warm_error is None:
            self.warm()  # the first pages wait for company: the workers boot meanwhile
        while queue.jobs:
            queue.drop_abandoned()
            if not queue.jobs:
                return
            if not queue.ready(loop, self._lingered):
                return
            with self._lock:
                worker = self._idle.pop() if self._idle else None
                if worker is not None:
                    self._busy.add(worker)
                idle = len(self._idle) + 1
            if worker is None:
                if self._warm_error is not None and self.started == 0:
                    error, self._warm_error = self._warm_error, None
                    queue.fail_all(error)
                elif self._count < self.workers:
                    self.warm()
                return
            jobs = queue.take(idle)
            if not jobs:
                self._release(worker, healthy=True)
                continue
            self._start(worker, jobs, loop)

    def _start(self, worker: _Worker, jobs: list[_Job], loop: asyncio.AbstractEventLoop) -> None:
        try:
            worker.conn.send([job.payload for job in jobs])
        except OSError:
            self._release(worker, healthy=False)
            for job in jobs:
                job.answer.set_result(("crashed", None))
            return
        worker.jobs.extend(jobs)
        worker.timer = loop.call_later(self.timeout, self._timed_out, worker, jobs[0], loop)
        if worker.loop is not loop:
            # The loop watches a worker's pipe for as long as the worker lives: no watch set up per page.
            _unwatch(worker)
            loop.add_reader(worker.conn.fileno(), self._readable, worker, loop)
            worker.loop = loop

    def _readable(self, worker: _Worker, loop: asyncio.AbstractEventLoop) -> None:
        job = worker.jobs.popleft() if worker.jobs else None
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
                _unwatch(worker)
                worker.stop(kill=True)
            return
        if not job.answer.done():  # a caller that stopped waiting (the run stopping) gets nothing
            job.answer.set_result(reply)
        healthy = reply[0] in ("ok", "raised")
        if healthy and worker.jobs:
            worker.timer = loop.call_later(self.timeout, self._timed_out, worker, worker.jobs[0], loop)
            return  # the worker goes on with its batch: it never waited for this answer to be read
        self._requeue(worker)
        self._release(worker, healthy=healthy)
        self._dispatch(loop)  # the next batch, now: no loop turn between one batch and the next

    def _requeue(self, worker: _Worker) -> None:
        """The jobs of a batch its worker will never reach (it crashed, hung or ran out of memory on another
        job) wait again, first in line, and go with the next batch: no fault of theirs, and they waited already."""
        while worker.jobs:
            job = worker.jobs.pop()
            job.queued = -math.inf
            self._queue.add(job, first=True)

    def _timed_out(self, worker: _Worker, job: _Job, loop: asyncio.AbstractEventLoop) -> None:
        # A hung worker never answers: it goes, and a fresh one takes its place.
        if not worker.jobs or worker.jobs[0] is not job:
            return
        worker.jobs.popleft()
        worker.timer = None
        if not job.answer.done():
            job.answer.set_result(("timeout", None))
        self._requeue(worker)
        self._release(worker, healthy=False)
        self._dispatch(loop)

    def _release(self, worker: _Worker, healthy: bool) -> None:
        with self._lock:
            self._busy.discard(worker)
            if healthy:
                self._idle.append(worker)
            else:
                self._count -= 1
        if not healthy:
            _unwatch(worker)
            worker.stop(kill=True)

    async def _once(self, func: Callable[..., T], args: tuple[Any, ...], waited: bool = False) -> T:
        loop = asyncio.get_running_loop()
        self._loop = loop
        payload = _pickle((func, args))  # an argument that cannot travel fails its own call, here
        # A job tried again has waited already: it goes with the next batch, never waiting for company.
        job = _Job(payload, loop.create_future(), -math.inf if waited else loop.time())
        self._queue.add(job)
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
            return await self._once(func, args, waited=True)
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
        self._queue.clear()
        for worker in idle:
            _unwatch(worker)
            worker.stop(kill=False)
        for worker in busy:
            _unwatch(worker)
            worker.stop(kill=True)


def _unwatch(worker: _Worker) -> None:
    """Stop watching a worker's pipe (before it is closed: a closed descriptor's number is reused)."""
    if worker.loop is not None and not worker.loop.is_closed():
        with contextlib.suppress(Exception):
            worker.loop.remove_reader(worker.conn.fileno())
    worker.loop = None


def _pickle(job: tuple[Callable[..., Any], tuple[Any, ...]]) -> bytes:
    return bytes(ForkingPickler.dumps(job))
