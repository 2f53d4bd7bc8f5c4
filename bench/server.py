"""A local web for the benchmark: every 127.0.0.X address is a host, each answer after a fixed latency.

Articles are made from a fixed pool of paragraphs chosen by the URL's hash, so they differ from
each other, cost the server next to nothing, and are the same on every request (ETag, 304).
HTTP/1.1 keep-alive, like real servers.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import random

WORDS = [
    "minister",
    "government",
    "union",
    "state",
    "belarus",
    "russia",
    "kremlin",
    "protest",
    "opposition",
    "election",
    "treaty",
    "economy",
    "energy",
    "gas",
    "oil",
    "tax",
    "customs",
    "border",
    "army",
    "exercise",
    "nato",
    "lithuania",
    "poland",
    "ukraine",
    "minsk",
    "moscow",
    "kyiv",
    "statement",
    "meeting",
    "talks",
    "agreement",
    "sovereignty",
    "integration",
    "parliament",
    "president",
    "prime",
    "court",
    "police",
    "detention",
    "rally",
    "march",
    "square",
    "avenue",
    "signal",
    "intelligence",
    "report",
    "analysts",
    "official",
    "spokesman",
]
RANDOM = random.Random(7)
PARAGRAPHS = [
    " ".join(RANDOM.choice(WORDS) for _ in range(RANDOM.randint(40, 90))).capitalize() + "." for _ in range(400)
]
BOILERPLATE = "".join(f"<li><a href='/section/{i}'>Section {i}</a></li>" for i in range(60))


STORY_PARAGRAPHS = 12  # about 6,600 characters of story; 3 make a short news item (about 1,700)


def _related_and_comments(seed: int, links: tuple[int, int], notes: tuple[int, int]) -> tuple[str, str]:
    """A page's related stories (how many, their titles' length) and readers' comments (how many, how long)."""
    related = "".join(
        f"<li><a href='/news/2020/09/{(seed + i) % 28 + 1:02d}/story-{(seed * 31 + i) % 99999}.html'>"
        f"{PARAGRAPHS[(seed + i * 131) % len(PARAGRAPHS)][: links[1]]}</a></li>"
        for i in range(links[0])
    )
    comments = "".join(
        f"<div class='comment'><span class='author'>reader{(seed + i) % 977}</span>"
        f"<p>{PARAGRAPHS[(seed + i * 37) % len(PARAGRAPHS)][: notes[1]]}</p></div>"
        for i in range(notes[0])
    )
    return related, comments


def article(path: str, paragraphs: int = STORY_PARAGRAPHS) -> bytes:
    """A page as heavy as a real news article: navigation, the story, related links, comments, footer."""
    seed = int(hashlib.sha1(path.encode()).hexdigest()[:8], 16)
    chosen = [PARAGRAPHS[(seed + i * 7919) % len(PARAGRAPHS)] for i in range(paragraphs)]
    body = "".join(f"<p>{p}</p>" for p in chosen)
    related, comments = _related_and_comments(seed, (12, 70), (8, 160))
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Article {path} | Bench News</title>"
        f"<meta property='og:title' content='Article {path}'><meta name='author' content='Bench Author'>"
        f"<meta property='article:published_time' content='2020-09-03T10:00:00+03:00'>"
        f"<script>window.dataLayer=[];function gtag(){{dataLayer.push(arguments)}}</script></head>"
        f"<body><header><nav><ul>{BOILERPLATE}</ul></nav><form><input name='q'></form></header>"
        f"<main><article><h1>Article {path}</h1><p class='date'>September 3, 2020</p>{body}</article>"
        f"<section class='related'><h2>Related</h2><ul>{related}</ul></section>"
        f"<section class='comments'><h2>Comments</h2>{comments}</section></main>"
        f"<aside><ul>{BOILERPLATE}</ul></aside><footer>Copyright Bench News</footer></body></html>"
    ).encode()


ICON = "<svg class='icon' viewBox='0 0 16 16' aria-hidden='true'><path d='M2 2h12v12H2z'/></svg>"
# A CMS's markup, as dense as real pages: every item in its own classes, spans and icons.
NAV = "".join(
    f"<li class='nav__item nav__item--{i}'><a class='nav__link' href='/section/{i}'><span class='nav__icon'>{ICON}"
    f"</span><span class='nav__text'>Section {i}</span></a></li>"
    for i in range(30)
)
FOOTER = "".join(
    f"<div class='footer__col'><h4 class='footer__title'>Group {c}</h4><ul class='footer__list'>"
    + "".join(f"<li><a class='footer__link' href='/about/{c}/{i}'>About us {i}</a></li>" for i in range(5))
    + "</ul></div>"
    for c in range(4)
)
INLINE_SCRIPT = (
    "<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments)}gtag('js',new Date());"
    "gtag('config','G-BENCH');(function(w,d,s){var f=d.getElementsByTagName(s)[0],j=d.createElement(s);j.async=true;"
    "j.src='https://cdn.example/ads.js';f.parentNode.insertBefore(j,f)})(window,document,'script');"
    "var consent={necessary:true,analytics:false,marketing:false,updated:Date.now()};"
    "document.addEventListener('DOMContentLoaded',function(){var b=document.querySelectorAll('.share');"
    "for(var i=0;i<b.length;i++){b[i].addEventListener('click',function(e){e.preventDefault();"
    "window.open(this.href,'share','width=600,height=400')})}});</script>"
)


def _marked_up(paragraph: str, seed: int) -> str:
    """A story paragraph as a CMS writes it: a link and an emphasis or two inside."""
    words = paragraph.split(" ")
    at = 3 + seed % max(1, len(words) - 8)
    words[at] = f"<a class='inline-link' href='/tag/{words[at].strip('.')}'>{words[at]}</a>"
    words[at + 3] = f"<strong>{words[at + 3]}</strong>"
    return " ".join(words)


def heavy_article(path: str) -> bytes:
    """A real news or ministry page as a CMS writes it (about 25 KB; trafilatura takes 5 ms to extract it, as it
    does a typical news page): a 30-link navigation bar and a ticker, a story of 8 to 12 paragraphs, related
    stories, comments, a newsletter box, a 20-link footer, inline scripts and JSON-LD, every item in its own
    classes, spans and icons. /long/ pages carry a story of 78 paragraphs (about 60 KB)."""
    seed = int(hashlib.sha1(path.encode()).hexdigest()[:8], 16)
    count = 78 if "/long/" in path else 8 + seed % 5
    chosen = [PARAGRAPHS[(seed + i * 7919) % len(PARAGRAPHS)] for i in range(count)]
    body = "".join(f"<p class='article__p'>{_marked_up(p, seed + i)}</p>" for i, p in enumerate(chosen))
    ticker = "".join(
        f"<li class='ticker__item'><time class='ticker__time'>{9 + i}:{i * 7 % 60:02d}</time><a class='ticker__link'"
        f" href='/news/t{seed % 997}-{i}.html'>{PARAGRAPHS[(seed + i * 53) % len(PARAGRAPHS)][:40]}</a></li>"
        for i in range(8)
    )
    related = "".join(
        f"<article class='card'><a class='card__link' href='/news/2020/09/{(seed + i) % 28 + 1:02d}/story-{i}.html'>"
        f"<figure class='card__media'><img class='card__img' src='/img/{seed % 97}-{i}.jpg' srcset='/img/{i}-320.jpg"
        f" 320w, /img/{i}-640.jpg 640w' alt=''></figure><div class='card__body'><h3 class='card__title'>"
        f"{PARAGRAPHS[(seed + i * 131) % len(PARAGRAPHS)][:60]}</h3><time class='card__time'>2020-09-0{i % 9 + 1}"
        f"</time></div></a></article>"
        for i in range(8)
    )
    comments = "".join(
        f"<div class='comment' id='c{i}'><div class='comment__head'><img class='comment__avatar' src='/a/{i}.png'"
        f" alt=''><span class='comment__author'>reader{(seed + i) % 977}</span><time class='comment__time'>"
        f"2 hours ago</time></div><div class='comment__body'><p>{PARAGRAPHS[(seed + i * 37) % len(PARAGRAPHS)][:150]}"
        f"</p></div><div class='comment__actions'><button class='comment__reply'>Reply</button><span"
        f" class='comment__likes'>{i * 3}</span></div></div>"
        for i in range(6)
    )
    ld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": f"Article {path}",
            "datePublished": "2020-09-03T10:00:00+03:00",
            "author": {"@type": "Person", "name": "Bench Author"},
            "publisher": {"@type": "Organization", "name": "Bench News"},
        }
    )
    return (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Article {path} | Bench News</title>"
        f"<meta property='og:title' content='Article {path}'><meta name='author' content='Bench Author'>"
        f"<meta property='article:published_time' content='2020-09-03T10:00:00+03:00'>"
        f"<script type='application/ld+json'>{ld}</script>{INLINE_SCRIPT}</head>"
        f"<body class='page page--article'><div class='l-page'><header class='site-header'><div class='l-container'>"
        f"<nav class='nav'><ul class='nav__list'>{NAV}</ul></nav><div class='ticker'><ul class='ticker__list'>{ticker}"
        f"</ul></div><form class='search'><input name='q'><button>{ICON}</button></form></div></header>"
        f"<main class='l-container'><div class='l-row'><div class='l-col l-col--8'><article class='article'>"
        f"<header class='article__head'><h1 class='article__title'>Article {path}</h1><div class='article__meta'>"
        f"<time class='article__date'>September 3, 2020</time><span class='article__author'>Bench Author</span>"
        f"</div></header><div class='article__body'>{body}</div>"
        f"<div class='share'>{''.join(f'<a class=share href=/share/{n}?u={path}>{ICON}</a>' for n in range(5))}</div>"
        f"</article><section class='comments'><h2>Comments</h2>{comments}</section></div>"
        f"<aside class='l-col l-col--4 related'><h2>Related stories</h2>{related}"
        f"<div class='newsletter'><h3>Our newsletter</h3><p>The day's news in your inbox every morning.</p>"
        f"<form><input type='email' name='email'><button>Subscribe</button></form></div></aside></div></main>"
        f"<footer class='site-footer'><div class='l-container footer__cols'>{FOOTER}</div>"
        f"<p>Copyright Bench News</p></footer></div></body></html>"
    ).encode()


def pdf_document(path: str) -> bytes:
    """A three-page PDF of story paragraphs (a ministry's statement), text in a standard font."""
    seed = int(hashlib.sha1(path.encode()).hexdigest()[:8], 16)
    pages = []
    for page in range(3):
        lines = []
        for i in range(4):
            words = PARAGRAPHS[(seed + page * 11 + i * 7919) % len(PARAGRAPHS)].split()
            lines += [" ".join(words[j : j + 12]) for j in range(0, len(words), 12)]
        text = " T* ".join(f"({line})Tj" for line in lines[:45])
        pages.append(f"BT /F1 10 Tf 14 TL 50 780 Td {text} ET".encode())
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    for content in pages:
        kids.append(len(objects) + 1)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Contents {len(objects) + 2} 0 R "
            f"/Resources << /Font << /F1 {3 + 2 * len(pages)} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>".encode()
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


async def handle(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float, paragraphs: int, heavy: bool = False
) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            target = lines[0].split(" ")[1]
            if target.startswith("http://"):
                target = "/" + target.split("/", 3)[3]
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            host = writer.get_extra_info("sockname")[0]
            # Sites answer in their own time: latency +-60 % around the mean (30-120 ms for 75 ms).
            await asyncio.sleep(latency * (0.4 + 1.2 * random.random()))
            kind = "text/html; charset=utf-8"
            if heavy and target.endswith(".pdf"):
                body, kind = pdf_document(host + target), "application/pdf"
            elif heavy:
                body = heavy_article(host + target)
            else:
                body = article(host + target, paragraphs)
            etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
            if headers.get("if-none-match") == etag:
                writer.write(f"HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nContent-Length: 0\r\n\r\n".encode())
            else:
                writer.write(
                    (
                        f"HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\n"
                        f"ETag: {etag}\r\nLast-Modified: Thu, 03 Sep 2020 10:00:00 GMT\r\n\r\n"
                    ).encode()
                    + body
                )
            await writer.drain()
            if headers.get("connection", "").lower() == "close":
                break
    except (asyncio.IncompleteReadError, ConnectionError, IndexError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main(port: int, latency: float, paragraphs: int, heavy: bool = False) -> None:
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, latency, paragraphs, heavy), "0.0.0.0", port, backlog=1024
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--paragraphs", type=int, default=STORY_PARAGRAPHS, help="paragraphs of story a page")
    parser.add_argument("--pages", choices=("light", "heavy"), default="light")
    args = parser.parse_args()
    asyncio.run(main(args.port, args.latency, args.paragraphs, args.pages == "heavy"))
