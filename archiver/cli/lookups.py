"""`archiver status` and `archiver check`: what the archive knows of its links and footnotes."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from archiver.cli.group import cli
from archiver.cli.options import (
    archive_option,
    err_console,
    json_option,
    network_options,
    open_reader,
    out_console,
    stopping,
)
from archiver.config import archive_path, load_settings
from archiver.errors import LockedError, NotFoundError
from archiver.outcomes import VERDICT_ORDER
from archiver.showing.render import (
    RunProgress,
    print_check,
    print_json,
    print_json_stream,
    print_status,
    print_status_lines,
    print_status_summary,
)
from archiver.storage.catalog import StatusFilter


def verdict_list(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    unknown = [v for v in names if v not in VERDICT_ORDER]
    if unknown:
        raise click.BadParameter(f"unknown verdict {unknown[0]!r} (verdicts: {', '.join(VERDICT_ORDER)})")
    return names


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).date().isoformat() if len(value) <= 10 else value
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


@cli.command("status")
@archive_option
@click.option(
    "--verdict",
    "verdicts",
    callback=verdict_list,
    metavar="V[,V...]",
    help="Only links with these verdicts (dead,changed).",
)
@click.option("--report", default=None, help="Only links cited by this report.")
@click.option("--since", callback=_since, metavar="DATE", help="Only links whose verdict changed on or after DATE.")
@json_option
def status_command(
    archive: Path | None, verdicts: tuple[str, ...], report: str | None, since: str | None, as_json: bool
) -> None:
    """Every tracked link and its verdict (on a terminal: a summary, then the links that are not ok).

    Off a terminal (a pipe, cron), one tab-separated line per link: verdict, URL, reason, citing
    footnotes, last checked; nothing is cut or wrapped.
    """
    filters = StatusFilter(verdicts, report, since)
    filtered = bool(verdicts or report or since)
    root = archive_path(archive)
    with open_reader(root) as catalog:
        if report is not None and catalog.report_row(report) is None:
            raise NotFoundError(f"no report {report!r} in the archive")
        if as_json:
            print_json_stream(row.as_json() for row in catalog.status_rows(filters))
            return
        console = out_console()
        if not console.is_terminal:
            print_status_lines(catalog.status_rows(filters), sys.stdout)
            return
        counts = catalog.counts()
        if not sum(counts.values()):
            console.print("no links tracked yet: `archiver run REPORTS...` adds some")
            return
        if not filtered:
            # A person at a terminal wants what needs attention, not every one of a million rows.
            print_status_summary(counts, console)
            filters = StatusFilter(tuple(v for v in VERDICT_ORDER if v != "ok"))
        shown = print_status(catalog.status_rows(filters), console)
        if not filtered and counts.get("ok"):
            console.print(f"{counts['ok']} ok links not listed: `archiver status --verdict ok` lists them")
        elif filtered and not shown:
            console.print("no link matches")


@cli.command("check")
@click.argument("report")
@click.argument("n", type=int)
@archive_option
@network_options
@click.option("--live", is_flag=True, help="Check the note's links again now before answering.")
@json_option
def check_command(
    report: str,
    n: int,
    archive: Path | None,
    proxy: str | None,
    allow_private: bool | None,
    live: bool,
    as_json: bool,
) -> None:
    """Show what footnote N of REPORT cited and what became of it.

    The note's text, each link's verdict and reason, the history of its checks, the
    first archived text and, when it changed, a diff of the main text.
    """
    from archiver.showing.lookup import lookup_footnote

    root = archive_path(archive)
    with open_reader(root) as catalog:
        answer = lookup_footnote(catalog, root, report, n)
    if live and answer["urls"]:
        from archiver.pipeline import run as run_archive

        settings = load_settings(root).replace(proxy=proxy, allow_private=allow_private)
        with RunProgress(err_console) as progress:
            try:
                run_archive(
                    root,
                    [],
                    settings,
                    on_checked=progress.checked,
                    on_stopping=stopping,
                    only_links={link["url"] for link in answer["urls"]},
                )
            except LockedError as exc:
                # A person asking gets an answer: what the archive knows, with a word on why it is not fresh.
                click.echo(f"archiver: warning: not checked again now: {exc}", err=True)
        with open_reader(root) as catalog:
            answer = lookup_footnote(catalog, root, report, n)
    if as_json:
        print_json(answer)
    else:
        print_check(answer, out_console())
