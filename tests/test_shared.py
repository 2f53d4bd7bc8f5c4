"""The shared setup as an institute runs it: several `archiver run` workers, one PostgreSQL catalog.

Real processes against a real PostgreSQL server (tests/pgserver.py) and real local sites: a site is
a server of its own (127.0.0.1:PORT is one host), each logging when every request arrived.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from . import server as fixture_server
from .helpers import FAST, archiver, write_report
from .sharedservers import S3Server

SLOW = 0.3  # seconds each page takes to answer
DELAY = 0.2  # the sites' delay between two request starts
LINKS_PER_SITE = 8  # a site takes 8 x 0.3 s: the night outlasts a loaded machine's worker start


@pytest.fixture
def sites() -> Iterator[list[fixture_server.Server]]:
    """Six sites, each its own server."""
    started = [fixture_server.start() for _ in range(6)]
    yield [state for state, _ in started]
    for _, stop in started:
        stop()


def worker_archive(root: Path, name: str, url: str, extra: str = "") -> Path:
    """A worker's own directory, its archiver.toml naming the shared catalog."""
    archive = root / name
    archive.mkdir(parents=True)
    # Two hosts at a time a worker (concurrency / per_host): six sites keep three workers busy.
    config = FAST.replace("per_host = 4", "per_host = 1").replace("delay = 0.0", f"delay = {DELAY}")
    config = config.replace("concurrency = 8", "concurrency = 2")
    (archive / "archiver.toml").write_text(f'catalog = "{url}"\nlease_seconds = 5\n{extra}{config}')
    return archive


def start_worker(archive: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "archiver", "run", *args, "--allow-private", "--json", "--archive", str(archive)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def slow_report(root: Path, sites: list[fixture_server.Server], name: str = "shared") -> tuple[Path, list[str]]:
    urls = [site.url(f"/slow?s={SLOW}&id={i}") for site in sites for i in range(LINKS_PER_SITE)]
    return write_report(root, urls, name), urls


def page_requests(site: fixture_server.Server) -> list[fixture_server.Request]:
    return sorted((r for r in site.requests if r.path == "/slow"), key=lambda r: r.at)


def assert_polite(sites: list[fixture_server.Server]) -> None:
    """Per site, across every worker: one connection at a time (per_host = 1: a request starts only
    after the one before was answered, SLOW seconds later), and never two starts within the delay."""
    for site in sites:
        starts = [r.at for r in page_requests(site)]
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert gaps, site.port
        assert min(gaps) >= SLOW - 0.02, (site.port, gaps)


def test_three_workers_share_a_night_politely_and_capture_each_link_once(
    sites: list[fixture_server.Server], tmp_path: Path, pg_url: str, bucket: str
) -> None:
    report, urls = slow_report(tmp_path, sites)
    store = f'store = "s3://{bucket}/night"\n'
    workers = [worker_archive(tmp_path, f"worker{i}", pg_url, store) for i in range(3)]
    # The report is known before the night (a worker that reads it first would start on it alone);
    # every worker is given it too, as cron would: all three save it at once, and nothing doubles.
    added = archiver("run", str(report), "--allow-private", "--max-duration", "0.001", archive=workers[0])
    assert added.returncode == 0, added.stderr
    procs = [start_worker(archive, str(report)) for archive in workers]
    # An analyst on another machine, while the night runs: every command answers from the shared archive.
    analyst = worker_archive(tmp_path, "analyst", pg_url, store)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(len(page_requests(s)) for s in sites) < 6:
        time.sleep(0.05)
    assert all(p.poll() is None for p in procs)  # the night is on
    commands = (["status", "--json"], ["check", "shared", "1", "--json"], ["export", "--format", "jsonl"])
    asking = [
        subprocess.Popen(
            [sys.executable, "-m", "archiver", *command, "--archive", str(analyst)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    during = [(ask.communicate(timeout=60), ask.returncode) for ask in asking]
    assert [code for _, code in during] == [0, 0, 0], [err for (_, err), _ in during]
    assert json.loads(during[1][0][0])["urls"][0]["url"] == urls[0]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0, 0], [err for _, err in outputs]
    summaries = [json.loads(out) for out, _ in outputs]
    # One night, three workers: every link checked once, whichever worker did it.
    assert len({s["shared"]["night"] for s in summaries}) == 1
    assert sum(s["links"]["checked"] for s in summaries) == len(urls)
    assert sum(s["shared"]["closed_the_night"] for s in summaries) == 1
    assert sum(1 for s in summaries if s["links"]["checked"]) >= 2, json.dumps([s["shared"] for s in summaries])
    hits = Counter((site.port, r.target) for site in sites for r in page_requests(site))
    assert sorted(hits.values()) == [1] * len(urls)
    assert_polite(sites)
    # Every command reads the shared archive from any worker's directory.
    status = archiver("status", "--json", archive=workers[2])
    assert status.returncode == 0, status.stderr
    rows = json.loads(status.stdout)
    assert sorted(row["url"] for row in rows) == sorted(urls)
    assert {row["verdict"] for row in rows} == {"ok"}
    exported = archiver("export", "--format", "warc", "-o", str(tmp_path / "night.warc.gz"), archive=analyst)
    assert exported.returncode == 0, exported.stderr
    responses = [r for r in _records(tmp_path / "night.warc.gz") if r[0] == "response"]
    assert sorted(r[2] for r in responses) == sorted(urls)  # each page once, read from the bucket


def test_a_worker_killed_mid_night_leaves_its_hosts_to_the_others(
    sites: list[fixture_server.Server], tmp_path: Path, pg_url: str, bucket: str
) -> None:
    report, urls = slow_report(tmp_path, sites)
    store = f'store = "s3://{bucket}/night"\n'
    first = worker_archive(tmp_path, "first", pg_url, store)
    added = archiver("run", str(report), "--allow-private", "--max-duration", "0.001", archive=first)
    assert added.returncode == 0, added.stderr  # the report is known; its links wait for a night
    for site in sites:
        site.requests.clear()
    workers = [worker_archive(tmp_path, f"worker{i}", pg_url, store) for i in range(3)]
    doomed = start_worker(workers[0])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and sum(len(page_requests(s)) for s in sites) < 4:
        time.sleep(0.05)
    others = [start_worker(archive) for archive in workers[1:]]
    time.sleep(0.5)
    os.killpg(doomed.pid, signal.SIGKILL)  # the worker and its extraction workers, mid-night
    doomed.communicate()
    outputs = [proc.communicate(timeout=120) for proc in others]
    assert [proc.returncode for proc in others] == [0, 0], [err for _, err in outputs]
    status = json.loads(archiver("status", "--json", archive=workers[1]).stdout)
    assert {row["verdict"] for row in status} == {"ok"}
    assert len(status) == len(urls)
    # Nothing recorded twice: one capture a link (a link the killed worker fetched but had not committed
    # was fetched again, so a page may have been asked for twice, never stored twice).
    import psycopg

    with psycopg.connect(pg_url) as conn:
        per_link = conn.execute(
            "SELECT link, COUNT(*) FROM captures WHERE memento_url IS NULL GROUP BY link"
        ).fetchall()
        runs = conn.execute("SELECT status FROM runs ORDER BY id").fetchall()
        taken_over = conn.execute("SELECT COUNT(*) FROM night_hosts WHERE claims > 1").fetchone()
    assert len(per_link) == len(urls)
    assert {count for _, count in per_link} == {1}
    assert taken_over is not None and taken_over[0] >= 1  # the killed worker's hosts, claimed again
    assert [status for (status,) in runs][-3:].count("completed") == 2
    # The killed worker's machine comes back: its next run cuts what was never committed and uploads the
    # rest, and every capture of the night reads from the bucket.
    back = archiver("run", "--allow-private", "--json", archive=workers[0])
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["uploads"]["failed"] == []
    assert list((workers[0] / "warc").glob("*.warc.gz")) == []
    out = tmp_path / "all.warc.gz"
    assert archiver("export", "--format", "warc", "-o", str(out), archive=workers[2]).returncode == 0
    assert {r[2] for r in _records(out) if r[0] == "response"} == set(urls)
    assert_polite(sites)


def test_captures_go_to_the_bucket_and_every_command_reads_them_from_another_machine(
    sites: list[fixture_server.Server], tmp_path: Path, pg_url: str, bucket: str, s3_server: S3Server
) -> None:
    report, urls = slow_report(tmp_path, sites[:2])
    store = f'store = "s3://{bucket}/night"\n'
    workers = [worker_archive(tmp_path, f"worker{i}", pg_url, store) for i in range(2)]
    procs = [start_worker(archive, str(report)) for archive in workers]
    outputs = [proc.communicate(timeout=120) for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], [err for _, err in outputs]
    uploads = [json.loads(out)["uploads"] for out, _ in outputs]
    assert all(u["failed"] == [] and u["store"] == f"s3://{bucket}/night" for u in uploads)
    # Uploaded and confirmed, then deleted from the workers' directories; the texts stay there too.
    assert [list((w / "warc").glob("*.warc.gz")) for w in workers] == [[], []]
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(k.startswith("night/warc/") and k.endswith(".warc.gz") for k in keys)
    assert any(k.startswith("night/text/") for k in keys)
    # Another machine: a directory with nothing in it but its archiver.toml.
    reader = worker_archive(tmp_path, "analyst", pg_url, store)
    check = archiver("check", "shared", "1", "--json", archive=reader)
    assert check.returncode == 0, check.stderr
    link = json.loads(check.stdout)["urls"][0]
    assert "Minsk" in link["archived_text"] or len(link["archived_text"]) > 200
    assert link["captures"][0]["warc_location"].startswith(f"s3://{bucket}/night/warc/")
    exported = archiver("export", "--format", "warc", "--output", str(tmp_path / "all.warc.gz"), archive=reader)
    assert exported.returncode == 0, exported.stderr
    from warcio.archiveiterator import ArchiveIterator

    with (tmp_path / "all.warc.gz").open("rb") as warc:
        responses = {
            r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(warc) if r.rec_type == "response"
        }
    assert responses == set(urls)


def test_a_failed_upload_is_tried_again_by_the_next_run(
    sites: list[fixture_server.Server], tmp_path: Path, pg_url: str, bucket: str, s3_server: S3Server
) -> None:
    report, _urls = slow_report(tmp_path, sites[:1])
    worker = worker_archive(tmp_path, "worker", pg_url, f'store = "s3://{bucket}-not-yet/night"\n')
    first = archiver("run", str(report), "--allow-private", "--json", archive=worker)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["uploads"]["failed"]  # no such bucket: nothing lost, all kept here
    kept = sorted(p.name for p in (worker / "warc").glob("*.warc.gz"))
    assert kept
    analyst = worker_archive(tmp_path, "analyst", pg_url, f'store = "s3://{bucket}-not-yet/night"\n')
    waiting = archiver("check", "shared", "1", archive=analyst)
    assert "still on the worker" in waiting.stdout
    s3_server.client().create_bucket(Bucket=f"{bucket}-not-yet")
    second = archiver("run", "--allow-private", "--json", archive=worker)
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["uploads"]["failed"] == []
    assert list((worker / "warc").glob("*.warc.gz")) == []
    objects = s3_server.client().list_objects_v2(Bucket=f"{bucket}-not-yet")["Contents"]
    assert {f"night/warc/{name}" for name in kept} <= {o["Key"] for o in objects}
    check = archiver("check", "shared", "1", "--json", archive=analyst)
    assert json.loads(check.stdout)["urls"][0]["archived_text"]


def _records(path: Path) -> list[tuple[str, str | None, str | None, str | None]]:
    """The records of an exported WARC: those stored at capture time by their ids; the conversion records
    (the texts, written at each export with new ids) by what they hold."""
    from warcio.archiveiterator import ArchiveIterator

    records = []
    with path.open("rb") as warc:
        for r in ArchiveIterator(warc):
            if r.rec_type == "warcinfo":
                continue
            stored = r.rec_type != "conversion"
            records.append(
                (
                    r.rec_type,
                    r.rec_headers.get_header("WARC-Record-ID") if stored else None,
                    r.rec_headers.get_header("WARC-Target-URI"),
                    r.rec_headers.get_header("WARC-Payload-Digest")
                    if stored
                    else r.rec_headers.get_header("WARC-Block-Digest"),
                )
            )
    return sorted(records, key=repr)


@pytest.mark.sqlite_catalog  # it moves a SQLite archive
def test_migrate_moves_an_archive_and_every_command_reads_the_same(
    web: fixture_server.Server, tmp_path: Path, pg_url: str, bucket: str
) -> None:
    from .helpers import make_archive

    local = make_archive(tmp_path / "local")  # a one-machine archive (SQLite), two nights old
    urls = [web.url(p) for p in ("/article", "/gzip", "/cp1251", "/pdf", "/status/404", "/redirect/2")]
    report = write_report(tmp_path, urls, "moving")
    for _ in range(2):
        assert archiver("run", str(report), "--allow-private", archive=local).returncode == 0
    before = archiver("status", "--json", archive=local).stdout
    assert archiver("export", "--format", "warc", "-o", str(tmp_path / "before.warc.gz"), archive=local).returncode == 0

    moved = archiver("migrate", "--to", pg_url, "--store", f"s3://{bucket}/moved", "--json", archive=local)
    assert moved.returncode == 0, moved.stderr
    answer = json.loads(moved.stdout)
    assert answer["verified"] and answer["problems"] == []
    assert answer["tables"]["links"] == {"source": len(urls), "target": len(urls)}
    assert answer["objects"]["warc"] >= 1 and answer["objects"]["text"] >= 3
    again = archiver("migrate", "--to", pg_url, "--store", f"s3://{bucket}/moved", "--json", archive=local)
    assert again.returncode == 0 and json.loads(again.stdout)["tables"] == answer["tables"]  # nothing twice

    elsewhere = worker_archive(tmp_path, "elsewhere", pg_url, f'store = "s3://{bucket}/moved"\n')
    after = archiver("status", "--json", archive=elsewhere)
    assert after.returncode == 0, after.stderr
    assert json.loads(after.stdout) == json.loads(before)
    out = tmp_path / "after.warc.gz"
    assert archiver("export", "--format", "warc", "-o", str(out), archive=elsewhere).returncode == 0
    assert _records(out) == _records(tmp_path / "before.warc.gz")
    check = archiver("check", "moving", "1", "--json", archive=elsewhere)
    assert json.loads(check.stdout)["urls"][0]["archived_text"]
    # The shared catalog goes on from there: a night in it adds to the moved history.
    night = archiver("run", "--allow-private", "--json", archive=elsewhere)
    assert night.returncode == 0, night.stderr
    assert json.loads(night.stdout)["links"]["checked"] == len(urls)


HIDE = """
import sys
for name in sys.argv[1].split(","):
    sys.modules[name] = None  # as if the shared extra were not installed
sys.argv = ["archiver", *sys.argv[2:]]
from archiver.cli import main
main()
"""


@pytest.mark.parametrize(
    ("hidden", "args", "message"),
    [
        ("psycopg", ["status", "--catalog", "postgresql://u:secret@db.example/archive"], "a PostgreSQL catalog"),
        ("psycopg", ["run", "--catalog", "postgresql://u:secret@db.example/archive"], "a PostgreSQL catalog"),
        ("boto3", ["run", "--store", "s3://bucket/night"], "S3 storage"),
        ("boto3", ["migrate", "--to", "postgresql://u@db.example/a", "--store", "s3://b/p"], "S3 storage"),
    ],
)
def test_without_the_shared_extra_a_command_says_so_in_one_line(
    tmp_path: Path, hidden: str, args: list[str], message: str
) -> None:
    (tmp_path / "archive").mkdir()
    result = subprocess.run(
        [sys.executable, "-c", HIDE, hidden, *args, "--archive", str(tmp_path / "archive")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == f"archiver: error: {message} needs the shared extra: pip install 'archiver[shared]'"
    assert "secret" not in result.stderr + result.stdout
    assert not (tmp_path / "archive" / "catalog.sqlite").exists()  # nothing half-made in the default's place


def test_the_catalogs_password_is_never_printed(tmp_path: Path) -> None:
    """A catalog that cannot be reached: the error names it without its password."""
    (tmp_path / "archive").mkdir()
    url = "postgresql://archivist:hunter2@127.0.0.1:9/archive?connect_timeout=2"
    for args in (["status"], ["run", "--allow-private"], ["check", "r", "1"]):
        result = archiver(*args, "--catalog", url, archive=tmp_path / "archive")
        assert result.returncode == 1, result.stderr
        assert "hunter2" not in result.stderr + result.stdout
        assert "postgresql://archivist:***@127.0.0.1:9/archive" in result.stderr


def test_a_worker_lost_for_good_is_forgotten_and_its_links_captured_again(
    sites: list[fixture_server.Server], tmp_path: Path, pg_url: str, bucket: str
) -> None:
    import shutil
    import socket

    report, urls = slow_report(tmp_path, sites[:1])
    lost = worker_archive(tmp_path, "lost", pg_url, f'store = "s3://{bucket}-gone/night"\n')
    assert archiver("run", str(report), "--allow-private", archive=lost).returncode == 0  # nothing uploaded
    shutil.rmtree(lost)  # the machine and its disk are gone
    other = worker_archive(tmp_path, "other", pg_url, f'store = "s3://{bucket}/night"\n')
    forgot = archiver("forget-worker", socket.gethostname(), "--json", archive=other)
    assert forgot.returncode == 0, forgot.stderr
    answer = json.loads(forgot.stdout)
    assert answer["lost_warc_files"] and answer["links_to_capture_again"] == len(urls)
    night = archiver("run", "--allow-private", "--json", archive=other)
    assert night.returncode == 0, night.stderr
    assert json.loads(night.stdout)["uploads"]["failed"] == []
    check = json.loads(archiver("check", "shared", "1", "--json", archive=other).stdout)["urls"][0]
    assert check["verdict"] == "ok" and check["archived_text"]
    assert check["captures"][-1]["warc_location"].startswith(f"s3://{bucket}/night/warc/")
    again = json.loads(archiver("forget-worker", socket.gethostname(), "--json", archive=other).stdout)
    assert again["lost_warc_files"] == []  # the new captures are in the bucket: nothing more to forget


class _ForwardProxy:
    """An HTTP proxy on 127.0.0.1 for plain-http absolute-URI requests: it forwards each to its target
    (a name of `hosts` to the address given there) and records the hosts it was asked for."""

    def __init__(self, hosts: dict[str, tuple[str, int]]) -> None:
        import http.client
        import http.server
        import threading
        from urllib.parse import urlsplit

        asked: list[str] = []
        self.asked = asked

        class Handler(http.server.BaseHTTPRequestHandler):
            def _relay(self) -> None:
                target = urlsplit(self.path)
                asked.append(target.hostname or "")
                host, port = hosts.get(target.hostname or "", (target.hostname or "", target.port or 80))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                upstream = http.client.HTTPConnection(host, port, timeout=30)
                path = target.path + (f"?{target.query}" if target.query else "")
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("proxy-connection", "host")}
                headers["Host"] = f"{host}:{port}"  # moto reads the bucket from a host name it knows
                upstream.request(self.command, path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                length = answer.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                upstream.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _relay

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_the_bucket_is_reached_through_the_runs_proxy(
    sites: list[fixture_server.Server], tmp_path: Path, pg_url: str, bucket: str, s3_server: S3Server
) -> None:
    """boto3 takes the run's --proxy: the store's host name exists only through the proxy."""
    from urllib.parse import urlsplit

    moto = urlsplit(s3_server.endpoint)
    proxy = _ForwardProxy({"s3.invalid": (moto.hostname or "", moto.port or 80)})
    try:
        report, _urls = slow_report(tmp_path, sites[:1])
        worker = worker_archive(tmp_path, "worker", pg_url, f'store = "s3://{bucket}/night"\n')
        config = tmp_path / "aws-config"  # path-style: the bucket in the path, not in the host name
        config.write_text("[default]\ns3 =\n  addressing_style = path\n")
        env = {"AWS_ENDPOINT_URL": "http://s3.invalid", "AWS_CONFIG_FILE": str(config)}
        result = archiver(
            "run",
            str(report),
            "--allow-private",
            "--json",
            "--proxy",
            f"http://127.0.0.1:{proxy.port}",
            archive=worker,
            env=env,
        )
    finally:
        proxy.stop()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["uploads"]["failed"] == []
    assert "s3.invalid" in proxy.asked
    keys = [o["Key"] for o in s3_server.client().list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(k.startswith("night/warc/") for k in keys)
