"""Shared fixtures, each defined once: the local web server (and one with TLS and a test CA), an
archive, the CLI runner and the report writer; a clean network environment; golden-file updating.

A module's tests share one web server unless the module sets FRESH_WEB = True (then each test gets
a server of its own: for tests that count requests or keep state in the fake web archive)."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from . import helpers
from . import server as fixture_server

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
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", help="Rewrite golden files from the current output.")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's proxy, certificate or archive settings (as httpx's tests do)."""
    for name in _NETWORK_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never touch the internet: any name lookup other than this machine's fails, loudly."""
    real = socket.getaddrinfo

    def local_only(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in ("localhost", "127.0.0.1", "::1") and not name.replace(".", "").isdigit():
            raise AssertionError(f"a test tried to resolve {name!r}: tests never touch the internet")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local_only)


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
