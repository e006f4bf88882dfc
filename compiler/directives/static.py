"""Directives that answer without a backend: respond, redir, error, abort.

Ports of `caddyhttp/staticresp.go` and `staticerror.go` (`UnmarshalCaddyfile`)
and `httpcaddyfile/builtins.go` (`parseRedir`, `parseAbort`).
"""

from __future__ import annotations

import html

from rpc.compiler import caddyjson, placeholders
from rpc.compiler.directives.helper import Helper
from rpc.compiler.directives.registry import handler_directive
from rpc.compiler.ir.base import Text
from rpc.compiler.ir.handlers import StaticError, StaticResponse
from rpc.compiler.ir.routes import Handler

__all__ = ["weak_string"]


def weak_string(t: Text | None) -> object:
    """Caddy's `WeakString` in JSON: a number or bool when the text is one."""
    if t is None:
        return None
    raw = t.raw
    try:
        return int(raw, 10)
    except ValueError:
        pass
    if raw in ("true", "false"):
        return raw == "true"
    return raw


def _status_or_body(h: Helper, args: list[str]) -> tuple[Text | None, Text | None]:
    """One argument: a 3-digit positive number is the status, anything else the body."""
    status: Text | None = None
    body: Text | None = None
    if len(args) == 1:
        arg = args[0]
        if len(arg) == 3 and arg.isdigit() and int(arg) > 0:
            status = placeholders.parse(arg, keep_unknown=False)
        else:
            body = placeholders.parse(arg, keep_unknown=True)
    elif len(args) == 2:
        body = placeholders.parse(args[0], keep_unknown=True)
        status = placeholders.parse(args[1], keep_unknown=False)
    else:
        raise h.d.arg_err()
    return status, body


@handler_directive("respond")
def parse_respond(h: Helper) -> Handler:
    """
    respond [<matcher>] <status>|<body> [<status>] {
        body <text>
        close
    }
    """
    d = h.d
    d.next()
    span = d.span
    status, body = _status_or_body(h, d.remaining_args())
    close = False
    while d.next_block(0):
        if d.val == "body":
            if body is not None:
                raise d.error("body already specified")
            value = d.all_args(1)
            if value is None:
                raise d.arg_err()
            body = placeholders.parse(value[0], keep_unknown=True)
        elif d.val == "close":
            if close:
                raise d.error("close already specified")
            close = True
        else:
            raise d.error(f"unrecognized subdirective '{d.val}'", code="RPC301")
    return StaticResponse(status_code=status, body=body, close=close, span=span)


_HTML_REDIRECT = """<!DOCTYPE html>
<html>
	<head>
		<title>Redirecting...</title>
		<script>window.location.replace("{0}");</script>
		<meta http-equiv="refresh" content="0; URL='{0}'">
	</head>
	<body>Redirecting to <a href="{0}">{0}</a>...</body>
</html>
"""


@handler_directive("redir")
def parse_redir(h: Helper) -> Handler:
    """
    redir [<matcher>] <to> [permanent|temporary|html|<3xx>|401|<placeholder>]
    """
    d = h.d
    d.next()
    span = d.span
    if not d.next_arg():
        raise d.arg_err("to redirect to a path, write a matcher first: `redir * /new`")
    to = d.val
    code = d.val if d.next_arg() else ""
    body = ""
    headers: tuple[tuple[str, tuple[Text, ...]], ...] = ()
    if code == "permanent":
        code = "301"
    elif code in ("temporary", ""):
        code = "302"
    elif code == "html":
        body = _HTML_REDIRECT.format(html.escape(to))
        headers = (("Content-Type", (placeholders.parse("text/html; charset=utf-8"),)),)
        code = "200"
    elif not code.startswith("{"):
        if not code.lstrip("+-").isdigit():
            raise d.error(f"Not a supported redir code type or not valid integer: '{code}'")
        number = int(code)
        if number < 300 or (number > 399 and number != 401):
            raise d.error(f"Redir code not in the 3xx range or 401: '{number}'")
    if code != "200":
        headers = (("Location", (placeholders.parse(to, keep_unknown=False),)),)
    return StaticResponse(
        status_code=placeholders.parse(code, keep_unknown=False),
        headers=headers,
        body=placeholders.parse(body, keep_unknown=True) if body else None,
        span=span,
    )


@handler_directive("error")
def parse_error(h: Helper) -> Handler:
    """
    error [<matcher>] <status>|<message> [<status>] {
        message <text>
    }
    """
    d = h.d
    d.next()
    span = d.span
    status, message = _status_or_body(h, d.remaining_args())
    while d.next_block(0):
        if d.val == "message":
            if message is not None:
                raise d.error("message already specified")
            value = d.all_args(1)
            if value is None:
                raise d.arg_err()
            message = placeholders.parse(value[0], keep_unknown=True)
        else:
            raise d.error(f"unrecognized subdirective '{d.val}'", code="RPC301")
    return StaticError(error=message, status_code=status, span=span)


@handler_directive("abort")
def parse_abort(h: Helper) -> Handler:
    """
    abort [<matcher>]

    Closes the connection without writing a response.
    """
    d = h.d
    d.next()
    span = d.span
    if d.next():
        raise d.arg_err()
    return StaticResponse(abort=True, span=span)


@caddyjson.register(StaticResponse)
def _static_json(n: StaticResponse) -> dict[str, object]:
    out = caddyjson.fields(n)
    if n.status_code is not None:
        out["status_code"] = weak_string(n.status_code)
    if n.headers:
        out["headers"] = {name: [v.raw for v in values] for name, values in n.headers}
    return out


@caddyjson.register(StaticError)
def _error_json(n: StaticError) -> dict[str, object]:
    out = caddyjson.fields(n)
    if n.status_code is not None:
        out["status_code"] = weak_string(n.status_code)
    return out
