"""The shared setup's servers for its tests. A real PostgreSQL server: Debian's binaries, a cluster made for the
session in a directory the `postgres` user can reach (initdb refuses to run as root), listening on a
Unix socket only; each test gets a database of its own. An S3 server on 127.0.0.1 (moto's server mode);
each test gets a bucket of its own."""

from __future__ import annotations

import itertools
import os
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from bench.pgcluster import PgServer, postgres_bin, running_postgres


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL; a test that needs one is skipped, with the reason, where there is none."""
    bindir = postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; .ci/run does it)")
    pytest.importorskip("psycopg", reason="the shared extra is not installed: pip install '.[shared]'")
    with running_postgres(bindir, fsync=False) as server:
        yield server


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh database on the session's server."""
    return pg_server.new_database()


@dataclass
class S3Server:
    endpoint: str

    @property
    def env(self) -> dict[str, str]:
        """What a worker's environment says of the bucket's server (the standard AWS settings)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def client(self) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """An S3 server on 127.0.0.1: moto's server mode."""
    pytest.importorskip("moto.server", reason="moto is the test extra's: pip install '.[test]'")
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        server.stop()


@pytest.fixture
def bucket(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new bucket; the test's processes (and this one) reach it through the AWS settings."""
    name = f"archive-{os.getpid()}-{next(_BUCKETS)}"
    s3_server.client().create_bucket(Bucket=name)
    for key, value in s3_server.env.items():
        monkeypatch.setenv(key, value)
    return name


_BUCKETS = itertools.count()
