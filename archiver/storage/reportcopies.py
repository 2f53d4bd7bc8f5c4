"""Copies of report files as they were archived (by content), so the report itself can be handed back annotated."""

from __future__ import annotations

import os
from pathlib import Path

REPORT_DIR = "reports"


def copy_path(root: Path, digest: str, suffix: str) -> Path:
    """Where a report file's copy lives: reports/ab/abcdef....txt."""
    return root / REPORT_DIR / digest[:2] / f"{digest}{suffix}"


def keep_copy(root: Path, source: Path, digest: str) -> Path:
    """Copy a report file into the archive once (atomically); its path."""
    path = copy_path(root, digest, source.suffix.lower())
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_bytes(source.read_bytes())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return path


def keep_bytes(root: Path, data: bytes, digest: str, suffix: str) -> Path:
    """Keep a report's bytes (a page read from the web) once, atomically; its path."""
    path = copy_path(root, digest, suffix)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return path


def find_copy(root: Path, digest: str | None, source: str | None) -> Path | None:
    """The archived copy of a report file, else the file where it was read (if it is still the same), else None."""
    if digest:
        for candidate in (root / REPORT_DIR / digest[:2]).glob(f"{digest}.*"):
            return candidate
    if source and Path(source).is_file():
        return Path(source)
    return None
