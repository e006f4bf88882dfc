"""IR matcher sets → Python boolean expressions over `ctx` in generated routes.

The common checks are inlined as plain comparisons (`ctx.host == "a.example"`,
`ctx.method in (...)`, `match_path(ctx).startswith("/api/")`) so a route
costs a few string operations; everything else calls a runtime matcher object
declared once at module level (`m_3.match(ctx)`). Within a set, cheap
inline checks run first: Caddy's matchers in a set have no order (they come
from a JSON object), so only the result matters — except regexp captures,
which every matching regexp publishes whatever the order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from rpc.compiler.backend import cel as cel_code
from rpc.compiler.backend.emit import Emitter, Unsupported
from rpc.compiler.ir.matchers import (
    MatchClientIP,
    MatchExpression,
    MatchHeader,
    MatchHeaderRE,
    MatchHost,
    MatchMethod,
    MatchNot,
    MatchPath,
    MatchPathRE,
    MatchProtocol,
    MatchQuery,
    MatchRemoteIP,
    MatchVars,
    MatchVarsRE,
)
from rpc.compiler.ir.routes import Matcher, MatcherSet

__all__ = ["Condition", "condition", "matcher_set"]

# (emitter, IR matcher) → a Python boolean expression over `ctx`.
Condition = Callable[[Emitter, Any], str]
F = TypeVar("F", bound=Condition)

_CONDITIONS: dict[type, Condition] = {}

# Inline checks cost a comparison; they go first in a set.
_CHEAP = (MatchHost, MatchMethod, MatchPath)


def condition(*types: type) -> Callable[[F], F]:
    """Register the decorated function as the condition emitter of IR matcher classes."""

    def register(fn: F) -> F:
        for t in types:
            if t in _CONDITIONS:
                raise RuntimeError(f"two condition emitters for {t.__name__}")
            _CONDITIONS[t] = fn
        return fn

    return register


def matcher_set(e: Emitter, ms: MatcherSet) -> str:
    """All matchers of `ms` ANDed (`True` for an empty set)."""
    ordered = sorted(ms.matchers, key=lambda m: 0 if isinstance(m, _CHEAP) else 1)
    parts = [matcher(e, m) for m in ordered]
    if not parts:
        return "True"
    return parts[0] if len(parts) == 1 else " and ".join(f"({p})" for p in parts)


def matcher(e: Emitter, m: Matcher) -> str:
    """The condition for one matcher."""
    fn = _CONDITIONS.get(type(m))
    if fn is None:
        raise Unsupported(
            f"the {m.KEY!r} matcher cannot run in a compiled proxy yet",
            m.span,
            "`rpc adapt` still shows its Caddy JSON",
        )
    return fn(e, m)


def _object(e: Emitter, m: Matcher, ctor: str, args: str) -> str:
    """Declare a runtime matcher object once and call its `match`."""
    name = e.declare("m", f"{e.rt(ctor)}({args})", m.origin)
    return f"{name}.match(ctx)"


def _texts(e: Emitter, values: tuple[Any, ...], *, keep_unknown: bool = False) -> str:
    return "(" + "".join(e.text(v, keep_unknown=keep_unknown) + ", " for v in values) + ")"


# ---------------------------------------------------------------- inline checks


@condition(MatchHost)
def _host(e: Emitter, m: MatchHost) -> str:
    hosts = [h.constant.lower() for h in m.hosts if h.is_constant and "*" not in h.constant]
    if len(hosts) != len(m.hosts):
        return _object(e, m, "MatchHost", _texts(e, m.hosts))
    if len(hosts) == 1:
        return f"ctx.host == {e.lit(hosts[0])}"
    return (
        f"ctx.host in {e.declare('hosts', e.lit(frozenset(hosts)), key=('hosts', *sorted(hosts)))}"
    )


@condition(MatchMethod)
def _method(e: Emitter, m: MatchMethod) -> str:
    methods = tuple(dict.fromkeys(v.upper() for v in m.methods))
    if len(methods) == 1:
        return f"ctx.method == {e.lit(methods[0])}"
    return f"ctx.method in {e.lit(methods)}"


def _path_check(e: Emitter, pattern: str) -> str | None:
    """An inline check for a literal path pattern, or None when it needs the matcher object."""
    p = pattern.lower()
    if p == "*":
        return "True"
    if "%" in p or "//" in p or any(c in p for c in "?[]\\"):
        return None
    path = f"{e.rt('match_path')}(ctx)"
    stars = p.count("*")
    if stars == 0:
        return f"{path} == {e.lit(p)}"
    if stars == 1 and p.endswith("*"):
        return f"{path}.startswith({e.lit(p[:-1])})"
    if stars == 1 and p.startswith("*"):
        return f"{path}.endswith({e.lit(p[1:])})"
    if stars == 2 and len(p) > 2 and p.startswith("*") and p.endswith("*"):
        return f"{e.lit(p[1:-1])} in {path}"
    return None


@condition(MatchPath)
def _path(e: Emitter, m: MatchPath) -> str:
    if all(p.is_constant for p in m.patterns):
        checks = [_path_check(e, p.constant) for p in m.patterns]
        if all(c is not None for c in checks):
            if "True" in checks:
                return "True"
            return " or ".join(c for c in checks if c is not None) or "False"
    return _object(e, m, "MatchPath", _texts(e, m.patterns))


# ---------------------------------------------------------------- runtime objects


@condition(MatchPathRE)
def _path_re(e: Emitter, m: MatchPathRE) -> str:
    return _object(e, m, "MatchPathRE", f"{e.lit(m.regexp.pattern)}, {e.lit(m.regexp.name)}")


@condition(MatchHeader)
def _header(e: Emitter, m: MatchHeader) -> str:
    fields = ", ".join(
        f"({e.lit(k)}, {'None' if v is None else _texts(e, v)})" for k, v in m.fields
    )
    return _object(e, m, "MatchHeader", f"({fields},)")


@condition(MatchHeaderRE)
def _header_re(e: Emitter, m: MatchHeaderRE) -> str:
    fields = tuple((k, r.pattern, r.name) for k, r in m.fields)
    return _object(e, m, "MatchHeaderRE", e.lit(fields))


@condition(MatchQuery)
def _query(e: Emitter, m: MatchQuery) -> str:
    params = ", ".join(f"({e.lit(k)}, {_texts(e, v)})" for k, v in m.params)
    return _object(e, m, "MatchQuery", f"({params},)" if params else "()")


@condition(MatchRemoteIP)
def _remote_ip(e: Emitter, m: MatchRemoteIP) -> str:
    return _object(e, m, "MatchRemoteIP", e.lit(_expand_ranges(m.ranges)))


@condition(MatchClientIP)
def _client_ip(e: Emitter, m: MatchClientIP) -> str:
    return _object(e, m, "MatchClientIP", e.lit(_expand_ranges(m.ranges)))


def _expand_ranges(ranges: tuple[str, ...]) -> tuple[str, ...]:
    from rpc.compiler.directives.matchers import PRIVATE_RANGES

    out: list[str] = []
    for r in ranges:
        out += PRIVATE_RANGES if r == "private_ranges" else [r]
    return tuple(out)


@condition(MatchProtocol)
def _protocol(e: Emitter, m: MatchProtocol) -> str:
    p = m.protocol.lower()
    if p == "https":
        return "ctx.tls"
    if p == "http":
        return "not ctx.tls"
    return _object(e, m, "MatchProtocol", e.lit(m.protocol))


@condition(MatchNot)
def _not(e: Emitter, m: MatchNot) -> str:
    if not m.sets:
        return "True"
    return "not (" + " or ".join(f"({matcher_set(e, s)})" for s in m.sets) + ")"


@condition(MatchVars)
def _vars(e: Emitter, m: MatchVars) -> str:
    entries = ", ".join(f"({e.lit(k)}, {_texts(e, v)})" for k, v in m.vars)
    return _object(e, m, "MatchVars", f"({entries},)")


@condition(MatchVarsRE)
def _vars_re(e: Emitter, m: MatchVarsRE) -> str:
    entries = tuple((k, r.pattern, r.name) for k, r in m.vars)
    return _object(e, m, "MatchVarsRE", e.lit(entries))


@condition(MatchExpression)
def _expression(e: Emitter, m: MatchExpression) -> str:
    if m.tree is None:
        raise Unsupported(
            f"this CEL expression cannot run in a compiled proxy: {m.unsupported}",
            m.span,
            "rpc runs the CEL subset Caddyfile shorthands produce: placeholders, literals, "
            "comparisons, &&/||/!, `in`, string methods and Caddy's matcher functions",
        )
    body = cel_code.expression(e, m.tree, lambda inner: matcher(e, inner))
    fn = e.declare("cel", f"lambda ctx: {body}", m.origin)
    return _object(e, m, "MatchExpression", f"{fn}, {e.lit(m.expr)}")
