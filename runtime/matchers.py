"""Request matchers generated code calls when a check cannot be inlined.

One class per Caddy matcher module, named like the compiler's IR class, each
with `match(ctx) -> bool`; setup (lower-casing, compiling, parsing CIDRs)
happens in `__init__`. Semantics follow `modules/caddyhttp/matchers.go` and
`ip_matchers.go` of Caddy 2.11; patterns holding placeholders are `Template`s
expanded per request (unknown placeholders become empty, as `ReplaceAll`).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence

from rpc.runtime.context import Ctx
from rpc.runtime.pathmatch import PathPattern
from rpc.runtime.placeholders import Template, render, stringify

__all__ = [
    "MatchClientIP",
    "MatchHeader",
    "MatchHeaderRE",
    "MatchHost",
    "MatchMethod",
    "MatchNot",
    "MatchPath",
    "MatchPathRE",
    "MatchProtocol",
    "MatchQuery",
    "MatchRemoteIP",
    "MatchVars",
    "MatchVarsRE",
    "Matcher",
    "MatcherSet",
    "canonical_key",
    "value_matches",
]

Text = str | Template


class Matcher:
    """Base: `match(ctx)` says whether the request matches."""

    __slots__ = ()

    def match(self, ctx: Ctx) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError


class MatcherSet(Matcher):
    """Matchers that must all match."""

    __slots__ = ("matchers",)

    def __init__(self, matchers: Sequence[Matcher]) -> None:
        self.matchers = tuple(matchers)

    def match(self, ctx: Ctx) -> bool:
        return all(m.match(ctx) for m in self.matchers)


class MatchPath(Matcher):
    """`path <patterns...>`: case-insensitive, on the cleaned path; any pattern may match."""

    __slots__ = ("dynamic", "patterns")

    def __init__(self, patterns: Iterable[Text]) -> None:
        items = tuple(patterns)
        self.patterns = tuple(PathPattern(p) for p in items if isinstance(p, str))
        self.dynamic = tuple(p for p in items if not isinstance(p, str))

    def match(self, ctx: Ctx) -> bool:
        if any(p.matches(ctx) for p in self.patterns):
            return True
        return any(PathPattern(t.render(ctx)).matches(ctx) for t in self.dynamic)


class MatchPathRE(Matcher):
    """`path_regexp [<name>] <regexp>`: captures become `{http.regexp.<name>.<N>}`."""

    __slots__ = ("name", "regex")

    def __init__(self, pattern: str, name: str = "") -> None:
        self.regex = compile_regex(pattern)
        self.name = name

    def match(self, ctx: Ctx) -> bool:
        return match_regex(ctx, self.regex, self.name, ctx.path)


class MatchHost(Matcher):
    """`host <names...>`: case-insensitive, port ignored, `*` = exactly one label."""

    __slots__ = ("dynamic", "exact", "wildcards")

    def __init__(self, hosts: Iterable[Text]) -> None:
        exact: set[str] = set()
        wildcards: list[tuple[str, ...]] = []
        dynamic: list[Template] = []
        for h in hosts:
            if not isinstance(h, str):
                dynamic.append(h)
            elif "*" in h:
                wildcards.append(tuple(h.lower().split(".")))
            else:
                exact.add(h.lower())
        self.exact = frozenset(exact)
        self.wildcards = tuple(wildcards)
        self.dynamic = tuple(dynamic)

    def match(self, ctx: Ctx) -> bool:
        host = ctx.host
        if host in self.exact:
            return True
        if self.wildcards:
            parts = host.split(".")
            for pattern in self.wildcards:
                if len(pattern) == len(parts) and all(
                    p == "*" or p == h for p, h in zip(pattern, parts)
                ):
                    return True
        for t in self.dynamic:
            value = t.render(ctx).lower()
            if "*" in value:
                if MatchHost((value,)).match(ctx):
                    return True
            elif value == host:
                return True
        return False


class MatchMethod(Matcher):
    """`method <verbs...>`: configured verbs are upper-cased, the request's compared as sent."""

    __slots__ = ("methods",)

    def __init__(self, methods: Iterable[str]) -> None:
        self.methods = frozenset(m.upper() for m in methods)

    def match(self, ctx: Ctx) -> bool:
        return ctx.method in self.methods


def canonical_key(key: str) -> str:
    """Go's CanonicalMIMEHeaderKey (keys with non-token characters stay as they are)."""
    token = set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    if not key or any(c not in token for c in key):
        return key
    return "-".join(part[:1].upper() + part[1:].lower() for part in key.split("-"))


def _field_values(ctx: Ctx, field: str) -> list[str] | None:
    """The values Caddy's header matcher sees for `field` (None = absent).

    Go looks fields up by their exact key in a canonicalised map, so a field
    written in a non-canonical form (`!foo`) never finds anything.
    """
    if field.lower() == "host":
        return [ctx.hostport] if ctx.hostport else None
    if canonical_key(field) != field:
        return None
    values = ctx.headers.getall(field, None)
    return list(values) if values else None


def value_matches(actual: str, allowed: str) -> bool:
    """Caddy's header value match: exact, or `*` wildcards at either end (or both)."""
    if allowed == "*":
        return True
    if len(allowed) > 1 and allowed.startswith("*") and allowed.endswith("*"):
        return allowed[1:-1] in actual
    if allowed.startswith("*"):
        return actual.endswith(allowed[1:])
    if allowed.endswith("*"):
        return actual.startswith(allowed[:-1])
    return actual == allowed


class MatchHeader(Matcher):
    """`header <field> [<value>]`: values ORed per field, fields ANDed; None = must be absent."""

    __slots__ = ("fields",)

    def __init__(self, fields: Iterable[tuple[str, Sequence[Text] | None]]) -> None:
        self.fields = tuple((k, None if v is None else tuple(v)) for k, v in fields)

    def match(self, ctx: Ctx) -> bool:
        for field, allowed in self.fields:
            actual = _field_values(ctx, field)
            if allowed is None:
                if actual is not None:
                    return False
                continue
            if actual is None:
                return False
            wanted = [render(a, ctx) for a in allowed]
            if not any(value_matches(v, a) for v in actual for a in wanted):
                return False
        return True


class MatchHeaderRE(Matcher):
    """`header_regexp [<name>] <field> <regexp>`: every field must have a matching value."""

    __slots__ = ("fields",)

    def __init__(self, fields: Iterable[tuple[str, str, str]]) -> None:
        # (field, pattern, capture name)
        self.fields = tuple((f, compile_regex(p), n) for f, p, n in fields)

    def match(self, ctx: Ctx) -> bool:
        for field, regex, name in self.fields:
            values = _field_values(ctx, canonical_key(field))
            if not values or not any(match_regex(ctx, regex, name, v) for v in values):
                return False
        return True


class MatchQuery(Matcher):
    """`query <key>=<value>...`: every key present with one of its values (`*` = any)."""

    __slots__ = ("params",)

    def __init__(self, params: Iterable[tuple[Text, Sequence[Text]]]) -> None:
        self.params = tuple((k, tuple(v)) for k, v in params)

    def match(self, ctx: Ctx) -> bool:
        if not self.params:
            # Caddy checks `len(r.URL.Query()) == 0`, which skips malformed pairs.
            return not parse_go_query(ctx.query, lenient=True)
        parsed = parse_go_query(ctx.query)
        if parsed is None:
            return False  # malformed query strings never match
        for key, values in self.params:
            got = parsed.get(render(key, ctx))
            if got is None:
                return False
            if not any(v == "*" or v in got for v in (render(x, ctx) for x in values)):
                return False
        return True


def parse_go_query(query: str, *, lenient: bool = False) -> dict[str, list[str]] | None:
    """Go's `url.ParseQuery`: None when any pair is malformed (bad escape, `;`).

    With `lenient`, malformed pairs are dropped instead, as Go's `URL.Query()`
    does (it ignores ParseQuery's error).
    """
    out: dict[str, list[str]] = {}
    if not query:
        return out
    for pair in query.split("&"):
        if not pair:
            continue
        try:
            if ";" in pair:
                raise ValueError("semicolon in query")
            key, _, value = pair.partition("=")
            k = _unescape_query(key)
            v = _unescape_query(value)
        except ValueError:
            if lenient:
                continue
            return None
        out.setdefault(k, []).append(v)
    return out


def _unescape_query(s: str) -> str:
    if "%" not in s and "+" not in s:
        return s
    raw = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c == "%":
            if i + 2 >= len(s) + 0 and len(s) - i < 3:
                raise ValueError("bad escape")
            hexpair = s[i + 1 : i + 3]
            if not re.fullmatch(r"[0-9a-fA-F]{2}", hexpair):
                raise ValueError("bad escape")
            raw.append(int(hexpair, 16))
            i += 3
            continue
        raw.extend(b" " if c == "+" else c.encode())
        i += 1
    return raw.decode("utf-8", "replace")


def _networks(ranges: Iterable[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    out = []
    for r in ranges:
        # A bare address may carry an IPv6 zone (`fe80::1%eth0`); the zone never matters here.
        text = r.split("%", 1)[0] if "/" not in r else r
        out.append(ipaddress.ip_network(text, strict=False))
    return tuple(out)


def _in_ranges(ip: str, networks: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> bool:
    try:
        addr = ipaddress.ip_address(ip.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr in net for net in networks if addr.version == net.version)


class MatchRemoteIP(Matcher):
    """`remote_ip <ranges...>`: the TCP peer's address."""

    __slots__ = ("networks",)

    def __init__(self, ranges: Iterable[str]) -> None:
        self.networks = _networks(ranges)

    def match(self, ctx: Ctx) -> bool:
        return _in_ranges(ctx.remote_ip, self.networks)


class MatchClientIP(Matcher):
    """`client_ip <ranges...>`: the client address (from trusted proxies' headers)."""

    __slots__ = ("networks",)

    def __init__(self, ranges: Iterable[str]) -> None:
        self.networks = _networks(ranges)

    def match(self, ctx: Ctx) -> bool:
        return _in_ranges(ctx.client_ip, self.networks)


class MatchProtocol(Matcher):
    """`protocol http|https|grpc|http/1.0|http/1.1|http/2|http/3` (and `+` forms)."""

    __slots__ = ("protocol",)

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol.lower()

    def match(self, ctx: Ctx) -> bool:
        p = self.protocol
        if p == "grpc":
            return ctx.headers.get("Content-Type", "").startswith("application/grpc")
        if p == "https":
            return ctx.tls
        if p == "http":
            return not ctx.tls
        version = ctx.request.version
        current = (version.major, version.minor)
        table = {"http/1.0": (1, 0), "http/1.1": (1, 1), "http/2": (2, 0), "http/3": (3, 0)}
        if p.endswith("+"):
            wanted = table.get(p[:-1])
            return wanted is not None and current >= wanted
        return table.get(p) == current


class MatchNot(Matcher):
    """`not ...`: true when none of its sets match."""

    __slots__ = ("sets",)

    def __init__(self, sets: Iterable[Matcher]) -> None:
        self.sets = tuple(sets)

    def match(self, ctx: Ctx) -> bool:
        return not any(s.match(ctx) for s in self.sets)


def _var_value(ctx: Ctx, key: str) -> str:
    """A `vars` key: a variable name, or a `{placeholder}` whose value is used."""
    if key.startswith("{") and key.endswith("}"):
        from rpc.runtime.placeholders import Placeholder

        return Template((Placeholder(key[1:-1]),)).render(ctx)
    return stringify(ctx.vars.get(key))


class MatchVars(Matcher):
    """`vars <name|{placeholder}> <values...>`: keys ORed, values ORed."""

    __slots__ = ("vars",)

    def __init__(self, vars: Iterable[tuple[str, Sequence[Text]]]) -> None:
        self.vars = tuple((k, tuple(v)) for k, v in vars)

    def match(self, ctx: Ctx) -> bool:
        for key, values in self.vars:
            actual = _var_value(ctx, key)
            if any(actual == render(v, ctx) for v in values):
                return True
        return False


class MatchVarsRE(Matcher):
    """`vars_regexp [<name>] <variable> <regexp>`: keys ORed."""

    __slots__ = ("vars",)

    def __init__(self, vars: Iterable[tuple[str, str, str]]) -> None:
        self.vars = tuple((k, compile_regex(p), n) for k, p, n in vars)

    def match(self, ctx: Ctx) -> bool:
        return any(match_regex(ctx, rx, name, _var_value(ctx, key)) for key, rx, name in self.vars)


# ---------------------------------------------------------------- regular expressions


def compile_regex(pattern: str) -> re.Pattern[str]:
    """Compile an RE2 pattern with Python's engine (Go syntax `(?<name>` accepted)."""
    translated = re.sub(r"\(\?<(?![=!])", "(?P<", pattern)
    return re.compile(translated)


def match_regex(ctx: Ctx, regex: re.Pattern[str], name: str, value: str) -> bool:
    """Search `value`; on a match publish captures as Caddy does."""
    m = regex.search(value)
    if m is None:
        return False
    groups = (m.group(0), *m.groups())
    names = {v: k for k, v in regex.groupindex.items()}
    for i, g in enumerate(groups):
        text = g if g is not None else ""
        ctx.extra[f"http.regexp.{i}"] = text
        if name:
            ctx.extra[f"http.regexp.{name}.{i}"] = text
        if i in names:
            ctx.extra[f"http.regexp.{names[i]}"] = text
            if name:
                ctx.extra[f"http.regexp.{name}.{names[i]}"] = text
    return True
