"""httpcore's locks, event and shields on asyncio's own: same behaviour as anyio's, without a loop turn each."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import anyio
import httpcore
import pytest

from archiver.config import Settings
from archiver.fetching import poolsync
from archiver.fetching.fetch import Fetcher
from archiver.outcomes import Failure

from . import server as fixture_server


def test_install_puts_them_in_httpcores_pool_connection_and_http11_modules() -> None:
    # Fails when httpcore's layout changes and install() leaves anyio's primitives in place.
    assert poolsync.install()
    assert poolsync.install()  # again: harmless
    for module, names in poolsync._USERS.items():
        for name in names:
            assert getattr(importlib.import_module(module), name) is poolsync._OURS[name]


async def _loop_turns_while(work: object) -> int:
    """How many times the loop ran another task while `work` (a coroutine) ran."""
    turns = 0
    running = True

    async def count() -> None:
        nonlocal turns
        while running:
            turns += 1
            await asyncio.sleep(0)

    counter = asyncio.create_task(count())
    await asyncio.sleep(0)
    turns = 0
    await work  # type: ignore[misc]
    running = False
    await counter
    return turns


def test_a_free_lock_is_taken_without_a_loop_turn() -> None:
    async def take(lock: object, times: int) -> None:
        for _ in range(times):
            async with lock:  # type: ignore[attr-defined]
                pass

    async def go() -> tuple[int, int]:
        ours = await _loop_turns_while(take(poolsync.Lock(), 100))
        theirs = await _loop_turns_while(take(poolsync.original.AsyncLock(), 100))
        return ours, theirs

    ours, theirs = asyncio.run(go())
    assert ours == 0
    assert theirs >= 100  # anyio's: a cancel-shielded checkpoint each


def test_the_lock_excludes() -> None:
    lock = poolsync.Lock()
    log: list[str] = []

    async def hold(name: str) -> None:
        async with lock:
            log.append(f"{name} in")
            await asyncio.sleep(0.01)
            log.append(f"{name} out")

    async def go() -> None:
        await asyncio.gather(hold("a"), hold("b"), hold("c"))

    asyncio.run(go())
    assert log == ["a in", "a out", "b in", "b out", "c in", "c out"]


def test_the_event_wakes_a_waiter_and_times_out_as_httpcores_pool_timeout() -> None:
    async def go() -> None:
        event = poolsync.Event()
        waiter = asyncio.create_task(event.wait(timeout=5))
        await asyncio.sleep(0.01)
        assert not waiter.done()
        event.set()
        await asyncio.wait_for(waiter, 1)
        with pytest.raises(httpcore.PoolTimeout):
            await poolsync.Event().wait(timeout=0.01)

    asyncio.run(go())


def test_a_shield_keeps_a_cancelled_anyio_scope_out_and_costs_nothing_outside_one() -> None:
    finished: list[str] = []

    async def go() -> None:
        outside = poolsync.Shield()
        assert outside._shield is None  # no anyio scope around: nothing to keep out
        with anyio.CancelScope() as scope:
            scope.cancel()
            shield = poolsync.Shield()
            assert shield._shield is not None
            with shield:
                await asyncio.sleep(0.01)  # would be cancelled without the shield
                finished.append("clean-up")
            await asyncio.sleep(0.01)  # the scope's cancellation lands here
            finished.append("never")
        assert scope.cancelled_caught

    asyncio.run(go())
    assert finished == ["clean-up"]


def test_a_fetch_cut_by_its_time_limit_leaves_its_sites_connections_usable(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    settings = Settings(allow_private=True, connect_timeout=2, read_timeout=5, total_timeout=1)

    async def go() -> list[tuple[Failure | None, int | None]]:
        results = []
        async with Fetcher(settings, tmp_path) as fetcher:
            for path in ("/article", "/drip", "/article", "/drip", "/article"):
                result = await fetcher.fetch(web.url(path))
                results.append((result.failure, result.status if result.failure is None else None))
                result.discard()
            many = await asyncio.gather(*(fetcher.fetch(web.url("/article")) for _ in range(20)))
            results += [(r.failure, r.status) for r in many]
            for result in many:
                result.discard()
        return results

    results = asyncio.run(go())
    assert results[:5] == [(None, 200), (Failure.TIMEOUT, None), (None, 200), (Failure.TIMEOUT, None), (None, 200)]
    assert results[5:] == [(None, 200)] * 20
