"""`intercept`: response matchers, `replace_status` and `handle_response` → `Intercept`.

A port of `modules/caddyhttp/intercept/intercept.go` (`UnmarshalCaddyfile`,
`FinalizeUnmarshalCaddyfile`); the response-handling syntax is reverse_proxy's,
shared through `ResponseRouting`. It is read so `rpc adapt` and `rpc check`
see the whole config; code generation refuses it (RPC304), since the
runtime has no response interception.
"""

from __future__ import annotations

from rpc.compiler.directives.helper import Helper
from rpc.compiler.directives.proxy import RESPONSE_SUBDIRECTIVES, ResponseRouting
from rpc.compiler.directives.registry import handler_directive
from rpc.compiler.errors import did_you_mean
from rpc.compiler.ir.handlers import Intercept
from rpc.compiler.ir.routes import Handler

__all__ = ["parse_intercept"]


@handler_directive("intercept")
def parse_intercept(h: Helper) -> Handler:
    """
    intercept [<matcher>] {
        @name {
            status <code...>
            header <field> [<value>]
        }
        replace_status [<matcher>] <status_code>
        handle_response [<matcher>] {
            <directives...>
        }
    }

    Arguments after the matcher are ignored, and so is the block after them
    (Caddy reads a block only right after the directive name).
    """
    d = h.d
    d.next()  # the directive name
    span = d.span
    routing = ResponseRouting(h)
    while d.next_block(0):
        name = d.val
        if name.startswith("@"):
            routing.response_matcher(d)
            continue
        parse = RESPONSE_SUBDIRECTIVES.get(name)
        if parse is None:
            raise d.error(
                f"unrecognized subdirective {name}",
                code="RPC301",
                hint=did_you_mean(name, RESPONSE_SUBDIRECTIVES),
            )
        parse(routing, d)
    return Intercept(handle_response=routing.finalize_responses(), span=span)
