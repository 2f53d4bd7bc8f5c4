"""Benchmark: report parsing on the security review's slow inputs, at n, 2n and 4n.

    python bench/hostile_reports.py [--sizes 8000 16000 32000]

Each input once made parsing quadratic (10-25 s at the review's sizes). Prints the CPU time of
parse_report (the least of three tries) at each size and the ratio to the size before: about 2
for linear work, about 4 for quadratic.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from archiver.reading.reports import parse_report

INPUTS: dict[str, tuple[Callable[[int], str], str]] = {
    "[1] see x + n '('": (lambda n: "Body [1].\n\nNotes\n[1] see x" + "(" * n + "\n", "text"),
    "n/5 'Authors: A' lines": (lambda n: "Title\n\n" + "Authors: A\n" * (n // 5) + "\n[1] http://a(.)com/\n", "text"),
    "n/2 <p>x</p>, no notes heading": (lambda n: "<html><body>" + "<p>x</p>" * (n // 2) + "</body></html>", "html"),
    "n/4 nested <div>": (lambda n: "<html><body>" + "<div>" * (n // 4) + "x" + "</div>" * (n // 4), "html"),
}


def cpu(work: Callable[[], object]) -> float:
    """The least CPU time of three tries (process time: other processes' load does not count)."""
    best = float("inf")
    for _ in range(3):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[8000, 16000, 32000])
    args = parser.parse_args()
    print(f"{'input':34} " + " ".join(f"{'n=' + str(n):>16}" for n in args.sizes))
    for name, (make, fmt) in INPUTS.items():
        cells, previous = [], None
        for n in args.sizes:
            text = make(n)
            seconds = cpu(lambda text=text, fmt=fmt: parse_report(text, stem="r", fmt=fmt))  # type: ignore[misc]
            ratio = f" x{seconds / previous:.1f}" if previous else ""
            cells.append(f"{seconds * 1000:9.1f} ms{ratio:>5}")
            previous = seconds
        print(f"{name:34} " + " ".join(f"{c:>16}" for c in cells))


if __name__ == "__main__":
    main()
