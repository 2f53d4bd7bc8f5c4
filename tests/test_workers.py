"""The worker pool survives a crashing or hanging job."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from archiver.judging.workers import WorkerFailed, WorkerPool


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
        while len(pool._pool._processes or {}) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(pool._pool._processes or {}) == 2
        assert asyncio.run(pool.run(loaded_modules)) == ["archiver.judging.analysis", "lxml.etree", "trafilatura"]
    finally:
        pool.shutdown()
