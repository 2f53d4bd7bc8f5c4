"""The catalog: the only SQL in the program.

schema.py holds the migrations and connections; reader.py (with plan.py and exports.py) the
read-only queries; writer.py the one writing connection, which the storage thread owns during a night.
"""

from archiver.outcomes import CaptureRow, CheckRow, LinkState
from archiver.storage.catalog.reader import CatalogReader, StatusFilter
from archiver.storage.catalog.schema import CATALOG_NAME, MIGRATIONS, iso, parse_iso
from archiver.storage.catalog.writer import Catalog

__all__ = [
    "CATALOG_NAME",
    "MIGRATIONS",
    "CaptureRow",
    "Catalog",
    "CatalogReader",
    "CheckRow",
    "LinkState",
    "StatusFilter",
    "iso",
    "parse_iso",
]
