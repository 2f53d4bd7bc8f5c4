"""Notifications' memory: which services were told of which links' verdicts, and what they are owed.

A service is known by the SHA-256 of its URL (the URL holds its token or password, never stored). A
link is news for a service when its verdict is dead, changed or blocked, its spell of that verdict
began after the service was first configured, and the service was not told of that spell: a link
that recovers and dies again is news again; a digest that could not be sent stays owed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from archiver.storage.catalog.schema import Database, iso
from archiver.storage.readrows import NewsRow, citations

NEWS_VERDICTS = ("dead", "changed", "blocked")


class NoticeQueries:
    """What a notification service is owed (read side)."""

    db: Database

    def first_seen(self, service: str) -> str | None:
        """When a service was first configured (ISO 8601), or None."""
        row = self.db.execute("SELECT first_seen FROM notify_services WHERE service = ?", (service,)).fetchone()
        return str(row[0]) if row else None

    def news_for(self, service: str) -> list[NewsRow]:
        """The links a service has not been told of, oldest spell first (see the module's docstring)."""
        rows = self.db.execute(
            """SELECT l.id, l.url, l.verdict, l.reason, l.verdict_since,
                   (SELECT m.memento_url FROM mementos m WHERE m.link = l.id AND m.status = 'found'
                    ORDER BY m.memento_datetime DESC LIMIT 1) AS memento,
                   (SELECT json_group_array(json_object('report', report, 'n', n)) FROM
                       (SELECT DISTINCT report, n FROM citations c WHERE c.link = l.id ORDER BY report, n) AS notes
                   ) AS cited
               FROM links l JOIN notify_services s ON s.service = ?
               WHERE l.verdict IN ('dead', 'changed', 'blocked') AND l.verdict_since >= s.first_seen
                 AND EXISTS (SELECT 1 FROM citations c WHERE c.link = l.id)
                 AND NOT EXISTS (SELECT 1 FROM notices n WHERE n.service = s.service AND n.link = l.id
                                 AND n.verdict = l.verdict AND n.since = l.verdict_since)
               ORDER BY l.verdict_since, l.id""",
            (service,),
        )
        return [
            NewsRow(link, url, verdict, reason, since, memento, citations(cited))
            for link, url, verdict, reason, since, memento, cited in rows
        ]


def register_service(db: Database, service: str, now: datetime) -> None:
    """Remember when a service was first configured: it is owed only what happened since."""
    db.execute(
        "INSERT INTO notify_services (service, first_seen) VALUES (?, ?) ON CONFLICT DO NOTHING", (service, iso(now))
    )


def record_notices(db: Database, service: str, told: Sequence[NewsRow], now: datetime) -> None:
    """The links a service was told of, each in its verdict's spell."""
    db.executemany(
        "INSERT INTO notices (service, link, verdict, since, sent_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        [(service, row.link, row.verdict, row.verdict_since, iso(now)) for row in told],
    )
