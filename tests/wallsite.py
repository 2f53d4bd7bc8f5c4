"""Local sites shaped like what social networks and single-page apps send a client without JavaScript.

Served by the test server (tests/server.py) for these host names, reached through it as a proxy:
x.com (its shell), www.facebook.com (its login wall), www.instagram.com (its login page), vk.com,
www.youtube.com (a watch page that redirects to consent.youtube.com unless the consent cookie is
sent), oembed.example (X's and YouTube's oEmbed endpoints, answers shaped like the real ones), and
spa.example (pages built by inline script or from fetched JSON). The post and video texts are in
server.pages under "x:ID" and "yt:ID" (absent: the endpoint answers 404).
"""

from __future__ import annotations

import json
import socket
import time
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote, urlsplit

if TYPE_CHECKING:
    from tests.server import Request, Server

WALLS = Path(__file__).parent / "pages" / "walls"
SOCIAL_HOSTS = frozenset(
    {
        "x.com",
        "twitter.com",
        "www.facebook.com",
        "www.instagram.com",
        "vk.com",
        "www.linkedin.com",
        "www.youtube.com",
        "consent.youtube.com",
        "oembed.example",
        "spa.example",
        "ordinary.example",
    }
)

STORY = [
    "The regional parliament voted on Thursday to double the budget of the public library network.",
    "Forty-two libraries in small towns will stay open on Saturdays from next spring, the speaker said.",
    "The decision followed a petition signed by more than eleven thousand residents over the summer.",
    "Opposition deputies supported the plan but asked for an audit of the network's book purchases.",
    "The first new reading rooms are to open in Barysaw, Maladzyechna and Slutsk before the new year.",
    "Librarians' unions welcomed the vote and said the extra hours would need forty new positions.",
]


def story_json(title: str) -> bytes:
    return json.dumps({"title": title, "paragraphs": STORY}).encode()


def _answer(status: int, body: bytes, ctype: str, extra: list[tuple[str, str]] | None = None) -> bytes:
    from tests.server import _response

    return _response(status, body, [("Content-Type", ctype), *(extra or [])])


def _file(name: str) -> bytes:
    return _answer(200, (WALLS / name).read_bytes(), "text/html; charset=utf-8")


# The app that builds a story from JSON (what create-react-app's bundle does, in a few lines).
APP_JS = b"""
(async function () {
  const root = document.getElementById('root');
  const answer = await fetch('/api/story.json');
  const story = await answer.json();
  const title = document.createElement('h1');
  title.textContent = story.title;
  const article = document.createElement('article');
  article.appendChild(title);
  for (const text of story.paragraphs) {
    const p = document.createElement('p');
    p.textContent = text;
    article.appendChild(p);
  }
  root.replaceChildren(article);
  document.title = story.title;
})();
"""

SPA_SHELL = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"/><title>Daily Courier</title>'
    '<script defer="defer" src="/static/js/main.js"></script></head><body>'
    '<noscript>You need to enable JavaScript to run this app.</noscript>{extra}<div id="root"></div></body></html>'
)

INLINE = (
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>City Herald</title></head><body>'
    '<div id="app"><p>Loading…</p></div><script>'
    "var story = {story};"
    "var html = '<article><h1>' + story.title + '</h1>' + story.paragraphs.map(function (p) {{"
    " return '<p>' + p + '</p>'; }}).join('') + '</article>';"
    "document.getElementById('app').innerHTML = html;</script></body></html>"
)

PROBING = (
    "try { new WebSocket('ws://127.0.0.1:{port}/ws'); } catch (e) {}"
    "var img = new Image(); img.src = 'http://127.0.0.1:{port}/secret-img';"
    "fetch('http://169.254.169.254/latest/meta-data/').catch(function () {});"
    "fetch('http://127.0.0.1:{port}/secret').catch(function () {});"
    "fetch('http://10.0.0.1/admin').catch(function () {});"
)


def social_route(server: Server, request: Request, conn: socket.socket) -> bytes | None:
    """Every page of the wall sites, by host and path."""
    host, path = request.host, request.path
    query = parse_qs(urlsplit(request.target).query)
    if host in ("x.com", "twitter.com"):
        return _file("x_post.html")
    if host == "www.facebook.com":
        return _file("facebook_post.html")
    if host == "www.instagram.com":
        if path.startswith("/p/"):
            login = f"/accounts/login/?next={quote(path)}"
            return _answer(302, b"", "text/html", [("Location", f"http://www.instagram.com{login}")])
        return _file("instagram_post.html")
    if host == "vk.com":
        return _file("vk_wall.html")
    if host == "www.linkedin.com":
        return _file("linkedin_authwall.html")
    if host == "consent.youtube.com":
        return _file("youtube_consent.html")
    if host == "www.youtube.com":
        return _youtube(server, request, query)
    if host == "oembed.example":
        return _oembed(server, path, query)
    if host == "ordinary.example":
        return _file(path.strip("/") + ".html") if (WALLS / (path.strip("/") + ".html")).exists() else None
    return _spa(server, request)


def _youtube(server: Server, request: Request, query: dict[str, list[str]]) -> bytes:
    video = (query.get("v") or [""])[0]
    if "SOCS=" not in request.headers.get("cookie", ""):
        target = f"http://consent.youtube.com/m?continue={quote(request.target, safe='')}&gl=RU&hl=en"
        return _answer(302, b"", "text/html", [("Location", target)])
    known = server.pages.get(f"yt:{video}")
    if known is None:
        return _answer(200, b"<html><head><title>YouTube</title></head><body></body></html>", "text/html")
    title, channel, description = known.split("|")
    player = json.dumps({"videoDetails": {"videoId": video, "shortDescription": description}})
    page = (
        f'<html><head><title>{escape(title)} - YouTube</title><meta name="title" content="{escape(title)}">'
        f'<meta property="og:title" content="{escape(title)}"><meta property="og:description"'
        f' content="{escape(description[:100])}"><meta itemprop="datePublished" content="2024-03-01T08:00:00-08:00">'
        f'</head><body><span itemprop="author"><link itemprop="name" content="{escape(channel)}"></span>'
        f"<script>var ytInitialPlayerResponse = {player};</script><ytd-app></ytd-app></body></html>"
    )
    return _answer(200, page.encode(), "text/html; charset=utf-8")


def _oembed(server: Server, path: str, query: dict[str, list[str]]) -> bytes:
    asked = (query.get("url") or [""])[0]
    if path == "/x":
        post = asked.rstrip("/").rsplit("/", 1)[-1]
        text = server.pages.get(f"x:{post}")
        if text is None:
            return _answer(404, b'{"errors":[{"message":"Not Found"}]}', "application/json")
        user = urlsplit(asked).path.split("/")[1]
        quote_html = (
            f'<blockquote class="twitter-tweet"><p lang="en" dir="ltr">{escape(text)}</p>&mdash; Ministry'
            f' ({"@" + user}) <a href="https://twitter.com/{user}/status/{post}?ref_src=twsrc%5Etfw">March 1, 2024</a>'
            "</blockquote>\n"
        )
        body = {
            "url": asked,
            "author_name": "Ministry",
            "author_url": f"https://twitter.com/{user}",
            "html": quote_html,
            "width": 550,
            "height": None,
            "type": "rich",
            "cache_age": "3153600000",
            "provider_name": "Twitter",
            "provider_url": "https://twitter.com",
            "version": "1.0",
        }
        return _answer(200, json.dumps(body).encode(), "application/json; charset=utf-8")
    video = (parse_qs(urlsplit(asked).query).get("v") or [""])[0]
    known = server.pages.get(f"yt:{video}")
    if known is None:
        return _answer(404, b"Not Found", "text/html")
    if known.endswith("|embedding-off") or server.pages.get(f"yt-noembed:{video}"):
        return _answer(401, b"Unauthorized", "text/html")
    title, channel, _ = known.split("|")
    body = {"title": title, "author_name": channel, "author_url": "https://www.youtube.com/@x", "type": "video"}
    return _answer(200, json.dumps(body).encode(), "application/json")


def _spa(server: Server, request: Request) -> bytes | None:
    path = request.path
    if path == "/static/js/main.js":
        return _answer(200, APP_JS, "application/javascript")
    if path == "/api/story.json":
        return _answer(200, story_json("Libraries to open on Saturdays"), "application/json")
    if path == "/api/never":
        time.sleep(60)
        return None
    if path == "/app":
        return _answer(200, SPA_SHELL.format(extra="").encode(), "text/html; charset=utf-8")
    if path == "/probing":
        script = "<script>" + PROBING.replace("{port}", str(server.port)) + "</script>"
        return _answer(200, SPA_SHELL.format(extra=script).encode(), "text/html; charset=utf-8")
    if path == "/inline":
        story = json.loads(story_json("Parliament doubles the library budget"))
        page = INLINE.format(story=json.dumps(story))
        return _answer(200, page.encode(), "text/html; charset=utf-8")
    if path == "/never":
        page = (
            '<html><head><title>Never</title><script src="/api/never"></script></head>'
            '<body><div id="root"></div><noscript>Please enable JavaScript.</noscript></body></html>'
        )
        return _answer(200, page.encode(), "text/html; charset=utf-8")
    if path == "/walled-app":  # a script-built login wall: still a wall in a browser
        page = (
            '<html><head><title>Members</title></head><body><div id="root"></div><script>'
            "document.getElementById('root').innerHTML = '<h1>Log in to continue</h1><form id=\"login_form\">"
            '<input type="password" name="pass"><button>Log in</button></form>\';</script></body></html>'
        )
        return _answer(200, page.encode(), "text/html; charset=utf-8")
    return None
