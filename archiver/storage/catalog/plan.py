"""The queries that plan a night: which links to check and in what order, what each check needs to
know, the WARC files' committed sizes, the web archive lookups and saves still to make."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from archiver.outcomes import LinkState, Verdict
from archiver.storage.catalog.schema import Database, iso, parse_iso


class PlanQueries:
    """Read by the run (the main thread before the night, the storage thread and a reader during it)."""

    db: Database

    def links_to_check(
        self,
        now: datetime,
        recheck_hours: float,
        urls: set[str] | None = None,
        *,
        report: str | None = None,
        host: str | None = None,
        unchecked_in_night: int | None = None,
    ) -> list[tuple[int, str]]:
        """(link id, host) of the cited links, in the order a night should spend its time on them.

        Never captured first, then unsettled (failing), then the longest unchecked; with a re-check
        interval, stable ok links checked more recently than it wait. Two small values a link, so a
        night of a million links plans in tens of megabytes; link_state() loads one when it starts.
        host: one site's links; unchecked_in_night: not those a run of that shared night checked already.
        """
        recent = iso(now - timedelta(hours=recheck_hours)) if recheck_hours > 0 else None
        where = ["EXISTS (SELECT 1 FROM citations c WHERE c.link = l.id)"]
        params: list[Any] = []
        if recent is not None:
            where.append("NOT (l.verdict = 'ok' AND l.last_checked IS NOT NULL AND l.last_checked > ?)")
            params.append(recent)
        if urls is not None:
            where.append(f"l.url IN ({', '.join('?' * len(urls))})")
            params += sorted(urls)
        if host is not None:
            where.append("l.host = ?")
            params.append(host)
        if unchecked_in_night is not None:
            where.append(
                """NOT EXISTS (SELECT 1 FROM checks k JOIN runs r ON r.id = k.run
                               WHERE k.link = l.id AND r.night = ? AND k.retried = 0)"""
            )
            params.append(unchecked_in_night)
        if report is not None:  # the links one report cites
            where.append("l.id IN (SELECT link FROM citations WHERE report = ?)")
            params.append(report)
        cursor = self.db.execute(
            f"""SELECT l.id, l.host FROM links l WHERE {" AND ".join(where)}
                ORDER BY (l.first_capture IS NULL) DESC, (l.verdict = 'failing') DESC,
                         l.last_checked IS NOT NULL, l.last_checked, l.id""",
            params,
        )
        hosts: dict[str, str] = {}
        return [(row[0], hosts.setdefault(row[1], row[1])) for row in cursor]

    def link_state(self, link: int) -> LinkState:
        """What the next check of a link needs to know about it."""
        row = self.db.execute(
            """SELECT l.*, f.text_digest AS first_text_digest, f.fetched_at AS first_fetched,
                      c.payload_digest AS last_payload_digest, c.id AS last_capture_id,
                      c.final_url AS last_capture_url, c.fetched_at AS last_capture_at,
                      c.text_digest AS last_text_digest, c.captured_with AS last_captured_with
               FROM links l
               LEFT JOIN captures f ON f.id = l.first_capture
               LEFT JOIN captures c ON c.id = l.last_capture
               WHERE l.id = ?""",
            (link,),
        ).fetchone()
        return LinkState(
            id=row["id"],
            url=row["url"],
            host=row["host"],
            verdict=Verdict(row["verdict"]),
            verdict_since=parse_iso(row["verdict_since"]),
            failures_in_row=row["failures_in_row"],
            failing_since=parse_iso(row["failing_since"]),
            etag=row["etag"],
            last_modified=row["last_modified"],
            first_text_digest=row["first_text_digest"],
            first_archived=parse_iso(row["first_fetched"]),
            last_payload_digest=row["last_payload_digest"],
            last_capture_id=row["last_capture_id"],
            last_capture_url=row["last_capture_url"],
            last_capture_at=parse_iso(row["last_capture_at"]),
            last_text_digest=row["last_text_digest"],
            reason=row["reason"],
            last_captured_with=row["last_captured_with"] or "http",
        )

    def warc_committed(self) -> dict[str, int]:
        """WARC file name -> the size up to which its records are committed."""
        return {row[0]: row[1] for row in self.db.execute("SELECT name, committed_size FROM warc_files")}

    def memento_needs(self, now: datetime, retry_none_after_days: float = 30.0) -> list[tuple[int, str, str]]:
        """(link, url, reference) for dead or never-captured links without a settled lookup for that date.

        The reference is a citing report's publication date (or, without one, when the link was
        added); a link cited by reports of several dates needs one lookup per date. Lookups that
        failed are asked again; "none" answers after a while (captures after the date may appear).
        """
        rows = self.db.execute(
            """SELECT DISTINCT l.id, l.url, o.reference
               FROM links l JOIN cited_on o ON o.link = l.id
               WHERE l.verdict = 'dead' OR (l.first_capture IS NULL AND l.verdict != 'pending')
               ORDER BY l.id, reference"""
        ).fetchall()
        settled = {
            (row["link"], row["reference"]): (row["status"], parse_iso(row["looked_up_at"]))
            for row in self.db.execute("SELECT link, reference, status, looked_up_at FROM mementos")
        }
        needs = []
        for row in rows:
            status, when = settled.get((row["id"], row["reference"]), (None, None))
            if status == "found":
                continue
            if status == "none" and when is not None and (now - when).days < retry_none_after_days:
                continue
            needs.append((row["id"], row["url"], row["reference"]))
        return needs

    def save_candidates(self, now: datetime, again_after_days: float = 30.0) -> list[tuple[int, str]]:
        """Live links (ok or changed) that no Save Page Now request covered lately."""
        rows = self.db.execute(
            """SELECT l.id, l.url, MAX(s.requested_at) AS last FROM links l LEFT JOIN saves s ON s.link = l.id
               WHERE l.verdict IN ('ok', 'changed') AND l.id IN (SELECT link FROM citations)
               GROUP BY l.id ORDER BY l.id"""
        ).fetchall()
        return [
            (row["id"], row["url"])
            for row in rows
            if row["last"] is None or (now - (parse_iso(row["last"]) or now)).days >= again_after_days
        ]
