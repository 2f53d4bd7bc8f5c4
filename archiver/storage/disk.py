"""Making what was written durable: one syncfs(2) for the whole archive, else an fsync per file."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterable
from pathlib import Path

# The process's own symbols, libc's among them: ctypes.util.find_library would run `ldconfig -p` in a
# subprocess at every start (11 ms, in the run and in the workers' forkserver).
_libc = ctypes.CDLL(None, use_errno=True)
_syncfs = getattr(_libc, "syncfs", None)


def sync_filesystem(directory: Path) -> bool:
    """Flush everything written on the file system that holds directory (Linux's syncfs); False where there is none."""
    if _syncfs is None:
        return False
    fd = os.open(directory, os.O_RDONLY)
    try:
        if _syncfs(fd) != 0:
            error = ctypes.get_errno()
            raise OSError(error, os.strerror(error), str(directory))
    finally:
        os.close(fd)
    return True


def fsync_files(paths: Iterable[Path]) -> None:
    """fsync each file (and so what it holds) that exists."""
    for path in paths:
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            continue
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
