"""The exceptions that stop a command, and nothing else.

A link that fails is a value (``fetch.Failure``), never an exception.
``ArchiverError`` is raised only when the command itself cannot go on;
``cli.py`` prints it as ``archiver: error: ...`` and exits 1.

    ArchiverError
     ├── ReportError        a report file cannot be read or parsed
     ├── ArchiveError       the archive directory or catalog is unusable (disk full,
     │    │                 permissions, a broken catalog: see archive_fault)
     │    └── LockedError   another run holds the archive's lock
     ├── ConfigError        the configuration file or a flag is invalid
     │    └── MissingExtra  a feature's optional dependencies are not installed
     └── NotFoundError      an unknown report or footnote number
"""

from __future__ import annotations

import errno
import sqlite3


class ArchiverError(Exception):
    """The command cannot go on."""


class ReportError(ArchiverError):
    """A report file cannot be read or parsed."""


class ArchiveError(ArchiverError):
    """The archive directory or its catalog is unusable."""


class LockedError(ArchiveError):
    """Another run holds the archive's lock."""


class ConfigError(ArchiverError):
    """The configuration file or a flag is invalid."""


class MissingExtra(ConfigError):
    """A feature needs an extra that is not installed: says which, and the command that installs it."""

    def __init__(self, feature: str, extra: str) -> None:
        super().__init__(f"{feature} needs the {extra} extra: pip install 'archiver[{extra}]'")
        self.extra = extra


class NotFoundError(ArchiverError):
    """An unknown report or footnote number."""


# Errors of the disk under the archive, not of one link: no later link can do better.
_DISK_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.EMFILE}
)


def archive_fault(exc: BaseException) -> ArchiveError | None:
    """The exception as an ArchiveError when it is the archive's fault (stop the run), else None (one link's)."""
    if isinstance(exc, ArchiveError):
        return exc
    if isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS:
        where = f" ({exc.filename})" if exc.filename else ""
        return ArchiveError(f"cannot write to the archive{where}: {exc.strerror or exc}")
    # Full, read-only, locked or broken (a bare DatabaseError: "malformed"); an IntegrityError is our bug.
    if isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError:
        return ArchiveError(f"the catalog cannot be written: {exc}")
    return None
