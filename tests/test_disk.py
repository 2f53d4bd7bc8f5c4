"""The archive on its disk: the text folder's subfolders spread over ext4's block groups (chattr +T)."""

from __future__ import annotations

import fcntl
import os
import struct
from pathlib import Path

import pytest

from archiver.storage.disk import spread_subdirectories
from archiver.storage.textstore import TEXT_DIR, prepare_text_store, put_text, text_path

FS_IOC_GETFLAGS, FS_TOPDIR_FL = 0x80086601, 0x00020000


def _flags(path: Path) -> int | None:
    """The folder's inode flags (lsattr), or None where the file system has none."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return int(struct.unpack("i", fcntl.ioctl(fd, FS_IOC_GETFLAGS, b"\0" * 4))[0])
    except OSError:
        return None
    finally:
        os.close(fd)


def test_the_text_folder_is_the_top_of_its_hierarchy_where_the_file_system_has_the_flag(tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    prepare_text_store(archive)
    prepare_text_store(archive)  # again, on an archive that has it: nothing changes, nothing fails
    folder = archive / TEXT_DIR
    assert folder.is_dir()
    flags = _flags(folder)
    if flags is None:
        pytest.skip(f"{tmp_path}'s file system keeps no inode flags")
    assert flags & FS_TOPDIR_FL
    digest = put_text(archive, "A story.")  # its text/ab/ folder is made under it as before
    assert text_path(archive, digest).read_text(encoding="utf-8") == "A story."


def test_a_file_system_without_the_flag_changes_nothing(tmp_path: Path) -> None:
    spread_subdirectories(Path("/proc/self"))  # procfs refuses inode flags: no error
    spread_subdirectories(tmp_path / "missing")  # nor for a folder that is not there
