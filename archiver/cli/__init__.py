"""The command line: flags in, one library call, render, exit code. A module per command group.

Imports the library (the pipeline and the stages); nothing imports it but archiver.__main__.
"""

from __future__ import annotations

import signal
import sqlite3
import sys

from archiver.cli.group import cli  # each command's module is imported when the command runs
from archiver.cli.options import error
from archiver.errors import ArchiverError, archive_fault

__all__ = ["cli", "main"]


def main() -> None:
    """Entry point: run the CLI, turning ArchiverError (and a fault of the archive's disk) into one line, exit 1."""
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file-size limit is a write error (EFBIG), not a kill
    try:
        cli(standalone_mode=True)
    except ArchiverError as exc:
        error(str(exc))
        sys.exit(1)
    except (OSError, sqlite3.Error) as exc:
        fault = archive_fault(exc)
        if fault is None:
            raise
        error(str(fault))
        sys.exit(1)
