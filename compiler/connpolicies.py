"""A server's TLS connection policies: shielding and consolidation, as Caddy 2.11 does.

Input: the connection policies a server's sites produced (in site order);
output: the list Caddy writes to `tls_connection_policies`. Ports of
`consolidateConnPolicies` (httptype.go) and of the 2.11 shielding of specific
hosts from a covering wildcard policy's client authentication.
"""

from __future__ import annotations

from dataclasses import replace

from rpc.compiler.certnames import match_wildcard
from rpc.compiler.gosort import slice_stable
from rpc.compiler.ir.base import prefer
from rpc.compiler.ir.tls import ConnectionPolicy

__all__ = ["consolidate_policies", "shield_from_wildcard_client_auth"]


def shield_from_wildcard_client_auth(
    policies: list[ConnectionPolicy], hosts: list[str]
) -> list[ConnectionPolicy]:
    """Exempt specific hosts from a covering wildcard policy's client authentication.

    Connection policies match first by SNI, so `*.example.com` with `client_auth`
    would demand client certificates from `public.example.com`, a site that never
    asked for them. Caddy 2.11 puts a copy of the wildcard's policy without client
    authentication, for the hosts it covers, right above it.
    """
    shields: dict[int, list[str]] = {}
    for host in hosts:
        for i, cp in enumerate(policies):
            if cp.client_authentication is not None and any(
                "*" in w and match_wildcard(host, w) for w in cp.match_sni
            ):
                shields.setdefault(i, []).append(host)
                break
    out = list(policies)
    for i in sorted(shields, reverse=True):
        shield = replace(out[i], client_authentication=None, match_sni=tuple(sorted(shields[i])))
        out.insert(i, shield)
    return out


def consolidate_policies(policies: list[ConnectionPolicy]) -> list[ConnectionPolicy]:
    """Caddy's `consolidateConnPolicies`: catch-alls last, duplicates merged.

    Raises ValueError when two policies for the same names conflict.
    """
    cps = list(policies)
    slice_stable(cps, lambda a, b: not b.match_sni and bool(a.match_sni))
    i = 0
    while i < len(cps):
        merged = False
        for j in range(len(cps)):
            if j == i:
                continue
            a, b = cps[i], cps[j]
            if a == b:
                del cps[j]
                merged = True
                break
            # Adjacent policies differing only in their SNI lists become one.
            if i == j - 1 and a.match_sni and b.match_sni and _same_settings(a, b):
                cps[i] = replace(a, match_sni=a.match_sni + b.match_sni)
                del cps[j]
                merged = True
                break
            if a.match_sni == b.match_sni:
                cps[i] = _merge_same_match(a, b)
                del cps[j]
                merged = True
                break
        if not merged:
            i += 1
    return cps


def _same_settings(a: ConnectionPolicy, b: ConnectionPolicy) -> bool:
    return replace(a, match_sni=()) == replace(b, match_sni=())


def _merge_same_match(a: ConnectionPolicy, b: ConnectionPolicy) -> ConnectionPolicy:
    """Two policies for the same names: fields set in only one are combined."""
    what = "two policies with same match criteria have conflicting"
    for field_name, label in (("alpn", "ALPN"), ("cipher_suites", "cipher suites")):
        x, y = getattr(a, field_name), getattr(b, field_name)
        if x and y and x != y:
            raise ValueError(f"{what} {label}: {list(x)} vs. {list(y)}")
    if a.client_authentication is None and b.client_authentication is not None:
        raise ValueError(f"{what} client auth configuration")
    if a.curves and b.curves and a.curves != b.curves:
        raise ValueError(f"{what} curves: {list(a.curves)} vs. {list(b.curves)}")
    for field_name, label in (
        ("default_sni", "default SNI"),
        ("fallback_sni", "fallback SNI"),
        ("protocol_min", "min protocol"),
        ("protocol_max", "max protocol"),
    ):
        x, y = getattr(a, field_name), getattr(b, field_name)
        if x and y and x != y:
            raise ValueError(f"{what} {label}: {x} vs. {y}")
    tags = a.certificate_tags + tuple(t for t in b.certificate_tags if t not in a.certificate_tags)
    fields = ("alpn", "cipher_suites", "curves", "default_sni", "fallback_sni")
    return replace(
        a, **prefer(a, b, *fields, "protocol_min", "protocol_max"), certificate_tags=tags
    )
