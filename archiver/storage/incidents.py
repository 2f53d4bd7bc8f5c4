"""Internal errors of one link: a one-line reason for the catalog, the traceback in ARCHIVE/logs/errors.log."""

from __future__ import annotations

import contextlib
import traceback
from datetime import datetime
from pathlib import Path

LOG_DIR = "logs"
ERROR_LOG = "errors.log"


def one_line(exc: BaseException) -> str:
    """The exception as one short line: its type and the first line of its message."""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text[:200]


def log_incident(archive: Path, now: datetime, what: str, exc: BaseException) -> None:
    """Append the traceback to the archive's error log; a log that cannot be written is no reason to stop."""
    log_trace(archive, now, what, "".join(traceback.format_exception(exc)))


def log_trace(archive: Path, now: datetime, what: str, trace: str) -> None:
    """Append a traceback already formatted (one from a worker process) to the archive's error log."""
    with contextlib.suppress(OSError):
        (archive / LOG_DIR).mkdir(exist_ok=True)
        with (archive / LOG_DIR / ERROR_LOG).open("a", encoding="utf-8") as log:
            log.write(f"--- {now.isoformat()} {what}\n{trace}\n")
