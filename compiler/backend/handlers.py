"""IR handler nodes → expressions naming the runtime objects a route awaits.

Each handler family has its own emitter module under `rpc.compiler.backend`
(`static`, `proxy`, ...), registering one function per IR class with
`@emits`. An emitter declares the runtime object at module level (built once
at import, from literals only) and returns its name; the route calls it with
the request context. An IR class without an emitter is a clear RPC304 error,
never a silently dropped handler.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from rpc.compiler.backend.emit import Emitter, Unsupported
from rpc.compiler.ir.routes import Handler

if TYPE_CHECKING:
    from rpc.compiler.backend.routes import RouteCompiler

__all__ = ["Emit", "emits", "handler"]

# (emitter, route compiler, IR node) → expression of an awaitable-returning callable.
Emit = Callable[[Emitter, "RouteCompiler", Any], str]

F = TypeVar("F", bound=Emit)

_EMITTERS: dict[type, Emit] = {}

# Modules holding `@emits` functions; imported on first use.
_MODULES = (
    "static",
    "proxy",
    "headers",
    "rewrite",
    "vars",
    "encode",
    "files",
    "auth",
    "misc",
    "shard",
)


def emits(*types: type) -> Callable[[F], F]:
    """Register the decorated function as the emitter of the IR classes `types`."""

    def register(fn: F) -> F:
        for t in types:
            if t in _EMITTERS:
                raise RuntimeError(f"two emitters for {t.__name__}")
            _EMITTERS[t] = fn
        return fn

    return register


def handler(e: Emitter, rc: RouteCompiler, h: Handler) -> str:
    """The expression for handler `h` (a declared runtime object)."""
    # Import every emitter module, even when one was already imported directly
    # (the proxy emitter imports `shard`): a non-empty registry is not a full one.
    for module in _MODULES:
        importlib.import_module(f"rpc.compiler.backend.{module}")
    fn = _EMITTERS.get(type(h))
    if fn is None:
        name = h.CADDY_TAG[1] if h.CADDY_TAG else type(h).__name__
        raise Unsupported(
            f"the handler {name!r} cannot run in a compiled proxy yet",
            h.span,
            "`rpc adapt` still shows its Caddy JSON; see docs/directives.md for what runs",
        )
    return fn(e, rc, h)


def origin(e: Emitter, h: Handler) -> str:
    """The `origin=` literal for a runtime object (`"Caddyfile:12"`)."""
    return e.lit(h.origin)
