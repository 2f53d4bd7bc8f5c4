"""Benchmark: exporting an archive of N captures streams (memory stays flat as N grows).

    python bench/export_memory.py --captures 100000

Builds a synthetic archive (one real WARC record and a thousand texts, shared by
N captures cited by N/100 reports), then runs `archiver export` in every format
and prints each one's time, output size and peak memory.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archiver.storage.catalog import Catalog, iso
from archiver.storage.textstore import put_text
from archiver.storage.warcstore import WARC_DIR
from bench.bench import measure


def build(archive: Path, captures: int) -> None:
    """A catalog of `captures` links, each captured once, pointing at one stored record."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    (archive / WARC_DIR).mkdir(parents=True, exist_ok=True)
    warc = archive / WARC_DIR / "synthetic-00001.warc.gz"
    with warc.open("wb") as file:
        writer = WARCWriter(file, gzip=True, warc_version="1.1")
        body = b"<html><body><p>" + b"Synthetic article text. " * 200 + b"</p></body></html>"
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        record = writer.create_warc_record(
            "http://example.com/", "response", payload=io.BytesIO(body), length=len(body), http_headers=headers
        )
        writer.write_record(record)
        length = file.tell()
    digests = [
        put_text(archive, f"Synthetic article {i}. " + "Some sentence of the article. " * 60) for i in range(1000)
    ]
    now = iso(datetime.now(UTC))
    with Catalog.open(archive) as catalog, catalog.transaction() as db:
        db.execute("INSERT INTO warc_files VALUES (?, ?, ?)", (warc.name, now, length))
        for r in range(captures // 100):
            report = f"report_{r:05d}"
            db.execute(
                "INSERT INTO reports (report, title, published, added_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (report, f"Report {r}", "2020-09-03", now, now),
            )
            for n in range(1, 101):
                link = r * 100 + n
                url = f"http://host{link % 50}.example/news/{link}.html"
                db.execute("INSERT INTO footnotes (report, n, text, problems) VALUES (?, ?, ?, '[]')", (report, n, url))
                db.execute(
                    """INSERT INTO links (id, url, canonical, host, added_at, verdict, reason, first_archived,
                       last_checked, first_capture, last_capture)
                       VALUES (?, ?, ?, ?, ?, 'ok', '200', ?, ?, ?, ?)""",
                    (link, url, url, f"host{link % 50}.example", now, now, now, link, link),
                )
                db.execute("INSERT INTO citations VALUES (?, ?, 0, ?)", (report, n, link))
                db.execute(
                    """INSERT INTO captures (id, link, fetched_at, url, final_url, http_status, content_type,
                       warc_file, warc_offset, warc_length, warc_start, warc_end, payload_digest, text_digest,
                       title) VALUES (?, ?, ?, ?, ?, 200, 'text/html', ?, 0, ?, 0, ?, 'sha1:X', ?, ?)""",
                    (link, link, now, url, url, warc.name, length, length, digests[link % 1000], f"Title {link}"),
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--captures", type=int, default=100_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="archiver-export-bench-"))
    build(work / "archive", args.captures)
    print(f"export of {args.captures} captures ({args.captures // 100} reports), archive in {work}")
    for fmt in ("jsonl", "csv", "md", "warc"):
        out = work / f"export.{fmt}"
        result = measure(
            [
                sys.executable,
                "-m",
                "archiver",
                "export",
                "--archive",
                str(work / "archive"),
                "--format",
                fmt,
                "--output",
                str(out),
            ]
        )
        size = out.stat().st_size / 2**20 if out.exists() else 0
        print(
            f"  {fmt:5}: {result.wall:6.1f} s, {size:8.1f} MB written, peak {result.peak_rss_mb:6.1f} MB RSS"
            f" (exit {result.returncode})"
        )


if __name__ == "__main__":
    main()
