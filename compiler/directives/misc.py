"""Small handler directives: request_body, log_skip, log_append, log_name, metrics,
copy_response, copy_response_headers.

Ports of `caddyhttp/requestbody/caddyfile.go`, `parseLogSkip`/`parseLogName`
(`httpcaddyfile/builtins.go`), `caddyhttp/logging/caddyfile.go`,
`caddyhttp/metrics.go` and `reverseproxy/copyresponse.go` as Caddy 2.11 has
them. `copy_response` and `copy_response_headers` act on the upstream
response, so they belong inside reverse_proxy's `handle_response`.
"""

from __future__ import annotations

import re

from rpc.compiler import caddyjson, placeholders
from rpc.compiler.directives.helper import Helper
from rpc.compiler.directives.registry import handler_directive
from rpc.compiler.directives.static import weak_string
from rpc.compiler.ir.handlers import (
    CopyResponse,
    CopyResponseHeaders,
    LogAppend,
    Metrics,
    RequestBody,
    Vars,
)
from rpc.compiler.ir.routes import Handler

__all__ = ["ACCESS_LOGGER_NAMES_VAR", "LOG_SKIP_VAR", "parse_bytes"]

# Request variables the access logger reads (Caddy's `LogSkipVar`, `AccessLoggerNameVarKey`).
LOG_SKIP_VAR = "log_skip"
ACCESS_LOGGER_NAMES_VAR = "access_logger_names"

_BYTES_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "ki": 2**10,
    "kib": 2**10,
    "m": 10**6,
    "mb": 10**6,
    "mi": 2**20,
    "mib": 2**20,
    "g": 10**9,
    "gb": 10**9,
    "gi": 2**30,
    "gib": 2**30,
    "t": 10**12,
    "tb": 10**12,
    "ti": 2**40,
    "tib": 2**40,
    "p": 10**15,
    "pb": 10**15,
    "pi": 2**50,
    "pib": 2**50,
    "e": 10**18,
    "eb": 10**18,
    "ei": 2**60,
    "eib": 2**60,
}
_NUMBER = re.compile(r"[0-9.,]*")
_GO_FLOAT = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def parse_bytes(text: str) -> int:
    """go-humanize's `ParseBytes` (`1MB`, `1.5 KiB`, `1,000`); ValueError with Go's message."""
    number = _NUMBER.match(text)
    digits = number.group(0) if number else ""
    num = digits.replace(",", "")
    if not _GO_FLOAT.fullmatch(num):
        raise ValueError(f'strconv.ParseFloat: parsing "{num}": invalid syntax')
    unit = text[len(digits) :].strip().lower()
    if unit not in _BYTES_UNITS:
        raise ValueError(f"unhandled size name: {unit}")
    value = float(num) * _BYTES_UNITS[unit]
    if value >= 2**64:
        raise ValueError(f"too large: {text}")
    return int(value)


@handler_directive("request_body")
def parse_request_body(h: Helper) -> Handler:
    """
    request_body [<matcher>] {
        max_size <size>
        set      <body>
    }
    """
    d = h.d
    d.next()
    span = d.span
    max_size = 0
    body = None
    while d.next_block(0):
        sub = d.val
        if sub == "max_size":
            value = d.all_args(1)
            if value is None:
                raise d.arg_err("write a size, e.g. `max_size 10MB`")
            try:
                max_size = parse_bytes(value[0])
            except ValueError as exc:
                raise d.error(
                    f"parsing max_size: {exc}", hint="sizes look like 512, 10KB, 1MiB or 1.5GB"
                ) from None
        elif sub == "set":
            value = d.all_args(1)
            if value is None:
                raise d.arg_err("write the new body as one (quoted) argument")
            body = placeholders.parse(value[0], keep_unknown=False)
        else:
            raise d.error(
                f"unrecognized request_body subdirective '{sub}'",
                code="RPC301",
                hint="request_body takes max_size and set",
            )
    return RequestBody(max_size=max_size, set=body, span=span)


def _parse_log_skip(h: Helper) -> Handler:
    """
    log_skip [<matcher>]

    Requests it matches are not written to the access log.
    """
    d = h.d
    d.next()
    span = d.span
    if d.val == "skip_log":
        h.warn(
            "the 'skip_log' directive is deprecated, please use 'log_skip' instead!",
            hint="rename the directive to log_skip",
        )
    if d.next_arg():
        raise d.arg_err("log_skip takes only a matcher")
    if d.next_block(0):
        raise d.error(
            "log_skip directive does not accept blocks",
            hint="use a named matcher to choose the requests: `log_skip @name`",
        )
    return Vars(values=((LOG_SKIP_VAR, True),), span=span)


handler_directive("log_skip")(_parse_log_skip)
handler_directive("skip_log")(_parse_log_skip)


@handler_directive("log_name")
def parse_log_name(h: Helper) -> Handler:
    """
    log_name [<matcher>] <names...>

    The access loggers (by `log` name) that record the requests it matches.
    """
    d = h.d
    d.next()
    span = d.span
    names = d.remaining_args()
    return Vars(values=((ACCESS_LOGGER_NAMES_VAR, tuple(names) if names else None),), span=span)


@handler_directive("log_append")
def parse_log_append(h: Helper) -> Handler:
    """
    log_append [<matcher>] [<]<key> <value>

    Adds a field to the access log entry; `<` evaluates the value before the
    request is handled instead of after.
    """
    d = h.d
    d.next()
    span = d.span
    if not d.next_arg():
        raise d.arg_err("write `log_append <key> <value>`")
    key = d.val
    early = False
    if key.startswith("<") and len(key) > 1:
        key, early = key[1:], True
    if not d.next_arg():
        raise d.arg_err("write `log_append <key> <value>`")
    value = placeholders.parse(d.val, keep_unknown=True) if d.val else None
    return LogAppend(key=key, value=value, early=early, span=span)


@handler_directive("metrics")
def parse_metrics(h: Helper) -> Handler:
    """
    metrics [<matcher>] {
        disable_openmetrics
    }
    """
    d = h.d
    d.next()
    span = d.span
    if d.remaining_args():
        raise d.arg_err("metrics takes only a matcher and a block")
    disable = False
    while d.next_block(0):
        if d.val == "disable_openmetrics":
            disable = True
        else:
            raise d.error(
                f'unrecognized subdirective "{d.val}"',
                code="RPC301",
                hint="metrics takes disable_openmetrics",
            )
    return Metrics(disable_openmetrics=disable, span=span)


@handler_directive("copy_response")
def parse_copy_response(h: Helper) -> Handler:
    """
    copy_response [<matcher>] [<status>] {
        status <status>
    }

    Writes the upstream response (inside reverse_proxy's `handle_response`).
    A positive number on the first line is the status and ends the parse.
    """
    d = h.d
    d.next()
    span = d.span
    args = d.remaining_args()
    if len(args) == 1 and _positive_int(args[0]):
        return CopyResponse(status_code=placeholders.parse(args[0], keep_unknown=False), span=span)
    status = None
    while d.next_block(0):
        if d.val == "status":
            if not d.next_arg():
                raise d.arg_err("write the status code, e.g. `status 200`")
            status = placeholders.parse(d.val, keep_unknown=False) if d.val else None
        else:
            raise d.error(
                f"unrecognized subdirective '{d.val}'",
                code="RPC301",
                hint="copy_response takes status",
            )
    return CopyResponse(status_code=status, span=span)


def _positive_int(text: str) -> bool:
    digits = text[1:] if text[:1] in "+-" else text
    return digits.isascii() and digits.isdigit() and int(text) > 0


@handler_directive("copy_response_headers")
def parse_copy_response_headers(h: Helper) -> Handler:
    """
    copy_response_headers [<matcher>] {
        include <fields...>
        exclude <fields...>
    }

    Copies the upstream response's headers (inside reverse_proxy's
    `handle_response`): all of them, only `include`d ones, or all but the
    `exclude`d ones.
    """
    d = h.d
    d.next()
    span = d.span
    if d.remaining_args():
        raise d.arg_err("the header names go in the block: `include <fields...>`")
    include: list[str] = []
    exclude: list[str] = []
    while d.next_block(0):
        if d.val == "include":
            include.extend(d.remaining_args())
        elif d.val == "exclude":
            exclude.extend(d.remaining_args())
        else:
            raise d.error(
                f"unrecognized subdirective '{d.val}'",
                code="RPC301",
                hint="copy_response_headers takes include and exclude",
            )
    return CopyResponseHeaders(include=tuple(include), exclude=tuple(exclude), span=span)


@caddyjson.register(CopyResponse)
def _copy_response_json(n: CopyResponse) -> dict[str, object]:
    out = caddyjson.fields(n)
    if n.status_code is not None:
        out["status_code"] = weak_string(n.status_code)
    return out
