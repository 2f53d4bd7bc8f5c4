"""Every way of writing a non-public address is refused."""

from __future__ import annotations

import pytest

from archiver.fetching.netguard import is_public, parse_address, refusal


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",
        "2130706433",
        "0x7f000001",
        "0x7f.1",
        "0177.0.0.1",
        "017700000001",
        "0",
        "0.0.0.0",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "[::1]",
        "::1",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "[fe80::1%25eth0]",
        "[fc00::1]",
        "[64:ff9b::a00:1]",
        "[2002:c0a8:101::1]",
        "localhost",
        "LOCALHOST.",
        "api.localhost",
        "ip6-localhost",
        "224.0.0.1",
        "255.255.255.255",
    ],
)
def test_refused(host: str) -> None:
    assert refusal(host) is not None


@pytest.mark.parametrize(
    "host",
    [
        "8.8.8.8",
        "93.184.216.34",
        "[2606:4700::1111]",
        "example.com",
        "kremlin.ru",
        "t.me",
        "1.1.1.1",
        "localhost.example.com",
    ],
)
def test_allowed(host: str) -> None:
    assert refusal(host) is None


def test_parse_address_notations() -> None:
    assert str(parse_address("2130706433")) == "127.0.0.1"
    assert str(parse_address("0x7f.1")) == "127.0.0.1"
    assert str(parse_address("0177.0.0.01")) == "127.0.0.1"
    assert str(parse_address("[::ffff:127.0.0.1]")) == "::ffff:7f00:1"
    assert parse_address("example.com") is None
    assert parse_address("999.1.1.1") is None  # not an address: a (bad) name
    assert parse_address("1e100.net") is None


def test_mapped_and_translated_addresses_follow_their_ipv4() -> None:
    mapped = parse_address("::ffff:8.8.8.8")
    assert mapped is not None and is_public(mapped)
    nat64 = parse_address("64:ff9b::808:808")
    assert nat64 is not None and is_public(nat64)
