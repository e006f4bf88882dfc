"""Emitters for `request_body` (`RequestBody`), `log_append` (`LogAppend`) and `metrics`.

`intercept` (`Intercept`) is refused by name: the runtime has no response
interception (`rpc.compiler.validate` reports it first, in `rpc check` too).

`request_body set` is expanded with ReplaceAll; a `log_append` value that is
one placeholder is logged with its type, any other text as written (Caddy
2.11 does not expand it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rpc.compiler.backend.emit import Emitter, Unsupported
from rpc.compiler.backend.handlers import emits
from rpc.compiler.ir.handlers import Intercept, LogAppend, Metrics, RequestBody
from rpc.compiler.validate import INTERCEPT_HINT, INTERCEPT_REFUSAL

if TYPE_CHECKING:
    from rpc.compiler.backend.routes import RouteCompiler


@emits(RequestBody)
def request_body(e: Emitter, _rc: RouteCompiler, h: RequestBody) -> str:
    fields = {
        "max_size": e.lit(h.max_size) if h.max_size else None,
        "set": e.text(h.set, keep_unknown=False) if h.set is not None else None,
        "origin": e.lit(h.origin),
    }
    return e.declare("h", f"{e.rt('RequestBody')}({e.kwargs(**fields)})", h.origin)


@emits(LogAppend)
def log_append(e: Emitter, _rc: RouteCompiler, h: LogAppend) -> str:
    fields = {
        "early": "True" if h.early else None,
        "origin": e.lit(h.origin),
    }
    raw = h.value.raw if h.value is not None else ""
    if raw.startswith("{") and raw.endswith("}") and raw.count("{") == 1:
        # One placeholder: its typed value, read when the entry is written.
        value = e.declare(
            "t",
            f"{e.rt('Template')}(({e.rt('Placeholder')}({e.lit(raw[1:-1])}),))",
            key=("log_append", raw),
        )
    else:
        value = e.lit(raw)  # Caddy logs any other text as written
    expr = f"{e.rt('LogAppend')}({e.lit(h.key)}, {value}, {e.kwargs(**fields)})"
    return e.declare("h", expr, h.origin)


@emits(Metrics)
def metrics(e: Emitter, _rc: RouteCompiler, h: Metrics) -> str:
    fields = {
        "disable_openmetrics": "True" if h.disable_openmetrics else None,
        "origin": e.lit(h.origin),
    }
    return e.declare("h", f"{e.rt('MetricsHandler')}({e.kwargs(**fields)})", h.origin)


@emits(Intercept)
def intercept(_e: Emitter, _rc: RouteCompiler, h: Intercept) -> str:
    raise Unsupported(INTERCEPT_REFUSAL, h.span, INTERCEPT_HINT)
