"""Reports from the web: a report page by its URL, and feeds polled every night, against local servers."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from . import server as fixture_server
from .helpers import archiver, make_archive
from .server import ARTICLE, OTHER_ARTICLE

FRESH_WEB = True  # each test counts its own server's requests


def report_page(web: fixture_server.Server, title: str, notes: list[str], date: str = "") -> bytes:
    """An institute's article with its notes at the end, as <p>[N] ...</p> paragraphs."""
    dated = f'<meta name="citation_publication_date" content="{date}">' if date else ""
    body = " ".join(f"Claim {n}.[{n}]" for n in range(1, len(notes) + 1))
    paragraphs = "".join(f"<p>[{n}] {note}</p>" for n, note in enumerate(notes, start=1))
    return (
        f"<html><head><title>{title}</title>{dated}</head><body><h1>{title}</h1><p>{body}</p>"
        f"<h2>Notes</h2>{paragraphs}</body></html>"
    ).encode()


def serve(web: fixture_server.Server, name: str, content_type: str, body: bytes) -> str:
    web.archive.setdefault("raw", {})[name] = (content_type, body)
    return web.url(f"/raw/{name}")


def run(archive: Path, *args: str) -> dict[str, Any]:
    result = archiver("run", *args, "--allow-private", "--json", archive=archive)
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    summary["stderr"] = result.stderr
    return summary


def statuses(archive: Path) -> dict[str, str]:
    return {row["url"]: row["verdict"] for row in json.loads(archiver("status", "--json", archive=archive).stdout)}


def test_a_report_by_its_url(web: fixture_server.Server, tmp_path: Path) -> None:
    web.pages.update({"one": ARTICLE, "two": OTHER_ARTICLE})
    defanged = web.url("/page/one").replace("127.0.0.1", "127(.)0(.)0(.)1")
    page = report_page(web, "Update, September 3", [defanged, '<a href="/page/two">the ministry</a>'])
    url = serve(web, "update-sept-3.html", "text/html; charset=utf-8", page)
    archive = make_archive(tmp_path)
    summary = run(archive, url)
    assert summary["reports"]["added"] == ["update-sept-3"]
    assert statuses(archive) == {web.url("/page/one"): "ok", web.url("/page/two"): "ok"}  # a relative link too
    check = json.loads(archiver("check", "update-sept-3", "1", "--json", archive=archive).stdout)
    assert check["urls"][0]["url"] == web.url("/page/one") and check["urls"][0]["archived_text"]
    export = archiver("export", "--format", "report", "--report", "update-sept-3", "--to", "md", archive=archive)
    assert export.returncode == 0 and "Update, September 3" in export.stdout  # the page's copy was kept
    # Later runs ask the page again conditionally; an edited page updates the report.
    since = len(web.requests)
    assert run(archive, url)["reports"]["unchanged"] == ["update-sept-3"]
    asked = [r for r in web.requests[since:] if r.path == "/raw/update-sept-3.html"]
    assert asked and asked[0].headers.get("if-none-match")
    serve(web, "update-sept-3.html", "text/html", report_page(web, "Update, September 3", [defanged, "no link"]))
    assert run(archive, url)["reports"]["updated"] == ["update-sept-3"]


def test_the_same_page_under_other_urls_is_one_report(web: fixture_server.Server, tmp_path: Path) -> None:
    web.pages["cited"] = ARTICLE
    url = serve(web, "brief", "text/html", report_page(web, "Brief", [web.url("/page/cited")]))
    archive = make_archive(tmp_path)
    assert run(archive, url)["reports"]["added"] == ["brief"]
    shared = url + "?utm_source=telegram&utm_medium=post&fbclid=abc"
    assert run(archive, shared)["reports"]["unchanged"] == ["brief"]
    canonical = f'<link rel="canonical" href="{url}">'
    copy = report_page(web, "Brief", [web.url("/page/cited")]).replace(b"<head>", f"<head>{canonical}".encode())
    mirror = serve(web, "mirror/brief-copy", "text/html", copy)
    summary = run(archive, mirror)
    assert summary["reports"]["added"] == [] and "brief" in summary["reports"]["updated"]
    assert [r["report"] for r in json.loads(archiver("status", "--json", archive=archive).stdout)[0]["cited_by"]] == [
        "brief"
    ]


RSS = """<?xml version="1.0" encoding="{encoding}"?>
<rss version="2.0"><channel><title>{title}</title><link>{base}/</link>
{items}
</channel></rss>"""
ITEM = """<item><title>{title}</title><link>{link}</link><guid isPermaLink="false">{guid}</guid>
<pubDate>Thu, 03 Sep 2020 10:00:00 GMT</pubDate></item>"""
ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{base}/raw/"><title>Atom reports</title><id>urn:x</id>
<updated>2020-09-03T10:00:00Z</updated>
{entries}
</feed>"""
ENTRY = """<entry><title>{title}</title><id>urn:{key}</id><updated>{updated}</updated><link href="{href}"/></entry>"""
RDF = """<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="{base}/"><title>RDF reports</title><link>{base}/</link></channel>
<item rdf:about="{link}"><title>One</title><link>{link}</link></item>
</rdf:RDF>"""


def _pages(web: fixture_server.Server, names: list[str]) -> list[str]:
    web.pages["source"] = ARTICLE
    return [serve(web, name, "text/html", report_page(web, name.title(), [web.url("/page/source")])) for name in names]


def test_an_rss_feed_in_windows_1251_is_polled_every_run(web: fixture_server.Server, tmp_path: Path) -> None:
    links = _pages(web, ["first-report", "second-report", "third-report", "fourth-report"])

    def feed(count: int) -> bytes:
        items = "".join(ITEM.format(title=f"Доклад {i}", link=links[i], guid=f"id-{i}") for i in range(count))
        return RSS.format(encoding="windows-1251", title="Доклады института", base=web.base, items=items).encode(
            "cp1251"
        )

    feed_url = serve(web, "feed.rss", "application/rss+xml", feed(2))
    archive = make_archive(tmp_path)
    first = run(archive, "--feed", feed_url)
    assert sorted(first["reports"]["added"]) == ["first-report", "second-report"]
    assert first["feeds"] == {"polled": 1, "new_entries": 2, "failed": []}
    listed = json.loads(archiver("feeds", "--json", archive=archive).stdout)
    assert listed[0]["url"] == feed_url and listed[0]["title"] == "Доклады института"
    assert listed[0]["entries_seen"] == 2 and listed[0]["last_error"] is None
    since = len(web.requests)
    quiet = run(archive)  # nothing new: the feed answers 304, nothing else is asked
    assert quiet["feeds"]["new_entries"] == 0 and quiet["reports"]["added"] == []
    assert [r.path for r in web.requests[since:] if r.path.startswith("/raw/")] == ["/raw/feed.rss"]
    serve(web, "feed.rss", "application/rss+xml", feed(4))  # two new entries
    later = run(archive)
    assert sorted(later["reports"]["added"]) == ["fourth-report", "third-report"]
    assert later["feeds"]["new_entries"] == 2


def test_an_atom_feed_with_xml_base_and_an_edited_entry(web: fixture_server.Server, tmp_path: Path) -> None:
    _pages(web, ["atom-one"])

    def atom(updated: str) -> bytes:
        entry = ENTRY.format(title="One", key="one", updated=updated, href="atom-one")  # relative to xml:base
        return ATOM.format(base=web.base, entries=entry).encode()

    feed_url = serve(web, "atom.xml", "application/atom+xml", atom("2020-09-03T10:00:00Z"))
    archive = make_archive(tmp_path)
    assert run(archive, "--feed", feed_url)["reports"]["added"] == ["atom-one"]
    web.pages["later"] = OTHER_ARTICLE
    serve(web, "atom-one", "text/html", report_page(web, "Atom One", [web.url("/page/source"), web.url("/page/later")]))
    serve(web, "atom.xml", "application/atom+xml", atom("2020-09-05T10:00:00Z"))  # the entry was updated
    summary = run(archive)
    assert summary["reports"]["updated"] == ["atom-one"] and summary["links"]["new"] == 1


def test_an_rdf_feed_and_the_feed_date_as_a_fallback(web: fixture_server.Server, tmp_path: Path) -> None:
    (link,) = _pages(web, ["rdf-one"])
    feed_url = serve(web, "feed.rdf", "application/rdf+xml", RDF.format(base=web.base, link=link).encode())
    archive = make_archive(tmp_path)
    assert run(archive, "--feed", feed_url)["reports"]["added"] == ["rdf-one"]
    check = json.loads(archiver("check", "rdf-one", "1", "--json", archive=archive).stdout)
    assert check["published_from"] in (None, "feed")  # RDF 1.0 items carry no date here: nothing to fall back on
    rss = RSS.format(
        encoding="utf-8",
        title="Dated",
        base=web.base,
        items=ITEM.format(
            title="Dated", link=serve(web, "undated", "text/html", report_page(web, "U", [link])), guid="u"
        ),
    ).encode()
    run(archive, "--feed", serve(web, "dated.rss", "application/rss+xml", rss))
    check = json.loads(archiver("check", "undated", "1", "--json", archive=archive).stdout)
    assert check["published"] == "2020-09-03" and check["published_from"] == "feed"


def test_broken_feeds_are_one_line_each_and_the_run_goes_on(web: fixture_server.Server, tmp_path: Path) -> None:
    (good,) = _pages(web, ["good-report"])
    broken = {
        "malformed": serve(web, "malformed.xml", "application/xml", b"<rss><channel><item><link>oops"),
        "html": serve(web, "page.html", "text/html", b"<html><body><h1>Not a feed</h1></body></html>"),
        "gone": web.url("/status/404"),
        "unreachable": "http://127.0.0.1:9/feed.xml",
    }
    archive = make_archive(tmp_path)
    args = [arg for url in broken.values() for arg in ("--feed", url)]
    summary = run(archive, good, *args)
    assert summary["reports"]["added"] == ["good-report"] and summary["status"] == "completed"
    assert {failed["feed"] for failed in summary["feeds"]["failed"]} == set(broken.values())
    for url in broken.values():
        assert sum(url in line for line in summary["stderr"].splitlines()) == 1, (url, summary["stderr"])
    listed = {feed["url"]: feed for feed in json.loads(archiver("feeds", "--json", archive=archive).stdout)}
    assert all(listed[url]["last_error"] for url in broken.values())
    removed = archiver("feeds", "remove", broken["gone"], archive=archive)
    assert removed.returncode == 0 and broken["gone"] not in archiver("feeds", archive=archive).stdout
    assert archiver("feeds", "remove", "http://nowhere.example/feed", archive=archive).returncode == 1


def test_a_report_page_that_fails_is_tried_again_and_its_entry_stays_unread(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    link = web.url("/raw/late-report")
    rss = RSS.format(encoding="utf-8", title="T", base=web.base, items=ITEM.format(title="L", link=link, guid="late"))
    feed_url = serve(web, "late.rss", "application/rss+xml", rss.encode())
    archive = make_archive(tmp_path)
    first = run(archive, "--feed", feed_url)
    assert first["reports"]["added"] == [] and "late-report" in first["stderr"]
    assert json.loads(archiver("feeds", "--json", archive=archive).stdout)[0]["entries_seen"] == 0
    _pages(web, ["late-report"])
    assert run(archive)["reports"]["added"] == ["late-report"]


def test_page_names_and_identities() -> None:
    from archiver.reading.webpages import page_key, page_name, without_tracking

    taken: set[str] = {"update-sept-3"}
    assert page_name("https://example.org/research/update-sept-3.html", lambda n: False) == "update-sept-3"
    assert page_name("https://www.example.org/research/update-sept-3", taken.__contains__) == (
        "example.org-update-sept-3"
    )
    taken.add("example.org-update-sept-3")
    name = page_name("https://example.org/other/update-sept-3", taken.__contains__)
    assert name.startswith("update-sept-3-") and len(name) == len("update-sept-3-") + 8
    assert page_name("https://example.org/", lambda n: False) == "example.org"
    assert without_tracking("https://e.org/a?id=7&utm_source=x&fbclid=y&gclid=z") == "https://e.org/a?id=7"
    assert page_key("https://E.org/a?utm_medium=m") == page_key("https://e.org/a")


def test_report_pages_and_feeds_wait_for_their_sites_turn_and_are_retried(
    web: fixture_server.Server, tmp_path: Path
) -> None:
    """One connection to the site, 0.5 s apart: the feed, its entry's page and the page's links take turns
    like any link (lower bounds: no load makes them smaller); a page answering 503 once is asked again."""
    (page,) = _pages(web, ["polite-report"])
    rss = RSS.format(encoding="utf-8", title="P", base=web.base, items=ITEM.format(title="P", link=page, guid="p"))
    feed_url = serve(web, "polite.rss", "application/rss+xml", rss.encode())
    archive = make_archive(tmp_path)
    since = len(web.requests)
    summary = run(archive, web.url("/flaky"), "--feed", feed_url, "--per-host", "1", "--delay", "0.5")
    assert sorted(summary["reports"]["added"]) == ["flaky", "polite-report"]
    starts = sorted(r.at for r in web.requests[since:])
    assert len(starts) >= 5  # the 503 and its retry, the feed, the entry's page, the cited page
    assert all(b - a >= 0.5 - 0.01 for a, b in itertools.pairwise(starts)), starts
    assert [r.path for r in web.requests[since:]].count("/flaky") == 2
