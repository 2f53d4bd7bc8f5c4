"""The full-text index in a PostgreSQL catalog (the shared setup's): every analyst's machine searches
the same index, which every worker feeds as its batches commit.

The index holds what SQLite's holds (storage/searchindex.py): a text's words as searchtext.py stems
them, Snowball's Russian stemmer for Cyrillic words and its English one for Latin words (the stemmers
PostgreSQL's `russian` and `english` configurations use, here chosen word by word, so a Russian text
quoting English is stemmed right), other words folded as they are. They go into a tsvector through the
`simple` configuration (no second stemming, no stop words) under a GIN index, and the query language's
parse (words, "phrases", OR, NOT, prefix*) becomes a tsquery: the same texts match in both engines.
Ranking is ts_rank_cd's, not bm25's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from archiver.storage.catalog.postgres import PgDatabase
from archiver.storage.searchtext import QueryError, indexed

_MATCH_RE = re.compile(r'"([^"]*)"(\*?)|\b(OR|NOT|AND)\b')


def tsquery(match: str) -> str:
    """A query as searchtext.parse_query writes it for FTS5 (quoted terms, OR, NOT, "prefix"*), as a
    tsquery: implicit AND is &, a phrase's words follow each other (<->), NOT excludes (& !)."""
    parts: list[str] = []
    operator = ""
    for phrase, prefix, word in _MATCH_RE.findall(match):
        if word:
            operator = word
            continue
        lexemes = ["'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'" for lexeme in phrase.split()]
        if not lexemes:
            continue
        term = lexemes[0] + ":*" if prefix else "(" + " <-> ".join(lexemes) + ")"
        if parts:
            parts.append({"OR": "|", "NOT": "& !"}.get(operator, "&"))
        parts.append(term)
        operator = ""
    if not parts:
        raise QueryError("nothing to search for")
    return " ".join(parts)


class PgSearchIndex:
    """The search index's tables in the PostgreSQL catalog, through a connection of its own."""

    def __init__(self, db: PgDatabase) -> None:
        self.db = db

    def __enter__(self) -> PgSearchIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    @property
    def last_capture(self) -> int:
        row = self.db.execute("SELECT value FROM search_seen WHERE what = 'capture'").fetchone()
        return int(row[0]) if row else 0

    def add(self, texts: Iterable[tuple[str, str]], last_capture: int) -> int:
        """Index (digest, text) pairs not indexed yet and remember the capture they reach; how many were new."""
        added = self._insert((digest, indexed(text)) for digest, text in texts)
        self.db.execute(
            """INSERT INTO search_seen (what, value) VALUES ('capture', ?)
               ON CONFLICT (what) DO UPDATE SET value = GREATEST(search_seen.value, excluded.value)""",
            (last_capture,),
        )
        return added

    def add_stems(self, stems: Iterable[tuple[str, str]]) -> None:
        self._insert(stems)

    def _insert(self, stems: Iterable[tuple[str, str]]) -> int:
        added = 0
        for digest, words in stems:
            cursor = self.db.execute(
                """INSERT INTO search_texts (digest, words) VALUES (?, to_tsvector('simple', ?))
                   ON CONFLICT (digest) DO NOTHING""",
                (digest, words),
            )
            added += max(cursor.rowcount, 0)
        return added

    def known(self, digests: Iterable[str]) -> set[str]:
        wanted = list(digests)
        if not wanted:
            return set()
        rows = self.db.execute("SELECT digest FROM search_texts WHERE digest = ANY(?)", (wanted,)).fetchall()
        return {row[0] for row in rows}

    def search(self, match: str, limit: int, offset: int = 0) -> list[tuple[str, float]]:
        """(digest, score: lower is better, as bm25's) of the texts that match, best first."""
        try:
            rows = self.db.execute(
                """SELECT t.digest, -ts_rank_cd(t.words, q) AS score FROM search_texts t, to_tsquery('simple', ?) q
                   WHERE t.words @@ q ORDER BY score, t.digest LIMIT ? OFFSET ?""",
                (tsquery(match), limit, offset),
            ).fetchall()
        except self.db.error as exc:
            raise QueryError(str(exc).splitlines()[0]) from None
        return [(row[0], float(row[1])) for row in rows]

    def clear(self) -> None:
        self.db.execute("BEGIN")
        self.db.execute("DELETE FROM search_texts")
        self.db.execute("DELETE FROM search_seen")
        self.db.execute("COMMIT")
