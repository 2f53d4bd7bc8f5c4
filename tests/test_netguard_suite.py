"""The suite's own guard: no process it starts resolves a name or connects outside this machine."""

from __future__ import annotations

import subprocess
import sys

from .conftest import NETLOG

PROBE = """
import socket
for what in (lambda: socket.getaddrinfo("example.org", 80), lambda: socket.create_connection(("93.184.215.14", 80), 1)):
    try:
        what()
        print("reached")
    except OSError as exc:
        print(type(exc).__name__)
socket.create_connection(("127.0.0.1", 9), 1) if False else None
print(socket.getaddrinfo("localhost", 80)[0][4][0] in ("127.0.0.1", "::1"))
"""


def test_a_subprocess_can_neither_resolve_nor_connect_outside_and_is_caught() -> None:
    start = NETLOG.stat().st_size
    try:
        result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
        assert result.stdout.split() == ["gaierror", "ConnectionRefusedError", "True"], result.stderr
        with NETLOG.open(encoding="utf-8") as log:
            log.seek(start)
            caught = log.read()
        assert "resolve example.org" in caught and "connect 93.184.215.14" in caught
    finally:
        with NETLOG.open("r+", encoding="utf-8") as log:
            log.truncate(start)  # what this test provoked on purpose does not fail it
