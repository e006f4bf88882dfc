"""Response compression: encode → the `encode` handler with its encoders.

A port of `caddyhttp/encode/caddyfile.go` and the `gzip`/`zstd` encoders'
`UnmarshalCaddyfile` (Caddy 2.11: gzip takes a numeric level, zstd a named
level and `disable_checksum`).
"""

from __future__ import annotations

from collections.abc import Callable

from rpc.compiler import caddyjson
from rpc.compiler.directives.helper import Helper
from rpc.compiler.directives.matchers import MatcherContext, parse_header
from rpc.compiler.directives.registry import handler_directive
from rpc.compiler.dispenser import Dispenser, DToken
from rpc.compiler.ir.base import Text
from rpc.compiler.ir.handlers import Encode, Gzip, Zstd
from rpc.compiler.ir.headers import ResponseMatcher
from rpc.compiler.ir.matchers import MatchHeader
from rpc.compiler.ir.routes import Handler

__all__: list[str] = []

_ZSTD_LEVELS = ("fastest", "better", "best", "default")


def _atoi_error(text: str) -> str:
    return f'strconv.Atoi: parsing "{text}": invalid syntax'


def _is_int(text: str) -> bool:
    digits = text[1:] if text[:1] in "+-" else text
    return digits.isascii() and digits.isdigit()


def _gzip(d: Dispenser) -> Gzip:
    """`gzip [<level>]` (extra arguments are ignored, as in Caddy)."""
    d.next()
    if not d.next_arg():
        return Gzip(span=d.span)
    if not _is_int(d.val):
        raise d.error(_atoi_error(d.val), hint="the gzip level is a number from 1 to 9")
    return Gzip(level=int(d.val), span=d.span)


def _zstd(d: Dispenser) -> Zstd:
    """`zstd [<level>] { disable_checksum }`."""
    d.next()
    span = d.span
    level = ""
    if d.next_arg():
        if d.val not in _ZSTD_LEVELS:
            raise d.error(
                "unexpected compression level, use one of '" + "', '".join(_ZSTD_LEVELS) + "'",
                hint="zstd levels are names, not numbers",
            )
        level = d.val
    checksum: bool | None = None
    while d.next_block(0):
        if d.val == "disable_checksum":
            if d.next_arg():
                raise d.arg_err()
            checksum = False
        else:
            raise d.error(f"unrecognized subdirective '{d.val}'", code="RPC301")
    return Zstd(level=level, checksum=checksum, span=span)


_ENCODERS: dict[str, Callable[[Dispenser], Gzip | Zstd]] = {"gzip": _gzip, "zstd": _zstd}


def _response_matcher(d: Dispenser) -> ResponseMatcher:
    """Caddy's `ParseNamedResponseMatcher` for `match`: `header` lines add up, `status` too."""
    d.next()
    span = d.span
    status: list[int] = []
    header_lines: list[DToken] = []
    nesting = d.nesting
    while d.next_arg() or d.next_block(nesting):
        kind = d.val
        if kind == "header":
            header_lines.extend(d.next_segment())
        elif kind == "status":
            args = d.remaining_args()
            if not args:
                raise d.arg_err("write the status codes, e.g. `status 2xx 404`")
            for arg in args:
                number = arg[:1] if len(arg) == 3 and arg.endswith("xx") else arg
                if not _is_int(number):
                    raise d.error(f"bad status value '{arg}'", hint="use codes like 200 or 2xx")
                status.append(int(number))
        else:
            raise d.error(
                f"unrecognized response matcher {kind}",
                code="RPC306",
                hint="response matchers are `status` and `header`",
            )
    headers: tuple[tuple[str, tuple[Text, ...] | None], ...] = ()
    if header_lines:
        found = parse_header(Dispenser(header_lines), MatcherContext("", None))
        assert isinstance(found, MatchHeader)
        headers = found.fields
    return ResponseMatcher(status_code=tuple(status), headers=headers, span=span)


@handler_directive("encode")
def parse_encode(h: Helper) -> Handler:
    """
    encode [<matcher>] [<formats...>] {
        gzip [<level>]
        zstd [<level>] { disable_checksum }
        minimum_length <length>
        match { status <codes...>; header <field> [<value>] }
        match status <codes...> | header <field> [<value>]
    }

    Formats default to `zstd gzip`; formats on the first line come after
    those of the block in the preference order.
    """
    d = h.d
    d.next()
    span = d.span
    args = d.remaining_args()
    prefer: list[str] = []
    encodings: dict[str, Gzip | Zstd] = {}
    minimum_length = 0
    match: ResponseMatcher | None = None
    while d.next_block(0):
        name = d.val
        if name == "minimum_length":
            if not d.next_arg():
                raise d.arg_err()
            if not _is_int(d.val):
                raise d.error(_atoi_error(d.val), hint="the minimum length is a number of bytes")
            minimum_length = int(d.val)
        elif name == "match":
            if match is not None:
                raise d.error("matcher is defined more than once: match", code="RPC307")
            match = _response_matcher(d.new_from_next_segment())
        else:
            encoder = _ENCODERS.get(name)
            if encoder is None:
                raise d.error(
                    f"getting module named 'http.encoders.{name}': module not registered: "
                    f"http.encoders.{name}",
                    code="RPC301",
                    hint="Caddy's encoders are gzip and zstd",
                )
            encodings[name] = encoder(d.new_from_next_segment())
            prefer.append(name)
    if not prefer and not args:
        args = ["zstd", "gzip"]
    for arg in args:
        if arg not in _ENCODERS:
            raise d.error(
                f"finding encoder module '': module not registered: http.encoders.{arg}",
                code="RPC301",
                hint="Caddy's encoders are gzip and zstd (brotli only as precompressed files)",
            )
        encodings[arg] = Gzip() if arg == "gzip" else Zstd()
        prefer.append(arg)
    return Encode(
        encodings=tuple(encodings.items()),
        prefer=tuple(prefer),
        minimum_length=minimum_length,
        match=match,
        span=span,
    )


@caddyjson.register(Encode)
def _encode_json(n: Encode) -> dict[str, object]:
    out = caddyjson.fields(n)
    out["encodings"] = {name: caddyjson.value(enc) for name, enc in n.encodings}
    return out
