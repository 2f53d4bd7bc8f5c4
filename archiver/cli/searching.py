"""`archiver search`: full-text search over every archived text."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from archiver.cli.group import cli
from archiver.cli.lookups import verdict_list
from archiver.cli.options import archive_option, err_console, error, json_option, open_reader, out_console
from archiver.config import archive_path
from archiver.showing.render import print_json, print_search


@cli.command("search")
@click.argument("query", required=False)
@archive_option
@click.option("--report", default=None, help="Only links this report cites.")
@click.option("--verdict", callback=verdict_list, metavar="V,V", help="Only links with these verdicts.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most this many results.")
@click.option("--reindex", is_flag=True, help="Rebuild the search index from every archived text.")
@json_option
def search_command(
    query: str | None,
    archive: Path | None,
    report: str | None,
    verdict: tuple[str, ...],
    limit: int,
    reindex: bool,
    as_json: bool,
) -> None:
    """Search every archived text (each capture's, not only the latest) for QUERY: words in any case,
    Russian and English word forms, "a phrase", OR, NOT, prefix*. One result per link and text version."""
    from archiver.showing.search import rebuild_index, search, update_index
    from archiver.storage.searchtext import QueryError, parse_query

    if query is None and not reindex:
        raise click.UsageError("give a QUERY to search for (or --reindex to rebuild the index)")
    root = archive_path(archive)
    if query is not None:
        try:
            parse_query(query)  # a query that cannot be searched says so before anything is indexed
        except QueryError as exc:
            error(str(exc))
            sys.exit(1)
    with open_reader(root) as catalog:
        index = rebuild_index if reindex else update_index
        if err_console.is_terminal:  # an archive made before search was: its texts are indexed now, shown
            with Progress(
                TextColumn("indexing archived texts"), BarColumn(), MofNCompleteColumn(), console=err_console
            ) as progress:
                task = progress.add_task("", total=None)
                index(catalog, root, lambda done, total: progress.update(task, completed=done, total=total))
        else:
            index(catalog, root)
        if query is None:
            return
        try:
            hits = search(catalog, root, query, report=report, verdicts=verdict, limit=limit)
        except QueryError as exc:
            error(str(exc))
            sys.exit(1)
    if as_json:
        print_json([hit.as_json() for hit in hits])
    else:
        print_search(hits, out_console())
