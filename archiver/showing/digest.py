"""A night's news as one message: the links that became dead, changed or blocked, by report and footnote.

Pure: rows in, a subject, a body cut to a service's limit and the whole digest as JSON out.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from archiver.reading.safetext import printable
from archiver.storage.readrows import NewsRow

ORDER = ("dead", "changed", "blocked")


@dataclass(frozen=True, slots=True)
class Digest:
    """One message: its subject, its body (cut to fit), and every link in `data` (for an attachment)."""

    subject: str
    body: str
    data: dict[str, Any]
    shown: int  # links named in the body
    total: int  # links in the digest


def counts_text(news: Sequence[NewsRow]) -> str:
    """'2 dead, 1 changed' (links, each counted once)."""
    counted = Counter(row.verdict for row in news)
    return ", ".join(f"{counted[verdict]} {verdict}" for verdict in ORDER if counted[verdict])


def build_digest(archive_name: str, news: Sequence[NewsRow], limit: int = 0) -> Digest:
    """The digest of `news` for an archive; a body longer than `limit` characters (0: none) is cut at a
    footnote's boundary and ends with how many more links there are and the command that lists them."""
    subject = f"archiver · {archive_name}: {counts_text(news)}"
    since = min((row.verdict_since for row in news), default="")[:10]
    total = len({row.link for row in news})
    body = f"{total} cited source(s) need a look: {counts_text(news)}.\n"
    reserve = len(_tail(total, since))
    told: set[int] = set()
    report_now = None
    for report, text, links in _blocks(news):
        piece = (f"\n{report}\n" if report != report_now else "") + text
        if limit and len(body) + len(piece) + reserve > limit:
            break
        body, report_now = body + piece, report
        told |= links
    if len(told) < total:
        body += _tail(total - len(told), since)
    if limit:
        body = body[:limit]
    return Digest(subject, body, _data(archive_name, news), len(told), total)


def _blocks(news: Sequence[NewsRow]) -> list[tuple[str, str, set[int]]]:
    """(report, the lines of one footnote's links, their link ids), in report and footnote order."""
    by_note: dict[tuple[str, int], list[NewsRow]] = {}
    for row in news:
        for citation in row.cited_by:
            by_note.setdefault((citation.report, citation.n), []).append(row)
    blocks = []
    for (report, n), rows in sorted(by_note.items()):
        lines = []
        for row in rows:
            lines.append(f"  [{n}] {printable(row.url)}")
            lines.append(f"      {row.verdict} since {row.verdict_since[:10]}: {printable(row.reason)}")
            if row.memento_url:
                lines.append(f"      web archive copy: {printable(row.memento_url)}")
        blocks.append((printable(report), "\n".join(lines) + "\n", {row.link for row in rows}))
    return blocks


def _tail(more: int, since: str) -> str:
    return f"\n… and {more} more: archiver status --verdict dead,changed,blocked --since {since}\n"


def _data(archive_name: str, news: Sequence[NewsRow]) -> dict[str, Any]:
    return {
        "archive": archive_name,
        "counts": dict(Counter(row.verdict for row in news)),
        "links": [
            {
                "url": row.url,
                "verdict": row.verdict,
                "reason": row.reason,
                "verdict_since": row.verdict_since,
                "memento_url": row.memento_url,
                "cited_by": [{"report": c.report, "n": c.n} for c in row.cited_by],
            }
            for row in news
        ],
    }
