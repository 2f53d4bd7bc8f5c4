"""The night's files, opened and closed together: the WARC store, the storage thread that owns it and
the catalog's writer, the search index, and (the shared setup's) uploads to the object store."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from archiver.config import Settings
from archiver.errors import ArchiveError
from archiver.storage.catalog import Catalog
from archiver.storage.objectstore import ObjectStore
from archiver.storage.searchindex import open_index
from archiver.storage.storagethread import StorageThread
from archiver.storage.uploads import Uploads
from archiver.storage.warcstore import WarcStore


class NightFiles:
    """What a night writes to, built before it starts and closed whatever ended it."""

    def __init__(
        self,
        archive: Path,
        settings: Settings,
        catalog: Catalog,
        clock: Callable[[], datetime],
        objects: ObjectStore | None,
        shared: bool,
    ) -> None:
        # Workers on several machines write into one catalog (and one bucket): their files name their machine.
        machine = f"-{socket.gethostname()}" if shared or objects is not None else ""
        prefix = f"archiver-{clock():%Y%m%d%H%M%S}{machine}-{os.getpid()}"
        size = min(settings.warc_max_size, settings.store_max_size) if objects else settings.warc_max_size
        self.archive = archive
        self.catalog = catalog
        self.clock = clock
        self.store = WarcStore(archive, size, prefix, clock, settings.store_max_age if objects else None)
        self.storage = StorageThread(archive, self.store, catalog, clock)
        self.objects = objects
        self.uploads: Uploads | None = None

    async def open(self) -> None:
        """The night's first WARC file; the search index; the uploads, with what earlier runs left."""
        loop = asyncio.get_running_loop()
        storage = self.storage
        name, size = await loop.run_in_executor(storage, self.store.start)
        await loop.run_in_executor(storage, self.catalog.register_warc_file, name, size, self.clock())
        with contextlib.suppress(ArchiveError):  # no search index tonight: the catch-up after it makes one
            storage.search = await loop.run_in_executor(storage, open_index, self.archive, self.catalog)
        if self.objects is not None:
            self.uploads = Uploads(self.archive, self.objects, self._uploaded)
            self.uploads.retry(current=name)
            storage.uploads = self.uploads

    def _uploaded(self, name: str, object_url: str) -> None:
        """Called on the uploads' thread: the catalog's writer is the storage thread's."""
        self.storage.submit(self.catalog.warc_uploaded, name, object_url).result()

    async def close(self) -> dict[str, Any] | None:
        """Close the WARC file (and send it up), the search index, the storage thread; what was uploaded."""
        loop = asyncio.get_running_loop()
        storage = self.storage
        try:
            with contextlib.suppress(OSError):  # every record was fsynced when written
                await loop.run_in_executor(storage, self.store.close)
            if storage.search is not None:
                await loop.run_in_executor(storage, storage.search.close)
            uploads = self.uploads
            if uploads is None:
                return None
            if self.store.name is not None and self.store.healthy:
                uploads.warc(self.store.name)  # every record of it is committed: the night is over
            await loop.run_in_executor(None, uploads.close)
            return {"store": uploads.store.url, "uploaded": uploads.done, "failed": uploads.failed}
        finally:
            storage.shutdown(wait=True)
