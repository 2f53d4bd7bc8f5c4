"""Extracted texts stored by content (SHA-256): identical text is stored once."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

from archiver.storage.disk import fsync_files, sync_filesystem

TEXT_DIR = "text"


def text_digest(text: str) -> str:
    """The SHA-256 of a text's UTF-8 bytes, hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def put_text(root: Path, text: str) -> str:
    """Store a text (atomically, once) and return its digest.

    Not fsynced here: the storage thread makes a batch's texts and records durable at once
    (make_durable) before it commits the rows that name them.
    """
    digest = text_digest(text)
    path = text_path(root, digest)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            with tmp.open("w", encoding="utf-8") as file:
                file.write(text)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk leaves no half text behind
            raise
    return digest


def get_text(root: Path, digest: str | None) -> str | None:
    """A stored text by digest, or None."""
    if not digest:
        return None
    try:
        return text_path(root, digest).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def text_path(root: Path, digest: str) -> Path:
    """Where a digest's text lives: text/ab/abcdef....txt."""
    return root / TEXT_DIR / digest[:2] / f"{digest}.txt"


def make_durable(root: Path, digests: Iterable[str | None]) -> bool:
    """Every text named on disk: one syncfs (then everything written under the archive is), else an fsync each.

    True when the syncfs covered everything, WARC files included; False when only the texts were synced.
    """
    if sync_filesystem(root):
        return True
    fsync_files(text_path(root, digest) for digest in digests if digest)
    return False
