"""Shared fixtures, each defined once: the local web server (and one with TLS and a test CA), an
archive, the CLI runner and the report writer; a clean network environment; golden-file updating.

A module's tests share one web server unless the module sets FRESH_WEB = True (then each test gets
a server of its own: for tests that count requests or keep state in the fake web archive)."""

from __future__ import annotations

import importlib.util
import os
import ssl
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from hypothesis import settings

from . import helpers
from . import server as fixture_server
from .sharedservers import bucket, pg_server, pg_url, s3_server

__all__ = ["bucket", "pg_server", "pg_url", "s3_server"]  # fixtures for the shared setup's tests

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "examples" / "000_c1b9237a46e35f67.txt"

_NETWORK_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "ARCHIVER_ARCHIVE",
    "ARCHIVER_CATALOG",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="Rewrite golden files from the current output.")
    parser.addoption(
        "--catalog",
        choices=("sqlite", "postgresql"),
        default="sqlite",
        help="postgresql: every archive a test makes gets a catalog on a local PostgreSQL server.",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--catalog") != "postgresql":
        return
    skip = pytest.mark.skip(reason="reads, rewrites or copies ARCHIVE/catalog.sqlite itself: SQLite's own test")
    for item in items:
        if "sqlite_catalog" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def catalog_engine(request: pytest.FixtureRequest) -> Iterator[str]:
    """`--catalog postgresql` runs the suite's archives on the shared setup's catalog."""
    engine = str(request.config.getoption("--catalog"))
    if engine == "postgresql":
        server = request.getfixturevalue("pg_server")
        helpers.new_catalog = server.new_database
    yield engine
    helpers.new_catalog = None


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's proxy, certificate or archive settings (as httpx's tests do)."""
    for name in _NETWORK_VARIABLES:
        monkeypatch.delenv(name, raising=False)


# Hypothesis writes no .hypothesis/ database into the checkout, and no deadline makes a property test
# flaky on a loaded machine (a property is about the answer, not the time; bench/ measures time).
settings.register_profile("archiver", database=None, deadline=None)
settings.load_profile("archiver")

# No process of the suite leaves this machine: the guard is on PYTHONPATH for every Python process the
# tests start (the CLI, its workers, apprise) and installed here for the pytest process itself.
GUARD = Path(__file__).resolve().parent / "netguard"
NETLOG = Path(tempfile.mkstemp(prefix="archiver-tests-netlog-")[1])
os.environ["ARCHIVER_TEST_NETLOG"] = str(NETLOG)
os.environ["PYTHONPATH"] = os.pathsep.join([str(GUARD), *filter(None, [os.environ.get("PYTHONPATH")])])
_guard_spec = importlib.util.spec_from_file_location("archiver_test_netguard", GUARD / "sitecustomize.py")
assert _guard_spec is not None and _guard_spec.loader is not None
_guard = importlib.util.module_from_spec(_guard_spec)
_guard_spec.loader.exec_module(_guard)


@pytest.fixture(autouse=True)
def no_internet() -> Iterator[None]:
    """Fails the test during which any process of the suite looked up a name or connected outside
    127.0.0.0/8 and ::1 (tests/netguard/sitecustomize.py refuses it and writes it down)."""
    start = NETLOG.stat().st_size
    yield
    with NETLOG.open(encoding="utf-8") as log:
        log.seek(start)
        reached = log.read().strip()
    if reached:
        pytest.fail(f"the test reached outside this machine (tests never touch the internet):\n{reached}")


@pytest.fixture
def update_goldens(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-goldens"))


@pytest.fixture(scope="module")
def module_web() -> Iterator[fixture_server.Server]:
    """The web server a module's tests share."""
    state, stop = fixture_server.start()
    yield state
    stop()


@pytest.fixture
def web(request: pytest.FixtureRequest) -> Iterator[fixture_server.Server]:
    """A real HTTP server on 127.0.0.1 with a route per misbehaviour (tests/server.py)."""
    if getattr(request.module, "FRESH_WEB", False):
        state, stop = fixture_server.start()
        yield state
        stop()
    else:
        yield request.getfixturevalue("module_web")


@pytest.fixture(scope="module")
def tls_web() -> Iterator[tuple[fixture_server.Server, trustme.CA]]:
    """The same server over TLS, its certificate issued by a test CA (trustme) for 127.0.0.1 and localhost."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    state, stop = fixture_server.start(context)
    yield state, ca
    stop()


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """A new archive directory with fast test settings (helpers.FAST) in its archiver.toml."""
    return helpers.make_archive(tmp_path)


@pytest.fixture
def run_cli() -> Callable[..., Any]:
    """The program run as a user runs it: helpers.archiver(*args, archive=..., env=..., cwd=...)."""
    return helpers.archiver


@pytest.fixture
def report_writer() -> Callable[..., Path]:
    """helpers.write_report(directory, urls, name, title=..., published=..., defang=...)."""
    return helpers.write_report
