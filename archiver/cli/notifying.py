"""`archiver notify --test`: check that the configured notification services can be reached."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archiver.cli.group import cli
from archiver.cli.options import archive_option, error, network_options, notify_option, with_notify
from archiver.config import archive_path, load_settings


@cli.command("notify")
@archive_option
@network_options
@notify_option
@click.option("--test", "test", is_flag=True, help="Send a short test message to every configured service.")
def notify_command(
    archive: Path | None, proxy: str | None, allow_private: bool | None, notify: tuple[str, ...], test: bool
) -> None:
    """Notification services (apprise URLs from archiver.toml's `notify` and --notify): --test sends
    each a short message and says which worked. The nightly run sends the digests itself."""
    from archiver.showing.notify import send_test

    root = archive_path(archive)
    settings = with_notify(load_settings(root).replace(proxy=proxy, allow_private=allow_private), notify)
    if not settings.notify:
        error('no notification service: set notify = ["URL", ...] in archiver.toml or pass --notify URL')
        sys.exit(1)
    if not test:
        click.echo(f"{len(settings.notify)} notification service(s) configured; --test sends each a test message")
        return
    results = send_test(settings, root)
    for result in results:
        if result.error is None:
            click.echo(f"sent: {result.service}")
        else:
            click.echo(f"failed: {result.service}: {result.error}")
    sys.exit(0 if all(result.error is None for result in results) else 1)
