"""A SOCKS5 proxy on 127.0.0.1 (no authentication, CONNECT only) that records where it connected."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import struct
import threading
from types import TracebackType


class SocksServer:
    """Relays each CONNECT to its target; `targets` lists (host, port) in the order asked."""

    def __init__(self) -> None:
        self.targets: list[tuple[str, int]] = []
        outer = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                client: socket.socket = self.request
                client.settimeout(10)
                greeting = client.recv(2)
                client.recv(greeting[1])  # the methods offered
                client.sendall(b"\x05\x00")  # no authentication
                _version, _command, _, kind = client.recv(4)
                if kind == 1:
                    host = socket.inet_ntoa(client.recv(4))
                elif kind == 3:
                    host = client.recv(client.recv(1)[0]).decode("ascii")
                else:
                    host = socket.inet_ntop(socket.AF_INET6, client.recv(16))
                (port,) = struct.unpack("!H", client.recv(2))
                outer.targets.append((host, port))
                upstream = socket.create_connection((host, port), timeout=10)
                client.sendall(b"\x05\x00\x00\x01" + socket.inet_aton("127.0.0.1") + struct.pack("!H", port))
                relay(client, upstream)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> SocksServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._server.shutdown()
        self._server.server_close()


def relay(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways between two connected sockets until both sides are done; then close b."""

    def pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    other = threading.Thread(target=pump, args=(b, a), daemon=True)
    other.start()
    pump(a, b)
    other.join(10)
    b.close()
