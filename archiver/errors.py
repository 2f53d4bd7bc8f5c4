"""The exceptions that stop a command, and nothing else.

A link that fails is a value (``fetch.Failure``), never an exception.
``ArchiverError`` is raised only when the command itself cannot go on;
``cli.py`` prints it as ``archiver: error: ...`` and exits 1.

    ArchiverError
     ├── ReportError        a report file cannot be read or parsed
     ├── ArchiveError       the archive directory or catalog is unusable
     │    └── LockedError   another run holds the archive's lock
     ├── ConfigError        the configuration file or a flag is invalid
     └── NotFoundError      an unknown report or footnote number
"""

from __future__ import annotations


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


class NotFoundError(ArchiverError):
    """An unknown report or footnote number."""
