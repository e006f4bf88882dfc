"""Headers sent upstream: hop-by-hop stripping, X-Forwarded-*, Via (Caddy 2.11)."""

from __future__ import annotations

import ipaddress

from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from rpc.runtime.context import Ctx
from rpc.runtime.forwarding import forwarded_headers, strip_response_hop_by_hop, upgrade_type


def ctx(headers: list[tuple[str, str]], peer: str = "10.1.2.3") -> Ctx:
    h = CIMultiDict([("Host", "site.example:8443"), *headers])
    c = Ctx(make_mocked_request("GET", "/", headers=h))
    c.remote_ip = peer
    return c


def test_untrusted_peer_replaces_forwarding_headers() -> None:
    c = ctx(
        [
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "evil"),
            ("Via", "1.0 other"),
        ]
    )
    out = forwarded_headers(c, (), "")
    assert out["X-Forwarded-For"] == "10.1.2.3"
    assert out["X-Forwarded-Proto"] == "http"
    assert out["X-Forwarded-Host"] == "site.example:8443"
    assert out.getall("Via") == ["1.0 other", "1.1 Caddy"]
    assert "Host" not in out


def test_trusted_peer_appends_and_keeps_last_values() -> None:
    c = ctx(
        [
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Forwarded-For", "7.7.7.7, 8.8.8.8"),
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "orig.example"),
        ]
    )
    out = forwarded_headers(c, (ipaddress.ip_network("10.0.0.0/8"),), "")
    assert out["X-Forwarded-For"] == "6.6.6.6, 7.7.7.7, 8.8.8.8, 10.1.2.3"
    assert out["X-Forwarded-Proto"] == "https"
    assert out["X-Forwarded-Host"] == "orig.example"
    c2 = ctx([("X-Forwarded-For", "6.6.6.6")])
    c2.trusted_proxy = True  # the server's trusted_proxies count too
    assert forwarded_headers(c2, (), "")["X-Forwarded-For"] == "6.6.6.6, 10.1.2.3"


def test_hop_by_hop_and_connection_listed_fields_are_dropped() -> None:
    c = ctx(
        [
            ("Connection", "X-Private, keep-alive"),
            ("X-Private", "1"),
            ("Keep-Alive", "300"),
            ("Proxy-Authorization", "x"),
            ("Te", "gzip, trailers"),
            ("Trailer", "X"),
            ("Upgrade", "h2c"),
            ("x-lower", "kept"),
            ("Content-Length", "5"),
        ]
    )
    out = forwarded_headers(c, (), "")
    for gone in ("Connection", "X-Private", "Keep-Alive", "Proxy-Authorization", "Trailer"):
        assert gone not in out
    assert "Upgrade" not in out and "Content-Length" not in out
    assert out["Te"] == "trailers"
    assert ("X-Lower", "kept") in list(out.items())  # Go's canonical names


def test_upgrade_requests_keep_their_upgrade() -> None:
    c = ctx([("Connection", "keep-alive, Upgrade"), ("Upgrade", "WebSocket")])
    kind = upgrade_type(c.headers)
    assert kind == "websocket"
    out = forwarded_headers(c, (), kind)
    assert out["Connection"] == "Upgrade" and out["Upgrade"] == "websocket"


def test_response_hop_by_hop() -> None:
    pairs = [("Connection", "X-A"), ("X-A", "1"), ("Keep-Alive", "t"), ("X-B", "2")]
    assert strip_response_hop_by_hop(pairs) == [("X-B", "2")]
