"""Settings: every default in one place, read from the archive's archiver.toml, overridden by flags."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archiver import __version__
from archiver.errors import ConfigError
from archiver.reading.safetext import without_userinfo

DEFAULT_ARCHIVE = Path("archive")
ARCHIVE_ENV = "ARCHIVER_ARCHIVE"
CATALOG_ENV = "ARCHIVER_CATALOG"
STORE_ENV = "ARCHIVER_STORE"
CONFIG_NAME = "archiver.toml"


@dataclass(frozen=True, slots=True)
class Settings:
    """Every tunable of a run. The archive's archiver.toml sets any of them; flags win."""

    # Politeness (scrapy's AutoThrottle defaults are gentler than most crawlers': so are ours).
    per_host: int = 2  # simultaneous connections to one host
    delay: float = 1.0  # seconds between two request starts to one host
    # Simultaneous fetches in all (the sites' share is per_host and delay). A fetch mostly waits for its
    # site, and real sites answer slower than the bench's: enough fetches that the night is bound by
    # politeness or the CPU, never by this number (docs/benchmarks.md has the measurements). Pages
    # waiting for a worker hold no slot; extraction's backlog bounds the fetches (pool.holds).
    concurrency: int = 128
    user_agent: str = f"archiver/{__version__} (source-link archiver; +https://github.com/archiver-project/archiver)"
    # Time-outs, in seconds.
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 90.0  # one request, from connect to the body's last byte
    link_budget: float = 180.0  # one link's attempts in one run, retries and their waits included
    # Retries within one run, for passing failures (time-outs, resets, 5xx, 429).
    retries: int = 2
    backoff: float = 2.0  # first back-off; doubles each retry, with jitter
    max_backoff: float = 60.0  # a Retry-After longer than this is not waited for in this run
    # Limits.
    max_redirects: int = 10
    max_body: int = 50 * 1024 * 1024  # bytes on the wire
    max_decoded: int = 100 * 1024 * 1024  # bytes after gzip/brotli/deflate decoding
    warc_max_size: int = 1024 * 1024 * 1024  # rotate WARC files past this size
    # Network.
    allow_private: bool = False
    proxy: str | None = None
    # Verdicts.
    dead_after_failures: int = 3  # consecutive failing runs before "dead"...
    dead_after_hours: float = 48.0  # ...that also span at least this long
    change_threshold: float = 0.6  # main-text similarity below this is "changed"
    # ...or more than this share of the first capture's sentences no longer in the page: changed.
    rewrite_threshold: float = 0.25
    # Public web archives' copies, for links that are dead or were never captured.
    wayback_url: str = "https://web.archive.org"  # its CDX API and raw (id_) captures; "" to skip it
    memento_timemaps: tuple[str, ...] = ()  # more Memento archives: TimeMap prefixes the URL is appended to
    # Apprise URLs told after a night that found newly dead, changed or blocked links (mailto://, slack://...).
    notify: tuple[str, ...] = ()
    name: str = ""  # the archive's name in notifications (default: its directory's name)
    web_archive_lookups: bool = True
    replay_url: str = ""  # where the organisation replays this archive (pywb, ReplayWeb.page): exports link to it
    web_archive_delay: float = 1.0  # seconds between two requests to a web archive
    save_missing: bool = False  # ask Save Page Now for live links with no public capture
    save_delay: float = 12.0  # seconds between two Save Page Now requests
    # Pages a plain fetch cannot read (script shells): rendered in headless Chromium, every request ours.
    render: bool = True  # false (or --no-browser): a script-only page is blocked, never rendered
    browser: str = ""  # the Chromium to drive: a path or a name on PATH ("" : ARCHIVER_BROWSER, chromium...)
    # pages rendered at once, at most two: one keeps the night, Chromium included, under 1 GiB on the hostile
    # pages' benchmark (two: 1.2 GiB, and 1.5 times as many pages a minute; docs/benchmarks.md)
    browser_pages: int = 1
    browser_timeout: float = 30.0  # seconds one page may take to render
    browser_image_cap: int = 2 * 1024 * 1024  # images and fonts up to this size are kept in the WARC
    # Sites' public endpoints, asked before a browser ("" : not asked).
    x_oembed: str = "https://publish.twitter.com/oembed"
    youtube_oembed: str = "https://www.youtube.com/oembed"
    # Scheduling.
    extract_workers: int = 0  # processes for text extraction; 0: one per core
    extract_timeout: float = 60.0  # seconds one page may take to extract before its worker is replaced
    worker_memory: int = 384 * 1024 * 1024  # bytes of address space per extraction worker (RLIMIT_AS); 0: no cap
    max_duration: float | None = None  # seconds; a run stops starting new fetches after this
    recheck_interval: float = 0.0  # hours; a stable ok link is not re-checked sooner than this
    # hours; an unchanged page (a 304, the same payload) gets a WARC revisit record at most this often
    # (every check is in the catalog either way); 0: a revisit record at every check
    revisit_interval: float = 168.0
    # The shared setup (several workers, one archive): a PostgreSQL catalog ("" : ARCHIVE/catalog.sqlite),
    # and how long a worker's claim on a host lasts unless renewed (a killed worker's hosts wait this long).
    catalog: str = ""
    lease_seconds: float = 180.0
    # Captures on S3-compatible storage ("s3://bucket/prefix"; "" : the archive directory). A worker's WARC
    # file then rotates at store_max_age seconds or store_max_size bytes, so records reach the bucket soon.
    store: str = ""
    store_max_age: float = 300.0
    store_max_size: int = 256 * 1024 * 1024

    def workers(self) -> int:
        """How many extraction workers a run starts: one per core unless set.

        One fewer than the cores queues pages while the run's own process has a core to itself, and
        was slower and costlier (docs/benchmarks.md); with two, one slow page never holds up the rest."""
        return self.extract_workers or os.cpu_count() or 2

    def replace(self, **changes: Any) -> Settings:
        """A copy with the given settings changed (None values are ignored: unset flags), checked."""
        settings = dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})
        settings.check()
        return settings

    def check(self) -> None:
        """ConfigError naming the first setting out of its range: the same rules for flags and archiver.toml."""
        for name, (low, high, strict) in _RANGES.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{name.replace('_', '-')} must be a number, not {value!r}")
            if (value <= low if strict else value < low) or (high is not None and value > high):
                bound = f"more than {low:g}" if strict else f"at least {low:g}"
                if high is not None:
                    bound = f"between {low:g} and {high:g}"
                raise ConfigError(f"{name.replace('_', '-')} must be {bound}, not {value!r}")
        if self.proxy is not None:
            check_proxy(self.proxy)
        urls = [("wayback-url", self.wayback_url), ("replay-url", self.replay_url)]
        urls += [("x-oembed", self.x_oembed), ("youtube-oembed", self.youtube_oembed)]
        urls += [("memento-timemaps", url) for url in self.memento_timemaps]
        for name, url in urls:
            if url and urlsplit(url).scheme not in ("http", "https"):
                raise ConfigError(f"{name} must be an http(s) URL, not {url!r}")
        if not self.user_agent.strip():
            raise ConfigError("user-agent must not be empty")


# Every number's range: (low, high or None, whether low itself is excluded).
_RANGES: dict[str, tuple[float, float | None, bool]] = {
    "per_host": (1, None, False),
    "delay": (0, None, False),
    "lease_seconds": (5, None, False),
    "store_max_age": (1, None, False),
    "store_max_size": (1024 * 1024, None, False),
    "concurrency": (1, None, False),
    "connect_timeout": (0, None, True),
    "read_timeout": (0, None, True),
    "total_timeout": (0, None, True),
    "link_budget": (0, None, True),
    "retries": (0, None, False),
    "backoff": (0, None, False),
    "max_backoff": (0, None, False),
    "max_redirects": (0, None, False),
    "max_body": (0, None, True),
    "max_decoded": (0, None, True),
    "warc_max_size": (0, None, True),
    "dead_after_failures": (1, None, False),
    "dead_after_hours": (0, None, False),
    "change_threshold": (0, 1, False),
    "rewrite_threshold": (0, 1, False),
    "web_archive_delay": (0, None, False),
    "save_delay": (0, None, False),
    "extract_workers": (0, None, False),
    "browser_pages": (1, 2, False),
    "browser_timeout": (0, None, True),
    "browser_image_cap": (0, None, False),
    "extract_timeout": (0, None, True),
    "worker_memory": (0, None, False),
    "max_duration": (0, None, False),
    "recheck_interval": (0, None, False),
    "revisit_interval": (0, None, False),
}

PROXY_SCHEMES = ("http", "https", "socks5", "socks5h")


def check_proxy(url: str) -> str:
    """A proxy URL as httpx takes it (scheme://host[:port]), or ConfigError saying what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"proxy {without_userinfo(url)!r} is not a URL: {without_userinfo(str(exc))}") from None
    if parts.scheme not in PROXY_SCHEMES or not parts.hostname:
        raise ConfigError(
            f"proxy {without_userinfo(url)!r} is not a proxy URL: expected {'|'.join(PROXY_SCHEMES)}://HOST[:PORT], "
            "e.g. http://proxy.example:3128"
        )
    del port
    return url


def archive_path(flag: Path | None) -> Path:
    """The archive directory: --archive, else $ARCHIVER_ARCHIVE, else ./archive."""
    if flag is not None:
        return flag
    env = os.environ.get(ARCHIVE_ENV)
    return Path(env) if env else DEFAULT_ARCHIVE


def catalog_url(archive: Path) -> str:
    """Where the archive's catalog is: $ARCHIVER_CATALOG (--catalog sets it), else archiver.toml's `catalog`;
    "" for the default, ARCHIVE/catalog.sqlite."""
    url = os.environ.get(CATALOG_ENV) or load_settings(archive).catalog
    if url and not url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"catalog must be a postgresql:// URL, not {url.split(':', 1)[0]!r}")
    return url


def store_url(archive: Path) -> str:
    """Where the archive's captures go: $ARCHIVER_STORE (--store sets it), else archiver.toml's `store`;
    "" for the archive directory."""
    url = os.environ.get(STORE_ENV) or load_settings(archive).store
    if url and not url.startswith("s3://"):
        raise ConfigError(f"store must be an s3://bucket/prefix URL, not {url!r}")
    return url


def load_settings(archive: Path) -> Settings:
    """Settings from ARCHIVE/archiver.toml (top level or an [archiver] table), else the defaults."""
    path = archive / CONFIG_NAME
    if not path.exists():
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    table = data.get("archiver", data)
    fields = {f.name: f for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in fields:
            raise ConfigError(f"{path}: unknown setting {key!r} (known: {', '.join(sorted(fields))})")
        default = getattr(Settings(), name)
        if isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                raise ConfigError(f"{path}: {key} must be a list of strings, not {value!r}")
            values[name] = tuple(value)
            continue
        if (
            default is not None
            and not isinstance(value, type(default))
            and not (isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool))
        ):
            raise ConfigError(f"{path}: {key} must be {type(default).__name__}, not {value!r}")
        values[name] = float(value) if isinstance(default, float) else value
    settings = Settings(**values)
    try:
        settings.check()
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return settings
