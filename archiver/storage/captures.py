"""A fetch stored in the WARC files: its records written, a file rotation opened for it registered."""

from __future__ import annotations

from datetime import datetime

from archiver.outcomes import Fetch
from archiver.storage.catalog import Catalog
from archiver.storage.warcstore import Revisit, Stored, WarcStore


def store_fetch(
    store: WarcStore, catalog: Catalog, fetch: Fetch, now: datetime, revisit: Revisit | None = None
) -> Stored:
    """Write a fetch's records (and fsync); register a WARC file that rotation opened."""
    stored = store.write_fetch(fetch, revisit)
    if stored.rotated:
        catalog.register_warc_file(*stored.rotated, now)
    return stored
