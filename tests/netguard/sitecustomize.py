"""Loaded by every Python process the tests start (tests/conftest.py puts this folder on PYTHONPATH),
and installed in the pytest process itself: no name lookup and no connection leaves this machine.

A lookup of a name other than localhost, or a connection to an address outside 127.0.0.0/8 and ::1,
is refused as the offline machine would refuse it (no such name, connection refused) and written to
the file named by ARCHIVER_TEST_NETLOG; the test during which it happened then fails.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_real_getaddrinfo = socket.getaddrinfo
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def _loopback(host: str) -> bool:
    host = host.strip("[]").split("%", 1)[0].rstrip(".").lower()
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)


def _record(what: str) -> None:
    log = os.environ.get("ARCHIVER_TEST_NETLOG")
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(f"{os.getpid()} {what}\n")


def _numeric(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def _getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host is not None:
        name = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
        if not _loopback(name) and not _numeric(name):  # a numeric address is no lookup: connect() decides
            _record(f"resolve {name}")
            raise socket.gaierror(socket.EAI_NONAME, f"tests never touch the internet ({name})")
    return _real_getaddrinfo(host, *args, **kwargs)


def _target(sock: socket.socket, address: Any) -> str | None:
    """The host a connect() goes to, when it is an internet address that is not this machine."""
    if sock.family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) and address:
        host = str(address[0])
        return None if _loopback(host) else host
    return None


def _connect(self: socket.socket, address: Any) -> None:
    host = _target(self, address)
    if host is not None:
        _record(f"connect {host}")
        raise ConnectionRefusedError(111, f"tests never touch the internet ({host})")
    _real_connect(self, address)


def _connect_ex(self: socket.socket, address: Any) -> int:
    host = _target(self, address)
    if host is not None:
        _record(f"connect {host}")
        return 111
    return _real_connect_ex(self, address)


def install() -> None:
    socket.getaddrinfo = _getaddrinfo  # type: ignore[assignment]
    socket.socket.connect = _connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _connect_ex  # type: ignore[method-assign]


if os.environ.get("ARCHIVER_TEST_NETLOG"):
    install()
