"""Render a script-built page in headless Chromium (Playwright), every request it makes through our Fetcher.

Chromium resolves and connects nothing itself: every request is answered by `route.fulfill` with
what our Fetcher fetched (so the address guard, the proxy, the CA settings and the per-host turns
apply), and Chromium's own resolver maps every name to nothing besides. The browser starts once a
night, only when a page needs it, renders at most `browser_pages` pages at once, and is closed at
the end of the night; a watchdog process kills it should the run die without closing it (SIGKILL).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from archiver.config import Settings
from archiver.errors import MissingExtra
from archiver.fetching.endpoints import Turn, as_related
from archiver.fetching.fetch import Fetcher
from archiver.outcomes import Exchange, Fetch

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
CHROMIUM_ARGS = (
    # Chromium connects nowhere itself: every request of a page is ours to answer (route.fulfill); what is
    # not routed (a WebSocket, a prefetch) finds no name and, for an address, a proxy that is not there.
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-dev-shm-usage",
    "--disable-gpu",  # software compositing in the renderer: no GPU process holding gigabytes of tiles
    "--disable-breakpad",
    "--no-first-run",
    "--mute-audio",
    # Memory: one renderer per page, not one per site of its frames; no extensions.
    "--disable-site-isolation-trials",
    "--disable-extensions",
    "--renderer-process-limit=4",
    "--disable-gpu-rasterization",  # Debian's defaults turn it on
    "--enable-low-end-device-mode",  # a third less per renderer on a 20,000-node page (bench/render_pages.py)
    "--no-sandbox",  # as root (CI, containers) Chromium refuses its sandbox; the page reaches nothing anyway
)
SCREENSHOT_HEIGHT = 5000  # pixels of a long page kept in its screenshot (a 20,000-row page is 400,000)
MAX_REQUESTS = 300  # a page's requests answered; past this it is aborted (an endless feed of requests)
_HOP_BY_HOP = frozenset({"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive"})


@dataclass(frozen=True, slots=True)
class Rendered:
    """What a page became in the browser, and every exchange it made beside its document."""

    html: bytes  # the document as the browser built it (UTF-8)
    exchanges: tuple[Exchange, ...]
    screenshot: bytes | None
    browser: str  # "Chromium 120.0.6099.224 (Playwright 1.40.0)"


def find_chromium(explicit: str | None = None) -> str | None:
    """A Chromium to drive: --browser PATH, ARCHIVER_BROWSER, one on PATH, or Playwright's own download."""
    named = explicit or os.environ.get("ARCHIVER_BROWSER")
    if named:  # the one asked for, or none
        return shutil.which(named) or (named if Path(named).is_file() and os.access(named, os.X_OK) else None)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    cache = Path(os.environ.get("PLAYWRIGHT_BROWSERS_PATH") or Path.home() / ".cache" / "ms-playwright")
    downloaded = sorted(cache.glob("chromium-*/chrome-linux*/chrome"), reverse=True)
    return str(downloaded[0]) if downloaded else None


def playwright_missing() -> bool:
    """Whether the browser extra is not installed (asked without importing it: most nights never render)."""
    try:
        return importlib.util.find_spec("playwright.async_api") is None
    except (ImportError, ValueError):  # a parent hidden or broken
        return True


def _children(pid: int) -> list[int]:
    """The processes whose parent is pid (Linux /proc; elsewhere none)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _watchdog(parent: int, browsers: list[int]) -> subprocess.Popen[bytes]:
    """A small process that kills the browser's process groups as soon as the run is gone (a SIGKILL
    leaves no time to close it; Playwright's driver also closes it when its pipe ends, the watchdog
    does not rely on that)."""
    code = (
        "import os,sys,time,signal\n"
        "parent=int(sys.argv[1])\n"
        "while os.getppid()==parent: time.sleep(0.25)\n"
        "for pid in map(int, sys.argv[2:]):\n"
        "  try: os.killpg(pid, signal.SIGKILL)\n"
        "  except OSError: pass\n"
    )
    return subprocess.Popen([sys.executable, "-c", code, str(parent), *map(str, browsers)], stdin=subprocess.DEVNULL)


class Browser:
    """One night's headless Chromium, started on first need; `render` a page, `close` at the end."""

    def __init__(self, settings: Settings, fetcher: Fetcher, turn: Turn, executable: str | None) -> None:
        self.settings = settings
        self.fetcher = fetcher
        self.turn = turn
        self.executable = executable
        self._lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(max(1, settings.browser_pages))
        self._playwright: Any = None
        self._browser: Any = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self.version = ""
        self.rendered = 0

    async def _start(self) -> Any:
        async with self._lock:
            if self._browser is not None and self._browser.is_connected():
                return self._browser
            if self._browser is not None:  # it crashed or was killed: the next page gets a new one
                await self.close()
            try:
                from playwright.async_api import async_playwright
            except ImportError:
                raise MissingExtra("rendering script-built pages", "browser") from None
            before = set(_children(os.getpid()))
            self._playwright = await async_playwright().start()
            self._browser = await self._playwright.chromium.launch(
                executable_path=self.executable,
                args=list(CHROMIUM_ARGS),
                headless=True,
                handle_sigint=False,
                handle_sigterm=False,
                handle_sighup=False,
            )
            self.version = f"Chromium {self._browser.version}"
            # Playwright's driver is the run's new child; the browsers it launched lead their own groups.
            browsers = [pid for driver in set(_children(os.getpid())) - before for pid in _children(driver)]
            if browsers:
                self._watchdog = _watchdog(os.getpid(), browsers)
            return self._browser

    async def render(self, document: Fetch, timeout: float) -> Rendered:
        """Render a fetched document: its own answer replayed, everything else fetched by our Fetcher."""
        browser = await self._start()
        async with self._slots:
            context = await browser.new_context(
                service_workers="block",
                user_agent=self.settings.user_agent,
                viewport={"width": 1280, "height": 900},
                accept_downloads=False,
                java_script_enabled=True,
            )
            requests = _Requests(self, document, time.monotonic() + timeout)
            try:
                await context.route("**/*", requests.handle)
                page = await context.new_page()
                async with asyncio.timeout(timeout):
                    html, shot = await _load(page, document.final_url, timeout)
                self.rendered += 1
                return Rendered(html, tuple(requests.exchanges), shot, self.version)
            finally:
                requests.closed = True
                with contextlib.suppress(Exception):
                    await context.close()

    async def close(self) -> None:
        """Close the browser and its driver (idempotent)."""
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        try:
            if browser is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(10):
                        await browser.close()
            if playwright is not None:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(10):
                        await playwright.stop()
        finally:
            if self._watchdog is not None:
                self._watchdog.kill()
                self._watchdog.wait()
                self._watchdog = None


async def _load(page: Any, url: str, timeout: float) -> tuple[bytes, bytes | None]:
    """Open the page, let its scripts run until the network is quiet (or the time is half gone), then read it."""
    with contextlib.suppress(Exception):
        await page.goto(url, wait_until="load", timeout=timeout * 1000 / 2)
    with contextlib.suppress(Exception):
        await page.wait_for_load_state("networkidle", timeout=min(5000, timeout * 1000 / 4))
    html = (await page.content()).encode("utf-8")
    shot = None
    with contextlib.suppress(Exception):
        height = await page.evaluate("() => document.documentElement.scrollHeight")
        clip = {"x": 0, "y": 0, "width": 1280, "height": max(1, min(int(height or 900), SCREENSHOT_HEIGHT))}
        shot = await page.screenshot(full_page=True, clip=clip, type="png", timeout=min(10000, timeout * 1000 / 4))
    return html, shot


class _Requests:
    """A page's requests: its document answered from the fetch we have, the others through our Fetcher."""

    def __init__(self, browser: Browser, document: Fetch, deadline: float) -> None:
        self.browser = browser
        self.document = document
        self.deadline = deadline
        self.exchanges: list[Exchange] = []
        self.count = 0
        self.closed = False

    async def handle(self, route: Any, request: Any) -> None:
        try:
            await self._answer(route, request)
        except Exception:
            with contextlib.suppress(Exception):
                await route.abort("failed")

    async def _answer(self, route: Any, request: Any) -> None:
        url: str = request.url
        document = self.document
        if (
            request.is_navigation_request()
            and request.frame.parent_frame is None
            and url in (document.url, document.final_url)
        ):
            await _fulfil(route, document, document.read_decoded())
            return
        self.count += 1
        settings = self.browser.settings
        if self.closed or self.count > MAX_REQUESTS or request.method != "GET" or not url.startswith("http"):
            await route.abort("blockedbyclient")
            return
        if request.resource_type in ("media", "websocket", "eventsource"):
            await route.abort("blockedbyclient")  # streams that never end: not a page's content
            return
        host = (urlsplit(url).hostname or "").lower()
        remaining = self.deadline - time.monotonic()
        headers = {"Accept": request.headers.get("accept", "*/*"), "Referer": document.final_url}
        async with self.browser.turn(host):
            fetch = await self.browser.fetcher.fetch(url, headers=headers, timeout=max(0.1, remaining))
        try:
            if fetch.failure is not None or fetch.response is None:
                await route.abort("blockedbyclient" if fetch.failure == "private" else "failed")
                return
            image = request.resource_type in ("image", "font")
            if not (image and fetch.body_size > settings.browser_image_cap) and not self.closed:
                self.exchanges.extend(as_related(fetch))
            await _fulfil(route, fetch, fetch.read_decoded())
        finally:
            fetch.discard()


async def _fulfil(route: Any, fetch: Fetch, body: bytes) -> None:
    response = fetch.response
    assert response is not None
    headers: dict[str, str] = {}
    for name, value in response.headers:
        if name.lower() not in _HOP_BY_HOP:
            headers[name] = f"{headers[name]}, {value}" if name in headers and name.lower() != "set-cookie" else value
    await route.fulfill(status=response.status, headers=headers, body=body)
