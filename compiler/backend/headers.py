"""Emitters for header operations: `header` / `request_header` (`Headers`) and the shared pieces.

`header_ops` and `response_matcher` are also used by the reverse_proxy
emitter for `header_up` / `header_down` and response matchers. Names and
values keep unknown placeholders, as Caddy's header ops use ReplaceKnown.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rpc.compiler.backend.emit import Emitter, Unsupported
from rpc.compiler.backend.handlers import emits
from rpc.compiler.ir.headers import HeaderOps, Headers, ResponseMatcher

if TYPE_CHECKING:
    from rpc.compiler.backend.routes import RouteCompiler

__all__ = ["header_ops", "regexp", "response_matcher"]


def regexp(e: Emitter, pattern: str, span: object = None) -> str:
    """`re.compile(<pattern>)` in the generated module (checked here first)."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise Unsupported(
            f"the regular expression {pattern!r} is not supported by Python's re: {exc}", span
        ) from None
    return f"{e.std('re')}.compile({e.lit(pattern)})"


def header_ops(e: Emitter, ops: HeaderOps) -> str:
    """A runtime `HeaderOps(...)` expression."""

    def pairs(items: tuple[tuple[object, tuple[object, ...]], ...]) -> str | None:
        if not items:
            return None
        rendered = []
        for name, values in items:
            vals = "".join(e.text(v, keep_unknown=True) + ", " for v in values)  # type: ignore[arg-type]
            rendered.append(f"({e.text(name, keep_unknown=True)}, ({vals}))")  # type: ignore[arg-type]
        return "(" + "".join(r + ", " for r in rendered) + ")"

    replace = None
    if ops.replace:
        entries = []
        for field, reps in ops.replace:
            rendered = []
            for r in reps:
                kwargs = {
                    "search": e.lit(r.search) if r.search else None,
                    "search_regexp": regexp(e, r.search_regexp, r.span)
                    if r.search_regexp
                    else None,
                    "replace": e.text(r.replace, keep_unknown=True)
                    if r.replace is not None
                    else None,
                }
                rendered.append(f"{e.rt('Replacement')}({e.kwargs(**kwargs)})")
            entries.append(f"({e.lit(field)}, ({''.join(x + ', ' for x in rendered)}))")
        replace = "(" + "".join(x + ", " for x in entries) + ")"
    delete = None
    if ops.delete:
        delete = "(" + "".join(e.text(d, keep_unknown=True) + ", " for d in ops.delete) + ")"
    fields = {
        "add": pairs(ops.add),
        "set": pairs(ops.set),
        "delete": delete,
        "replace": replace,
    }
    return f"{e.rt('HeaderOps')}({e.kwargs(**fields)})"


def response_matcher(e: Emitter, m: ResponseMatcher) -> str:
    """A runtime `ResponseMatcher(...)` (header values are matched as written)."""
    headers = tuple(
        (name, None if values is None else tuple(v.raw for v in values))
        for name, values in m.headers
    )
    fields = {
        "status_code": e.lit(m.status_code) if m.status_code else None,
        "headers": e.lit(headers) if headers else None,
    }
    return f"{e.rt('ResponseMatcher')}({e.kwargs(**fields)})"


@emits(Headers)
def headers(e: Emitter, _rc: RouteCompiler, h: Headers) -> str:
    fields: dict[str, str | None] = {
        "request": header_ops(e, h.request) if h.request is not None else None,
    }
    resp = h.response
    if resp is not None:
        fields["response"] = header_ops(e, resp.ops) if resp.ops is not None else None
        fields["require"] = response_matcher(e, resp.require) if resp.require is not None else None
        fields["deferred"] = "True" if resp.deferred else None
    fields["origin"] = e.lit(h.origin)
    return e.declare("h", f"{e.rt('Headers')}({e.kwargs(**fields)})", h.origin)
