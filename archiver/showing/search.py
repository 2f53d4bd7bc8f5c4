"""`archiver search`: which of our sources said it. Every archived text version, ranked (bm25), one result
per link and text, with what cites it, when it was captured, its verdict and a snippet of the original."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archiver.storage.catalog import CatalogReader
from archiver.storage.catalog.searching import TextVersion
from archiver.storage.readrows import Citation
from archiver.storage.searchindex import open_index
from archiver.storage.searchtext import Query, QueryError, parse_query, snippet
from archiver.storage.textstore import get_text

Progress = Callable[[int, int], None]  # (texts indexed so far, texts to index)
_BATCH = 2000


@dataclass(frozen=True, slots=True)
class Hit:
    """One link and one of its archived texts that matched."""

    url: str
    cited_by: tuple[Citation, ...]
    captured: str  # ISO 8601: when this text was first captured for the link
    verdict: str
    snippet: str  # the original text around the matches, each between <mark> and </mark>
    score: float  # bm25: lower is better

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "cited_by": [{"report": c.report, "n": c.n} for c in self.cited_by],
            "captured": self.captured,
            "verdict": self.verdict,
            "snippet": self.snippet,
        }


def update_index(catalog: CatalogReader, archive: Path, progress: Progress | None = None) -> int:
    """Index the texts of every capture since the index last looked (each text once); how many were new."""
    added = 0
    with open_index(archive, catalog) as index:
        last = index.last_capture
        newest = catalog.last_capture_id()
        while batch := catalog.texts_after(last, _BATCH):
            digests = {digest for _, digest in batch}
            new = sorted(digests - index.known(digests))
            texts = ((digest, get_text(archive, digest)) for digest in new)
            added += index.add(((digest, text) for digest, text in texts if text), batch[-1][0])
            last = batch[-1][0]
            if progress is not None:
                progress(last, newest)
    return added


def rebuild_index(catalog: CatalogReader, archive: Path, progress: Progress | None = None) -> int:
    """Forget the index and make it again from every capture's text."""
    with open_index(archive, catalog) as index:
        index.clear()
    return update_index(catalog, archive, progress)


def search(
    catalog: CatalogReader,
    archive: Path,
    text: str,
    *,
    report: str | None = None,
    verdicts: Sequence[str] = (),
    limit: int = 20,
) -> list[Hit]:
    """The best `limit` hits for a query; QueryError (one line) for a query that cannot be searched."""
    query = parse_query(text)
    hits: list[Hit] = []
    offset = 0
    with open_index(archive, catalog) as index:
        while len(hits) < limit:
            try:
                found = index.search(query.match, max(limit * 4, 50), offset)
            except (sqlite3.OperationalError, QueryError) as exc:
                raise QueryError(f"cannot search for {text!r}: {exc}") from None
            if not found:
                break
            offset += len(found)
            hits += _hits(catalog, archive, query, found, report, verdicts, limit - len(hits))
    return hits[:limit]


def _hits(
    catalog: CatalogReader,
    archive: Path,
    query: Query,
    found: list[tuple[str, float]],
    report: str | None,
    verdicts: Sequence[str],
    room: int,
) -> list[Hit]:
    """The hits of the texts found, in rank order, until there is no room left (a snippet is made only
    for a text that is shown)."""
    by_digest: dict[str, list[TextVersion]] = {}
    for version in catalog.text_versions([digest for digest, _ in found], report, verdicts):
        by_digest.setdefault(version.digest, []).append(version)
    hits: list[Hit] = []
    for digest, score in found:  # in the index's order: best first
        versions = sorted(by_digest.get(digest, []), key=lambda v: (v.captured, v.url))
        if not versions:
            continue
        if len(hits) >= room:
            break
        shown = snippet(get_text(archive, digest) or "", query)
        hits += [Hit(v.url, v.cited_by, v.captured, v.verdict, shown, score) for v in versions]
    return hits
