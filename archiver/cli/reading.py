"""`archiver footnotes`: what report files cite, no network, no archive."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archiver.cli.group import cli
from archiver.cli.options import error, json_option, out_console
from archiver.reading.reports import Report, Unreadable, load_reports
from archiver.showing.render import (
    print_footnotes,
    print_json,
    report_dict,
)


@cli.command("footnotes")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
def footnotes_command(paths: tuple[Path, ...], as_json: bool) -> None:
    """Show the footnotes and re-fanged links of report files (no network, no archive)."""
    reports: list[Report] = []
    failed = False
    for item in load_reports(list(paths)):
        if isinstance(item, Unreadable):
            error(item.reason)
            failed = True
        else:
            reports.append(item)
    if as_json:
        print_json([report_dict(r) for r in reports])
    else:
        print_footnotes(reports, out_console())
    sys.exit(1 if failed else 0)
