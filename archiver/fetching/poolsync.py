"""httpcore's locks, connection event and cancellation shields on asyncio's own, without anyio in between.

Upstream: httpcore takes anyio's primitives even under asyncio, and each acquisition of anyio's lock
yields to the event loop even when nobody holds it (encode/httpcore#922 "Use asyncio synchronization
instead of anyio", measured in encode/httpx#3215; the fast-acquire fix, encode/httpcore#953, was
reverted in #1002). A request through httpcore's HTTP/1.1 pool takes a lock three times, shields its
clean-ups three times and may wait on an event for a connection; docs/benchmarks.md has what that
cost per fetch.

This is the project's one reach into a library's private modules. `install()` puts these in their
place in httpcore's pool, connection and HTTP/1.1 modules (the names those modules look up when they
make one), and declines (returns False, httpcore untouched) when those modules do not hold httpcore's
own primitives under the expected names; tests/test_poolsync.py fails loudly that day, and
pyproject.toml caps httpcore at the minor version the tests ran with. Each primitive is asyncio's own
when the loop is asyncio's, and httpcore's own otherwise (trio). A shield matters only against
anyio's cancel scopes: it opens anyio's shield when the task runs inside one, and costs nothing
when it does not.
"""

from __future__ import annotations

import asyncio
import importlib
import sys
from types import TracebackType

import httpcore
from httpcore import _synchronization as original

# What httpcore's modules call each primitive, and which of them use which.
_USERS = {
    "httpcore._async.connection": ("AsyncLock",),
    "httpcore._async.http11": ("AsyncLock", "AsyncShieldCancellation"),
    "httpcore._async.connection_pool": ("AsyncEvent", "AsyncShieldCancellation"),
}


def _on_asyncio() -> bool:
    """Whether the running loop is asyncio's: httpcore knows asyncio and trio, and without trio loaded
    it is asyncio (not asked of sniffio for each request: that was a tenth of what is left here)."""
    return "trio" not in sys.modules or original.current_async_library() == "asyncio"


class Lock:
    """httpcore's AsyncLock: asyncio.Lock under asyncio (no loop turn when nobody holds it)."""

    __slots__ = ("_lock", "_other")

    def __init__(self) -> None:
        self._lock: asyncio.Lock | None = None
        self._other: original.AsyncLock | None = None

    async def __aenter__(self) -> Lock:
        if self._lock is None and self._other is None:
            if _on_asyncio():
                self._lock = asyncio.Lock()
            else:
                self._other = original.AsyncLock()
        if self._lock is not None:
            await self._lock.acquire()
        else:
            assert self._other is not None
            await self._other.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        if self._lock is not None:
            self._lock.release()
        elif self._other is not None:
            await self._other.__aexit__(exc_type, exc_value, traceback)


class Event:
    """httpcore's AsyncEvent (a request waiting for a connection): asyncio.Event under asyncio;
    a wait past its time-out raises httpcore's PoolTimeout, as httpcore's own does."""

    __slots__ = ("_event", "_other")

    def __init__(self) -> None:
        self._event: asyncio.Event | None = None
        self._other: original.AsyncEvent | None = None

    def _choose(self) -> None:
        if self._event is None and self._other is None:
            if _on_asyncio():
                self._event = asyncio.Event()
            else:
                self._other = original.AsyncEvent()

    def set(self) -> None:
        self._choose()
        if self._event is not None:
            self._event.set()
        else:
            assert self._other is not None
            self._other.set()

    async def wait(self, timeout: float | None = None) -> None:
        self._choose()
        if self._event is None:
            assert self._other is not None
            await self._other.wait(timeout)
            return
        try:
            async with asyncio.timeout(timeout):
                await self._event.wait()
        except TimeoutError as exc:
            raise httpcore.PoolTimeout(str(exc) or "timed out waiting for a connection") from exc


def _inside_anyio_scope() -> bool:
    """Whether the current task runs inside one of anyio's cancel scopes (which a shield keeps out).

    When anyio's asyncio backend was never loaded, no such scope can exist. If anyio's layout is not
    the one known, the answer is yes: the shield is then httpcore's own, as always."""
    backend = sys.modules.get("anyio._backends._asyncio")
    if backend is None:
        return False
    states = getattr(backend, "_task_states", None)
    task = asyncio.current_task()
    if states is None or task is None:
        return True
    state = states.get(task)
    return state is not None and getattr(state, "cancel_scope", True) is not None


class Shield:
    """httpcore's AsyncShieldCancellation: anyio's (or trio's) shield when there is a scope to keep out."""

    __slots__ = ("_shield",)

    def __init__(self) -> None:
        needed = not _on_asyncio() or _inside_anyio_scope()
        self._shield = original.AsyncShieldCancellation() if needed else None

    def __enter__(self) -> Shield:
        if self._shield is not None:
            self._shield.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        if self._shield is not None:
            self._shield.__exit__(exc_type, exc_value, traceback)


_OURS: dict[str, type] = {"AsyncLock": Lock, "AsyncEvent": Event, "AsyncShieldCancellation": Shield}


def install() -> bool:
    """Put these primitives in httpcore's modules (once; again is harmless).

    False, and httpcore left as it is, when a module does not hold httpcore's own primitives under
    the expected names (another httpcore layout): then requests run as httpcore has them."""
    modules = {name: importlib.import_module(name) for name in _USERS}
    for name, primitives in _USERS.items():
        for primitive in primitives:
            found = getattr(modules[name], primitive, None)
            if found is not getattr(original, primitive, None) and found is not _OURS[primitive]:
                return False
    for name, primitives in _USERS.items():
        for primitive in primitives:
            setattr(modules[name], primitive, _OURS[primitive])
    return True
