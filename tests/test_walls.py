"""Pages a plain fetch cannot read, end to end through the CLI: shells, walls and consent pages are never
`ok` with their boilerplate as the text; X posts and YouTube videos are read through their endpoints;
script-built pages are rendered in Chromium with every request through our fetcher.

Every site is local (tests/wallsite.py), reached through the test server as a proxy, so the address
guard stays on (no --allow-private): a page's script must not reach 169.254.169.254 or 127.0.0.1.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests import server as fixture_server
from tests.helpers import FAST, archiver, chromium, make_archive, write_report
from tests.server import archive_capture, page

POST = "1760000000000000001"
POST_TEXT = "Today the ministry signed the agreement on the joint customs service with our neighbours."
VIDEO = "dQw4w9WgXcQ"
NOW = datetime(2026, 12, 7, tzinfo=UTC)
VIDEO_META = "Press conference of the minister|Ministry Channel|The minister answered questions on the budget."

WALLED = {
    "http://www.facebook.com/permalink.php?story_fbid=1234": "login wall",
    "http://www.instagram.com/p/Cabc123/": "login wall",
    "http://vk.com/wall-1_2": "login wall",
    "http://www.linkedin.com/posts/ministry_activity-1": "login wall",
}
SCRIPT_BUILT = ["http://spa.example/app", "http://spa.example/inline"]
CONTROLS = [
    f"http://ordinary.example/{name}"
    for name in ("control_quotes_login", "control_quotes_js", "control_noscript_comments", "control_short_notice")
]


def config(web: fixture_server.Server, extra: str = "") -> str:
    return FAST + (
        f'proxy = "{web.base}"\nx_oembed = "http://oembed.example/x"\n'
        f'youtube_oembed = "http://oembed.example/youtube"\n{extra}'
    )


def check_json(archive: Path, n: int) -> dict[str, object]:
    result = archiver("check", "report", str(n), "--json", archive=archive)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    url: dict[str, object] = answer["urls"][0]
    return url


@pytest.fixture
def sites(web: fixture_server.Server) -> fixture_server.Server:
    web.pages[f"x:{POST}"] = POST_TEXT
    web.pages[f"yt:{VIDEO}"] = VIDEO_META
    return web


def test_walls_and_shells_are_blocked_without_a_browser(sites: fixture_server.Server, tmp_path: Path) -> None:
    urls = [*WALLED, *SCRIPT_BUILT, *CONTROLS, "http://spa.example/walled-app"]
    archive = make_archive(tmp_path, config(sites))
    report = write_report(tmp_path / "reports", urls)
    result = archiver("run", str(report), "--no-browser", archive=archive)
    assert result.returncode == 0, result.stderr
    # The summary says once why the script-built pages were not rendered.
    assert result.stdout.count("left blocked, not rendered: rendering is turned off") == 1, result.stdout
    for n, url in enumerate(urls, start=1):
        answer = check_json(archive, n)
        text = str(answer["archived_text"] or "")
        if url in CONTROLS:
            assert answer["verdict"] == "ok", (url, answer["reason"])
            assert len(text) > 100 and answer["captured_with"] == "http"
            continue
        assert answer["verdict"] == "blocked", (url, answer["reason"])
        assert answer["captures"] == [] and answer["archived_text"] is None, url  # the wall's words are not kept
        if url in WALLED:
            assert "login wall" in str(answer["reason"]), answer["reason"]
        elif url in SCRIPT_BUILT:
            assert "script-only page, rendering is turned off" in str(answer["reason"]), answer["reason"]


def test_x_posts_and_youtube_videos_are_read_through_their_endpoints(
    sites: fixture_server.Server, tmp_path: Path
) -> None:
    urls = [
        f"http://x.com/mfa_russia/status/{POST}",
        f"http://twitter.com/mfa_russia/status/{POST}?s=20",
        f"http://www.youtube.com/watch?v={VIDEO}",  # redirects to consent.youtube.com without the cookie
        "http://x.com/someone/status/99",  # deleted: the endpoint answers 404
    ]
    archive = make_archive(tmp_path, config(sites))
    report = write_report(tmp_path / "reports", urls)
    result = archiver("run", str(report), "--no-browser", "--json", archive=archive)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pages_behind_walls"]["read_through_endpoints"] == 3
    for n in (1, 2):
        post = check_json(archive, n)
        assert post["verdict"] == "ok" and post["captured_with"] == "endpoint", post["reason"]
        assert POST_TEXT in str(post["archived_text"]) and "— Ministry (@mfa_russia), March 1, 2024" in str(
            post["archived_text"]
        )
        assert "JavaScript" not in str(post["archived_text"])
    video = check_json(archive, 3)
    assert video["verdict"] == "ok" and video["captured_with"] == "endpoint", video["reason"]
    assert video["final_url"] == f"http://www.youtube.com/watch?v={VIDEO}"  # not the consent page it passed
    text = str(video["archived_text"])
    assert text.startswith("Press conference of the minister") and "Channel: Ministry Channel" in text
    assert "The minister answered questions on the budget." in text and "Published: 2024-03-01" in text
    gone = check_json(archive, 4)
    assert gone["verdict"] == "dead" and "the post is gone" in str(gone["reason"])
    # The endpoint's exchange is stored beside the page's.
    exported = tmp_path / "out.warc.gz"
    assert archiver("export", "--format", "warc", "--output", str(exported), archive=archive).returncode == 0
    uris = [uri for kind, uri, _ in records(exported) if kind == "response"]
    assert any(uri.startswith("http://oembed.example/x?url=") for uri in uris)
    assert any(uri.startswith("http://oembed.example/youtube?url=") for uri in uris)


def test_youtube_with_embedding_off_reads_the_watch_page(sites: fixture_server.Server, tmp_path: Path) -> None:
    """oEmbed's 401 means embedding is off, not that the video is gone: the watch page's metadata is read."""
    sites.pages[f"yt-noembed:{VIDEO}"] = "1"
    try:
        archive = make_archive(tmp_path, config(sites))
        report = write_report(tmp_path / "reports", [f"http://www.youtube.com/watch?v={VIDEO}"])
        assert archiver("run", str(report), "--no-browser", archive=archive).returncode == 0
        video = check_json(archive, 1)
        assert video["verdict"] == "ok", video["reason"]
        assert "Press conference of the minister" in str(video["archived_text"])
    finally:
        del sites.pages[f"yt-noembed:{VIDEO}"]


def test_a_page_read_before_that_now_shows_a_wall_is_blocked_and_keeps_its_text(
    sites: fixture_server.Server, tmp_path: Path
) -> None:
    article = page("Ministry news", "The ministry opened a new office in Hrodna to serve residents. " * 12)
    raw = sites.archive.setdefault("raw", {})
    raw["later-walled"] = ("text/html; charset=utf-8", article.encode())
    archive = make_archive(tmp_path, config(sites))
    report = write_report(tmp_path / "reports", ["http://news.example/raw/later-walled"])
    assert archiver("run", str(report), "--no-browser", archive=archive).returncode == 0
    assert check_json(archive, 1)["verdict"] == "ok"
    wall = (Path(__file__).parent / "pages" / "walls" / "facebook_post.html").read_bytes()
    raw["later-walled"] = ("text/html; charset=utf-8", wall)
    assert archiver("run", "--no-browser", archive=archive).returncode == 0
    answer = check_json(archive, 1)
    assert answer["verdict"] == "blocked" and "login wall" in str(answer["reason"]), answer["reason"]
    assert "new office in Hrodna" in str(answer["archived_text"])
    assert len(answer["captures"]) == 1  # the wall was not stored as a capture of the page


def test_a_walled_link_gets_a_web_archive_copy_looked_up(sites: fixture_server.Server, tmp_path: Path) -> None:
    url = "http://www.facebook.com/permalink.php?story_fbid=777"
    archive_capture(sites, url, "20200901120000", page("Ministry post", "The ministry announced new rules. " * 10))
    extra = 'wayback_url = "http://wayback.example"\nweb_archive_delay = 0.0\n'
    archive = make_archive(tmp_path, config(sites, extra).replace("web_archive_lookups = false", ""))
    report = write_report(tmp_path / "reports", [url])
    assert archiver("run", str(report), "--no-browser", archive=archive).returncode == 0
    answer = check_json(archive, 1)
    assert answer["verdict"] == "blocked"
    memento = answer["memento"]
    assert isinstance(memento, dict) and "announced new rules" in str(memento["text"])


HIDE_PLAYWRIGHT = """
import sys
sys.modules["playwright"] = sys.modules["playwright.async_api"] = None  # as if the browser extra were not installed
sys.argv = ["archiver", *sys.argv[1:]]
from archiver.cli import main
main()
"""


def test_without_the_browser_extra_script_pages_are_blocked_and_the_summary_says_how(
    sites: fixture_server.Server, tmp_path: Path
) -> None:
    archive = make_archive(tmp_path, config(sites))
    report = write_report(tmp_path / "reports", ["http://spa.example/app", "http://spa.example/inline"])
    result = subprocess.run(
        [sys.executable, "-c", HIDE_PLAYWRIGHT, "run", str(report), "--archive", str(archive)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    said = [line for line in result.stdout.splitlines() if "archiver[browser]" in line]
    assert said == [
        "2 script-built page(s) left blocked, not rendered: to render them, pip install 'archiver[browser]' and "
        "install a Chromium (apt-get install chromium, or playwright install chromium), or name one with --browser PATH"
    ]
    answer = check_json(archive, 1)
    assert answer["verdict"] == "blocked"
    assert str(answer["reason"]).startswith(
        "200: script-only page, no browser available: the browser extra is not installed"
    ), answer["reason"]


def test_a_browser_that_is_not_there_is_a_clear_error(sites: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path, config(sites))
    report = write_report(tmp_path / "reports", ["http://spa.example/app"])
    result = archiver("run", str(report), "--browser", "/nonexistent/chromium", archive=archive)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "archiver: error: browser '/nonexistent/chromium': no such program (give a Chromium's path or name)"
    )


def records(path: Path) -> list[tuple[str, str, bytes]]:
    with path.open("rb") as file:
        return [
            (r.rec_type, r.rec_headers.get_header("WARC-Target-URI") or "", r.content_stream().read())
            for r in ArchiveIterator(file)
        ]


# ----- with a browser ----------------------------------------------------------------------------------

needs_chromium = pytest.mark.skipif(chromium() is None, reason="no Chromium installed (apt-get install chromium)")


@needs_chromium
def test_script_built_pages_are_rendered_through_our_fetcher(sites: fixture_server.Server, tmp_path: Path) -> None:
    urls = ["http://spa.example/app", "http://spa.example/inline", "http://spa.example/probing"]
    urls += ["http://spa.example/walled-app", *CONTROLS[:1]]
    archive = make_archive(tmp_path, config(sites))
    report = write_report(tmp_path / "reports", urls)
    before = {path: sites.hits[path] for path in ("/secret", "/secret-img", "/ws")}
    result = archiver("run", str(report), "--json", archive=archive)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["pages_behind_walls"]
    assert summary["rendered"] == 3 and str(summary["browser"]).startswith("Chromium")
    for n, title in ((1, "Libraries to open on Saturdays"), (2, "Parliament doubles the library budget")):
        answer = check_json(archive, n)
        assert answer["verdict"] == "ok" and answer["captured_with"] == "browser", answer["reason"]
        assert str(answer["archived_text"]).startswith(title)
        assert "Forty-two libraries in small towns" in str(answer["archived_text"])
        shot = archive / str(answer["screenshot"])
        assert shot.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    # The page's script asked for 127.0.0.1 and 169.254.169.254 (fetch, an image, a WebSocket): refused by
    # our guard, or by Chromium's own network that reaches nothing; never reached.
    assert check_json(archive, 3)["verdict"] == "ok"
    assert {path: sites.hits[path] for path in before} == before
    walled = check_json(archive, 4)
    assert walled["verdict"] == "blocked" and "in a browser too" in str(walled["reason"])
    assert check_json(archive, 5)["captured_with"] == "http"  # an ordinary page is never rendered
    # Exported: the document, its script, the JSON it fetched, the screenshot and the browser's warcinfo.
    exported = tmp_path / "out.warc.gz"
    assert archiver("export", "--format", "warc", "--output", str(exported), archive=archive).returncode == 0
    found = records(exported)
    kinds = {(kind, uri) for kind, uri, _ in found}
    assert ("response", "http://spa.example/api/story.json") in kinds
    assert ("response", "http://spa.example/static/js/main.js") in kinds
    assert ("resource", "urn:fullPage:http://spa.example/app") in kinds
    assert any(kind == "warcinfo" and b"Chromium" in body for kind, _, body in found)
    story = next(body for kind, uri, body in found if uri == "http://spa.example/api/story.json" and kind == "response")
    assert b"Forty-two libraries" in story
    # The WACZ package indexes them for ReplayWeb.page: the app replays with the JSON its script fetched.
    wacz = tmp_path / "out.wacz"
    assert archiver("export", "--format", "wacz", "--output", str(wacz), archive=archive).returncode == 0
    with zipfile.ZipFile(wacz) as package:
        index = gzip.decompress(package.read("indexes/index.cdx.gz")).decode()
    assert "example,spa)/api/story.json " in index and "example,spa)/static/js/main.js " in index
    assert "urn:fullpage:http://spa.example/app " in index
    # The dashboard shows a thumbnail of the rendered page.
    board = tmp_path / "board"
    assert archiver("dashboard", "--output", str(board), archive=archive).returncode == 0
    html = (board / "reports" / "report.html").read_text()
    thumb = html.split('<img class="thumb" src="', 1)[1].split('"', 1)[0]
    assert (board / "reports" / thumb).resolve() == (archive / str(check_json(archive, 1)["screenshot"])).resolve()
    with gzip.open(exported) as file:
        assert file.read(4) == b"WARC"


@needs_chromium
def test_a_page_that_never_finishes_loading_is_bounded(sites: fixture_server.Server, tmp_path: Path) -> None:
    archive = make_archive(tmp_path, config(sites, "browser_timeout = 6.0\n"))
    report = write_report(tmp_path / "reports", ["http://spa.example/never"])
    started = time.monotonic()
    assert archiver("run", str(report), archive=archive).returncode == 0
    assert time.monotonic() - started < 40
    answer = check_json(archive, 1)
    assert answer["verdict"] == "blocked" and "script-only page" in str(answer["reason"]), answer["reason"]


@needs_chromium
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM twice", "SIGINT twice"])
def test_no_chromium_outlives_a_stopped_run(sites: fixture_server.Server, tmp_path: Path, how: str) -> None:
    """A second Ctrl-C or SIGTERM stops the run at once, closing its browser; SIGKILL leaves it no time to:
    the watchdog (and Playwright's driver) do."""
    marker = f"archiver-test-{os.getpid()}-{time.monotonic_ns()}"
    wrapper = tmp_path / "chromium-wrapper"
    wrapper.write_text(f'#!/bin/sh\nexec {chromium()} --{marker} "$@"\n')
    wrapper.chmod(0o755)
    archive = make_archive(tmp_path, config(sites, f'browser = "{wrapper}"\nbrowser_timeout = 60.0\n'))
    report = write_report(tmp_path / "reports", ["http://spa.example/never"])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    run = subprocess.Popen(
        [sys.executable, "-m", "archiver", "run", str(report), "--archive", str(archive)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not browsers(marker):
            time.sleep(0.2)
        assert browsers(marker), "the browser never started"
        time.sleep(1.0)
        if how == "SIGKILL":
            run.send_signal(signal.SIGKILL)
        else:
            sig = signal.SIGTERM if how.startswith("SIGTERM") else signal.SIGINT
            run.send_signal(sig)
            time.sleep(0.5)
            run.send_signal(sig)
        run.wait(timeout=30)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and browsers(marker):
            time.sleep(0.2)
        assert not browsers(marker), "Chromium outlived the killed run"
    finally:
        if run.poll() is None:
            run.kill()


def browsers(marker: str) -> list[str]:
    found = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    return found.stdout.split()


@pytest.mark.sqlite_catalog
def test_a_shell_archived_before_the_gate_gives_way_to_the_post(sites: fixture_server.Server, tmp_path: Path) -> None:
    """An archive made before the gate kept X's shell as a post's text: once the post is read, its text
    becomes what the footnote cited (ok, not "changed" against the shell's words)."""
    import sqlite3

    from archiver.storage.textstore import put_text

    archive = make_archive(tmp_path, config(sites))
    report = write_report(tmp_path / "reports", [f"http://x.com/mfa_russia/status/{POST}"])
    assert archiver("run", str(report), "--no-browser", archive=archive).returncode == 0
    shell_words = "JavaScript is not available. We’ve detected that JavaScript is disabled in this browser."
    with sqlite3.connect(archive / "catalog.sqlite") as db:  # as the archive was before the gate
        db.execute("UPDATE captures SET text_digest = ?, captured_with = 'http'", (put_text(archive, shell_words),))
    assert check_json(archive, 1)["archived_text"] == shell_words
    assert archiver("run", "--no-browser", archive=archive).returncode == 0
    answer = check_json(archive, 1)
    assert answer["verdict"] == "ok", answer["reason"]
    assert POST_TEXT in str(answer["archived_text"]) and answer["captured_with"] == "endpoint"


@needs_chromium
def test_a_browser_that_dies_is_started_again_for_the_next_page(tmp_path: Path) -> None:
    """Chromium killed between two pages (a crash, the OOM killer): the next page gets a new browser."""
    import asyncio
    import contextlib

    from archiver.config import Settings
    from archiver.fetching.browser import Browser, _children
    from archiver.fetching.fetch import Fetcher
    from archiver.outcomes import Exchange, Fetch

    @contextlib.asynccontextmanager
    async def turn(host: str):  # type: ignore[no-untyped-def]
        yield

    page = b"<html><head><title>t</title></head><body><p id=p></p><script>p.textContent='built by script'</script>"
    response = Exchange("http://app.example/", "GET", (), 200, "OK", "HTTP/1.1", (("Content-Type", "text/html"),), NOW)
    document = Fetch("http://app.example/", "http://app.example/", response=response, body_data=page, decoded_data=page)

    async def twice() -> list[bytes]:
        async with Fetcher(Settings(), tmp_path) as fetcher:
            browser = Browser(Settings(), fetcher, turn, chromium())
            try:
                first = await browser.render(document, 20)
                assert browser._watchdog is not None
                for pid in browser._watchdog.args[4:]:  # type: ignore[index]  # the browsers it watches
                    os.killpg(int(pid), signal.SIGKILL)
                await asyncio.sleep(1)
                second = await browser.render(document, 20)
                return [first.html, second.html]
            finally:
                await browser.close()
                assert not [
                    pid for pid in _children(os.getpid()) if "chrom" in Path(f"/proc/{pid}/cmdline").read_text()
                ]

    first, second = asyncio.run(twice())
    assert b"built by script" in first and b"built by script" in second
