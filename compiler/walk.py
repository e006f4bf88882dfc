"""Walking the IR: every node with the route list and server it sits in.

Checks, lints and the code generator all need "every handler / matcher /
route list of the config, with context"; this module is the one place that
knows where routes nest (servers, subroutes, error routes, named routes,
reverse_proxy response handlers).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

from rpc.compiler.ir.base import Node, Text
from rpc.compiler.ir.config import Config, Server
from rpc.compiler.ir.proxy import ReverseProxy
from rpc.compiler.ir.routes import Route, Subroute

__all__ = ["RouteList", "nodes", "route_lists", "texts"]


@dataclass(frozen=True, slots=True)
class RouteList:
    """One ordered list of routes (where first-match and terminal rules apply)."""

    server: Server
    routes: tuple[Route, ...]
    kind: str  # "server", "subroute", "errors", "named", "handle_response"


def route_lists(config: Config) -> Iterator[RouteList]:
    """Every route list in the config, outermost first."""
    if config.http is None:
        return
    for server in config.http.servers:
        yield from _lists(server, server.routes, "server")
        yield from _lists(server, server.errors, "errors")
        for _, route in server.named_routes:
            yield from _lists(server, (route,), "named")


def _lists(server: Server, routes: tuple[Route, ...], kind: str) -> Iterator[RouteList]:
    if not routes:
        return
    yield RouteList(server, routes, kind)
    for route in routes:
        for handler in route.handle:
            if isinstance(handler, Subroute):
                yield from _lists(server, handler.routes, "subroute")
            elif isinstance(handler, ReverseProxy):
                for rh in handler.handle_response:
                    yield from _lists(server, rh.routes, "handle_response")


def nodes(root: Node) -> Iterator[Node]:
    """`root` and every node below it, depth first."""
    yield root
    for child in root.children():
        yield from nodes(child)


def texts(n: Node) -> Iterator[Text]:
    """The `Text` values held directly by node `n` (not by its children)."""
    for f in dataclasses.fields(n):
        yield from _texts_in(getattr(n, f.name))


def _texts_in(value: object) -> Iterator[Text]:
    if isinstance(value, Text):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            if not isinstance(item, Node):
                yield from _texts_in(item)
