"""A worker's uploads to the object store, on a thread of their own: texts and screenshots as their
batch commits, each WARC file once it is closed and every record in it committed.

Nothing is deleted before its upload is confirmed, and nothing waits for the bucket: a text stays in
the local directory too, a WARC file is deleted locally only once the object has its size and the
catalog names it. What is not uploaded yet is written down in ARCHIVE/uploads.pending (texts and
screenshots; WARC files are the local warc/ directory itself), so a failed upload is tried again by
the next run.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from archiver.storage.objectstore import ObjectStore
from archiver.storage.warcstore import WARC_DIR

PENDING = "uploads.pending"
_STOP = ("", "")


class Uploads:
    """Queue of (kind, archive-relative path) to upload; kind is "file" (kept) or "warc" (deleted after)."""

    def __init__(self, root: Path, store: ObjectStore, uploaded: Callable[[str, str], None]) -> None:
        self.root = root
        self.store = store
        self.uploaded = uploaded  # (WARC file name, object URL): the catalog names it (before it goes locally)
        self.failed: list[str] = []
        self.done = 0
        self._queue: queue.SimpleQueue[tuple[str, str]] = queue.SimpleQueue()
        self._pending: set[str] = set(_read_pending(root))
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="uploads", daemon=True)
        self._thread.start()

    def files(self, relatives: Iterable[str]) -> None:
        """Committed texts and screenshots: written down as pending, then uploaded."""
        new = [relative for relative in relatives if relative]
        if not new:
            return
        with self._lock:
            fresh = [relative for relative in new if relative not in self._pending]
            self._pending.update(fresh)
        if fresh:
            _append_pending(self.root, fresh)
            for relative in fresh:
                self._queue.put(("file", relative))

    def warc(self, name: str) -> None:
        """A closed WARC file whose records are all committed."""
        self._queue.put(("warc", f"{WARC_DIR}/{name}"))

    def retry(self, current: str | None = None) -> None:
        """What earlier runs left: pending texts and screenshots, and every local WARC file but current."""
        for relative in sorted(self._pending):
            self._queue.put(("file", relative))
        directory = self.root / WARC_DIR
        for path in sorted(directory.glob("*.warc.gz")) if directory.exists() else []:
            if path.name != current:
                self.warc(path.name)

    def close(self) -> None:
        """Upload what is queued, then stop; rewrite the pending list with what is left."""
        self._queue.put(_STOP)
        self._thread.join()
        with self._lock:
            left = sorted(self._pending)
        _write_pending(self.root, left)

    def _serve(self) -> None:
        while True:
            kind, relative = self._queue.get()
            if (kind, relative) == _STOP:
                return
            try:
                self._upload(kind, relative)
                self.done += 1
            except Exception as exc:  # the bucket is down, the credentials wrong: the next run tries again
                self.failed.append(f"{relative}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")

    def _upload(self, kind: str, relative: str) -> None:
        path = self.root / relative
        if kind == "file":
            if path.exists():
                self.store.upload_file(path, relative)
            with self._lock:
                self._pending.discard(relative)
            return
        if not path.exists():
            return
        self.store.upload_file(path, relative)
        self.uploaded(path.name, self.store.url_of(relative))
        path.unlink()


def _read_pending(root: Path) -> list[str]:
    try:
        return [line for line in (root / PENDING).read_text(encoding="utf-8").splitlines() if line]
    except FileNotFoundError:
        return []


def _append_pending(root: Path, relatives: list[str]) -> None:
    with (root / PENDING).open("a", encoding="utf-8") as file:
        file.write("".join(f"{relative}\n" for relative in relatives))
        file.flush()
        os.fsync(file.fileno())


def _write_pending(root: Path, relatives: list[str]) -> None:
    path = root / PENDING
    tmp = path.with_name(f"{PENDING}.tmp")
    with contextlib.suppress(OSError):
        tmp.write_text("".join(f"{relative}\n" for relative in relatives), encoding="utf-8")
        os.replace(tmp, path)
