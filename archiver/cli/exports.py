"""`archiver export` and `archiver dashboard`: the archive for people who do not run the tool."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archiver.cli.group import cli
from archiver.cli.options import archive_option, err_console, open_reader
from archiver.config import archive_path, load_settings
from archiver.errors import ArchiverError
from archiver.showing.formats import FORMATS


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
    with open_reader(root) as catalog:
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
    with open_reader(root) as catalog:
        index = build_dashboard(catalog, root, output or root / "dashboard")
    click.echo(str(index))
