"""`lb_policy <name> ...` and `dynamic <source> ...` inside reverse_proxy.

Ports of each selection policy's and upstream source's `UnmarshalCaddyfile`
(`reverseproxy/selectionpolicies.go`, `upstreams.go`); as with Caddy's
`caddyfile.UnmarshalModule`, each parser gets the segment starting at its
own name.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rpc.compiler import placeholders
from rpc.compiler.dispenser import Dispenser
from rpc.compiler.errors import did_you_mean
from rpc.compiler.ir.base import Duration
from rpc.compiler.ir.proxy import (
    AUpstreams,
    ClientIPHash,
    CookieHash,
    DynamicSource,
    First,
    HeaderHash,
    IPHash,
    LeastConn,
    MultiUpstreams,
    Policy,
    QueryHash,
    Random,
    RandomChoose,
    RoundRobin,
    SRVUpstreams,
    URIHash,
    WeightedRoundRobin,
)
from rpc.compiler.values import parse_duration

__all__ = ["POLICIES", "SOURCES", "parse_dynamic", "parse_policy"]


def _no_args(cls: type[Policy]) -> Callable[[Dispenser], Policy]:
    def parse(d: Dispenser) -> Policy:
        span = d.span
        d.next()
        if d.next_arg():
            raise d.arg_err()
        return cls(span=span)

    return parse


def _random_choose(d: Dispenser) -> Policy:
    span = d.span
    d.next()
    if not d.next_arg():
        raise d.arg_err()
    text = d.val
    if not re.fullmatch(r"[+-]?\d+", text):
        raise d.error(f"invalid choice value '{text}'")
    return RandomChoose(choose=int(text), span=span)


def _weighted(d: Dispenser) -> Policy:
    span = d.span
    d.next()
    args = d.remaining_args()
    if not args:
        raise d.arg_err()
    weights = []
    for w in args:
        if not re.fullmatch(r"[+-]?\d+", w):
            raise d.error(f"invalid weight value '{w}'")
        if int(w) < 0:
            raise d.error(f"invalid weight value '{w}': weight should be non-negative")
        weights.append(int(w))
    return WeightedRoundRobin(weights=tuple(weights), span=span)


def _fallback(d: Dispenser, current: Policy | None) -> Policy:
    if not d.next_arg():
        raise d.arg_err()
    if current is not None:
        raise d.error("fallback selection policy already specified", code="RPC307")
    return parse_policy(d)


def _keyed(cls: type[QueryHash | HeaderHash], attr: str) -> Callable[[Dispenser], Policy]:
    def parse(d: Dispenser) -> Policy:
        span = d.span
        d.next()
        if not d.next_arg():
            raise d.arg_err()
        key = d.val
        if d.next_arg():
            raise d.arg_err()
        fallback = None
        nesting = d.nesting
        while d.next_block(nesting):
            if d.val == "fallback":
                fallback = _fallback(d, fallback)
            else:
                raise d.error(f"unrecognized option '{d.val}'", code="RPC301")
        return cls(**{attr: key}, fallback=fallback, span=span)

    return parse


def _cookie(d: Dispenser) -> Policy:
    span = d.span
    d.next()
    args = d.remaining_args()
    if len(args) > 2:
        raise d.arg_err()
    name = args[0] if args else ""
    secret = args[1] if len(args) > 1 else ""
    fallback = None
    max_age: Duration | None = None
    nesting = d.nesting
    while d.next_block(nesting):
        if d.val == "fallback":
            fallback = _fallback(d, fallback)
        elif d.val == "max_age":
            if not d.next_arg():
                raise d.arg_err()
            if max_age is not None:
                raise d.error("cookie max_age already specified", code="RPC307")
            try:
                max_age = parse_duration(d.val)
            except ValueError as exc:
                raise d.error(f"invalid duration: {d.val}: {exc}") from None
            if max_age.ns <= 0:
                raise d.error(f"invalid duration: {d.val}, max_age should be non-zero and positive")
            if d.next_arg():
                raise d.arg_err()
        else:
            raise d.error(f"unrecognized option '{d.val}'", code="RPC301")
    return CookieHash(name=name, secret=secret, max_age=max_age, fallback=fallback, span=span)


POLICIES: dict[str, Callable[[Dispenser], Policy]] = {
    "random": _no_args(Random),
    "random_choose": _random_choose,
    "first": _no_args(First),
    "round_robin": _no_args(RoundRobin),
    "weighted_round_robin": _weighted,
    "least_conn": _no_args(LeastConn),
    "ip_hash": _no_args(IPHash),
    "client_ip_hash": _no_args(ClientIPHash),
    "uri_hash": _no_args(URIHash),
    "query": _keyed(QueryHash, "key"),
    "header": _keyed(HeaderHash, "field"),
    "cookie": _cookie,
}


def parse_policy(d: Dispenser) -> Policy:
    """The policy named by the current token, from a sub-dispenser over its segment."""
    name = d.val
    parser = POLICIES.get(name)
    if parser is None:
        raise d.error(
            f"getting module named 'http.reverse_proxy.selection_policies.{name}': module not "
            "registered",
            code="RPC303",
            hint=did_you_mean(name, POLICIES),
        )
    return parser(d.new_from_next_segment())


# ---------------------------------------------------------------- dynamic sources


def _dur(d: Dispenser, what: str) -> Duration:
    if not d.next_arg():
        raise d.arg_err()
    try:
        return parse_duration(d.val)
    except ValueError as exc:
        raise d.error(f"{what} '{d.val}': {exc}") from None


def _resolvers(d: Dispenser) -> tuple[str, ...]:
    found = tuple(d.remaining_args())
    if not found:
        raise d.error("must specify at least one resolver address", code="RPC302")
    return found


def _srv(d: Dispenser) -> DynamicSource:
    span = d.span
    d.next()
    args = d.remaining_args()
    if len(args) > 1:
        raise d.arg_err()
    values: dict[str, object] = {}
    if args:
        values["name"] = placeholders.parse(args[0], keep_unknown=False)
    while d.next_block(0):
        key = d.val
        if key in ("service", "proto", "name"):
            if not d.next_arg():
                raise d.arg_err()
            if values.get(key):
                raise d.error(f"srv {key} has already been specified", code="RPC307")
            values[key] = placeholders.parse(d.val, keep_unknown=False) if key == "name" else d.val
        elif key == "refresh":
            if not d.next_arg():
                raise d.arg_err()
            try:
                values["refresh"] = parse_duration(d.val)
            except ValueError as exc:
                raise d.error(f"parsing refresh interval duration: {exc}") from None
        elif key == "resolvers":
            values["resolvers"] = _resolvers(d)
        elif key == "dial_timeout":
            values["dial_timeout"] = _dur(d, "bad timeout value")
        elif key == "dial_fallback_delay":
            values["dial_fallback_delay"] = _dur(d, "bad delay value")
        elif key == "grace_period":
            values["grace_period"] = _dur(d, "bad grace period value")
        else:
            raise d.error(f"unrecognized srv option '{key}'", code="RPC301")
    return SRVUpstreams(span=span, **values)  # type: ignore[arg-type]


def _a(d: Dispenser) -> DynamicSource:
    span = d.span
    d.next()
    args = d.remaining_args()
    if len(args) > 2:
        raise d.arg_err()
    values: dict[str, object] = {}
    if args:
        values["name"] = placeholders.parse(args[0], keep_unknown=False)
        if len(args) == 2:
            values["port"] = placeholders.parse(args[1], keep_unknown=False)
    while d.next_block(0):
        key = d.val
        if key in ("name", "port"):
            if not d.next_arg():
                raise d.arg_err()
            if key in values:
                raise d.error(f"a {key} has already been specified", code="RPC307")
            values[key] = placeholders.parse(d.val, keep_unknown=False)
        elif key == "refresh":
            if not d.next_arg():
                raise d.arg_err()
            try:
                values["refresh"] = parse_duration(d.val)
            except ValueError as exc:
                raise d.error(f"parsing refresh interval duration: {exc}") from None
        elif key == "resolvers":
            values["resolvers"] = _resolvers(d)
        elif key == "dial_timeout":
            values["dial_timeout"] = _dur(d, "bad timeout value")
        elif key == "dial_fallback_delay":
            values["dial_fallback_delay"] = _dur(d, "bad delay value")
        elif key == "versions":
            versions = d.remaining_args()
            if not versions:
                raise d.error("must specify at least one version", code="RPC302")
            for v in versions:
                if v == "ipv4":
                    values["ipv4"] = True
                elif v == "ipv6":
                    values["ipv6"] = True
                else:
                    raise d.error(f"unsupported version: '{v}'")
        else:
            raise d.error(f"unrecognized a option '{key}'", code="RPC301")
    return AUpstreams(span=span, **values)  # type: ignore[arg-type]


def _multi(d: Dispenser) -> DynamicSource:
    span = d.span
    d.next()
    if d.next_arg():
        raise d.arg_err()
    sources = []
    nesting = d.nesting
    while d.next_block(nesting):
        sources.append(parse_dynamic(d))
    return MultiUpstreams(sources=tuple(sources), span=span)


SOURCES: dict[str, Callable[[Dispenser], DynamicSource]] = {"a": _a, "srv": _srv, "multi": _multi}


def register_source(name: str, parser: Callable[[Dispenser], DynamicSource]) -> None:
    """Add a dynamic upstream source (rpc's own, e.g. `redis`)."""
    SOURCES[name] = parser


def parse_dynamic(d: Dispenser) -> DynamicSource:
    """The source named by the current token, from a sub-dispenser over its segment."""
    name = d.val
    parser = SOURCES.get(name)
    if parser is None:
        raise d.error(
            f"getting module named 'http.reverse_proxy.upstreams.{name}': module not registered",
            code="RPC303",
            hint=did_you_mean(name, SOURCES),
        )
    return parser(d.new_from_next_segment())
