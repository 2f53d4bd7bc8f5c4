"""Benchmark: the search index at scale. Builds a synthetic archive of N links, each with a text of its
own (bench/catalog_scale.py's builder), indexes it with `archiver search --reindex`, and times queries
as a user runs them (the whole command, process start included).

    python bench/search_scale.py --links 100000

Prints the index's size on disk, its build time and peak memory, and each query's wall time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench import measure
from bench.catalog_scale import build

QUERIES = ["государство", "Минск OR pipeline", '"заявил министр"', "слово17*", "word1999 NOT energy", "протесты"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--links", type=int, default=100_000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="archiver-search-bench-"))
    archive = root / "archive"
    seconds = build(archive, args.links, texts=args.links)
    print(f"synthetic archive: {args.links:,} links, {args.links:,} distinct texts, built in {seconds:.1f} s")
    command = [sys.executable, "-m", "archiver", "search", "--reindex", "--archive", str(archive)]
    indexed = measure(command)
    assert indexed.returncode == 0, indexed.stderr
    size = sum(p.stat().st_size for p in archive.glob("search.sqlite*"))
    print(f"index: {indexed.wall:.1f} s to build, {indexed.cpu:.1f} s CPU, peak {indexed.peak_rss_mb:.0f} MB RSS, ")
    print(f"       {size / 2**20:.1f} MB on disk ({size / args.links:.0f} bytes a text)")
    for query in QUERIES:  # five times each: the median, and the range (a shared machine jitters)
        runs = [
            measure([sys.executable, "-m", "archiver", "search", query, "--json", "--archive", str(archive)])
            for _ in range(5)
        ]
        assert all(run.returncode == 0 for run in runs), runs[0].stderr
        walls = sorted(run.wall for run in runs)
        found = runs[0].stdout.count('"url"')
        print(
            f"query {query!r:28} {statistics.median(walls):.3f} s wall ({walls[0]:.3f}-{walls[-1]:.3f}), "
            f"{found} results, peak {max(run.peak_rss_mb for run in runs):.0f} MB"
        )
    print(f"(work directory {root})")


if __name__ == "__main__":
    main()
