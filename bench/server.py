"""A local web for the benchmark: every 127.0.0.X address is a host, each answer after a fixed latency.

Articles are made from a fixed pool of paragraphs chosen by the URL's hash, so they differ from
each other, cost the server next to nothing, and are the same on every request (ETag, 304).
HTTP/1.1 keep-alive, like real servers.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
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


def article(path: str, paragraphs: int = STORY_PARAGRAPHS) -> bytes:
    """A page as heavy as a real news article: navigation, the story, related links, comments, footer."""
    seed = int(hashlib.sha1(path.encode()).hexdigest()[:8], 16)
    chosen = [PARAGRAPHS[(seed + i * 7919) % len(PARAGRAPHS)] for i in range(paragraphs)]
    body = "".join(f"<p>{p}</p>" for p in chosen)
    related = "".join(
        f"<li><a href='/news/2020/09/{(seed + i) % 28 + 1:02d}/story-{(seed * 31 + i) % 99999}.html'>"
        f"{PARAGRAPHS[(seed + i * 131) % len(PARAGRAPHS)][:70]}</a></li>"
        for i in range(12)
    )
    comments = "".join(
        f"<div class='comment'><span class='author'>reader{(seed + i) % 977}</span>"
        f"<p>{PARAGRAPHS[(seed + i * 37) % len(PARAGRAPHS)][:160]}</p></div>"
        for i in range(8)
    )
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


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, latency: float, paragraphs: int) -> None:
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
            body = article(host + target, paragraphs)
            etag = '"' + hashlib.sha1(body).hexdigest()[:20] + '"'
            if headers.get("if-none-match") == etag:
                writer.write(f"HTTP/1.1 304 Not Modified\r\nETag: {etag}\r\nContent-Length: 0\r\n\r\n".encode())
            else:
                writer.write(
                    (
                        f"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
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


async def main(port: int, latency: float, paragraphs: int) -> None:
    server = await asyncio.start_server(lambda r, w: handle(r, w, latency, paragraphs), "0.0.0.0", port, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--paragraphs", type=int, default=STORY_PARAGRAPHS, help="paragraphs of story a page")
    args = parser.parse_args()
    asyncio.run(main(args.port, args.latency, args.paragraphs))
