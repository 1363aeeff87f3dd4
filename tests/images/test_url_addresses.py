"""URL checks and IPv6: an IPv6 address that wraps an internal IPv4 address (6to4, Teredo, NAT64,
IPv4-mapped or -compatible) reaches that IPv4 host through a relay or translator, so it is judged
by the address it wraps; site-local and local-use NAT64 addresses are internal by definition."""

from __future__ import annotations

import socket

import pytest

from images.pipeline.fetch import FetchError, check_url

WRAPPING_INTERNAL = {
    "6to4 of loopback": "2002:7f00:1::1",
    "6to4 of a private address": "2002:a00:1::1",
    "6to4 of the metadata address": "2002:a9fe:a9fe::1",
    "site-local": "fec0::1",
    "site-local, upper end": "feff:ffff::1",
    "Teredo with a loopback client": "2001:0:4136:e378:8000:63bf:80ff:fffe",
    "Teredo with a private server": "2001:0:a00:1:8000:63bf:3fff:fdd2",
    "NAT64 of loopback": "64:ff9b::7f00:1",
    "NAT64 of the metadata address": "64:ff9b::a9fe:a9fe",
    "NAT64 of a private address": "64:ff9b::c0a8:101",
    "local-use NAT64": "64:ff9b:1::a00:1",
    "local-use NAT64 of a public address": "64:ff9b:1:808:808::",
    "IPv4-mapped loopback": "::ffff:127.0.0.1",
    "IPv4-compatible private address": "::a00:1",
}


@pytest.mark.parametrize("address", WRAPPING_INTERNAL.values(), ids=WRAPPING_INTERNAL.keys())
def test_a_literal_ipv6_address_wrapping_an_internal_one_is_refused(address):
    with pytest.raises(FetchError, match="not allowed"):
        check_url(f"http://[{address}]/disk.qcow2")


@pytest.mark.parametrize("address", WRAPPING_INTERNAL.values(), ids=WRAPPING_INTERNAL.keys())
def test_a_name_resolving_to_such_an_address_is_refused(address, monkeypatch):
    def dns(host, port, *args, **kwargs):
        return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", dns)
    with pytest.raises(FetchError, match="not allowed"):
        check_url("http://images.example.test/disk.qcow2")


@pytest.mark.parametrize(
    "allowed, address",
    [
        ("2002::/16", "2002:7f00:1::1"),
        ("64:ff9b::/96", "64:ff9b::a9fe:a9fe"),
        ("2001::/32", "2001:0:4136:e378:8000:63bf:80ff:fffe"),
    ],
)
def test_allowing_a_relay_prefix_does_not_let_an_internal_ipv4_address_through(allowed, address, settings):
    settings.IMAGE_IMPORT_ALLOWED_NETWORKS = [allowed]
    with pytest.raises(FetchError, match="not allowed"):
        check_url(f"http://[{address}]/disk.qcow2")


def test_a_wrapped_address_is_allowed_when_the_operator_allows_the_ipv4_network(settings):
    settings.IMAGE_IMPORT_ALLOWED_NETWORKS = ["10.0.0.0/8"]
    assert check_url("http://[64:ff9b::a00:1]/disk.qcow2").address == "64:ff9b::a00:1"


@pytest.mark.parametrize(
    "address",
    [
        "2606:4700:4700::1111",  # a global unicast address
        "2002:808:808::1",  # 6to4 of a public address
        "64:ff9b::808:808",  # NAT64 (DNS64) of a public address, as an IPv6-only network sees it
    ],
)
def test_public_addresses_stay_allowed(address):
    assert check_url(f"http://[{address}]/disk.qcow2").address == address
