"""`archiver feeds`: the feeds every run polls, and `archiver feeds remove URL`."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from archiver.cli.group import cli
from archiver.cli.options import archive_option, error, json_option, open_reader, out_console
from archiver.config import archive_path, catalog_url
from archiver.showing.render import print_json
from archiver.storage.catalog import Catalog


@cli.group("feeds", invoke_without_command=True)
@archive_option
@json_option
@click.pass_context
def feeds_command(ctx: click.Context, archive: Path | None, as_json: bool) -> None:
    """The RSS and Atom feeds every run polls (`run --feed URL` registers one): URL, title, last polled,
    entries read, last error."""
    ctx.obj = archive
    if ctx.invoked_subcommand is not None:
        return
    with open_reader(archive_path(archive)) as catalog:
        feeds = catalog.feeds()
    rows = [
        {
            "url": feed.url,
            "title": feed.title,
            "added_at": feed.added_at,
            "last_polled": feed.last_polled,
            "entries_seen": feed.entries_seen,
            "last_error": feed.last_error,
        }
        for feed in feeds
    ]
    if as_json:
        print_json(rows)
        return
    console = out_console()
    if not rows:
        console.print("no feed registered: `archiver run --feed URL` registers one", style="dim")
        return
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    for column in ("feed", "title", "last polled", "entries", "last error"):
        table.add_column(column, overflow="fold")
    for feed in feeds:
        polled, error_text = feed.last_polled or "never", feed.last_error or ""
        table.add_row(feed.url, feed.title or "-", polled, str(feed.entries_seen), error_text)
    console.print(table)


@feeds_command.command("remove")
@click.argument("url")
@archive_option
@click.pass_obj
def remove_feed_command(group_archive: Path | None, url: str, archive: Path | None) -> None:
    """Stop polling a feed (the reports read from it stay)."""
    root = archive_path(archive or group_archive)
    with Catalog.open(root, create=False, url=catalog_url(root)) as catalog:
        removed = catalog.remove_feed(url)
    if not removed:
        error(f"no feed {url!r} is registered (`archiver feeds` lists them)")
        sys.exit(1)
    click.echo(f"removed {url}")
