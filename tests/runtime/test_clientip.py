"""Client IP and trusted-proxy detection, as Caddy's server computes them."""

from __future__ import annotations

import ipaddress

from multidict import CIMultiDict

from rpc.runtime.clientip import client_ip, parse_ip

PRIVATE = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))
XFF = ("X-Forwarded-For",)


def headers(*pairs: tuple[str, str]) -> CIMultiDict[str]:
    return CIMultiDict(pairs)


def test_parse_ip_tolerates_ports_brackets_and_zones() -> None:
    assert str(parse_ip(" 1.2.3.4:80")) == "1.2.3.4"
    assert str(parse_ip("[::1]:443")) == "::1"
    assert str(parse_ip("fe80::1%eth0")) == "fe80::1"
    assert parse_ip("not-an-ip") is None
    assert parse_ip("[::1") is None


def test_untrusted_peer_is_the_client_whatever_it_claims() -> None:
    h = headers(("X-Forwarded-For", "6.6.6.6"))
    assert client_ip("192.0.2.1", h, PRIVATE, XFF, False) == (False, "192.0.2.1")
    assert client_ip("192.0.2.1", h, (), XFF, False) == (False, "192.0.2.1")


def test_trusted_peer_gives_left_most_valid_ip_across_header_values() -> None:
    h = headers(("X-Forwarded-For", "garbage, 7.7.7.7:1234"), ("X-Forwarded-For", "10.1.1.1"))
    assert client_ip("10.0.0.2", h, PRIVATE, XFF, False) == (True, "7.7.7.7")


def test_trusted_peer_without_header_is_the_client() -> None:
    assert client_ip("10.0.0.2", headers(), PRIVATE, XFF, False) == (True, "10.0.0.2")
    bad = headers(("X-Forwarded-For", "nope"))
    assert client_ip("10.0.0.2", bad, PRIVATE, XFF, False) == (True, "10.0.0.2")


def test_strict_mode_takes_right_most_untrusted() -> None:
    h = headers(("X-Forwarded-For", "1.1.1.1, 2.2.2.2, 10.0.0.9"))
    assert client_ip("10.0.0.2", h, PRIVATE, XFF, True) == (True, "2.2.2.2")
    only_trusted = headers(("X-Forwarded-For", "10.0.0.7"))
    assert client_ip("10.0.0.2", only_trusted, PRIVATE, XFF, True) == (True, "10.0.0.2")


def test_configured_headers_are_read_in_order() -> None:
    h = headers(("CF-Connecting-IP", "5.5.5.5"), ("X-Forwarded-For", "4.4.4.4"))
    names = ("CF-Connecting-IP", "X-Forwarded-For")
    assert client_ip("10.0.0.2", h, PRIVATE, names, False) == (True, "5.5.5.5")


def test_ipv4_mapped_peer_is_unmapped_and_versions_do_not_mix() -> None:
    assert client_ip("::ffff:10.0.0.2", headers(), PRIVATE, XFF, False) == (True, "10.0.0.2")
    h = headers(("X-Forwarded-For", "::ffff:10.0.0.3, 3.3.3.3"))
    # A 4-in-6 address is not in an IPv4 range (Go's netip), so strict mode stops on it.
    assert client_ip("10.0.0.2", h, PRIVATE, XFF, True) == (True, "3.3.3.3")
    assert client_ip("", headers(), PRIVATE, XFF, False) == (False, "")
