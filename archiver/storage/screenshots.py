"""Rendered pages' screenshots: PNG files named by their digest under screenshots/, written once, durably."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

SCREENSHOT_DIR = "screenshots"


def put_screenshot(root: Path, data: bytes) -> str:
    """Store a PNG (atomically and fsynced, once) and return its path relative to the archive."""
    digest = hashlib.sha256(data).hexdigest()
    relative = f"{SCREENSHOT_DIR}/{digest[:2]}/{digest}.png"
    path = root / relative
    if path.exists():
        return relative
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return relative
