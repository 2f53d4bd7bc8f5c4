"""Show results to people (rich tables) and to scripts (JSON)."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from archiver.footnotes import Footnote, footnotes
from archiver.reports import Report


def footnote_dict(note: Footnote) -> dict[str, Any]:
    """One footnote as the contract's JSON object."""
    data: dict[str, Any] = {
        "n": note.n,
        "text": note.text,
        "urls": list(note.urls),
        "problems": [str(p) for p in note.problems],
    }
    if note.unparsed:
        data["unparsed"] = list(note.unparsed)
    return data


def report_dict(report: Report) -> dict[str, Any]:
    """One report and its footnotes as the contract's JSON object."""
    return {
        "report": report.stem,
        "path": report.path,
        "title": report.title,
        "published": report.published,
        "authors": list(report.authors),
        "format": report.format,
        "footnotes": [footnote_dict(f) for f in footnotes(report)],
    }


def print_json(data: Any) -> None:
    """JSON on stdout, UTF-8 kept readable."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")


def print_footnotes(reports: list[Report], console: Console) -> None:
    """A table per report: number, links, problems."""
    for report in reports:
        notes = footnotes(report)
        links = sum(len(f.urls) for f in notes)
        distinct = len({u for f in notes for u in f.urls})
        flagged = sum(1 for f in notes if f.problems)
        console.print(f"[bold]{report.stem}[/bold]  {report.title or '(no title)'}", highlight=False)
        meta = [report.published or "no date", ", ".join(report.authors) or "no author", report.path]
        console.print("  " + " · ".join(meta), style="dim", highlight=False)
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        table.add_column("n", justify="right")
        table.add_column("links", overflow="fold")
        table.add_column("problems", style="yellow")
        for note in notes:
            problems = ", ".join(str(p) for p in note.problems)
            if note.unparsed:
                problems += ": " + " ".join(note.unparsed)
            table.add_row(str(note.n), "\n".join(note.urls) or "-", problems)
        console.print(table)
        console.print(
            f"  {len(notes)} footnotes, {links} links ({distinct} distinct), {flagged} with problems\n", highlight=False
        )
