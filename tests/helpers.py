"""What many tests share and import: fast settings, the CLI as a user runs it, report and archive makers.

Fixtures (servers, archives, the guard) are in conftest.py; these are plain functions and values.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from archiver.config import Settings

# archiver.toml for CLI tests: no waiting between requests, short time-outs, one worker, no web archives.
FAST = """
delay = 0.0
per_host = 4
concurrency = 8
connect_timeout = 2.0
read_timeout = 1.0
total_timeout = 4.0
retries = 1
backoff = 0.1
max_body = 5242880
max_decoded = 5242880
extract_workers = 1
web_archive_lookups = false
"""

# The same for tests that call the library.
SETTINGS = Settings(
    allow_private=True,
    delay=0.0,
    per_host=4,
    concurrency=8,
    connect_timeout=2,
    read_timeout=1,
    total_timeout=3,
    retries=1,
    backoff=0.05,
    extract_workers=1,
    web_archive_lookups=False,
)


def archiver(
    *args: str,
    archive: Path | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 180,
) -> subprocess.CompletedProcess[str]:
    """Run the program the way a user or cron does (a process of its own), on an archive when given."""
    where = ["--archive", str(archive)] if archive is not None else []
    return subprocess.run(
        [sys.executable, "-m", "archiver", *args, *where],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def write_report(
    directory: Path,
    urls: list[str],
    name: str = "report",
    *,
    title: str | None = None,
    published: str = "September 3, 2020",
    defang: bool = False,
    extra: str = "",
) -> Path:
    """A plain-text report citing each URL in a note of its own ([1], [2]...), in the sample's style."""
    directory.mkdir(parents=True, exist_ok=True)
    body = " ".join(f"Claim {i}.[{i}]" for i in range(1, len(urls) + 1)) or "Body.[1]"
    notes = "\n\n".join(
        f"[{i}] {url.replace('127.0.0.1', '127(.)0(.)0(.)1') if defang else url}" for i, url in enumerate(urls, start=1)
    )
    path = directory / f"{name}.txt"
    path.write_text(f"{title or 'Report ' + name}\n\n{published}\n\n{body}{extra}\n\n{notes}\n", encoding="utf-8")
    return path


# `pytest --catalog postgresql` sets this: each archive a test makes then has a PostgreSQL catalog of its own.
new_catalog: Callable[[], str] | None = None


def make_archive(root: Path, config: str = FAST) -> Path:
    """An archive directory under root with its archiver.toml."""
    archive = root / "archive"
    archive.mkdir(parents=True)
    if new_catalog is not None:
        config = f'catalog = "{new_catalog()}"\n' + config
    (archive / "archiver.toml").write_text(config)
    return archive


def chromium() -> str | None:
    """Debian's Chromium, when installed (CI installs it)."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


# Chromium for the tests: it resolves no name but 127.0.0.1 and localhost, and makes no background
# request of its own (updates, sync, safe browsing), so the browser tests stay on this machine too.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
