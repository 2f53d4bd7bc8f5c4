"""What a run did: counted as the night goes, and its `run --json` shape (a contract)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from archiver.storage.catalog import iso


class Admission(StrEnum):
    """What adding a report file to the archive does."""

    ADDED = "added"  # a name the archive did not know
    UPDATED = "updated"  # the same file, edited since
    MOVED = "moved"  # the same content, from another place
    UNCHANGED = "unchanged"  # the same file, as archived: nothing to do
    REPLACED = "replaced"  # another report of the same name, replaced as asked (--replace)
    REFUSED = "refused"  # another report of the same name: never replaced silently


@dataclass(slots=True)
class RunSummary:
    """What a run did."""

    run: int
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"
    reports: dict[str, list[str]] = field(default_factory=lambda: {a.value: [] for a in Admission if a != "refused"})
    reports_failed: list[dict[str, str]] = field(default_factory=list)
    new_links: int = 0
    links_to_check: int = 0
    links_checked: int = 0
    links_left: int = 0
    attempts: int = 0
    this_run: dict[str, int] = field(default_factory=dict)
    verdicts: dict[str, int] = field(default_factory=dict)
    repaired_warc_files: list[str] = field(default_factory=list)
    web_archive: dict[str, int] = field(default_factory=dict)
    notifications: list[dict[str, Any]] = field(default_factory=list)  # one per service told (or not) tonight
    feeds: dict[str, Any] = field(default_factory=lambda: {"polled": 0, "new_entries": 0, "failed": []})
    rendered: int = 0  # script-built pages read in a browser
    read_through_endpoints: int = 0  # posts and videos read through their site's endpoint
    unrendered: int = 0  # script-built pages left blocked: no browser
    browser: str = ""  # the browser that rendered tonight's pages
    no_browser: str = ""  # why script-built pages were not rendered
    shared: dict[str, Any] | None = None  # the shared setup: this worker, its night, the hosts it claimed
    uploads: dict[str, Any] | None = None  # the shared setup: what went to the object store tonight

    def as_dict(self) -> dict[str, Any]:
        """The --json summary."""
        duration = (self.finished_at - self.started_at).total_seconds() if self.finished_at else None
        return (
            {
                "run": self.run,
                "status": self.status,
                "started_at": iso(self.started_at),
                "finished_at": iso(self.finished_at),
                "duration_seconds": round(duration, 3) if duration else duration,
                "reports": {**self.reports, "failed": self.reports_failed},
                "links": {
                    "new": self.new_links,
                    "to_check": self.links_to_check,
                    "checked": self.links_checked,
                    "left_for_next_run": self.links_left,
                    "fetch_attempts": self.attempts,
                },
                "this_run": self.this_run,
                "verdicts": self.verdicts,
                "repaired_warc_files": self.repaired_warc_files,
                "web_archive": self.web_archive,
                "notifications": self.notifications,
                "feeds": self.feeds,
                "pages_behind_walls": {
                    "rendered": self.rendered,
                    "read_through_endpoints": self.read_through_endpoints,
                    "script_pages_not_rendered": self.unrendered,
                    "browser": self.browser or None,
                    "not_rendered_because": self.no_browser or None,
                },
            }
            | ({"shared": self.shared} if self.shared is not None else {})
            | ({"uploads": self.uploads} if self.uploads is not None else {})
        )
