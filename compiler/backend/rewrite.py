"""Emitter for `rewrite`, `uri`, `method`, `try_files` and `handle_path` (the `Rewrite` handler).

Every string of Caddy's rewrite handler is expanded with ReplaceAll (unknown
placeholders become empty), except the search and replacement of a query
`replace` operation, which use ReplaceKnown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rpc.compiler import placeholders
from rpc.compiler.backend.emit import Emitter
from rpc.compiler.backend.handlers import emits
from rpc.compiler.ir.base import Text
from rpc.compiler.ir.handlers import QueryArg, QueryOps, Rewrite

if TYPE_CHECKING:
    from rpc.compiler.backend.routes import RouteCompiler


def _str_text(e: Emitter, raw: str) -> str | None:
    """A plain-string IR field that may still hold placeholders (strip prefix/suffix)."""
    if not raw:
        return None
    return e.text(placeholders.parse(raw, keep_unknown=False), keep_unknown=False)


def _all(e: Emitter, t: Text | None) -> str:
    return e.text(t, keep_unknown=False)


def _args(e: Emitter, args: tuple[QueryArg, ...]) -> str | None:
    if not args:
        return None
    items = [f"{e.rt('QueryArg')}({_all(e, a.key)}, {_all(e, a.val)})" for a in args]
    return f"({', '.join(items)},)"


def _query(e: Emitter, q: QueryOps) -> str:
    replace = None
    if q.replace:
        items = [
            f"{e.rt('QueryReplace')}({_all(e, r.key)}, {e.lit(r.search_regexp)}, "
            f"{e.text(r.replace, keep_unknown=True)})"
            for r in q.replace
        ]
        replace = f"({', '.join(items)},)"
    fields = {
        "rename": _args(e, q.rename),
        "set": _args(e, q.set),
        "add": _args(e, q.add),
        "replace": replace,
        "delete": f"({''.join(_all(e, t) + ', ' for t in q.delete)})" if q.delete else None,
    }
    return f"{e.rt('QueryOps')}({e.kwargs(**fields)})"


@emits(Rewrite)
def rewrite(e: Emitter, _rc: RouteCompiler, h: Rewrite) -> str:
    substrings = [
        f"{e.rt('SubstringReplace')}({_all(e, s.find)}, {_all(e, s.replace)}, {e.lit(s.limit)})"
        for s in h.uri_substring
    ]
    regexps = [
        f"{e.rt('RegexReplace')}({e.lit(r.find)}, {_all(e, r.replace)})" for r in h.path_regexp
    ]
    fields = {
        "method": _all(e, h.method) if h.method is not None else None,
        "uri": _all(e, h.uri) if h.uri is not None else None,
        "strip_path_prefix": _str_text(e, h.strip_path_prefix),
        "strip_path_suffix": _str_text(e, h.strip_path_suffix),
        "uri_substring": f"({', '.join(substrings)},)" if substrings else None,
        "path_regexp": f"({', '.join(regexps)},)" if regexps else None,
        "query": _query(e, h.query) if h.query is not None else None,
        "origin": e.lit(h.origin),
    }
    return e.declare("h", f"{e.rt('Rewrite')}({e.kwargs(**fields)})", h.origin)
