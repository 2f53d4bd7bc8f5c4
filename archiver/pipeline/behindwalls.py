"""What a wall hides, read another way: a site's public endpoint first, then a browser for a script shell.

The gate (judging/gate.py) said a plain fetch met a shell or a wall. A post on X or a YouTube video
is read through the site's oEmbed endpoint; a script-built page is rendered in headless Chromium,
every request it makes through our Fetcher in its site's turn; a login, consent or bot wall, or a
shell no browser could read, leaves the link `blocked` with what was met. What was read is `ok` with
its post or article as the text; `captured_with` says how.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from archiver.errors import ConfigError, MissingExtra
from archiver.fetching import endpoints
from archiver.fetching.browser import Browser, find_chromium, playwright_missing
from archiver.judging.analysis import Analysis, analyse, analyse_given
from archiver.judging.endpointtext import EndpointReading, read_x_post, read_youtube_video
from archiver.judging.gate import Wall, WallKind
from archiver.judging.workers import WorkerFailed
from archiver.outcomes import CapturedWith, Fetch, LinkState, Resource
from archiver.storage.screenshots import put_screenshot

if TYPE_CHECKING:
    from archiver.pipeline.engine import Engine


@dataclass(frozen=True, slots=True)
class Reading:
    """The capture to judge and store, and what still stands in front of the page (blocked), or why it is gone."""

    fetch: Fetch
    analysis: Analysis | None
    wall: str | None = None
    gone: str | None = None


def make_browser(engine: Engine) -> tuple[Browser | None, str]:
    """The night's browser (started only when a page needs it), or None and why there is none."""
    night = engine.night
    settings = night.settings
    if not settings.render:
        return None, "rendering is turned off"
    if playwright_missing():
        return None, "no browser available: the browser extra is not installed"
    executable = find_chromium(settings.browser or None)
    named = settings.browser or os.environ.get("ARCHIVER_BROWSER")
    if executable is None and named:
        raise ConfigError(f"browser {named!r}: no such program (give a Chromium's path or name)")
    if executable is None:
        return None, "no browser available: no Chromium found"
    return Browser(settings, night.fetcher, engine.turn, executable), ""


async def read_behind(engine: Engine, link: LinkState, fetch: Fetch, wall: Wall) -> Reading:
    """Read the page behind a shell or wall another way, or say what stands in front of it."""
    settings = engine.night.settings
    query = endpoints.endpoint_for(link.url, settings.x_oembed, settings.youtube_oembed)
    if query is not None:
        reading = await _through_endpoint(engine, link, fetch, query)
        if reading is not None:
            return reading
    if wall.kind != WallKind.SCRIPT:
        return Reading(fetch, None, wall.reason)
    if engine.browser is None:
        engine.night.summary.unrendered += 1
        engine.night.summary.no_browser = engine.no_browser
        return Reading(fetch, None, f"{wall.what}, {engine.no_browser} ({wall.detail})")
    return await _in_browser(engine, link, fetch, wall, engine.browser)


async def _through_endpoint(
    engine: Engine, link: LinkState, fetch: Fetch, query: endpoints.EndpointQuery
) -> Reading | None:
    """The post or video as the site's endpoint gives it; None when the endpoint said nothing useful."""
    night = engine.night
    with engine.slots.waiting_for_its_probe():  # its turn on the endpoint's site must not wait for our slot
        answer = await endpoints.ask(night.fetcher, query, engine.turn, timeout=night.settings.total_timeout)
    page = answer.page_html
    if page is None and query.site == "youtube" and fetch.final_url == fetch.url:
        page = fetch.read_decoded()  # the watch page itself came back: its metadata is here
    reading: EndpointReading
    if query.site == "x":
        reading = read_x_post(answer.status, answer.body)
    else:
        reading = read_youtube_video(answer.status, answer.body, page)
    if reading.gone:
        return Reading(fetch, None, gone=reading.gone)
    if reading.refused:
        return Reading(fetch, None, reading.refused)
    if reading.extracted is None:
        return None
    captured = replace(fetch, captured_with=CapturedWith.ENDPOINT, related=answer.exchanges)
    try:
        analysis = await night.pool.run(analyse_given, str(night.archive), reading.extracted, link.first_text_digest)
    except WorkerFailed:
        return None
    night.summary.read_through_endpoints += 1
    return Reading(captured, analysis)


async def _in_browser(engine: Engine, link: LinkState, fetch: Fetch, wall: Wall, browser: Browser) -> Reading:
    """Render the page; its text read as any page's, and the gate asked again (a wall in a browser is a wall)."""
    night = engine.night
    timeout = night.settings.browser_timeout
    try:
        with engine.slots.waiting_for_its_probe():  # its requests take their sites' turns
            rendered = await browser.render(fetch, timeout)
    except MissingExtra:
        engine.night.summary.unrendered += 1
        return Reading(fetch, None, f"{wall.what}, no browser available ({wall.detail})")
    except TimeoutError:
        return Reading(fetch, None, f"{wall.what}, not rendered within {timeout:g} s")
    except Exception as exc:  # the browser failed to start or crashed: this page stays unread
        return Reading(fetch, None, f"{wall.what}, the browser failed ({type(exc).__name__})")
    now = night.clock()
    shot = None
    resources: tuple[Resource, ...] = ()
    if rendered.screenshot:
        loop = asyncio.get_running_loop()
        shot = await loop.run_in_executor(None, put_screenshot, night.archive, rendered.screenshot)
        resources = (Resource(f"urn:fullPage:{fetch.final_url}", "image/png", rendered.screenshot, now),)
    info = (("software", f"archiver (rendered in {rendered.browser})"), ("browser", rendered.browser))
    captured = replace(
        fetch,
        captured_with=CapturedWith.BROWSER,
        related=rendered.exchanges,
        resources=resources,
        warcinfo=info,
        rendered=rendered.html,
        screenshot=shot,
    )
    try:
        analysis = await night.pool.run(
            analyse,
            str(night.archive),
            rendered.html,
            "text/html; charset=utf-8",
            fetch.final_url,
            link.first_text_digest,
            None,
            True,
            link.url,
        )
    except WorkerFailed as exc:
        return Reading(fetch, None, f"{wall.what}, rendered but not read ({exc})")
    if analysis.wall is not None:
        return Reading(fetch, None, f"{analysis.wall.reason}, in a browser too")
    night.summary.rendered += 1
    return Reading(captured, analysis)
