"""Emitters for `request_body` (`RequestBody`), `log_append` (`LogAppend`) and `metrics`.

`request_body set` is expanded with ReplaceAll; a `log_append` value keeps
its type when it is a single placeholder, else ReplaceAll text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rpc.compiler import placeholders
from rpc.compiler.backend.emit import Emitter
from rpc.compiler.backend.handlers import emits
from rpc.compiler.ir.handlers import LogAppend, Metrics, RequestBody

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
    # Caddy expands the value with ReplaceAll; the parser kept unknown names as text.
    text = placeholders.parse(h.value.raw, keep_unknown=False) if h.value is not None else None
    value = e.template(text, keep_unknown=False) if text is not None else "None"
    expr = f"{e.rt('LogAppend')}({e.lit(h.key)}, {value}, {e.kwargs(**fields)})"
    return e.declare("h", expr, h.origin)


@emits(Metrics)
def metrics(e: Emitter, _rc: RouteCompiler, h: Metrics) -> str:
    fields = {
        "disable_openmetrics": "True" if h.disable_openmetrics else None,
        "origin": e.lit(h.origin),
    }
    return e.declare("h", f"{e.rt('MetricsHandler')}({e.kwargs(**fields)})", h.origin)
