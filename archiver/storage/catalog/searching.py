"""The catalog's side of search: which texts are new to the index, and what cites a matching text."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from archiver.storage.catalog.schema import Database
from archiver.storage.readrows import Citation, citations


@dataclass(frozen=True, slots=True)
class TextVersion:
    """A cited link that had a text: its verdict, when the text was first captured for it, what cites it."""

    digest: str
    link: int
    url: str
    verdict: str
    captured: str
    cited_by: tuple[Citation, ...]


class SearchQueries:
    """What search reads of the catalog."""

    db: Database

    def texts_after(self, capture: int, limit: int = 2000) -> list[tuple[int, str]]:
        """(capture id, text digest) of the captures after `capture` that have a text, oldest first."""
        rows = self.db.execute(
            "SELECT id, text_digest FROM captures WHERE id > ? AND text_digest IS NOT NULL ORDER BY id LIMIT ?",
            (capture, limit),
        )
        return [(int(capture_id), str(digest)) for capture_id, digest in rows]

    def last_capture_id(self) -> int:
        """The newest capture's id (0 when none)."""
        return int(self.db.execute("SELECT COALESCE(MAX(id), 0) FROM captures").fetchone()[0])

    def text_versions(
        self, digests: Sequence[str], report: str | None = None, verdicts: Sequence[str] = ()
    ) -> list[TextVersion]:
        """For each digest, every cited link with a capture of that text (ours or a web archive's copy):
        the link, its verdict, when the text was first captured for it, and what cites it."""
        if not digests:
            return []
        where = ["cp.text_digest IN (" + ",".join("?" * len(digests)) + ")"]
        params: list[object] = list(digests)
        where.append(
            "EXISTS (SELECT 1 FROM citations c WHERE c.link = l.id" + (" AND c.report = ?)" if report else ")")
        )
        if report:
            params.append(report)
        if verdicts:
            where.append("l.verdict IN (" + ",".join("?" * len(verdicts)) + ")")
            params += list(verdicts)
        rows = self.db.execute(
            f"""SELECT cp.text_digest, l.id, l.url, l.verdict, MIN(cp.fetched_at),
                   (SELECT json_group_array(json_object('report', report, 'n', n)) FROM
                       (SELECT DISTINCT report, n FROM citations c WHERE c.link = l.id ORDER BY report, n) AS notes)
                FROM captures cp JOIN links l ON l.id = cp.link
                WHERE {" AND ".join(where)}
                GROUP BY cp.text_digest, l.id""",
            params,
        )
        return [TextVersion(d, int(i), u, v, f, citations(c)) for d, i, u, v, f, c in rows]
