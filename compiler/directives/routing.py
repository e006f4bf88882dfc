"""Routing directives: handle, handle_path, route, handle_errors, invoke.

Ports of `httpcaddyfile/builtins.go` (`parseHandle`, `parseRoute`,
`parseHandleErrors`, `parseInvoke`) and `rewrite/caddyfile.go`
(`parseCaddyfileHandlePath`).
"""

from __future__ import annotations

from dataclasses import replace

from rpc.compiler.directives import matchers
from rpc.compiler.directives.helper import (
    ConfigValue,
    Helper,
    build_subroute,
    parse_segment_as_config,
)
from rpc.compiler.directives.registry import directive, handler_directive
from rpc.compiler.ir.handlers import Invoke, Rewrite
from rpc.compiler.ir.routes import Handler, MatcherSet, Route

__all__ = ["NAMED_ROUTES_STATE"]

# Key in Lowering.state collecting names passed to `invoke` in the current site.
NAMED_ROUTES_STATE = "named_routes_invoked"


@handler_directive("handle")
def parse_handle(h: Helper) -> Handler:
    """
    handle [<matcher>] {
        <directives...>
    }

    A block of directives (sorted by the directive order) that runs when the
    matcher matches; only the first matching `handle` of a block runs.
    """
    return h.parse_block_as_subroute()


@handler_directive("route")
def parse_route(h: Helper) -> Handler:
    """
    route [<matcher>] {
        <directives...>
    }

    Like `handle`, but directives run in the order written.
    """
    values = parse_segment_as_config(h)
    for v in values:
        if v.cls != "route":
            h.lowering.diags.error(
                "RPC312",
                f"{v.directive} directive returned something other than an HTTP route "
                "(only handler directives can be used in routes)",
                v.span,
            )
    return build_subroute(values, h.lowering, sort=False, span=h.d.head_span)


@directive("handle_path")
def parse_handle_path(h: Helper) -> list[ConfigValue]:
    """
    handle_path <path_matcher> {
        <directives...>
    }

    `handle` with a path matcher whose prefix is stripped from the request
    path first (`/api/*` strips `/api`).
    """
    d = h.d
    d.next()
    if not d.next_arg():
        raise d.arg_err("handle_path needs a path, e.g. `handle_path /api/*`")
    path = d.val
    span = d.span
    if not path.startswith("/"):
        raise d.error(f"path matcher must begin with '/', got {path}", code="RPC306")
    if path.endswith("/*"):
        prefix = path[:-2]
    elif path.endswith("*"):
        prefix = path[:-1]
    else:
        prefix = path
    d.delete()
    d.reset()
    subroute = h.parse_block_as_subroute()
    strip = Route(handle=(Rewrite(strip_path_prefix=prefix, span=span),), span=span)
    subroute = replace(subroute, routes=(strip, *subroute.routes))
    matcher_set = MatcherSet(matchers=(matchers.path_matcher([path], span),), span=span)
    return h.new_route(matcher_set, subroute)


@directive("handle_errors")
def parse_handle_errors(h: Helper) -> list[ConfigValue]:
    """
    handle_errors [<status_codes...>] {
        <directives...>
    }

    Routes run when a handler fails; codes are `404`-style or `5xx`-style.
    """
    d = h.d
    d.next()
    expression = ""
    args = d.remaining_args()
    if args:
        codes: list[str] = []
        for val in args:
            if len(val) != 3:
                raise d.error(f"bad status value '{val}'", code="RPC303")
            if val.endswith("xx"):
                digit = val[:1]
                if not digit.isdigit():
                    raise d.error(f"bad status value '{val}'", code="RPC303")
                if expression:
                    expression += " || "
                expression += (
                    f"{{http.error.status_code}} >= {digit}00 && "
                    f"{{http.error.status_code}} <= {digit}99"
                )
                continue
            if not val.isdigit():
                raise d.error(f"bad status value '{val}'", code="RPC303")
            codes.append(val)
        if codes:
            if expression:
                expression += " || "
            expression += "{http.error.status_code} in [" + ", ".join(codes) + "]"
        # Leave the cursor on the last argument, as parse_segment_as_config expects.
        d.reset()
        d.next()
        d.remaining_args()
        d.prev()
    else:
        d.prev()
    subroute = h.parse_block_as_subroute()
    # Caddy 2.11 wraps every block in a route of its own, under one status
    # matcher when codes are given.
    match: tuple[MatcherSet, ...] = ()
    if expression:
        match = (MatcherSet(matchers=(matchers.expression_matcher(expression, d.span),)),)
    wrapped = Route(match=match, handle=(subroute,), span=subroute.span)
    return [ConfigValue("error_route", replace(subroute, routes=(wrapped,)))]


@handler_directive("invoke")
def parse_invoke(h: Helper) -> Handler:
    """
    invoke [<matcher>] <route-name>

    Runs the named route `&(route-name)`.
    """
    d = h.d
    d.next()
    if not d.next_arg():
        raise d.arg_err("invoke needs the name of a route defined with `&(name) { ... }`")
    name = d.val
    span = d.span
    while d.next():
        if d.is_open_brace():
            raise d.error("invoke does not support blocks", code="RPC115")
    h.lowering.state.setdefault(NAMED_ROUTES_STATE, {})[name] = span
    return Invoke(name=name, span=span)
