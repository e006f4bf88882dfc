"""The client IP of a request, as Caddy's server computes it (`server.go` determineTrustedProxy).

Input: the peer address, the request headers and the server's
`trusted_proxies` / `client_ip_headers` / `trusted_proxies_strict`; output:
whether the peer is a trusted proxy and the client IP. The server stores
both on the context before any route runs: `ctx.client_ip`, and
`ctx.trusted_proxy` (also `ctx.vars["trusted_proxy"]`, Caddy's
`TrustedProxyVarKey`), which the reverse proxy reads to decide whether to
keep incoming `X-Forwarded-*`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from multidict import CIMultiDictProxy, MultiMapping

from rpc.runtime.app import IPNetwork

__all__ = ["TRUSTED_PROXY_VAR", "client_ip", "parse_ip", "trusted"]

# Key in ctx.vars: True when the peer is in the server's trusted_proxies.
TRUSTED_PROXY_VAR = "trusted_proxy"

_Addr = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_ip(text: str) -> _Addr | None:
    """An IP address from `text`, tolerating a port and an IPv6 zone; None if invalid."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        text = text[1:end]
    elif text.count(":") == 1:
        text = text.partition(":")[0]  # IPv4 with a port
    text = text.partition("%")[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


# Peer address text -> (parsed and unmapped address or None, its text): the peer of every
# request on a connection is the same, and ipaddress parsing is a few µs. Bounded.
_PEERS: dict[str, tuple[_Addr | None, str]] = {}
PEER_CACHE_SIZE = 4096


def _peer(peer_ip: str) -> tuple[_Addr | None, str]:
    addr = parse_ip(peer_ip)
    if addr is None:
        known: tuple[_Addr | None, str] = (None, "")
    else:
        if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
            addr = addr.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer; Go unmaps it too
        known = (addr, str(addr))
    if len(_PEERS) >= PEER_CACHE_SIZE:
        _PEERS.clear()
    _PEERS[peer_ip] = known
    return known


def trusted(addr: _Addr, ranges: Sequence[IPNetwork]) -> bool:
    """Whether `addr` lies in one of `ranges` (versions must agree, as Go's netip)."""
    return any(addr.version == net.version and addr in net for net in ranges)


def client_ip(
    peer_ip: str,
    headers: MultiMapping[str] | CIMultiDictProxy[str],
    ranges: Sequence[IPNetwork],
    header_names: Sequence[str],
    strict: bool,
) -> tuple[bool, str]:
    """(peer is trusted, client IP) for one request.

    Untrusted or unparsable peer: the peer IP. Trusted peer: the left-most
    valid IP of the `header_names` values (all values joined), or with
    `strict` the right-most one that is not itself trusted; the peer IP when
    no header gives one.
    """
    known = _PEERS.get(peer_ip)
    if known is None:
        known = _peer(peer_ip)
    addr, peer = known
    if addr is None:
        return False, ""
    if not ranges or not trusted(addr, ranges):
        return False, peer
    if strict:
        for name in header_names:
            parts = ",".join(headers.getall(name, ())).split(",")
            for part in reversed(parts):
                ip = parse_ip(part)
                if ip is not None and not trusted(ip, ranges):
                    return True, str(ip)
        return True, peer
    values: list[str] = []
    for name in header_names:
        values.extend(headers.getall(name, ()))
    if not values:
        return True, peer
    for part in ",".join(values).split(","):
        ip = parse_ip(part)
        if ip is not None:
            return True, str(ip)
    return True, peer
