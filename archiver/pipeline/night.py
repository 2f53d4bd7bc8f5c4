"""The night's services, built once and held together: what every part of a run reaches for.

scrapy's engine holds its scheduler, downloader and scraper; our night holds the settings, the
clock, the capturer, the extraction workers, the storage thread and its stores, the catalog (the
storage thread's writer, and a reader for link states) and the run's id. Nothing is assigned after
it is built; the parts of the run take the whole of it instead of one service at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from archiver.config import Settings
from archiver.fetching.capture import Capturer
from archiver.fetching.fetch import Fetcher
from archiver.judging.decide import Rules
from archiver.judging.workers import WorkerPool
from archiver.outcomes import Checked
from archiver.pipeline.summary import RunSummary
from archiver.storage.catalog import Catalog, CatalogReader
from archiver.storage.storagethread import StorageThread
from archiver.storage.warcstore import WarcStore

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Night:
    """One run's services."""

    archive: Path
    settings: Settings
    clock: Clock
    run_id: int
    catalog: Catalog  # the writer: used on the storage thread only while the night runs
    reader: CatalogReader  # a read-only connection: link states as their checks start
    store: WarcStore
    storage: StorageThread
    capturer: Capturer  # what a link's check asks for its page
    fetcher: Fetcher  # plain requests: soft-404 probes, web archive lookups
    pool: WorkerPool
    summary: RunSummary
    rules: Rules
    on_checked: Callable[[Checked], None]
    only_links: set[str] | None  # `check --live`: just these URLs
    recheck: float  # the re-check interval the plan was made with (hours)
