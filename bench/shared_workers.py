"""Benchmark: a night of the shared setup with 1, 2 and 4 workers on one PostgreSQL catalog, beside the
SQLite default, on the same links in the same run.

    python bench/shared_workers.py --links 20000 --hosts 200 --delay 1.0

Starts bench/server.py (every 127.0.0.X address is a host) and a PostgreSQL cluster of its own
(bench/pgcluster.py, fsync on), adds the reports to each archive first (a run with --max-duration 0.001,
not measured), then measures the night: wall time against the politeness ideal (links per host x
delay), CPU per link over every worker's whole process tree, and the database's CPU (the PostgreSQL
server's processes; for SQLite the catalog works inside the run's own process). Each worker has its
own directory, as on its own machine; they share the catalog, and with it the night.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench import CORES, HERE, Measured, _command, _path, _tree, measure, write_reports
from bench.pgcluster import postgres_bin, running_postgres


def _config(directory: Path, args: argparse.Namespace, catalog: str = "") -> Path:
    directory.mkdir(parents=True)
    line = f'catalog = "{catalog}"\n' if catalog else ""
    (directory / "archiver.toml").write_text(
        f"{line}allow_private = true\nper_host = {args.per_host}\ndelay = {args.delay}\nweb_archive_lookups = false\n"
    )
    return directory


def _add_reports(archive: Path, reports: Path) -> None:
    done = subprocess.run(
        [*_command(), "run", str(reports), "--archive", str(archive), "--max-duration", "0.001"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        sys.exit(f"adding the reports failed:\n{done.stderr[-3000:]}")


def _night(archives: list[Path], database_pid: int | None) -> tuple[list[Measured], float, float]:
    """Every worker started at once; (each one's figures, the night's wall time, the database's CPU)."""
    results: list[Measured | None] = [None] * len(archives)
    database = [_tree_cpu(database_pid)] if database_pid else [0.0]

    def one(index: int, archive: Path) -> None:
        results[index] = measure([*_command(), "run", "--archive", str(archive), "--json"])

    start = time.monotonic()
    threads = [threading.Thread(target=one, args=(i, a)) for i, a in enumerate(archives)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - start
    db_cpu = (_tree_cpu(database_pid) - database[0]) if database_pid else 0.0
    measured = [r for r in results if r is not None]
    for result in measured:
        if result.returncode != 0:
            sys.exit(f"a worker failed:\n{result.stderr[-3000:]}")
    return measured, wall, db_cpu


def _tree_cpu(pid: int | None) -> float:
    """CPU seconds of a process tree, with its children that exited (the database's closed connections)."""
    total = 0.0
    for process in _tree(pid) if pid else []:
        try:
            with open(f"/proc/{process}/stat") as file:
                fields = file.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


def _report(label: str, args: argparse.Namespace, measured: list[Measured], wall: float, db_cpu: float) -> None:
    ideal = (args.links / args.hosts) * args.delay
    cpu = sum(m.cpu for m in measured)
    checked = [json.loads(m.stdout)["links"]["checked"] for m in measured]
    hosts = [json.loads(m.stdout).get("shared", {}).get("hosts_claimed") for m in measured]
    print(
        f"  {label:<22} wall {wall:7.1f} s = {wall / ideal:4.2f}x the ideal {ideal:.0f} s; "
        f"CPU {cpu / args.links * 1000:5.2f} ms per link (all workers' trees), database {db_cpu:6.1f} s CPU "
        f"({db_cpu / args.links * 1000:.2f} ms per link); links per worker {checked}"
        + (f", hosts claimed {hosts}" if any(h is not None for h in hosts) else "")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--links", type=int, default=20000)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--delay", type=float, default=1.0)
    parser.add_argument("--per-host", type=int, default=2)
    parser.add_argument("--latency", type=float, default=0.075)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    bindir = postgres_bin()
    if bindir is None:
        sys.exit("PostgreSQL is not installed: apt-get install postgresql")
    work = Path(tempfile.mkdtemp(prefix="archiver-shared-bench-"))
    server = subprocess.Popen(
        [sys.executable, str(HERE / "server.py"), "--latency", str(args.latency)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        urls = [f"http://127.0.0.{1 + i % args.hosts}:{port}{_path('light', i)}" for i in range(args.links)]
        write_reports(work / "reports", urls)
        print(
            f"shared-setup bench: {args.links} links over {args.hosts} hosts, --per-host {args.per_host} "
            f"--delay {args.delay}, latency {args.latency} s, {CORES} cores"
        )
        sqlite = _config(work / "sqlite", args)
        _add_reports(sqlite, work / "reports")
        _report("SQLite, 1 worker", args, *_night([sqlite], None))
        with running_postgres(bindir, fsync=True) as pg:
            for count in args.workers:
                catalog = pg.new_database()
                archives = [_config(work / f"pg{count}-{i}", args, catalog) for i in range(count)]
                _add_reports(archives[0], work / "reports")
                _report(f"PostgreSQL, {count} worker{'s' if count > 1 else ''}", args, *_night(archives, pg.pid))
        print(f"  (work directory {work})")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
