"""Routes, matcher sets and subroutes: how Caddy's HTTP server decides what runs.

Caddy's JSON `routes` are lists of `{match, handle, terminal, group}`; a
request runs every matching route in order (only the first matching route of
a `group`), and a terminal route stops the list. `Subroute` is the handler
that nests a route list (`handle`, `route`, site blocks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rpc.compiler.ir.base import Node, jfield

__all__ = ["Handler", "Matcher", "MatcherSet", "Route", "Subroute"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Matcher(Node):
    """Base of request matchers; `KEY` is the matcher's name in a JSON matcher set."""

    KEY: ClassVar[str] = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class MatcherSet(Node):
    """Matchers that must all match (one JSON object in a route's `match` list)."""

    matchers: tuple[Matcher, ...] = ()

    def get(self, key: str) -> Matcher | None:
        return next((m for m in self.matchers if key == m.KEY), None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Handler(Node):
    """Base of HTTP handlers; `CADDY_TAG` is `("handler", <module name>)`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Route(Node):
    """One entry of a route list."""

    match: tuple[MatcherSet, ...] = jfield(default=())
    handle: tuple[Handler, ...] = jfield(default=())
    terminal: bool = jfield(default=False)
    group: str = jfield(default="")
    # Which directive produced the route (for sorting, `rpc explain`); not in JSON.
    directive: str = jfield(None, default="")


@dataclass(frozen=True, slots=True, kw_only=True)
class Subroute(Handler):
    """`handle`, `route`, `handle_path` blocks and site bodies: a nested route list."""

    CADDY_TAG = ("handler", "subroute")

    routes: tuple[Route, ...] = jfield(default=())
    errors: tuple[Route, ...] = jfield(None, default=())
