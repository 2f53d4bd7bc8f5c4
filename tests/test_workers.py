"""The worker pool survives a crashing or hanging job."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archiver.judging.workers import WORKER_NICENESS, WorkerFailed, WorkerPool


def crash() -> int:
    os.kill(os.getpid(), signal.SIGKILL)
    return 0


def hang() -> int:
    time.sleep(60)
    return 0


def square(x: int) -> int:
    return x * x


def test_a_crash_or_a_hang_fails_one_job_and_the_pool_goes_on() -> None:
    async def go() -> None:
        pool = WorkerPool(1, timeout=2)
        try:
            assert await pool.run(square, 3) == 9
            with pytest.raises(WorkerFailed, match="crashed"):
                await pool.run(crash)
            assert await pool.run(square, 4) == 16
            with pytest.raises(WorkerFailed, match="within 2 s"):
                await pool.run(hang)
            assert await pool.run(square, 5) == 25
        finally:
            pool.shutdown()

    asyncio.run(go())


def loaded_modules() -> list[str]:
    import sys

    return sorted(name for name in ("trafilatura", "lxml.etree", "archiver.judging.analysis") if name in sys.modules)


def test_warm_starts_every_worker_with_the_extractor_already_imported() -> None:
    """A run warms its pool before reading its reports: the workers are there, trafilatura loaded by the forkserver."""
    pool = WorkerPool(2, timeout=10)
    try:
        pool.warm()
        deadline = time.monotonic() + 20
        while pool.started < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.started == 2
        assert asyncio.run(pool.run(loaded_modules)) == ["archiver.judging.analysis", "lxml.etree", "trafilatura"]
    finally:
        pool.shutdown()


def slow_square(x: int) -> int:
    time.sleep(0.05)
    return x * x


def fail(message: str) -> int:
    raise ValueError(message)


def test_jobs_queue_for_two_workers_errors_come_back_and_a_cancelled_wait_frees_its_worker() -> None:
    async def go() -> None:
        pool = WorkerPool(2, timeout=10)
        pool.warm()  # jobs arrive while the warming thread is still starting the workers: still two of them
        try:
            results = await asyncio.gather(*(pool.run(slow_square, x) for x in range(10)))
            assert results == [x * x for x in range(10)]
            assert pool.started == 2
            with pytest.raises(ValueError, match="the page's own error"):
                await pool.run(fail, "the page's own error")
            waiting = asyncio.ensure_future(pool.run(hang))
            await asyncio.sleep(0.5)
            waiting.cancel()  # the run stops: the worker finishes (or is killed at shutdown), the pool goes on
            with pytest.raises(asyncio.CancelledError):
                await waiting
            assert await asyncio.wait_for(pool.run(square, 7), 5) == 49
        finally:
            pool.shutdown()

    asyncio.run(go())


def test_an_argument_that_cannot_travel_fails_its_job_only() -> None:
    async def go() -> None:
        pool = WorkerPool(1, timeout=10)
        try:
            with pytest.raises(Exception, match="pickle"):
                await pool.run(square, lambda: 3)  # a lambda cannot be sent to another process
            assert await pool.run(square, 6) == 36
            assert pool.started == 1
        finally:
            pool.shutdown()

    asyncio.run(go())


def test_workers_yield_the_cpu_to_the_run() -> None:
    async def go() -> int:
        pool = WorkerPool(1, timeout=10)
        try:
            return await pool.run(os.nice, 0)  # os.nice(0) says a process's niceness
        finally:
            pool.shutdown()

    assert asyncio.run(go()) == min(19, os.nice(0) + WORKER_NICENESS)


def test_a_worker_that_dies_between_jobs_is_noticed_and_replaced() -> None:
    async def go() -> None:
        pool = WorkerPool(1, timeout=10)
        try:
            assert await pool.run(square, 2) == 4
            (idle,) = pool._idle
            os.kill(idle.process.pid, signal.SIGKILL)  # the OOM killer, say, while it waits for a page
            for _ in range(100):
                await asyncio.sleep(0.02)
                if not pool._idle:
                    break
            assert pool._idle == [] and pool.started == 0  # its pipe's end was seen, the worker reaped
            assert await pool.run(square, 9) == 81  # and a new one does the next page
            assert pool.started == 1
        finally:
            pool.shutdown()

    asyncio.run(go())


def whose(x: int) -> tuple[int, int]:
    return x, os.getpid()


def out_of_memory() -> int:
    raise MemoryError


def test_jobs_that_wait_together_go_to_one_worker_as_a_batch() -> None:
    """Pages wait for company and a worker runs them back to back (it never waits for the run between them)."""

    async def go() -> None:
        pool = WorkerPool(2, timeout=10, batch=4, linger=60)
        pool.warm()
        try:
            answers = await asyncio.wait_for(asyncio.gather(*(pool.run(whose, x) for x in range(8))), 30)
            assert [x for x, _ in answers] == list(range(8))
            first, second = {pid for _, pid in answers[:4]}, {pid for _, pid in answers[4:]}
            assert len(first) == 1 and len(second) == 1  # a batch of four each: one worker ran each batch
        finally:
            pool.shutdown()

    asyncio.run(go())


def test_a_lone_job_waits_at_most_the_linger_time_and_hurry_sends_what_waits_at_once() -> None:
    async def go() -> None:
        pool = WorkerPool(2, timeout=10, batch=100, linger=0.3)
        pool.warm()
        try:
            assert await asyncio.wait_for(pool.run(square, 3), 30) == 9  # alone, it went when its wait was over
            pool._queue.hurrying = False
            pool._queue.linger = 3600  # now they would wait an hour for company
            waiting = [asyncio.ensure_future(pool.run(whose, x)) for x in range(4)]
            await asyncio.sleep(0.5)
            assert not any(task.done() for task in waiting)
            pool.hurry()  # the night's last pages: an even share for each idle worker, now
            answers = await asyncio.wait_for(asyncio.gather(*waiting), 30)
            assert [x for x, _ in answers] == [0, 1, 2, 3]
            assert pool.started == 2 and len({pid for _, pid in answers}) == 2
            assert await asyncio.wait_for(pool.run(square, 5), 5) == 25  # hurried for good: no more waiting
        finally:
            pool.shutdown()

    asyncio.run(go())


@pytest.mark.parametrize("bad", [crash, hang, out_of_memory])
def test_a_job_that_breaks_its_worker_mid_batch_fails_alone_the_rest_of_its_batch_is_answered(bad) -> None:  # type: ignore[no-untyped-def]
    async def go() -> None:
        pool = WorkerPool(1, timeout=2, batch=5, linger=60)
        try:
            jobs = [pool.run(square, 1), pool.run(square, 2), pool.run(bad), pool.run(square, 4), pool.run(square, 5)]
            answers = await asyncio.wait_for(asyncio.gather(*jobs, return_exceptions=True), 60)
            assert answers[:2] == [1, 4] and answers[3:] == [16, 25]
            assert isinstance(answers[2], WorkerFailed)
            pool.hurry()
            assert await asyncio.wait_for(pool.run(square, 6), 30) == 36  # and the pool goes on
        finally:
            pool.shutdown()

    asyncio.run(go())


EARLY_FORKSERVER = """
import asyncio, multiprocessing.forkserver, sys
from archiver.judging.workers import WorkerPool, start_forkserver
from tests.test_workers import loaded_modules
start_forkserver()
server = multiprocessing.forkserver._forkserver._forkserver_pid
start_forkserver()
assert multiprocessing.forkserver._forkserver._forkserver_pid == server, "a second server"
assert "trafilatura" not in sys.modules, "the caller imported the extractor itself"
async def go():
    pool = WorkerPool(1, timeout=30)
    try:
        return await pool.run(loaded_modules)
    finally:
        pool.shutdown()
print(",".join(asyncio.run(go())))
"""


def test_a_forkserver_started_early_serves_the_pool_with_the_extractor_imported() -> None:
    """`run` starts the forkserver before it imports the network stack (in a fresh process, as `run` does):
    the pool's workers come from that one server, with the extractor already imported."""
    root = Path(__file__).parent.parent
    done = subprocess.run(
        [sys.executable, "-c", EARLY_FORKSERVER], cwd=root, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "archiver.judging.analysis,lxml.etree,trafilatura"


def command_line_loaded() -> list[str]:
    return sorted(name for name in ("archiver.cli", "click", "rich.console") if name in sys.modules)


# The script pip writes for the `archiver` command, the job at its end added: the worker runs the script
# again as __mp_main__ (multiprocessing does so for every process it starts from a script).
COMMAND_SCRIPT = """
import re
import sys
from {module} import {function}
if __name__ == "__main__":
    import asyncio
    from archiver.judging.workers import WorkerPool
    from tests.test_workers import command_line_loaded
    async def go():
        pool = WorkerPool(1, timeout=30, linger=0)
        try:
            return await pool.run(command_line_loaded)
        finally:
            pool.shutdown()
    print(",".join(asyncio.run(go())) or "nothing")
"""


def test_workers_of_the_archiver_command_do_not_load_the_command_line(tmp_path: Path) -> None:
    """A worker of `archiver run` imports the command's script again: it must not bring click, rich and the CLI."""
    from importlib.metadata import entry_points

    (command,) = entry_points(group="console_scripts", name="archiver")
    module, function = command.value.split(":")
    script = tmp_path / "archiver"
    script.write_text(COMMAND_SCRIPT.format(module=module, function=function), encoding="utf-8")
    root = Path(__file__).parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=root, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "nothing"


def test_a_pool_outlives_an_event_loop_that_left_a_page_waiting_for_company() -> None:
    """`check --live` and a run's phases may use one pool from several event loops in turn."""
    pool = WorkerPool(1, timeout=10, batch=10, linger=0.2)

    async def leave() -> None:
        waiting = asyncio.ensure_future(pool.run(square, 2))
        await asyncio.sleep(0.05)  # it waits for company, a wake-up set on this loop
        waiting.cancel()

    async def again() -> int:
        return await asyncio.wait_for(pool.run(square, 3), 10)

    try:
        asyncio.run(leave())
        assert asyncio.run(again()) == 9  # its own wake-up, on the new loop
        assert pool.started == 1  # booted while the first page waited
    finally:
        pool.shutdown()
