"""The operations of compiled CEL `expression` matchers, with CEL's typing rules.

The compiler turns a CEL expression into a Python expression calling these
functions (`cel.eq(cel.value(ctx, "http.request.method"), "GET")`). CEL is
strictly typed: comparing a string with a number is an error, not `False`,
and an error makes the whole matcher not match (Caddy logs it and moves on).
`CelError` carries that; `MatchExpression` turns it into a 500, as Caddy
2.11's matchers return evaluation errors to the server.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from rpc.runtime.context import Ctx
from rpc.runtime.errors import HandlerError
from rpc.runtime.placeholders import resolver_for

__all__ = [
    "CelError",
    "MatchExpression",
    "call",
    "compare",
    "eq",
    "land",
    "lor",
    "member",
    "method",
    "truth",
    "value",
]


class CelError(Exception):
    """A CEL evaluation error (no such overload, bad conversion, ...)."""


_RESOLVERS: dict[str, Callable[[Ctx], Any] | None] = {}


def value(ctx: Ctx, key: str) -> Any:
    """A placeholder's value with its own type; unknown placeholders are empty strings."""
    fn = _RESOLVERS.get(key)
    if fn is None and key not in _RESOLVERS:
        fn = _RESOLVERS[key] = resolver_for(key)
    if fn is None:
        return ""
    got = fn(ctx)
    if got is None:
        return ""
    if isinstance(got, (str, int, float, bool, list, dict)):
        return got
    return str(got)


def _numeric(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def eq(a: Any, b: Any) -> bool:
    """CEL `==`: numbers compare across int/double; other types must be the same."""
    if _numeric(a) and _numeric(b):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(eq(x, y) for x, y in zip(a, b))
    return bool(a == b)


def compare(op: str, a: Any, b: Any) -> bool:
    """CEL `<`, `<=`, `>`, `>=` on two numbers, two strings or two booleans."""
    if not ((_numeric(a) and _numeric(b)) or (type(a) is type(b) and isinstance(a, (str, bool)))):
        raise CelError(f"no such overload: {type(a).__name__} {op} {type(b).__name__}")
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def member(a: Any, container: Any) -> bool:
    """CEL `in`: an element of a list, or a key of a map."""
    if isinstance(container, list):
        return any(eq(a, x) for x in container)
    if isinstance(container, dict):
        return any(eq(a, k) for k in container)
    raise CelError(f"no such overload: in {type(container).__name__}")


def method(target: Any, name: str, *args: Any) -> Any:
    """String methods: startsWith, endsWith, contains, matches, size, lowerAscii, upperAscii."""
    if name == "size":
        return call("size", target)
    if not isinstance(target, str):
        raise CelError(f"no such overload: {type(target).__name__}.{name}()")
    if name in ("lowerAscii", "upperAscii"):
        table = _LOWER if name == "lowerAscii" else _UPPER
        return target.translate(table)
    (arg,) = args
    if name == "matches":
        if not isinstance(arg, re.Pattern):
            raise CelError("matches() needs a regular expression")
        return arg.search(target) is not None
    if not isinstance(arg, str):
        raise CelError(f"no such overload: string.{name}({type(arg).__name__})")
    if name == "startsWith":
        return target.startswith(arg)
    if name == "endsWith":
        return target.endswith(arg)
    if name == "contains":
        return arg in target
    raise CelError(f"unknown method {name}")


_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_UPPER = {c: c - 32 for c in range(ord("a"), ord("z") + 1)}


def call(name: str, arg: Any) -> Any:
    """Global functions: size, int, string, double, bool."""
    try:
        if name == "size":
            if isinstance(arg, str):
                return len(arg)
            if isinstance(arg, bytes | list | dict):
                return len(arg)
        elif name == "int":
            if isinstance(arg, str):
                return int(arg, 10)
            if _numeric(arg):
                return int(arg)
        elif name == "double":
            if isinstance(arg, str) or _numeric(arg):
                return float(arg)
        elif name == "string":
            if isinstance(arg, bool):
                return "true" if arg else "false"
            if isinstance(arg, str | int | float):
                return str(arg)
        elif name == "bool":
            if isinstance(arg, bool):
                return arg
            if arg in ("true", "True", "TRUE", "t", "1"):
                return True
            if arg in ("false", "False", "FALSE", "f", "0"):
                return False
    except ValueError as exc:
        raise CelError(str(exc)) from None
    raise CelError(f"no such overload: {name}({type(arg).__name__})")


def land(*operands: Callable[[], Any]) -> bool:
    """CEL `&&`: false if any operand is false, even when another one fails."""
    return _logical(operands, stop=False)


def lor(*operands: Callable[[], Any]) -> bool:
    """CEL `||`: true if any operand is true, even when another one fails."""
    return _logical(operands, stop=True)


def _logical(operands: tuple[Callable[[], Any], ...], *, stop: bool) -> bool:
    failure: Exception | None = None
    for operand in operands:
        try:
            value = truth(operand())
        except (CelError, TypeError, ValueError) as exc:
            failure = failure or exc
            continue
        if value is stop:
            return stop
    if failure is not None:
        raise CelError(str(failure))
    return not stop


def truth(v: Any) -> bool:
    """The value of a boolean position: CEL refuses anything but a bool there."""
    if not isinstance(v, bool):
        raise CelError(f"expected bool, got {type(v).__name__}")
    return v


class MatchExpression:
    """An `expression` matcher: the compiled CEL as a function of the context."""

    __slots__ = ("expr", "fn")

    def __init__(self, fn: Callable[[Ctx], Any], expr: str = "") -> None:
        self.fn = fn
        self.expr = expr

    def match(self, ctx: Ctx) -> bool:
        try:
            return self.fn(ctx) is True
        except (CelError, TypeError, ValueError) as exc:
            raise HandlerError(500, f"evaluating expression {self.expr!r}: {exc}") from None
