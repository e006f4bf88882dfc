"""The headers a proxied request carries upstream, and those its response brings back.

Input: the client's request headers (or an upstream's response headers);
output: a new header dict with hop-by-hop fields removed (the fixed list
plus every field named in `Connection`), `Te: trailers` and upgrade
headers kept as Caddy keeps them, names canonicalised as Go's header map
does, and `X-Forwarded-For/-Proto/-Host` and `Via` set per Caddy 2.11's
`prepareRequest` / `addForwardedHeaders`: prior forwarding values survive
only when the peer is a trusted proxy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from multidict import CIMultiDict, CIMultiDictProxy

from rpc.runtime.context import Ctx
from rpc.runtime.headers import _CANONICAL, canonical_key

__all__ = [
    "HOP_BY_HOP",
    "IPNetwork",
    "forwarded_headers",
    "is_trusted",
    "strip_response_hop_by_hop",
    "upgrade_type",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# Caddy's hopHeaders (reverseproxy.go), lower-cased.
HOP_BY_HOP = frozenset(
    (
        "alt-svc",
        "connection",
        "proxy-connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    )
)

Headers = CIMultiDict[str] | CIMultiDictProxy[str]


def _tokens(values: Iterable[str]) -> set[str]:
    out = set()
    for value in values:
        for token in value.split(","):
            token = token.strip().lower()
            if token:
                out.add(token)
    return out


def upgrade_type(headers: Headers) -> str:
    """The requested protocol upgrade (lower-case), or "" (Caddy's upgradeType)."""
    if "upgrade" not in _tokens(headers.getall("Connection", ())):
        return ""
    return headers.get("Upgrade", "").lower()


def is_trusted(ctx: Ctx, ranges: Sequence[IPNetwork]) -> bool:
    """The peer is a trusted proxy: for the server, or for this handler's ranges."""
    if ctx.trusted_proxy:
        return True
    if not ranges:
        return False
    try:
        ip = ipaddress.ip_address(ctx.remote_ip.partition("%")[0])
    except ValueError:
        return False
    return any(ip in net for net in ranges)


def forwarded_headers(ctx: Ctx, ranges: Sequence[IPNetwork], upgrade: str) -> CIMultiDict[str]:
    """The request headers to send upstream (before `header_up`), built once per request."""
    src = ctx.headers
    drop = HOP_BY_HOP
    conn = src.getall("Connection", None)
    if conn:
        drop = drop | _tokens(conn)
    kept = []
    te_trailers = False
    canon = _CANONICAL.get
    for key, value in src.items():
        low = key.lower()
        if low in drop:
            if low == "te" and "trailers" in _tokens((value,)):
                te_trailers = True
            continue
        if low == "host" or low == "content-length":
            continue  # Host and the body's framing are written by the transport
        kept.append((canon(key) or canonical_key(key), value))
    out: CIMultiDict[str] = CIMultiDict(kept)
    if te_trailers:
        out["Te"] = "trailers"
    if upgrade:
        out["Connection"] = "Upgrade"
        out["Upgrade"] = upgrade
        # Caddy's normalizeWebsocketHeaders: the casing servers expect.
        for key in [k for k in out if k.startswith("Sec-Websocket-")]:
            values = out.popall(key)
            for value in values:
                out.add("Sec-WebSocket-" + key[len("Sec-Websocket-") :], value)
    _add_forwarded(ctx, ranges, out)
    version = ctx.request.version
    out.add("Via", f"{version.major}.{version.minor} Caddy")
    return out


def _add_forwarded(ctx: Ctx, ranges: Sequence[IPNetwork], out: CIMultiDict[str]) -> None:
    ip = ctx.remote_ip.partition("%")[0]
    if not ip:
        # No parseable peer (a unix socket): never pass client-sent values on.
        if not ctx.trusted_proxy:
            for name in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"):
                out.popall(name, None)
        return
    trusted = is_trusted(ctx, ranges)
    if not trusted:
        # Prior values never survive an untrusted peer: setting replaces them all.
        out["X-Forwarded-For"] = ip
        out["X-Forwarded-Proto"] = ctx.scheme
        out["X-Forwarded-Host"] = ctx.hostport
        return
    xff = ip
    prior = out.getall("X-Forwarded-For", None)
    if trusted and prior:
        joined = ", ".join(prior)
        if joined:
            xff = f"{joined}, {ip}"
    out["X-Forwarded-For"] = xff
    proto = ctx.scheme
    last = out.getall("X-Forwarded-Proto", None)
    if trusted and last and last[-1]:
        proto = last[-1]
    out["X-Forwarded-Proto"] = proto
    host = ctx.hostport
    last = out.getall("X-Forwarded-Host", None)
    if trusted and last and last[-1]:
        host = last[-1]
    out["X-Forwarded-Host"] = host


def strip_response_hop_by_hop(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """An upstream response's headers without hop-by-hop fields (and those in `Connection`)."""
    out = []
    conn: list[str] | None = None
    for key, value in headers:
        low = key.lower()
        if low in HOP_BY_HOP:
            if low == "connection":
                conn = [value] if conn is None else [*conn, value]
            continue
        out.append((key, value))
    if conn and not (len(conn) == 1 and conn[0].strip().lower() in HOP_BY_HOP):
        extra = _tokens(conn) - HOP_BY_HOP  # `Connection: keep-alive` names nothing more
        if extra:
            out = [(k, v) for k, v in out if k.lower() not in extra]
    return out
