"""Request matchers (Caddy's `http.matchers.*` modules), one class each.

A `MatcherSet` (in `ir.routes`) ANDs matchers; each class here knows its key
in the JSON matcher set (`KEY`) and its JSON value (`caddy_json`). Strings
that may hold placeholders are `Text` parsed in "unknown → empty" mode, as
Caddy's matchers use `ReplaceAll`.
"""

from __future__ import annotations

from rpc.compiler.ir.base import Text, node
from rpc.compiler.ir.routes import Matcher

__all__ = ["MatchExpression", "MatchHost", "MatchPath"]


@node
class MatchPath(Matcher):
    """`path <patterns...>` (also a `/path` matcher token)."""

    KEY = "path"

    patterns: tuple[Text, ...]

    def caddy_json(self) -> object:
        return [p.raw for p in self.patterns]


@node
class MatchExpression(Matcher):
    """`expression <cel>` (also `@name "cel"` and `handle_errors 404 5xx`)."""

    KEY = "expression"

    expr: str
    name: str = ""

    def caddy_json(self) -> object:
        return {"expr": self.expr, "name": self.name} if self.name else self.expr


@node
class MatchHost(Matcher):
    """`host <names...>` (also the implicit matcher of a site's addresses)."""

    KEY = "host"

    hosts: tuple[Text, ...]

    def caddy_json(self) -> object:
        return [h.raw for h in self.hosts]
