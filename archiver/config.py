"""Settings: every default in one place, read from the archive's archiver.toml, overridden by flags."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_ARCHIVE = Path("archive")
ARCHIVE_ENV = "ARCHIVER_ARCHIVE"


def archive_path(flag: Path | None) -> Path:
    """The archive directory: --archive, else $ARCHIVER_ARCHIVE, else ./archive."""
    if flag is not None:
        return flag
    env = os.environ.get(ARCHIVE_ENV)
    return Path(env) if env else DEFAULT_ARCHIVE
