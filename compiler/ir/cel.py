"""Expressions of the `expression` matcher: the CEL subset rpc compiles and runs.

Caddy evaluates CEL; rpc parses the subset its Caddyfile shorthands and
common configs produce into these nodes (boolean logic, comparisons, `in`,
literals and lists, placeholders, string methods, and Caddy's matcher
functions like `path('/api/*')`), and the runtime evaluates the tree.
Expressions outside the subset are reported as unsupported when compiling.
"""

from __future__ import annotations

from dataclasses import dataclass

from rpc.compiler.ir.routes import Matcher

__all__ = [
    "CelBool",
    "CelCall",
    "CelCompare",
    "CelExpr",
    "CelList",
    "CelLit",
    "CelMap",
    "CelMatcher",
    "CelMethod",
    "CelNeg",
    "CelNot",
    "CelPh",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class CelLit:
    """A literal: string, int, float, bool or null."""

    value: str | int | float | bool | None


@dataclass(frozen=True, slots=True, kw_only=True)
class CelList:
    items: tuple[CelExpr, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CelMap:
    entries: tuple[tuple[CelExpr, CelExpr], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CelPh:
    """`{placeholder}`: the placeholder's value with its own type (int, str, ...)."""

    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CelNot:
    operand: CelExpr


@dataclass(frozen=True, slots=True, kw_only=True)
class CelNeg:
    operand: CelExpr


@dataclass(frozen=True, slots=True, kw_only=True)
class CelBool:
    """`a && b && ...` or `a || b || ...`."""

    op: str
    operands: tuple[CelExpr, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CelCompare:
    """`==`, `!=`, `<`, `<=`, `>`, `>=`, `in`."""

    op: str
    left: CelExpr
    right: CelExpr


@dataclass(frozen=True, slots=True, kw_only=True)
class CelMethod:
    """`target.name(args)`: startsWith, endsWith, contains, matches, size, ..."""

    target: CelExpr
    name: str
    args: tuple[CelExpr, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CelCall:
    """A global function: `size(x)`, `int(x)`, `string(x)`, ..."""

    name: str
    args: tuple[CelExpr, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CelMatcher:
    """One of Caddy's matcher functions, compiled to the matcher it stands for."""

    matcher: Matcher


CelExpr = (
    CelLit
    | CelList
    | CelMap
    | CelPh
    | CelNot
    | CelNeg
    | CelBool
    | CelCompare
    | CelMethod
    | CelCall
    | CelMatcher
)
