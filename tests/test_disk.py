"""The archive on its disk: the text folder's subfolders spread over ext4's block groups (chattr +T)."""

from __future__ import annotations

import fcntl
import os
import struct
from pathlib import Path

import pytest

from archiver.storage.disk import spread_subdirectories
from archiver.storage.textstore import TEXT_DIR, prepare_text_store, put_text, text_path

FS_IOC_GETFLAGS, FS_IOC_SETFLAGS, FS_TOPDIR_FL = 0x80086601, 0x40086602, 0x00020000


def _flags(path: Path) -> int | None:
    """The folder's inode flags (lsattr), or None where the file system has none."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return int(struct.unpack("i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, b"\0" * 4))[0])
    except OSError:
        return None
    finally:
        os.close(fd)


def _keeps_topdir_flag(directory: Path) -> bool:
    """Whether the file system keeps FS_TOPDIR_FL on a folder (ext4 does; tmpfs answers the ioctls and
    keeps nothing): set it on a scratch folder with the ioctl itself and read it back."""
    scratch = directory / "scratch-topdir"
    scratch.mkdir()
    fd = os.open(scratch, os.O_RDONLY | os.O_DIRECTORY)
    try:
        flags = int(struct.unpack("i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, b"\0" * 4))[0])
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("i", flags | FS_TOPDIR_FL))
        kept = int(struct.unpack("i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, b"\0" * 4))[0])
    except OSError:
        return False
    finally:
        os.close(fd)
        scratch.rmdir()
    return bool(kept & FS_TOPDIR_FL)


def test_the_text_folder_is_the_top_of_its_hierarchy_where_the_file_system_has_the_flag(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    prepare_text_store(archive)
    prepare_text_store(archive)  # again, on an archive that has it: nothing changes, nothing fails
    folder = archive / TEXT_DIR
    assert folder.is_dir()
    if not _keeps_topdir_flag(tmp_path):
        pytest.skip(f"{tmp_path}'s file system does not keep the top-directory flag (tmpfs, btrfs...)")
    flags = _flags(folder)
    assert flags is not None and flags & FS_TOPDIR_FL
    digest = put_text(archive, "A story.")  # its text/ab/ folder is made under it as before
    assert text_path(archive, digest).read_text(encoding="utf-8") == "A story."


def test_a_file_system_without_the_flag_changes_nothing(tmp_path: Path) -> None:
    """Best effort: where the flag cannot be set, the call raises nothing and makes nothing."""
    spread_subdirectories(Path("/proc/self"))  # procfs refuses inode flags
    missing = tmp_path / "missing"
    spread_subdirectories(missing)  # nor for a folder that is not there
    assert not missing.exists() and list(tmp_path.iterdir()) == []
