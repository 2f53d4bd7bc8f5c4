"""The queries behind `export` and the dashboard: streamed rows, report counts, runs, turned links."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

from archiver.storage.catalog.schema import Database
from archiver.storage.readrows import (
    CaptureRecord,
    ExportedCapture,
    ExportRow,
    MementoRow,
    NoteLink,
    NoteWithLinks,
    ReportCounts,
    RunRow,
    TurnedRow,
    citations,
    columns,
    make,
)


class ExportQueries:
    """What exports and the dashboard read, each query streamed or bounded."""

    db: Database

    def export_rows(self, report: str | None) -> Iterator[ExportRow]:
        """One row per (report, footnote, link) with the first capture, streamed in report order."""
        where = "WHERE c.report = ?" if report else ""
        cursor = self.db.execute(
            f"""SELECT c.report, c.n, c.position, r.title AS report_title, r.published, f.text AS note,
                       l.id AS link, l.url, l.verdict, l.reason, l.http_status, l.first_archived, l.last_checked,
                       l.final_url, l.verdict_since,
                       (SELECT MIN(started_at) FROM checks WHERE link = l.id) AS first_checked,
                       fc.fetched_at, fc.title, fc.text_digest, fc.payload_digest, fc.http_status AS capture_status,
                       fc.final_url AS capture_url, fc.content_type, fc.warc_file, fc.warc_offset,
                       (SELECT json_array(m.memento_url, m.memento_datetime, m.archive, m.looked_up_at,
                                          mc.text_digest, mc.title)
                          FROM mementos m JOIN cited_on o ON o.link = m.link AND o.reference = m.reference
                          LEFT JOIN captures mc ON mc.id = m.capture
                          WHERE m.link = l.id AND m.status = 'found' AND o.report = c.report LIMIT 1) AS memento
                FROM citations c
                JOIN reports r ON r.report = c.report
                JOIN footnotes f ON f.report = c.report AND f.n = c.n
                JOIN links l ON l.id = c.link
                LEFT JOIN captures fc ON fc.id = l.first_capture
                {where}
                ORDER BY c.report, c.n, c.position""",
            (report,) if report else (),
        )
        for row in cursor:
            memento = MementoRow(*json.loads(row[-1])) if row[-1] else None
            yield make(ExportRow, (*row[:-1], memento))

    def export_captures(self, report: str | None) -> Iterator[ExportedCapture]:
        """Every capture of the links cited (by one report, or by any), oldest first, streamed."""
        where = (
            "WHERE l.id IN (SELECT link FROM citations WHERE report = ?)"
            if report
            else "WHERE l.id IN (SELECT link FROM citations)"
        )
        cursor = self.db.execute(
            f"""SELECT {columns(CaptureRecord, "cp")}, l.url FROM captures cp JOIN links l ON l.id = cp.link {where}
                ORDER BY cp.fetched_at, cp.id""",
            (report,) if report else (),
        )
        for *capture, link_url in cursor:
            yield ExportedCapture(CaptureRecord(*capture), link_url)

    def report_counts(self) -> list[ReportCounts]:
        """Every report with its number of links per verdict."""
        rows = self.db.execute(
            """SELECT r.report, r.title, r.published, l.verdict, COUNT(DISTINCT l.id) AS links
               FROM reports r LEFT JOIN citations c ON c.report = r.report LEFT JOIN links l ON l.id = c.link
               GROUP BY r.report, l.verdict ORDER BY r.report"""
        )
        reports: dict[str, ReportCounts] = {}
        for name, title, published, verdict, links in rows:
            entry = reports.setdefault(name, ReportCounts(name, title, published, {}))
            if verdict is not None:
                entry.counts[verdict] = links
        return list(reports.values())

    def recent_runs(self, limit: int = 14) -> list[RunRow]:
        """The last runs with their summaries, oldest first."""
        rows = self.db.execute(
            f"SELECT {columns(RunRow)} FROM runs WHERE kind = 'nightly' ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [RunRow.of(row) for row in reversed(rows)]

    def turned(self, verdicts: Sequence[str], limit: int = 500) -> tuple[list[TurnedRow], int]:
        """Links the latest nightly run gave one of these verdicts when their check before gave another.

        Returns at most `limit` of them, newest first, and how many there are in all.
        """
        marks = ",".join("?" * len(verdicts))
        rows = self.db.execute(
            f"""WITH latest AS (SELECT MAX(id) AS id FROM runs WHERE kind = 'nightly'),
                cur AS (
                    SELECT k.link, k.verdict, k.reason, k.started_at FROM checks k JOIN latest ON k.run = latest.id
                    WHERE k.retried = 0 AND k.id = (SELECT MAX(k2.id) FROM checks k2
                                                    WHERE k2.link = k.link AND k2.run = k.run AND k2.retried = 0)),
                judged AS (
                    SELECT cur.*, (SELECT k3.verdict FROM checks k3, latest
                                   WHERE k3.link = cur.link AND k3.run < latest.id AND k3.retried = 0
                                   ORDER BY k3.run DESC, k3.id DESC LIMIT 1) AS before
                    FROM cur WHERE cur.verdict IN ({marks}))
                SELECT l.url, l.id AS link, j.verdict, j.reason, j.started_at, j.before,
                       (SELECT json_group_array(json_object('report', report, 'n', n)) FROM
                           (SELECT DISTINCT report, n FROM citations c WHERE c.link = l.id ORDER BY report, n) AS notes
                       ) AS cited,
                       COUNT(*) OVER () AS total
                FROM judged j JOIN links l ON l.id = j.link
                WHERE (j.before IS NULL OR j.before != j.verdict)
                  AND EXISTS (SELECT 1 FROM citations c WHERE c.link = l.id)
                ORDER BY j.started_at DESC LIMIT ?""",
            (*verdicts, limit),
        ).fetchall()
        total = rows[0]["total"] if rows else 0
        turned = [
            TurnedRow(url, link, verdict, reason, started, before, citations(cited))
            for url, link, verdict, reason, started, before, cited, _ in rows
        ]
        return turned, total

    def report_footnotes(self, report: str) -> list[NoteWithLinks]:
        """A report's footnotes, each with its links' state and first capture."""
        notes = [
            NoteWithLinks(n, text, tuple(json.loads(problems or "[]")), [])
            for n, text, problems in self.db.execute(
                "SELECT n, text, problems FROM footnotes WHERE report = ? ORDER BY n", (report,)
            )
        ]
        by_n = {note.n: note for note in notes}
        for row in self.db.execute(
            """SELECT c.n, l.url, l.verdict, l.reason, l.last_checked, l.first_archived, l.final_url,
                      fc.text_digest, fc.fetched_at, fc.title,
                      (SELECT json_array(m.memento_url, m.memento_datetime) FROM mementos m
                          WHERE m.link = l.id AND m.status = 'found' AND m.reference =
                              (SELECT o.reference FROM cited_on o WHERE o.link = l.id AND o.report = c.report LIMIT 1)
                      ) AS memento,
                      CASE WHEN l.verdict = 'changed' THEN
                          (SELECT k.diff FROM checks k WHERE k.link = l.id AND k.diff IS NOT NULL
                           ORDER BY k.started_at DESC LIMIT 1) END AS diff,
                      (SELECT cp.screenshot FROM captures cp WHERE cp.link = l.id AND cp.screenshot IS NOT NULL
                       ORDER BY cp.id DESC LIMIT 1) AS screenshot
               FROM citations c JOIN links l ON l.id = c.link LEFT JOIN captures fc ON fc.id = l.first_capture
               WHERE c.report = ? ORDER BY c.n, c.position""",
            (report,),
        ):
            memento_url, memento_datetime = json.loads(row[-3]) if row[-3] else (None, None)
            by_n[row[0]].links.append(make(NoteLink, (*row[:-3], memento_url, memento_datetime, *row[-2:])))
        return notes
