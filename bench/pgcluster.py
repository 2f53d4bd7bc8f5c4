"""A PostgreSQL server of its own for the shared setup's benchmark and tests: Debian's binaries, a
cluster made in a directory the `postgres` user can reach (initdb refuses to run as root), listening
on a Unix socket only. Each caller makes the databases it needs."""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL's bin directory, or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


@dataclass
class PgServer:
    socket_dir: Path
    user: str
    pid: int
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@/{database}?host={self.socket_dir}"

    def new_database(self) -> str:
        """A new, empty database; its URL."""
        name = f"archiver_{os.getpid()}_{next(self.counter)}"
        self.sql("postgres", f"CREATE DATABASE {name}")
        return self.url(name)

    def sql(self, database: str, statement: str) -> None:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True) as conn:
            conn.execute(statement.encode())


def _as_postgres(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@contextlib.contextmanager
def running_postgres(bindir: Path, *, fsync: bool = True) -> Iterator[PgServer]:
    """A new cluster, started; stopped and removed at the end. fsync=False: for tests only."""
    # Not under pytest's tmp root (0700, root's): the postgres user must reach the cluster's directory.
    root = Path(tempfile.mkdtemp(prefix="archiver-pg-", dir="/tmp"))
    root.chmod(0o755)
    data, sockets = root / "data", root / "sockets"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    user = "postgres" if os.geteuid() == 0 else os.environ.get("USER", "postgres")
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", user, "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    settings = ["-c", "listen_addresses=", "-c", "max_connections=200", "-c", f"fsync={'on' if fsync else 'off'}"]
    log = (root / "server.log").open("wb")
    server = subprocess.Popen(
        _as_postgres([str(bindir / "postgres"), "-D", str(data), "-k", str(sockets), *settings]),
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    pg = PgServer(sockets, user, server.pid)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                pg.sql("postgres", "SELECT 1")
                break
            except Exception:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((root / "server.log").read_text()) from None
                time.sleep(0.1)
        yield pg
    finally:
        server.terminate()
        server.wait(30)
        log.close()
        shutil.rmtree(root, ignore_errors=True)
