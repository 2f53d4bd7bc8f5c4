"""`archiver run`: the nightly job."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from archiver.cli.group import cli
from archiver.cli.options import (
    archive_option,
    browser_options,
    err_console,
    error,
    json_option,
    network_options,
    notify_option,
    out_console,
    stopping,
    with_notify,
)
from archiver.config import archive_path, load_settings
from archiver.errors import LockedError
from archiver.reading.safetext import printable
from archiver.reading.webpages import is_url
from archiver.showing.render import (
    RunProgress,
    print_json,
    print_run_summary,
)


def _web_urls(values: tuple[str, ...]) -> tuple[str, ...]:
    for value in values:
        if not is_url(value.strip()):
            raise click.BadParameter(f"{value!r} is not an http(s) URL of a feed")
    return values


class ReportSource(click.ParamType):  # type: ignore[type-arg]
    """A report file or directory that exists, or a report page's http(s) URL."""

    name = "path_or_url"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> Path | str:
        if is_url(value):
            return value
        path = Path(value)
        if not path.exists():
            self.fail(f"Path {value!r} does not exist.", param, ctx)
        return path


@cli.command("run")
@click.argument("paths", nargs=-1, type=ReportSource())
@archive_option
@network_options
@browser_options
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
@notify_option
@click.option(
    "--feed",
    "feeds",
    multiple=True,
    metavar="URL",
    callback=lambda ctx, param, value: _web_urls(value),
    help="Register an RSS or Atom feed whose entries' pages are reports (every later run polls it); repeatable.",
)
@json_option
def run_command(
    paths: tuple[Path | str, ...],
    archive: Path | None,
    proxy: str | None,
    allow_private: bool | None,
    browser: str | None,
    no_browser: bool,
    per_host: int | None,
    delay: float | None,
    concurrency: int | None,
    max_duration: float | None,
    user_agent: str | None,
    save_missing: bool | None,
    no_web_archive: bool,
    replace: bool,
    notify: tuple[str, ...],
    feeds: tuple[str, ...],
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
        browser=browser,
        render=False if no_browser else None,
    )
    settings = with_notify(settings, notify)
    if paths:
        # New reports mean new pages to extract: the workers' forkserver imports the extractor
        # (a fifth of a second) while this process imports the rest, not after.
        from archiver.judging.workers import start_forkserver

        start_forkserver()
    from archiver.pipeline import run as run_archive  # the network stack, imported by the commands that fetch

    with RunProgress(err_console) as progress:
        try:
            summary = run_archive(
                root,
                list(paths),
                settings,
                on_checked=progress.checked,
                on_stopping=stopping,
                replace=replace,
                feeds=[feed.strip() for feed in feeds if feed.strip()],
            )
        except LockedError as exc:
            error(f"{exc}; this run exits (runs never wait for each other: the next one picks up the work)")
            sys.exit(75)
    for failed in summary.reports_failed:
        error(printable(failed["error"]))
    for failed_feed in summary.feeds["failed"]:
        error(printable(f"feed {failed_feed['feed']}: {failed_feed['error']}"))
    for told in summary.notifications:
        if not told["sent"]:
            error(f"notification to {told['service']} failed: {told['error']} (owed again next run)")
    if as_json:
        print_json(summary.as_dict())
    else:
        print_run_summary(summary.as_dict(), out_console())
    if summary.status == "interrupted":
        sys.exit(130)  # stopped by a second Ctrl-C or SIGTERM: the run did not complete
