"""Benchmark: the read side at scale. Builds archives of N links and times each read command.

    python bench/catalog_scale.py --links 10000 100000 1000000

Each synthetic archive has N links cited by N/100 reports, 3 checks and 2 captures per link
(texts shared from a pool of a thousand, one real WARC record), verdicts spread as a real
archive's are (88 % ok, 5 % dead, 3 % changed, 2 % failing, 1 % blocked, 1 % pending) and a
web archive copy for every dead link. Then it runs, as a user would, `status --json`,
`status --verdict dead`, `check`, `export`, `dashboard` and a run's planning step (the
catalog query that lists the links to check), and prints each one's wall time and peak
memory (RSS of the process tree) and the size of what it wrote.
"""

from __future__ import annotations

import argparse
import io
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archiver.storage.catalog import Catalog, iso
from archiver.storage.textstore import put_text
from archiver.storage.warcstore import WARC_DIR
from bench.bench import measure

VERDICTS = ["ok"] * 88 + ["dead"] * 5 + ["changed"] * 3 + ["failing"] * 2 + ["blocked", "pending"]


def synthetic_text(i: int) -> str:
    """A distinct article-like text (Russian and English words, common and rare ones) for text number i."""
    import random

    rng = random.Random(i)
    common = ["государство", "министр", "заявил", "протест", "Минск", "pipeline", "energy", "ministry", "talks"]
    rare = [f"слово{n}" for n in range(2000)] + [f"word{n}" for n in range(2000)]
    sentence = [rng.choice(common) if rng.random() < 0.3 else rng.choice(rare) for _ in range(80)]
    return f"Synthetic article {i}. " + " ".join(sentence) + "."


def build(archive: Path, links: int, texts: int = 1000) -> float:
    """The synthetic archive (its captures' texts drawn from `texts` distinct ones); the seconds it took."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    started = time.monotonic()
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
    if texts == 1000:
        digests = [put_text(archive, f"Synthetic article {i}. " + "A sentence of it. " * 60) for i in range(1000)]
    else:
        digests = [put_text(archive, synthetic_text(i)) for i in range(texts)]
    base = datetime(2026, 11, 1, 2, 0, tzinfo=UTC)
    nights = [iso(base + timedelta(days=d)) for d in range(3)]
    with Catalog.open(archive) as catalog, catalog.transaction() as db:
        db.execute("INSERT INTO warc_files VALUES (?, ?, ?)", (warc.name, nights[0], length))
        for run, night in enumerate(nights, start=1):
            db.execute(
                "INSERT INTO runs (id, started_at, finished_at, status, kind) VALUES (?, ?, ?, 'completed', 'nightly')",
                (run, night, night),
            )
        for start in range(0, links, 10_000):
            chunk = range(start, min(start + 10_000, links))
            reports = sorted({i // 100 for i in chunk})
            db.executemany(
                "INSERT OR IGNORE INTO reports (report, title, published, added_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                [(f"report_{r:06d}", f"Report {r}", "2020-09-03", nights[0], nights[0]) for r in reports],
            )
            db.executemany(
                "INSERT INTO footnotes (report, n, text, problems) VALUES (?, ?, ?, '[]')",
                [
                    (f"report_{i // 100:06d}", i % 100 + 1, f"http://host{i % 50}(.)example/news/{i}.html;")
                    for i in chunk
                ],
            )
            link_rows, citations, captures, checks, mementos = [], [], [], [], []
            for i in chunk:
                link = i + 1
                verdict = VERDICTS[i % len(VERDICTS)]
                url = f"http://host{i % 50}.example/news/{i}.html"
                first, last = 2 * link - 1, 2 * link
                link_rows.append(
                    (
                        link,
                        url,
                        url,
                        f"host{i % 50}.example",
                        nights[0],
                        verdict,
                        f"reason {verdict}",
                        nights[2],
                        nights[0],
                        nights[2],
                        first,
                        last,
                    )
                )
                citations.append((f"report_{i // 100:06d}", i % 100 + 1, link))
                for capture, night in ((first, nights[0]), (last, nights[2])):
                    captures.append(
                        (capture, link, night, url, url, warc.name, length, length, digests[i % texts], f"Title {i}")
                    )
                for run, night in enumerate(nights, start=1):
                    checks.append((link, run, night, url, 200, verdict, f"reason {verdict}"))
                if verdict == "dead":
                    mementos.append((link, "2020-09-03", f"https://web.archive.org/web/20200903/{url}", nights[2]))
            db.executemany(
                """INSERT INTO links (id, url, canonical, host, added_at, verdict, reason, verdict_since,
                   first_archived, last_checked, first_capture, last_capture) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)""",
                link_rows,
            )
            db.executemany("INSERT INTO citations VALUES (?, ?, 0, ?)", citations)
            db.executemany(
                """INSERT INTO captures (id, link, fetched_at, url, final_url, http_status, content_type, warc_file,
                   warc_offset, warc_length, warc_start, warc_end, payload_digest, text_digest, title)
                   VALUES (?, ?, ?, ?, ?, 200, 'text/html', ?, 0, ?, 0, ?, 'sha1:X', ?, ?)""",
                captures,
            )
            db.executemany(
                """INSERT INTO checks (link, run, started_at, elapsed, url, http_status, verdict, reason)
                   VALUES (?, ?, ?, 0.1, ?, ?, ?, ?)""",
                checks,
            )
            db.executemany(
                """INSERT INTO mementos (link, reference, status, archive, memento_url, memento_datetime, looked_up_at)
                   VALUES (?, ?, 'found', 'https://web.archive.org', ?, '2020-09-03T00:00:00Z', ?)""",
                mementos,
            )
    return time.monotonic() - started


def run(label: str, command: list[str], output: Path | None = None) -> None:
    result = measure(command)
    size = ""
    if output is not None and output.exists():
        total = (
            sum(p.stat().st_size for p in output.rglob("*") if p.is_file())
            if output.is_dir()
            else output.stat().st_size
        )
        size = f", {total / 2**20:8.1f} MB written"
    print(f"  {label:22} {result.wall:7.2f} s, peak {result.peak_rss_mb:6.1f} MB RSS{size} (exit {result.returncode})")
    if result.returncode != 0:
        print("    " + result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "    (no message)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--links", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    for links in args.links:
        work = args.workdir or Path(tempfile.mkdtemp(prefix="archiver-scale-"))
        archive = work / f"archive-{links}"
        shutil.rmtree(archive, ignore_errors=True)
        seconds = build(archive, links)
        db_size = (archive / "catalog.sqlite").stat().st_size / 2**20
        print(f"{links:,} links ({links // 100:,} reports): built in {seconds:.0f} s, catalog {db_size:.0f} MB")
        cli = [sys.executable, "-m", "archiver"]
        target = ["--archive", str(archive)]
        run("status --json", [*cli, "status", "--json", *target])
        run("status --verdict dead", [*cli, "status", "--verdict", "dead", *target])
        run("check", [*cli, "check", f"report_{links // 200:06d}", "7", "--json", *target])
        run(
            "export (jsonl)",
            [*cli, "export", "--output", str(work / "export.jsonl"), "--force", *target],
            work / "export.jsonl",
        )
        shutil.rmtree(work / "dashboard", ignore_errors=True)
        run("dashboard", [*cli, "dashboard", "--output", str(work / "dashboard"), *target], work / "dashboard")
        planning = (
            "import sys; from datetime import datetime, UTC; from pathlib import Path; "
            "from archiver.storage.catalog import Catalog; "
            "c = CatalogReader.open_readonly(Path(sys.argv[1])); "
            "print(len(c.links_to_check(datetime.now(UTC), 0.0)))"
        )
        run("run planning step", [sys.executable, "-c", planning, str(archive)])
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
