"""Emitters for `vars`/`root`/`log_skip`/`log_name` (`Vars`) and `map` (`MapHandler`).

Caddy expands text values of `vars`, the `map` source, exact-match outputs
and defaults with ReplaceAll (unknown placeholders become empty); a regexp
mapping's output is expanded only for the regexp's captures, so it is
emitted as the raw text Caddy's config holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rpc.compiler import placeholders
from rpc.compiler.backend.emit import Emitter
from rpc.compiler.backend.handlers import emits
from rpc.compiler.ir.base import Text
from rpc.compiler.ir.handlers import MapHandler, Mapping, Vars

if TYPE_CHECKING:
    from rpc.compiler.backend.routes import RouteCompiler


def _value(e: Emitter, value: object, *, raw: bool = False) -> str:
    if isinstance(value, Text):
        return e.lit(value.raw) if raw else e.text(value, keep_unknown=False)
    return e.lit(value)


@emits(Vars)
def vars_handler(e: Emitter, _rc: RouteCompiler, h: Vars) -> str:
    # Caddy expands placeholders in the names too (unknown → empty).
    pairs = "".join(
        f"({e.text(placeholders.parse(name, keep_unknown=False), keep_unknown=False)}, "
        f"{_value(e, v)}), "
        for name, v in h.values
    )  # may be empty: `vars {}`, and forward_auth's handler without copy_headers
    return e.declare("h", f"{e.rt('Vars')}(({pairs}), origin={e.lit(h.origin)})", h.origin)


def _mapping(e: Emitter, m: Mapping) -> str:
    regexp = bool(m.input_regexp)
    outputs = ", ".join(_value(e, v, raw=regexp) for v in m.outputs)
    fields = {
        "input": e.lit(m.input) if m.input else None,
        "input_regexp": e.lit(m.input_regexp) if regexp else None,
        "outputs": f"({outputs},)" if m.outputs else None,
    }
    return f"{e.rt('MapEntry')}({e.kwargs(**fields)})"


@emits(MapHandler)
def map_handler(e: Emitter, _rc: RouteCompiler, h: MapHandler) -> str:
    defaults = [
        e.text(placeholders.parse(d, keep_unknown=False), keep_unknown=False) for d in h.defaults
    ]
    fields = {
        "source": e.text(h.source, keep_unknown=False) if h.source is not None else e.lit(""),
        "destinations": e.lit(h.destinations),
        "mappings": f"({', '.join(_mapping(e, m) for m in h.mappings)},)" if h.mappings else None,
        "defaults": f"({', '.join(defaults)},)" if defaults else None,
        "origin": e.lit(h.origin),
    }
    return e.declare("h", f"{e.rt('Map')}({e.kwargs(**fields)})", h.origin)
