"""Emitter for `encode` (`Encode` with its gzip/zstd encoders and response matcher).

Caddy's provisioning defaults are applied here: without `match`, responses
whose Content-Type is in `ENCODE_DEFAULT_CONTENT_TYPES`; without
`minimum_length`, 512 bytes. Response matcher values are compared as
written (Caddy does not expand placeholders in them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rpc.compiler.backend.emit import Emitter
from rpc.compiler.backend.handlers import emits
from rpc.compiler.ir.handlers import (
    ENCODE_DEFAULT_CONTENT_TYPES,
    ENCODE_DEFAULT_MINIMUM_LENGTH,
    Encode,
    Gzip,
    Zstd,
)
from rpc.compiler.ir.headers import ResponseMatcher

if TYPE_CHECKING:
    from rpc.compiler.backend.routes import RouteCompiler


def _encoder(e: Emitter, enc: Gzip | Zstd) -> str:
    if isinstance(enc, Gzip):
        return f"{e.rt('Gzip')}({e.lit(enc.level) if enc.level else ''})"
    fields = {
        "level": e.lit(enc.level) if enc.level else None,
        "checksum": e.lit(enc.checksum) if enc.checksum is not None else None,
    }
    return f"{e.rt('Zstd')}({e.kwargs(**fields)})"


def response_match(e: Emitter, m: ResponseMatcher | None) -> str:
    """A runtime `ResponseMatcher` (Caddy's default Content-Type list when `m` is None)."""
    if m is None:
        headers: tuple[tuple[str, tuple[str, ...] | None], ...] = (
            ("Content-Type", ENCODE_DEFAULT_CONTENT_TYPES),
        )
        status: tuple[int, ...] = ()
    else:
        headers = tuple(
            (field, None if values is None else tuple(v.raw for v in values))
            for field, values in m.headers
        )
        status = m.status_code
    fields = {
        "status_code": e.lit(status) if status else None,
        "headers": e.lit(headers) if headers else None,
    }
    return e.declare(
        "rm", f"{e.rt('ResponseMatcher')}({e.kwargs(**fields)})", key=("response_match", m)
    )


@emits(Encode)
def encode(e: Emitter, _rc: RouteCompiler, h: Encode) -> str:
    encoders = ", ".join(_encoder(e, enc) for _, enc in h.encodings)
    fields = {
        "prefer": e.lit(h.prefer) if h.prefer else None,
        "minimum_length": e.lit(h.minimum_length or ENCODE_DEFAULT_MINIMUM_LENGTH),
        "match": response_match(e, h.match),
        "origin": e.lit(h.origin),
    }
    return e.declare("h", f"{e.rt('Encode')}(({encoders},), {e.kwargs(**fields)})", h.origin)
