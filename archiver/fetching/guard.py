"""The address guard at connect time: resolve names ourselves, refuse non-public addresses, connect to
the address we checked (what stops DNS rebinding). Through a proxy the proxy resolves names, so
only literal addresses are checked, before the request (Fetcher._precheck)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import httpcore

from archiver.fetching.netguard import is_local_name, is_public, parse_address
from archiver.outcomes import Failure

Resolver = Callable[[str, int], Awaitable[list[str]]]


class Refused(httpcore.ConnectError):
    """A connection we would not make, or a name that did not resolve (carries its Failure)."""

    def __init__(self, failure: Failure, detail: str) -> None:
        super().__init__(detail)
        self.failure = failure


async def system_resolve(host: str, port: int) -> list[str]:
    """The addresses a name resolves to, by the system resolver."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolve names ourselves, refuse non-public addresses, then connect to the checked address.

    Checking at connect time (not before the request) is what stops DNS rebinding:
    the address we check is the address we connect to.
    """

    def __init__(self, inner: httpcore.AsyncNetworkBackend, resolve: Resolver, allow_private: bool) -> None:
        self._inner = inner
        self._resolve = resolve
        self._allow_private = allow_private

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        literal = parse_address(host)
        if literal is not None:
            addresses = [str(literal)]
        else:
            if is_local_name(host) and not self._allow_private:
                raise Refused(Failure.PRIVATE, f"{host} is a local name")
            try:
                addresses = await asyncio.wait_for(self._resolve(host, port), timeout)
            except socket.gaierror as exc:
                if exc.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
                    raise Refused(Failure.DNS, f"no such domain: {host} (NXDOMAIN)") from exc
                raise Refused(Failure.DNS_TEMPORARY, f"cannot resolve {host}: {exc.strerror}") from exc
            except TimeoutError as exc:
                raise Refused(Failure.DNS_TEMPORARY, f"resolving {host} timed out") from exc
        if not self._allow_private:
            for address in addresses:
                parsed = parse_address(address)
                if parsed is None or not is_public(parsed):
                    raise Refused(Failure.PRIVATE, f"{host} resolves to a non-public address ({address})")
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or Refused(Failure.DNS, f"no address for {host}")

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        raise Refused(Failure.PRIVATE, "unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
