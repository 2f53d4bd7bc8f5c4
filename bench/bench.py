"""Benchmark: archiver's nightly run against the politeness-limited ideal, a rerun, and trafilatura's CLI.

    python bench/bench.py --links 2000 --hosts 50

Starts bench/server.py (every 127.0.0.X address is a host, fixed latency), writes
reports in the sample's style citing the links, runs `archiver run` twice (the
second time nothing changed), then trafilatura's own batch command line on the
same URLs with the closest politeness it allows, and prints the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORES = os.cpu_count() or 1


@dataclass
class Measured:
    wall: float
    cpu: float
    peak_rss_mb: float
    peak_pss_mb: float
    returncode: int
    stdout: str
    stderr: str
    cpu_by_role: dict[str, float]  # "main", "workers" (every process below the main one)
    beside: float = 0.0  # CPU seconds the process watched beside it (the bench's server) used meanwhile
    kernel: float = 0.0  # of cpu, the seconds spent in the kernel (system calls, page faults), whole tree


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as file:
                    todo += [int(c) for c in file.read().split()]
        except OSError:
            continue
    return found


def _times(pid: int) -> tuple[float, float]:
    """Seconds of CPU a live process has used, in user space and in the kernel, from /proc."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / tick, int(fields[12]) / tick
    except (OSError, IndexError, ValueError):
        return 0.0, 0.0


def _cpu(pid: int) -> float:
    """Seconds of CPU a live process has used (user + system), from /proc."""
    return sum(_times(pid))


def _memory(pids: list[int]) -> tuple[float, float]:
    rss = pss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as file:
                for line in file:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            continue
    return rss / 1024, pss / 1024


def measure(command: list[str], env: dict[str, str] | None = None, beside: int | None = None) -> Measured:
    """Run a command; its wall time, CPU time (with all its descendants) and peak tree memory, and the CPU
    that the process `beside` (the bench's server: it shares the cores) used meanwhile."""
    beside_before = _cpu(beside) if beside is not None else 0.0
    start = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, env={**os.environ, **(env or {})})
        peak = [0.0, 0.0]
        cpu_seen: dict[int, tuple[float, float]] = {}
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                pids = _tree(proc.pid)
                rss, pss = _memory(pids)
                peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
                for pid in pids:
                    cpu_seen[pid] = max(cpu_seen.get(pid, (0.0, 0.0)), _times(pid), key=sum)
                done.wait(0.05)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - start
        done.set()
        sampler.join()
        out.seek(0)
        err.seek(0)
        # wait4 counts descendants only when every process between reaped them; the samples count the rest.
        sampled = sum(sum(times) for times in cpu_seen.values())
        cpu = max(usage.ru_utime + usage.ru_stime, sampled)
        kernel = max(usage.ru_stime, sum(times[1] for times in cpu_seen.values()))
        main = usage.ru_utime + usage.ru_stime if proc.pid not in cpu_seen else sum(cpu_seen[proc.pid])
        by_role = {"main": main, "workers": max(0.0, cpu - main)}
        return Measured(
            wall,
            cpu,
            peak[0],
            peak[1],
            proc.returncode,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            by_role,
            _cpu(beside) - beside_before if beside is not None else 0.0,
            kernel,
        )


def write_reports(directory: Path, urls: list[str], per_report: int = 20) -> None:
    """Reports in the sample's style: a body citing [N], notes "[N] http://host(.)x/..." after it."""
    directory.mkdir(parents=True, exist_ok=True)
    for index in range(0, len(urls), per_report):
        chunk = urls[index : index + per_report]
        body = " ".join(f"Claim number {i}.[{i}]\u00a0" for i in range(1, len(chunk) + 1))
        notes = "\n\n".join(f"[{i}] {url.replace('.', '(.)', 3)};" for i, url in enumerate(chunk, start=1))
        (directory / f"bench_{index // per_report:05d}.txt").write_text(
            f"Bench report {index // per_report}\n\n\nSeptember 3, 2020, 5:00 EDT\n\nBy Bench Author\n\n{body}\n\n\n"
            f"{notes}\n\n\nFile Attachments: \n",
            encoding="utf-8",
        )


def _trafilatura(args: argparse.Namespace, work: Path, urls: list[str]) -> Measured:
    """trafilatura's own batch command line on the same URLs, at the closest politeness it allows."""
    (work / "urls.txt").write_text("\n".join(urls) + "\n")
    config = work / "trafilatura.cfg"
    config.write_text(
        "[DEFAULT]\nDOWNLOAD_TIMEOUT = 30\nMAX_FILE_SIZE = 20000000\nMIN_FILE_SIZE = 10\n"
        f"SLEEP_TIME = {args.delay}\nUSER_AGENTS =\nCOOKIE =\nMAX_REDIRECTS = 2\nSSRF_PROTECTION = off\n"
        "INSECURE_SSL_FALLBACK = off\nMIN_EXTRACTED_SIZE = 250\nMIN_OUTPUT_SIZE = 1\n"
        "MIN_OUTPUT_COMM_SIZE = 1\nMAX_TREE_SIZE =\nMIN_EXTRACTED_COMM_SIZE = 1\nMIN_DUPLCHECK_SIZE = 100\n"
        "MAX_REPETITIONS = 2\nEXTENSIVE_DATE_SEARCH = on\nEXTERNAL_URLS = off\n"
    )
    return measure(
        [
            str(Path(sys.executable).parent / "trafilatura"),
            "-i",
            str(work / "urls.txt"),
            "--parallel",
            str(args.concurrency),
            "--config-file",
            str(config),
            "-o",
            str(work / "trafilatura-out"),
        ],
        beside=args.server_pid,
    )


def _busy(measured: Measured) -> float:
    """How busy the cores were over a command's wall time: its CPU and the bench server's."""
    return (measured.cpu + measured.beside) / (CORES * measured.wall)


def _command() -> list[str]:
    """The `archiver` command as users run it (the installed script; its workers run that script again),
    else `python -m archiver`."""
    script = Path(sys.executable).with_name("archiver")
    return [str(script)] if script.exists() else [sys.executable, "-m", "archiver"]


def _round(args: argparse.Namespace, work: Path, reports: Path, urls: list[str]) -> dict[str, float]:
    """One first run on a fresh archive, its rerun, then trafilatura's command line; prints them, returns ratios.

    Each round writes in a directory of its own and nothing is deleted until the bench ends: on ext4
    without a journal (this machine's disk), a new inode is sought past every inode freed in the last
    minutes of its block group, and a run right after deleting the last round's archive paid 0.5-0.7 ms
    of kernel time a page for its text files (the same run with nothing deleted: 0.1)."""
    work.mkdir(parents=True, exist_ok=True)
    if args.workers:
        (work / "archive").mkdir(parents=True)
        (work / "archive" / "archiver.toml").write_text(f"extract_workers = {args.workers}\n")
    archiver = [
        *_command(),
        "run",
        "--archive",
        str(work / "archive"),
        "--allow-private",
        "--per-host",
        str(args.per_host),
        "--delay",
        str(args.delay),
        "--concurrency",
        str(args.concurrency),
        "--json",
    ]
    first = measure([*archiver, str(reports)], beside=args.server_pid)
    if first.returncode != 0:
        sys.exit(f"archiver run failed:\n{first.stderr[-3000:]}")
    second = measure(archiver, beside=args.server_pid)
    summary = json.loads(first.stdout)

    per_host_links = [len(range(h, args.links, args.hosts)) for h in range(args.hosts)]
    polite = max(n * max(args.delay, args.latency / args.per_host) for n in per_host_links)
    ideal = max(polite, first.cpu / CORES)
    print(f"  verdicts after the first run: {summary['verdicts']}")
    print(
        f"  first run:   {first.wall:7.2f} s wall, {args.links / first.wall:6.1f} links/s, "
        f"{first.cpu:6.2f} s CPU ({first.cpu / args.links * 1000:.2f} ms CPU per link)"
    )
    print(
        f"               main process {first.cpu_by_role['main'] / args.links * 1000:.2f} ms per link, "
        f"extraction workers {first.cpu_by_role['workers'] / args.links * 1000:.2f} ms per link; "
        f"of all, {first.kernel / args.links * 1000:.2f} ms in the kernel"
    )
    print(
        f"  ideal:       {ideal:7.2f} s (politeness {polite:.2f} s, CPU/cores {first.cpu / CORES:.2f} s) "
        f"-> wall/ideal = {first.wall / ideal:.2f}"
    )
    print(
        f"  the machine: the bench's server used {first.beside:.2f} s of CPU meanwhile; with the run's, "
        f"{_busy(first):.0%} of {CORES} cores over the run's wall time"
    )
    print(f"  peak memory: {first.peak_rss_mb:7.1f} MB RSS, {first.peak_pss_mb:.1f} MB PSS (whole process tree)")
    print(
        f"  rerun:       {second.wall:7.2f} s wall, {second.cpu:6.2f} s CPU = {second.cpu / first.cpu:.0%} "
        f"of the first run's CPU, peak {second.peak_pss_mb:.1f} MB PSS"
    )
    figures = {
        "wall/ideal": first.wall / ideal,
        "CPU ms per link": first.cpu / args.links * 1000,
        "rerun CPU / first run's": second.cpu / first.cpu,
        "peak MB RSS": first.peak_rss_mb,
    }
    if not args.skip_trafilatura:
        trafilatura = _trafilatura(args, work, urls)
        extracted = (
            sum(1 for p in (work / "trafilatura-out").rglob("*") if p.is_file())
            if (work / "trafilatura-out").exists()
            else 0
        )
        print(
            f"  trafilatura: {trafilatura.wall:7.2f} s wall, {trafilatura.cpu:6.2f} s CPU "
            f"({trafilatura.cpu / args.links * 1000:.2f} ms CPU per link, {trafilatura.kernel / args.links * 1000:.2f} "
            "in the kernel), "
            f"peak {trafilatura.peak_rss_mb:.1f} MB RSS, "
            f"{trafilatura.peak_pss_mb:.1f} MB PSS (--parallel {args.concurrency}, SLEEP_TIME {args.delay}; "
            f"exit {trafilatura.returncode}; {extracted} files: it names them by a hash of their words, "
            "so look-alike pages share one)"
        )
        print(
            f"               the bench's server {trafilatura.beside:.2f} s of CPU meanwhile; "
            f"{_busy(trafilatura):.0%} of the cores"
        )
        print(
            f"  archiver / trafilatura: wall {first.wall / trafilatura.wall:.2f}x, "
            f"CPU per link {first.cpu / max(trafilatura.cpu, 1e-9):.2f}x"
        )
        figures["trafilatura CPU ms per link"] = trafilatura.cpu / args.links * 1000
        figures["wall / trafilatura's"] = first.wall / trafilatura.wall
        figures["CPU / trafilatura's"] = first.cpu / max(trafilatura.cpu, 1e-9)
    return figures


def _delete_many(work: Path, count: int) -> None:
    """Write `count` small files beside the archive, sync them, and delete them: what deleting the last
    night's temporary files or an old archive leaves the file system with, just before a run."""
    doomed = Path(tempfile.mkdtemp(prefix="doomed-", dir=work))
    started = time.monotonic()
    for index in range(count):
        folder = doomed / f"{index % 256:02x}"
        if index < 256:
            folder.mkdir()
        (folder / f"{index}.txt").write_bytes(b"x" * 2048)
    os.sync()
    shutil.rmtree(doomed)
    os.sync()
    print(f"  wrote and deleted {count:,} files beside the archive in {time.monotonic() - started:.1f} s")


def _path(pages: str, i: int) -> str:
    """The i-th link's path: a story; in the heavy world also a long page (1 in 25) or a PDF (1 in 40)."""
    if pages == "heavy" and i % 40 == 39:
        return f"/docs/2020/09/03/statement-{i}.pdf"
    if pages == "heavy" and i % 25 == 24:
        return f"/long/2020/09/03/story-{i}.html"
    return f"/news/2020/09/03/story-{i}.html"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--links", type=int, default=2000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.075, help="mean seconds a host takes to answer (+-60 %%)")
    parser.add_argument(
        "--paragraphs", type=int, default=12, help="story paragraphs a page (12: ~6,600 characters; 3: a short item)"
    )
    parser.add_argument(
        "--pages",
        choices=("light", "heavy"),
        default="light",
        help="light: the story and its page (trafilatura extracts one in ~2.5 ms); heavy: news pages as a CMS writes"
        " them, ~25 KB with scripts, JSON-LD, a ticker, comments and a newsletter box (~5 ms), one link in 25 a 60 KB"
        " page, one in 40 a PDF",
    )
    parser.add_argument("--per-host", type=int, default=2)
    parser.add_argument("--delay", type=float, default=0.25)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="archiver's fetches in all, and trafilatura's --parallel (default: archiver's own default)",
    )
    parser.add_argument("--workers", type=int, default=0, help="extraction workers (default: archiver's own choice)")
    parser.add_argument("--skip-trafilatura", action="store_true")
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds (archiver, its rerun, trafilatura, in turn), then the median of each figure: a drifting "
        "machine moves both tools' CPU between rounds",
    )
    parser.add_argument(
        "--after-deleting",
        type=int,
        default=0,
        metavar="N",
        help="before each round, write and delete N small files beside the archive (the disk's recent history)",
    )
    parser.add_argument("--workdir", type=Path, default=None, help="keep the archive here (default: a temp dir)")
    args = parser.parse_args()
    if not 1 <= args.hosts <= 250:
        parser.error("--hosts must be 1 to 250 (one loopback address each)")
    if args.repeat < 1:
        parser.error("--repeat must be 1 or more")
    if args.concurrency is None:
        from archiver.config import Settings

        args.concurrency = Settings().concurrency

    work = args.workdir or Path(tempfile.mkdtemp(prefix="archiver-bench-"))
    server = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "server.py"),
            *("--latency", str(args.latency), "--paragraphs", str(args.paragraphs), "--pages", args.pages),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        args.server_pid = server.pid
        urls = [f"http://127.0.0.{1 + i % args.hosts}:{port}{_path(args.pages, i)}" for i in range(args.links)]
        write_reports(work / "reports", urls)
        print(
            f"archiver bench: {args.links} links over {args.hosts} hosts, latency {args.latency} s, "
            f"{args.paragraphs} story paragraphs a page, "
            f"--per-host {args.per_host} --delay {args.delay} --concurrency {args.concurrency}, {CORES} cores"
        )
        rounds = []
        for number in range(args.repeat):
            if args.repeat > 1:
                print(f" round {number + 1} of {args.repeat}")
            # A directory of its own: a fresh archive even in a --workdir used before, and nothing to delete.
            round_dir = Path(tempfile.mkdtemp(prefix=f"round-{number + 1}-", dir=work))
            if args.after_deleting:
                _delete_many(work, args.after_deleting)
            rounds.append(_round(args, round_dir, work / "reports", urls))
        if args.repeat > 1:
            print(" median of the rounds (min-max):")
            for name in rounds[0]:
                values = [figures[name] for figures in rounds]
                print(f"  {name}: {statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})")
        print(
            f"  (maxrss of this process's children: {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024:.0f}"
            f" MB; work directory {work})"
        )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
