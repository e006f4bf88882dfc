"""The shapes generated code and the runtime agree on.

A *handler* is an object with an `origin` (`Caddyfile:12`) that is awaited
with the request context. It returns `None` to let the next handler run (what
Caddy calls `next.ServeHTTP`), returns a response to finish the request, or
raises `HandlerError` to hand the request to the error routes. A *route* is a
generated async function with the same signature; subroutes are handlers too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Protocol

from aiohttp import web

if TYPE_CHECKING:
    from rpc.runtime.context import Ctx

__all__ = ["Handler", "Reply", "Route", "SendHook"]

# What a handler or route returns: a response to send, or None for "continue".
Reply = web.StreamResponse | None

# A compiled route list: straight-line generated code over handlers.
Route = Callable[["Ctx"], Awaitable[Reply]]

# Runs on the response just before its headers are written (deferred header
# operations, `encode`, cookies set by a load-balancing policy, ...).
SendHook = Callable[["Ctx", web.StreamResponse], None]


class Handler(Protocol):
    """One configured handler (one IR handler node, one Caddy handler module)."""

    origin: str

    async def __call__(self, ctx: Ctx, /) -> Reply: ...
