"""Emitter for `basic_auth` (`Authentication` with its `http_basic` provider)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rpc.compiler.backend.emit import Emitter
from rpc.compiler.backend.handlers import emits
from rpc.compiler.ir.handlers import Authentication

if TYPE_CHECKING:
    from rpc.compiler.backend.routes import RouteCompiler


@emits(Authentication)
def basic_auth(e: Emitter, _rc: RouteCompiler, h: Authentication) -> str:
    basic = h.http_basic
    accounts = tuple((a.username, a.password) for a in basic.accounts)
    fields = {
        "hash_algorithm": e.lit(basic.hash_algorithm or "bcrypt"),
        "realm": e.lit(basic.realm) if basic.realm else None,
        "origin": e.lit(h.origin),
    }
    expr = f"{e.rt('BasicAuth')}({e.lit(accounts)}, {e.kwargs(**fields)})"
    return e.declare("h", expr, h.origin)
