"""The command line: flags in, one library call, render, exit code."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from archiver import __version__
from archiver.errors import ArchiverError
from archiver.render import print_footnotes, print_json, report_dict
from archiver.reports import Report, Unreadable, load_reports

F = TypeVar("F", bound=Callable[..., Any])

err_console = Console(stderr=True)


def json_option(func: F) -> F:
    """--json: print JSON for scripts instead of a table for people."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(func)


def error(message: str) -> None:
    """One line on stderr in the program's voice."""
    click.echo(f"archiver: error: {message}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="archiver")
def cli() -> None:
    """Archive the web sources cited in research reports' footnotes, and watch them."""


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
        print_footnotes(reports, Console(highlight=False))
    sys.exit(1 if failed else 0)


def main() -> None:
    """Entry point: run the CLI, turning ArchiverError into a one-line message and exit 1."""
    try:
        cli(standalone_mode=True)
    except ArchiverError as exc:
        error(str(exc))
        sys.exit(1)
