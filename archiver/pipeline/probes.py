"""Soft-404 probes: once per site and link shape a night, a request for a page that cannot exist.

A link whose page looks suspect (short, titled "not found") waits for its site's probe: what the
site answers for nonsense tells a soft "not found" page from a real one. Probes are asked only when
a page needs one, queued on the site like any fetch, and abandoned when the night stops.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from archiver.judging.analysis import probe_text
from archiver.judging.decide import ProbeAnswer
from archiver.judging.signs import probe_path
from archiver.judging.workers import WorkerFailed
from archiver.outcomes import Fetch
from archiver.pipeline.night import Night


@dataclass(frozen=True, slots=True)
class Probe:
    """A request for a path that cannot exist on a site."""

    url: str


class Abandoned(Exception):
    """An errand's turn will not come tonight (the night stopped, or its site asked to be left alone)."""


@dataclass(eq=False, slots=True)
class Errand:
    """A request of the night's own (a report page, a feed) waiting for its site's turn like any link."""

    granted: asyncio.Future[None]  # its turn came: the host's slot is held for it (Abandoned: never)
    finished: asyncio.Future[None]  # it is done: the slot is free

    def abandon(self) -> None:
        if not self.granted.done():
            self.granted.set_exception(Abandoned())


Job = tuple[int, int] | Probe | Errand  # (link id, attempt), a soft-404 probe, or an errand


class Probes:
    """The night's probes by URL: each asked once, its answer awaited by every link that needs it."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.answers: dict[str, asyncio.Future[ProbeAnswer | None]] = {}
        self.started: set[str] = set()

    def wanted(self, url: str) -> tuple[str, asyncio.Future[ProbeAnswer | None], bool]:
        """The probe of this link's site and shape, its future answer, and whether it is new (to queue)."""
        probe_url = probe_path(url, self.token)
        new = probe_url not in self.answers
        if new:
            self.answers[probe_url] = asyncio.get_running_loop().create_future()
        return probe_url, self.answers[probe_url], new

    def answer(self, url: str, answer: ProbeAnswer | None) -> None:
        future = self.answers.get(url)
        if future is not None and not future.done():
            future.set_result(answer)

    def never(self, url: str) -> None:
        """A queued probe that will not start (its host asked to be left alone): its waiters judge without it."""
        self.answer(url, None)
        self.started.add(url)  # never to start: not a link left over

    def abandon(self) -> None:
        """On stop, the probes not started never will be: their waiters judge without them."""
        for url in self.answers:
            if url not in self.started:
                self.answer(url, None)

    def not_started(self) -> int:
        return sum(1 for url in self.answers if url not in self.started)


async def ask(night: Night, probe: Probe, fetched: Callable[[], None]) -> ProbeAnswer | None:
    """Fetch a probe (then tell `fetched`: its connection slot is free) and read its text in a worker
    (no text: the probe simply says less)."""
    result = Fetch(probe.url, probe.url)
    try:
        result = await night.fetcher.fetch(probe.url)
        fetched()
        text = None
        if result.failure is None and result.decoded is not None and result.status is not None:
            with contextlib.suppress(WorkerFailed):
                text = await night.pool.run(probe_text, result.decoded, result.content_type, result.final_url)
        return ProbeAnswer(result.status if result.failure is None else None, result.final_url, text)
    finally:
        result.discard()
