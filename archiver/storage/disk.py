"""The archive on its disk: what was written made durable (one syncfs(2), else an fsync per file), and
its many-file folders spread over the file system."""

from __future__ import annotations

import contextlib
import ctypes
import os
import struct
from collections.abc import Iterable
from pathlib import Path

# The process's own symbols, libc's among them: ctypes.util.find_library would run `ldconfig -p` in a
# subprocess at every start, in the run and in the workers' forkserver.
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


# chattr +T: "the top of directory hierarchies for the purposes of the Orlov block allocator" (ext2/3/4).
_FS_IOC_GETFLAGS, _FS_IOC_SETFLAGS, _FS_TOPDIR_FL = 0x80086601, 0x40086602, 0x00020000


def spread_subdirectories(directory: Path) -> None:
    """Ask ext4 to place directory's subfolders across the disk's block groups (chattr +T), best effort.

    Otherwise they share their parent's group, and every file created in them is one more inode taken
    there: on ext4 without a journal, each new inode is sought past every inode of the group freed in
    the last minutes, so a run right after deleting an archive beside this one paid for each text file
    in kernel time (docs/benchmarks.md). Other file systems refuse the request, which changes nothing."""
    import fcntl

    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            flags = struct.unpack("i", fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 4))[0]
            if not flags & _FS_TOPDIR_FL:
                fcntl.ioctl(fd, _FS_IOC_SETFLAGS, struct.pack("i", flags | _FS_TOPDIR_FL))
        finally:
            os.close(fd)
