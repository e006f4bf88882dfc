"""Emitters for `respond`/`redir`/`abort` (`StaticResponse`) and `error` (`StaticError`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rpc.compiler.backend.emit import Emitter
from rpc.compiler.backend.handlers import emits
from rpc.compiler.ir.base import Text
from rpc.compiler.ir.handlers import StaticError, StaticResponse
from rpc.runtime.static import status_literal

if TYPE_CHECKING:
    from rpc.compiler.backend.routes import RouteCompiler


def status(e: Emitter, t: Text | None) -> str | None:
    """A constant status as an int literal (no parsing per request), else a template."""
    if t is None or t.raw == "":
        return None
    if t.is_constant and (code := status_literal(t.constant)) is not None:
        return e.lit(code)
    return e.text(t, keep_unknown=False)


@emits(StaticResponse)
def static_response(e: Emitter, _rc: RouteCompiler, h: StaticResponse) -> str:
    headers = ", ".join(
        f"({e.lit(name)}, ({''.join(e.text(v, keep_unknown=False) + ', ' for v in values)}))"
        for name, values in h.headers
    )
    fields = {
        "status_code": status(e, h.status_code),
        "headers": f"({headers},)" if headers else None,
        # Caddy replaces only known placeholders in a body.
        "body": e.text(h.body, keep_unknown=True) if h.body is not None else None,
        "close": "True" if h.close else None,
        "abort": "True" if h.abort else None,
        "origin": e.lit(h.origin),
    }
    return e.declare("h", f"{e.rt('StaticResponse')}({e.kwargs(**fields)})", h.origin)


@emits(StaticError)
def static_error(e: Emitter, _rc: RouteCompiler, h: StaticError) -> str:
    fields = {
        "error": e.text(h.error, keep_unknown=True) if h.error is not None else None,
        "status_code": status(e, h.status_code),
        "origin": e.lit(h.origin),
    }
    return e.declare("h", f"{e.rt('StaticError')}({e.kwargs(**fields)})", h.origin)
