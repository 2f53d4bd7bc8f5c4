"""What the commands share: their common flags, the consoles, and the one-line error."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from archiver.config import (
    CATALOG_ENV,
    STORE_ENV,
    Settings,
    catalog_url,
    check_proxy,
    load_settings,
    store_url,
)
from archiver.errors import ConfigError
from archiver.storage.catalog import CatalogReader
from archiver.storage.objectstore import attach

F = TypeVar("F", bound=Callable[..., Any])

err_console = Console(stderr=True)


def json_option(func: F) -> F:
    """--json: print JSON for scripts instead of a table for people."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")(func)


# The shared setup's flags on every archive command: flag, metavar, the environment variable it sets, help.
_SHARED_FLAGS = (
    (
        "--store",
        "S3URL",
        STORE_ENV,
        "Captures on S3-compatible storage: s3://bucket/prefix (default: $ARCHIVER_STORE, archiver.toml).",
    ),
    (
        "--catalog",
        "URL",
        CATALOG_ENV,
        "A shared PostgreSQL catalog: postgresql://... (default: $ARCHIVER_CATALOG, archiver.toml).",
    ),
)


def archive_option(func: F) -> F:
    """--archive DIR, else $ARCHIVER_ARCHIVE, else ./archive; the shared setup's --catalog URL and --store URL
    (each the same as its environment variable, which this process's library calls then read)."""
    for flag, metavar, variable, help_text in _SHARED_FLAGS:
        func = click.option(
            flag, metavar=metavar, expose_value=False, callback=_into_environment(variable), help=help_text
        )(func)
    return click.option(
        "--archive",
        "archive",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Archive directory (default: $ARCHIVER_ARCHIVE, else ./archive).",
    )(func)


def _into_environment(name: str) -> Callable[[click.Context, click.Parameter, str | None], None]:
    def store(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        if value is not None:
            os.environ[name] = value

    return store


def open_reader(root: Path) -> CatalogReader:
    """The archive's catalog, to read (with its object store attached, where its captures are there)."""
    attach(root, store_url(root), proxy=load_settings(root).proxy)
    return CatalogReader.open_readonly(root, catalog_url(root))


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


def browser_options(func: F) -> F:
    """--browser PATH and --no-browser: which Chromium renders script-built pages, or none."""
    func = click.option(
        "--no-browser", is_flag=True, default=False, help="Never render script-built pages (they stay blocked)."
    )(func)
    return click.option(
        "--browser",
        metavar="PATH",
        default=None,
        help="The Chromium that renders script-built pages (else ARCHIVER_BROWSER, chromium on PATH, Playwright's).",
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


def notify_option(func: F) -> F:
    """--notify URL (repeatable): an apprise URL told after the night, beside archiver.toml's `notify`."""
    return click.option(
        "--notify",
        "notify",
        multiple=True,
        metavar="URL",
        help="Tell this apprise URL (mailto://, slack://, tgram://, json://...) what broke; repeatable.",
    )(func)


def with_notify(settings: Settings, urls: tuple[str, ...]) -> Settings:
    """The configured notification URLs and those given on the command line."""
    return settings.replace(notify=tuple(dict.fromkeys((*settings.notify, *urls)))) if urls else settings


def stopping(in_flight: int) -> None:
    """Said on the first Ctrl-C or SIGTERM."""
    click.echo(f"stopping: finishing {in_flight} fetches in flight (again to interrupt at once)", err=True)
