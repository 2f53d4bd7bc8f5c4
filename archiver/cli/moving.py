"""The shared setup's administration: `archiver migrate --to postgresql://... [--store s3://...]` moves a
one-machine archive there; `archiver forget-worker MACHINE` gives up the captures of a machine lost for good."""

from __future__ import annotations

import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from archiver.cli.group import cli
from archiver.cli.options import archive_option, err_console, json_option, out_console
from archiver.config import archive_path, catalog_url, load_settings
from archiver.showing.render import print_json
from archiver.storage.catalog import Catalog
from archiver.storage.catalog.postgres import PgDatabase, redacted
from archiver.storage.lock import ArchiveLock
from archiver.storage.moving import MoveReport, move_catalog, move_files
from archiver.storage.objectstore import ObjectStore


@cli.command("migrate")
@click.option(
    "--archive",
    "archive",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The archive to move (default: $ARCHIVER_ARCHIVE, else ./archive). It is only read.",
)
@click.option("--to", "to", metavar="URL", required=True, help="The shared PostgreSQL catalog: postgresql://...")
@click.option("--store", metavar="S3URL", default=None, help="Put the captures in this bucket: s3://bucket/prefix.")
@json_option
def migrate_command(archive: Path | None, to: str, store: str | None, as_json: bool) -> None:
    """Copy an archive (catalog, WARC files, texts, screenshots, report copies) to the shared setup, then
    verify the tables' counts and every object's digest. Safe to run again: it copies what is missing.

    Without --store the captures stay in this archive directory, on this machine. Exit status 0 when
    everything was verified, 1 otherwise."""
    root = archive_path(archive)
    if not to.startswith(("postgresql://", "postgres://")):
        raise click.BadParameter("must be a postgresql:// URL", param_hint="--to")
    objects = ObjectStore(store, proxy=load_settings(root).proxy) if store else None

    def say(line: str) -> None:
        if not as_json:
            err_console.print(line, markup=False)

    with ArchiveLock(root):  # no run adds rows while they are copied
        say(f"moving {root} to {redacted(to)}" + (f" and {objects.url}" if objects else ""))
        moved = move_catalog(root, to, say)
        if objects is not None:
            files = move_files(root, objects, to, say)
            moved.objects, moved.problems = files.objects, moved.problems + files.problems
        else:
            _mark_machine(to)
    _show(moved, to, as_json)
    if moved.problems:
        sys.exit(1)


def _mark_machine(url: str) -> None:
    """Captures left in this directory are this machine's: `check` elsewhere says where they are."""
    db = PgDatabase(url)
    try:
        db.execute("UPDATE warc_files SET machine = ? WHERE machine IS NULL", (socket.gethostname(),))
    finally:
        db.close()


def _show(moved: MoveReport, url: str, as_json: bool) -> None:
    if as_json:
        print_json(moved.as_dict())
        return
    console = out_console()
    for table, (source, target) in moved.rows.items():
        console.print(f"{table:<16} {source:>9} rows here, {target:>9} in the shared catalog", markup=False)
    for folder, count in moved.objects.items():
        console.print(f"{folder + '/':<16} {count:>9} files, each object's digest checked", markup=False)
    if moved.problems:
        for problem in moved.problems:
            console.print(f"problem: {problem}", markup=False)
    else:
        console.print(f"verified: {redacted(url)} holds everything this archive holds", markup=False)


@cli.command("forget-worker")
@click.argument("machine")
@archive_option
@json_option
def forget_worker_command(machine: str, archive: Path | None, as_json: bool) -> None:
    """A worker's MACHINE is lost for good (the shared setup): its WARC files never uploaded are marked
    lost and the links whose captures were in them are captured again by the next night, first."""
    root = archive_path(archive)
    with Catalog.open(root, create=False, url=catalog_url(root)) as catalog:
        files, links = catalog.forget_machine(machine, datetime.now(UTC))
    if as_json:
        print_json({"machine": machine, "lost_warc_files": files, "links_to_capture_again": links})
        return
    out_console().print(
        f"{machine}: {len(files)} WARC file(s) never uploaded marked lost; {links} link(s) will be captured"
        " again by the next night",
        markup=False,
    )
