"""Benchmark: script-built pages rendered in Chromium, every request through archiver's own fetcher.

    python bench/render_pages.py --pages 100 [--browser /usr/bin/chromium]

Serves N single-page-app articles on 127.0.0.1 (an empty root, a script that fetches the story as
JSON and builds it), a tenth of them hostile (a DOM of 20,000 nodes, a storm of requests, a script
that never finishes loading), writes a report citing them, runs `archiver run` once and prints pages
rendered a minute and the peak memory of the whole process tree, Chromium included.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench import measure

SHELL = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Courier</title>'
    '<script defer src="/static/app.js?k={kind}"></script></head><body>'
    '<noscript>You need to enable JavaScript to run this app.</noscript><div id="root"></div></body></html>'
)
APP = """
(async function () {
  const id = location.pathname.split('/').pop();
  const story = await (await fetch('/api/story/' + id + '.json')).json();
  const root = document.getElementById('root');
  const article = document.createElement('article');
  const h = document.createElement('h1'); h.textContent = story.title; article.appendChild(h);
  for (const text of story.paragraphs) {
    const p = document.createElement('p'); p.textContent = text; article.appendChild(p);
  }
  root.replaceChildren(article);
})();
"""
HEAVY = (
    "for (let i = 0; i < 20000; i++) { const d = document.createElement('div'); d.textContent = 'row ' + i;"
    " document.body.appendChild(d); }"
)
STORM = "for (let i = 0; i < 400; i++) { fetch('/api/noise/' + i).catch(() => {}); }"
SENTENCES = [
    "The regional parliament voted on Thursday to double the budget of the public library network.",
    "Forty-two libraries in small towns will stay open on Saturdays from next spring, the speaker said.",
    "The decision followed a petition signed by more than eleven thousand residents over the summer.",
    "Opposition deputies supported the plan but asked for an audit of the network's book purchases.",
    "The first new reading rooms are to open in three district towns before the new year.",
]


HOSTILE = True
ONLY = ""  # --only KIND: every page of one kind


def kind_of(n: int) -> str:
    if ONLY:
        return ONLY
    return {0: "heavy", 3: "storm", 6: "never"}.get(n % 10, "plain") if HOSTILE else "plain"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, body: bytes, ctype: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path.startswith("/app/"):
            n = int(path.rsplit("/", 1)[1])
            self._send(SHELL.format(kind=kind_of(n)).encode(), "text/html; charset=utf-8")
        elif path == "/static/app.js":
            kind = self.path.rsplit("k=", 1)[-1]
            extra = {"heavy": HEAVY, "storm": STORM}.get(kind, "")
            if kind == "never":
                time.sleep(120)  # a script that never arrives: the page never finishes loading
            self._send((APP + extra).encode(), "application/javascript")
        elif path.startswith("/api/story/"):
            n = int(path.rsplit("/", 1)[1].split(".")[0])
            story = {"title": f"Story {n}", "paragraphs": [f"{s} (item {n}.{i})" for i, s in enumerate(SENTENCES * 3)]}
            self._send(json.dumps(story).encode(), "application/json")
        else:
            self._send(b"{}", "application/json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--browser", default=shutil.which("chromium") or "")
    parser.add_argument("--at-once", type=int, default=0, help="browser_pages (default: archiver's default)")
    parser.add_argument("--plain", action="store_true", help="no hostile pages: every page an ordinary app")
    parser.add_argument("--only", choices=("plain", "heavy", "storm", "never"), default="", help="pages of one kind")
    args = parser.parse_args()
    global HOSTILE, ONLY
    HOSTILE, ONLY = not args.plain, args.only
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        archive = root / "archive"
        archive.mkdir()
        (archive / "archiver.toml").write_text(
            "delay = 0.0\nper_host = 8\nretries = 0\nweb_archive_lookups = false\nbrowser_timeout = 10.0\n"
            f'read_timeout = 5.0\ntotal_timeout = 8.0\nbrowser = "{args.browser}"\n'
            + (f"browser_pages = {args.at_once}\n" if args.at_once else "")
        )
        notes = "\n".join(f"[{n}] {base}/app/{n}" for n in range(1, args.pages + 1))
        body = " ".join(f"Claim {n}.[{n}]" for n in range(1, args.pages + 1))
        report = root / "report.txt"
        report.write_text(f"Script-built sources\n\n{body}\n\n{notes}\n")
        command = [sys.executable, "-m", "archiver", "run", str(report), "--json", "--allow-private"]
        measured = measure([*command, "--archive", str(archive)])
    server.shutdown()
    if measured.returncode != 0:
        sys.exit(f"archiver run failed ({measured.returncode}): {measured.stderr[-2000:]}")
    summary = json.loads(measured.stdout)
    behind = summary["pages_behind_walls"]
    rendered = behind["rendered"]
    hostile = args.pages // 10 * 3 if HOSTILE else 0
    print(f"{args.pages} script-built pages ({hostile} hostile: 20,000-node DOMs, request storms, never loading)")
    print(f"  browser: {behind['browser']}")
    print(f"  rendered: {rendered} ok, verdicts {summary['this_run']}")
    print(f"  wall: {measured.wall:.1f} s, {rendered / measured.wall * 60:.0f} pages rendered a minute")
    print(f"  CPU: {measured.cpu:.1f} s over the whole process tree, Chromium included")
    print(f"  peak memory: {measured.peak_rss_mb:.0f} MB RSS, {measured.peak_pss_mb:.0f} MB PSS (whole process tree)")


if __name__ == "__main__":
    main()
