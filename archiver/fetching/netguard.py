"""May we connect to this address? Refuse loopback, private, link-local and other non-public ones."""

from __future__ import annotations

import ipaddress
import re
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_LOCAL_NAMES = {
    "localhost",
    "localhost.localdomain",
    "ip6-localhost",
    "ip6-loopback",
    "localhost6",
    "localhost6.localdomain6",
    "broadcasthost",
}
_IPV4_LIKE_RE = re.compile(r"^(?:0x[0-9a-f]+|[0-9]+)(?:\.(?:0x[0-9a-f]+|[0-9]+)){0,3}\.?$", re.IGNORECASE)


def parse_address(host: str) -> IPAddress | None:
    """The IP address a URL's host spells, in any notation, or None for a name.

    Knows what browsers and inet_aton accept: dotted, decimal ("2130706433"), hex
    ("0x7f.1"), octal ("0177.0.0.1") and shortened ("127.1") IPv4; IPv6 with or
    without brackets and a zone.
    """
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host.split("%", 1)[0])
        except ValueError:
            return None
    if _IPV4_LIKE_RE.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
        except OSError:
            return None
    return None


def is_local_name(host: str) -> bool:
    """Names that mean this machine whatever DNS says ("localhost", "x.localhost")."""
    name = host.strip().lower().rstrip(".")
    return name in _LOCAL_NAMES or name.endswith(".localhost")


# IPv6 ranges that carry or reach an IPv4 address, or are deprecated site-local, which
# ipaddress' is_global calls public: NAT64 local-use (RFC 8215) and site-local (RFC 3879).
_NOT_PUBLIC_V6 = (ipaddress.IPv6Network("64:ff9b:1::/48"), ipaddress.IPv6Network("fec0::/10"))
# IPv4-compatible (::a.b.c.d, RFC 4291, deprecated) and IPv4-translated (::ffff:0:a.b.c.d, RFC 2765).
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_V4_TRANSLATED = ipaddress.IPv6Network("::ffff:0:0:0/96")


def is_public(address: IPAddress) -> bool:
    """Whether an address is on the public internet (not loopback, private, link-local, reserved...)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            return is_public(embedded)
        if address in ipaddress.IPv6Network("64:ff9b::/96"):  # NAT64 carries an IPv4 address
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if any(address in network for network in _NOT_PUBLIC_V6):
            return False
        if address in _V4_COMPATIBLE or address in _V4_TRANSLATED:
            return False  # never routed on the internet; some stacks reach the embedded IPv4 address
    return address.is_global and not address.is_multicast


def refusal(host: str) -> str | None:
    """Why a URL's host may not be fetched without --allow-private, or None when it may (so far)."""
    if is_local_name(host):
        return f"{host} is a local name"
    address = parse_address(host)
    if address is not None and not is_public(address):
        return f"{host} is a non-public address ({address})"
    return None
