"""The command line: flags in, one library call, render, exit code."""

from __future__ import annotations

import signal
import sqlite3
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from archiver import __version__
from archiver.config import archive_path, check_proxy, load_settings
from archiver.errors import ArchiverError, ConfigError, LockedError, NotFoundError, archive_fault
from archiver.outcomes import VERDICT_ORDER
from archiver.reading.reports import Report, Unreadable, load_reports
from archiver.reading.safetext import printable
from archiver.showing.formats import FORMATS
from archiver.showing.render import (
    RunProgress,
    print_check,
    print_footnotes,
    print_json,
    print_json_stream,
    print_run_summary,
    print_status,
    print_status_lines,
    print_status_summary,
    report_dict,
)
from archiver.storage.catalog import CatalogReader, StatusFilter

F = TypeVar("F", bound=Callable[..., Any])

err_console = Console(stderr=True)


def json_option(func: F) -> F:
    """--json: print JSON for scripts instead of a table for people."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(func)


def archive_option(func: F) -> F:
    """--archive DIR, else $ARCHIVER_ARCHIVE, else ./archive."""
    return click.option(
        "--archive",
        "archive",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Archive directory (default: $ARCHIVER_ARCHIVE, else ./archive).",
    )(func)


def network_options(func: F) -> F:
    """--proxy and --allow-private, honoured by every fetch."""
    func = click.option(
        "--allow-private", is_flag=True, default=None, help="Allow fetching loopback, private and link-local addresses."
    )(func)
    return click.option(
        "--proxy",
        metavar="URL",
        default=None,
        callback=_proxy_url,
        help="Proxy for every fetch (else HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY).",
    )(func)


def _proxy_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_proxy(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None


def out_console() -> Console:
    """stdout for people; off a terminal nothing is wrapped or cut, so a pipe to grep sees whole lines."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=1_000_000, soft_wrap=True)
    return console


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
        print_footnotes(reports, out_console())
    sys.exit(1 if failed else 0)


@cli.command("run")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@archive_option
@network_options
@click.option("--per-host", type=click.IntRange(min=1), default=None, help="Simultaneous connections to one host [2].")
@click.option(
    "--delay", type=click.FloatRange(min=0), default=None, help="Seconds between two request starts to one host [1.0]."
)
@click.option("--concurrency", type=click.IntRange(min=1), default=None, help="Simultaneous fetches in all [128].")
@click.option(
    "--max-duration",
    type=click.FloatRange(min=0),
    default=None,
    help="Stop starting new fetches after this many seconds; the rest waits for the next run.",
)
@click.option("--user-agent", default=None, help="User-Agent header (default names archiver and a contact URL).")
@click.option(
    "--save-missing",
    is_flag=True,
    default=None,
    help="Ask the Internet Archive's Save Page Now to capture live links it does not hold yet.",
)
@click.option(
    "--no-web-archive",
    "no_web_archive",
    is_flag=True,
    default=False,
    help="Do not look up web archives' copies of dead or never-captured links in this run.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Let a report file replace an archived report of the same name (never done silently).",
)
@json_option
def run_command(
    paths: tuple[Path, ...],
    archive: Path | None,
    proxy: str | None,
    allow_private: bool | None,
    per_host: int | None,
    delay: float | None,
    concurrency: int | None,
    max_duration: float | None,
    user_agent: str | None,
    save_missing: bool | None,
    no_web_archive: bool,
    replace: bool,
    as_json: bool,
) -> None:
    """Add reports (files or directories) to the archive, then check every tracked link.

    Fetches each link politely, stores the raw response (WARC) and its main text,
    compares with the first capture and updates each link's verdict. Safe to run again
    at any time, also after it was killed. Exit status 0 when the run completed,
    whatever the links' verdicts (also when --max-duration stopped it in time); 1 when
    it could not run; 75 when another run holds the archive (that run is not waited
    for); 130 when a second SIGINT or SIGTERM interrupted it.
    """
    root = archive_path(archive)
    settings = load_settings(root).replace(
        per_host=per_host,
        delay=delay,
        concurrency=concurrency,
        max_duration=max_duration,
        proxy=proxy,
        allow_private=allow_private,
        user_agent=user_agent,
        save_missing=save_missing,
        web_archive_lookups=False if no_web_archive else None,
    )
    if paths:
        # New reports mean new pages to extract: the workers' forkserver imports the extractor
        # (a fifth of a second) while this process imports the rest, not after.
        from archiver.judging.workers import start_forkserver

        start_forkserver()
    from archiver.pipeline import run as run_archive  # the network stack, imported by the commands that fetch

    with RunProgress(err_console) as progress:
        try:
            summary = run_archive(
                root, list(paths), settings, on_checked=progress.checked, on_stopping=stopping, replace=replace
            )
        except LockedError as exc:
            error(f"{exc}; this run exits (runs never wait for each other: the next one picks up the work)")
            sys.exit(75)
    for failed in summary.reports_failed:
        error(printable(failed["error"]))
    if as_json:
        print_json(summary.as_dict())
    else:
        print_run_summary(summary.as_dict(), out_console())
    if summary.status == "interrupted":
        sys.exit(130)  # stopped by a second Ctrl-C or SIGTERM: the run did not complete


def stopping(in_flight: int) -> None:
    """Said on the first Ctrl-C or SIGTERM."""
    click.echo(f"stopping: finishing {in_flight} fetches in flight (again to interrupt at once)", err=True)


def _verdicts(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
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
    callback=_verdicts,
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
    with CatalogReader.open_readonly(archive_path(archive)) as catalog:
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
    with CatalogReader.open_readonly(root) as catalog:
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
        with CatalogReader.open_readonly(root) as catalog:
            answer = lookup_footnote(catalog, root, report, n)
    if as_json:
        print_json(answer)
    else:
        print_check(answer, out_console())


@cli.command("export")
@archive_option
@click.option("--report", default=None, help="Only this report (default: all; required by --format report).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="jsonl",
    show_default=True,
    help="jsonl and csv: a row per (report, footnote, link); md: a document per report; warc: WARC 1.1; "
    "report: the report itself, each footnote link annotated with its archived copy; wacz: a WACZ package.",
)
@click.option("--output", "-o", default=None, help="File to write (default or '-': standard output).")
@click.option("--force", is_flag=True, help="Overwrite an existing output file.")
@click.option(
    "--to",
    type=click.Choice(["text", "md", "html"]),
    default=None,
    help="With --format report: the output's format (default: the report's own).",
)
@click.option(
    "--keep-defanged", is_flag=True, help="With --format report: leave de-fanged links de-fanged in the note text."
)
def export_command(
    archive: Path | None,
    report: str | None,
    fmt: str,
    output: str | None,
    force: bool,
    to: str | None,
    keep_defanged: bool,
) -> None:
    """Export the archived text, the captures (WARC, WACZ), or a report annotated with its archived sources."""
    from archiver.showing.export import EXPORTERS, export_report, export_warc, open_output
    from archiver.showing.waczexport import export_wacz

    root = archive_path(archive)
    if fmt in ("warc", "wacz") and output is None and sys.stdout.isatty():
        raise click.UsageError(
            f"a {fmt.upper()} is binary: give --output FILE, redirect stdout, or --output - to insist"
        )
    if fmt == "report" and report is None:
        raise click.UsageError("--format report needs --report REPORT (which report to annotate)")
    if fmt == "wacz" and output in (None, "-"):
        raise click.UsageError("--format wacz needs --output FILE.wacz (a ZIP file is written, not streamed)")
    with CatalogReader.open_readonly(root) as catalog:
        if fmt == "warc":
            with open_output(output, binary=True, force=force) as out:
                count = export_warc(catalog, root, out, report)
            noun = "captures"
        elif fmt == "wacz":
            target = Path(str(output))
            if target.exists() and not force:
                raise ArchiverError(f"{target} exists; use --force to overwrite it")
            count = export_wacz(catalog, root, target, report)
            noun = "pages"
        elif fmt == "report":
            assert report is not None
            settings = load_settings(root)
            text = export_report(catalog, root, report, to, replay_url=settings.replay_url, keep_defanged=keep_defanged)
            with open_output(output, binary=False, force=force) as out:
                out.write(text)
            count, noun = 1, "report"
        else:
            with open_output(output, binary=False, force=force) as out:
                count = EXPORTERS[fmt](catalog, root, out, report)
            noun = "reports" if fmt == "md" else "rows"
    if output not in (None, "-"):
        err_console.print(f"exported {count} {noun} to {output}", highlight=False)


@cli.command("dashboard")
@archive_option
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory to write (default: ARCHIVE/dashboard).",
)
def dashboard_command(archive: Path | None, output: Path | None) -> None:
    """Write a static HTML view of the archive's health: open index.html in any browser, offline."""
    from archiver.showing.dashboard import build_dashboard

    root = archive_path(archive)
    with CatalogReader.open_readonly(root) as catalog:
        index = build_dashboard(catalog, root, output or root / "dashboard")
    click.echo(str(index))


def main() -> None:
    """Entry point: run the CLI, turning ArchiverError (and a fault of the archive's disk) into one line, exit 1."""
    if hasattr(signal, "SIGXFSZ"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file-size limit is a write error (EFBIG), not a kill
    try:
        cli(standalone_mode=True)
    except ArchiverError as exc:
        error(str(exc))
        sys.exit(1)
    except (OSError, sqlite3.Error) as exc:
        fault = archive_fault(exc)
        if fault is None:
            raise
        error(str(fault))
        sys.exit(1)
