"""Extracted texts stored by content (SHA-256): identical text is stored once."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from archiver.storage.disk import fsync_files, spread_subdirectories, sync_filesystem
from archiver.storage.objectstore import store_for

TEXT_DIR = "text"
_FOLDERS: set[str] = set()  # text/ab folders this process knows exist


def prepare_text_store(root: Path) -> None:
    """The text folder, made if missing, its subfolders (text/ab/) to be spread over the disk: they hold
    most of the archive's files, thousands created a night (see spread_subdirectories)."""
    folder = root / TEXT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    spread_subdirectories(folder)


def text_digest(text: str) -> str:
    """The SHA-256 of a text's UTF-8 bytes, hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def put_text(root: Path, text: str) -> str:
    """Store a text (atomically, once) and return its digest.

    Not fsynced here: the storage thread makes a batch's texts and records durable at once
    (make_durable) before it commits the rows that name them.
    """
    data = text.encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    path = os.fspath(text_path(root, digest))
    if os.path.exists(path):
        return digest
    folder = os.path.dirname(path)
    if folder not in _FOLDERS:
        os.makedirs(folder, exist_ok=True)
        _FOLDERS.add(folder)
    tmp = f"{path}.{os.getpid()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        # Plain system calls: a text per page, thousands a night, and pathlib's layers cost four times more.
        try:
            fd = os.open(tmp, flags, 0o644)
        except FileNotFoundError:  # its folder went since this process made it
            os.makedirs(folder, exist_ok=True)
            fd = os.open(tmp, flags, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # a full disk leaves no half text behind
        raise
    return digest


def get_text(root: Path, digest: str | None) -> str | None:
    """A stored text by digest (from the local directory, else from the archive's object store), or None."""
    if not digest:
        return None
    try:
        return text_path(root, digest).read_text(encoding="utf-8")
    except FileNotFoundError:
        store = store_for(root)
        data = store.get(text_relative(digest)) if store is not None else None
        return data.decode("utf-8") if data is not None else None


def text_relative(digest: str) -> str:
    """A text's path relative to the archive (its object key under the store's prefix)."""
    return f"{TEXT_DIR}/{digest[:2]}/{digest}.txt"


def text_path(root: Path, digest: str) -> Path:
    """Where a digest's text lives: text/ab/abcdef....txt."""
    return root / text_relative(digest)


def make_durable(root: Path, digests: Iterable[str | None]) -> bool:
    """Every text named on disk: one syncfs (then everything written under the archive is), else an fsync each.

    True when the syncfs covered everything, WARC files included; False when only the texts were synced.
    """
    if sync_filesystem(root):
        return True
    fsync_files(text_path(root, digest) for digest in digests if digest)
    return False
