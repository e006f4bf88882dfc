"""`request_body`: the request body replaced (`set`) or limited (`max_size` → 413).

A port of Caddy 2.11's `request_body` handler
(`modules/caddyhttp/requestbody/requestbody.go`). As there, the limit is
checked while the body is read: a handler that never reads the body (a
`respond`) is not affected, and whoever reads past `max_size` bytes (the
reverse proxy streaming it upstream) gets `HandlerError(413)`. Nothing is
buffered beyond what aiohttp already holds.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.streams import EmptyStreamReader, StreamReader

from rpc.runtime.context import Ctx
from rpc.runtime.errors import HandlerError
from rpc.runtime.placeholders import Template, render

__all__ = ["RequestBody"]

Text = str | Template

_TOO_LARGE = "http: request body too large"
_NO_CAUSE = BaseException()


class RequestBody:
    """Replace the request body with `set` (expanded) and/or cap it at `max_size` bytes."""

    __slots__ = ("max_size", "origin", "set")

    def __init__(self, *, max_size: int = 0, set: Text | None = None, origin: str = "") -> None:
        self.max_size = max_size
        self.set = set
        self.origin = origin

    async def __call__(self, ctx: Ctx) -> None:
        request = ctx.request
        if self.set is not None:
            data = render(self.set, ctx).encode()
            reader = StreamReader(request.protocol, 2**16, loop=request._loop)
            if data:
                reader.feed_data(data)
            reader.feed_eof()
            _replace_payload(request, reader)
            headers = ctx.writable_headers()
            headers.popall("Transfer-Encoding", None)
            headers["Content-Length"] = str(len(data))
        content = request.content
        if self.max_size > 0 and not isinstance(content, EmptyStreamReader):
            limited = _Limited(content, self.max_size, self.origin, request)
            _replace_payload(request, limited)


def _replace_payload(request: web.BaseRequest, reader: StreamReader) -> None:
    request._payload = reader
    cache: Any = getattr(request, "_cache", None)
    if isinstance(cache, dict):
        cache.pop("content", None)


class _Limited(StreamReader):
    """A view of a body stream that fails with 413 once more than `left` bytes are read."""

    __slots__ = ("_inner", "_left", "_origin_")

    def __init__(
        self, inner: StreamReader, limit: int, origin: str, request: web.BaseRequest
    ) -> None:
        super().__init__(request.protocol, 2**16, loop=request._loop)
        self._inner = inner
        self._left = limit
        self._origin_ = origin

    def _count(self, data: bytes) -> bytes:
        if len(data) > self._left:
            self._left = -1
            raise HandlerError(413, _TOO_LARGE, origin=self._origin_)
        self._left -= len(data)
        return data

    def _check(self) -> None:
        if self._left < 0:
            raise HandlerError(413, _TOO_LARGE, origin=self._origin_)

    async def readany(self) -> bytes:
        self._check()
        return self._count(await self._inner.readany())

    async def read(self, n: int = -1) -> bytes:
        self._check()
        if n < 0:
            # Read in pieces so an oversized body fails before it is all in memory.
            chunks = []
            while chunk := await self.readany():
                chunks.append(chunk)
            return b"".join(chunks)
        return self._count(await self._inner.read(n))

    async def readchunk(self) -> tuple[bytes, bool]:
        self._check()
        data, end = await self._inner.readchunk()
        return self._count(data), end

    async def readexactly(self, n: int) -> bytes:
        self._check()
        return self._count(await self._inner.readexactly(n))

    async def readline(self, *, max_line_length: int | None = None) -> bytes:
        self._check()
        return self._count(await self._inner.readline(max_line_length=max_line_length))

    async def readuntil(self, separator: bytes = b"\n", *, max_size: int | None = None) -> bytes:
        self._check()
        return self._count(await self._inner.readuntil(separator, max_size=max_size))

    def read_nowait(self, n: int = -1) -> bytes:
        self._check()
        return self._count(self._inner.read_nowait(n))

    def at_eof(self) -> bool:
        return self._inner.at_eof()

    def is_eof(self) -> bool:
        return self._inner.is_eof()

    def exception(self) -> BaseException | None:
        return self._inner.exception()

    def set_exception(self, exc: BaseException, exc_cause: BaseException = _NO_CAUSE) -> None:
        self._inner.set_exception(exc)

    async def wait_eof(self) -> None:
        await self._inner.wait_eof()
