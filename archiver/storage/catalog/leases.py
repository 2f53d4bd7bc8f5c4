"""The shared night's hosts and who holds them: PostgreSQL's row locks, no coordinator of our own.

A night is a row of `nights`; the first worker to find none open makes it and lists the hosts that
have links due (`night_hosts`). Each worker claims hosts it does not hold with `FOR UPDATE SKIP LOCKED`
and a lease (an owner and an expiry, PostgreSQL's clock: the machines' clocks may differ), renews the
leases of the hosts it holds, and marks a host done when every due link of it is committed. A worker
that dies keeps its hosts only until their leases expire; another then claims them. The worker that
finds every host done closes the night (one row updated, so exactly one does) and does the night's
last jobs: the web archives' copies and the notification digest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from archiver.storage.catalog.postgres import PgDatabase
from archiver.storage.catalog.schema import iso, parse_iso

_NIGHT_LOCK = 0x6E69676874  # pg_advisory_xact_lock key: one worker opens a night at a time


@dataclass(frozen=True, slots=True)
class SharedNightRow:
    """A night of the shared setup."""

    id: int
    started_at: datetime
    opened_here: bool  # this worker made it (and listed its hosts)


class Leases:
    """One worker's own connection for its claims (never the storage thread's writer)."""

    def __init__(self, db: PgDatabase, worker: str, seconds: float) -> None:
        self.db = db
        self.worker = worker
        self.seconds = float(seconds)
        self.night = 0

    def close(self) -> None:
        self.db.close()

    def join(self, now: datetime, due_hosts: Callable[[], Iterable[str]], run: int) -> SharedNightRow:
        """Join the open night, or open one with the hosts that have links due (one worker at a time); the
        run is the night's (a link one of the night's runs checked is done for the night)."""
        db = self.db
        db.execute("BEGIN")
        try:
            db.execute("SELECT pg_advisory_xact_lock(?)", (_NIGHT_LOCK,))
            row = db.execute(
                "SELECT id, started_at FROM nights WHERE finished_at IS NULL ORDER BY id LIMIT 1"
            ).fetchone()
            opened = row is None
            if row is None:
                row = db.execute(
                    "INSERT INTO nights (started_at, started_by) VALUES (?, ?) RETURNING id, started_at",
                    (iso(now), self.worker),
                ).fetchone()
                db.executemany(
                    "INSERT INTO night_hosts (night, host) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    [(row[0], host) for host in sorted(set(due_hosts()))],
                )
            db.execute("UPDATE runs SET night = ? WHERE id = ?", (row[0], run))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self.night = int(row[0])
        started = parse_iso(row[1])
        assert started is not None
        return SharedNightRow(self.night, started, opened)

    def add_hosts(self, hosts: Iterable[str]) -> None:
        """Hosts with links that joined the night (a report read tonight): to be checked, whoever holds them."""
        self.db.executemany(
            """INSERT INTO night_hosts (night, host) VALUES (?, ?)
               ON CONFLICT (night, host) DO UPDATE SET done = false""",
            [(self.night, host) for host in sorted(set(hosts))],
        )

    def claim(self, limit: int) -> list[str]:
        """Up to limit hosts nobody holds (or whose holder's lease ran out), now ours for `seconds`."""
        if limit <= 0:
            return []
        rows = self.db.execute(
            """UPDATE night_hosts SET lease_owner = ?, lease_expires = now() + make_interval(secs => ?),
                   claims = claims + 1
               WHERE night = ? AND host IN (
                   SELECT host FROM night_hosts
                   WHERE night = ? AND NOT done AND (lease_owner IS NULL OR lease_expires < now())
                   ORDER BY claims, host LIMIT ? FOR UPDATE SKIP LOCKED)
               RETURNING host""",
            (self.worker, self.seconds, self.night, self.night, limit),
        ).fetchall()
        return sorted(row[0] for row in rows)

    def renew(self, hosts: Iterable[str]) -> set[str]:
        """Extend the leases of hosts held; returns those still ours (a lease that ran out may be another's)."""
        wanted = sorted(hosts)
        if not wanted:
            return set()
        rows = self.db.execute(
            """UPDATE night_hosts SET lease_expires = now() + make_interval(secs => ?)
               WHERE night = ? AND host = ANY(?) AND lease_owner = ? RETURNING host""",
            (self.seconds, self.night, wanted, self.worker),
        ).fetchall()
        return {row[0] for row in rows}

    def finish(self, host: str) -> None:
        """Every due link of a host is committed: done for tonight."""
        self.db.execute(
            """UPDATE night_hosts SET done = true, lease_owner = NULL, lease_expires = NULL
               WHERE night = ? AND host = ? AND lease_owner = ?""",
            (self.night, host, self.worker),
        )

    def release(self, hosts: Iterable[str]) -> None:
        """Give hosts back undone (the run stops early): another worker may claim them at once."""
        wanted = sorted(hosts)
        if wanted:
            self.db.execute(
                """UPDATE night_hosts SET lease_owner = NULL, lease_expires = NULL
                   WHERE night = ? AND host = ANY(?) AND lease_owner = ?""",
                (self.night, wanted, self.worker),
            )

    def outlook(self) -> tuple[int, int]:
        """(hosts claimable now, hosts undone that others hold under a lease still running)."""
        row = self.db.execute(
            """SELECT COUNT(*) FILTER (WHERE lease_owner IS NULL OR lease_expires < now()),
                      COUNT(*) FILTER (WHERE lease_owner IS NOT NULL AND lease_expires >= now()
                                       AND lease_owner != ?)
               FROM night_hosts WHERE night = ? AND NOT done""",
            (self.worker, self.night),
        ).fetchone()
        return int(row[0]), int(row[1])

    def close_night(self, now: datetime) -> bool:
        """Close the night if every host is done; True for the one worker that closed it."""
        row = self.db.execute(
            """UPDATE nights SET finished_at = ?, finished_by = ?
               WHERE id = ? AND finished_at IS NULL
                 AND NOT EXISTS (SELECT 1 FROM night_hosts WHERE night = ? AND NOT done)
               RETURNING id""",
            (iso(now), self.worker, self.night, self.night),
        ).fetchone()
        return row is not None
