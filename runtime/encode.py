"""`encode`: responses compressed with gzip or zstd, negotiated from Accept-Encoding.

A port of Caddy 2.11's `encode` handler (`modules/caddyhttp/encode/encode.go`).
The handler picks the client's preferred offered encoding (q-values, then
the configured order) and registers a send hook that decides as Caddy's
response writer does: no existing Content-Encoding, no `Cache-Control:
no-transform`, the response matcher (by default a list of compressible
Content-Types) accepts the status and headers, and the body (its
Content-Length, else its first write) is longer than `minimum_length`.
A complete body is compressed at once; a streamed one is compressed as it is
written (aiohttp's payload writer carries the compressor, and for a body of
unknown length the headers wait for the first write), each write flushed so
server-sent events keep flowing. Strong ETags get `-<encoding>`
appended, and the suffix is removed again from a client's If-None-Match.
zstandard is imported lazily.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web
from aiohttp.http_writer import _serialize_headers
from multidict import CIMultiDict

from rpc.runtime.context import Ctx
from rpc.runtime.respmatch import ResponseMatcher

__all__ = ["Encode", "Gzip", "Zstd", "accepted_encodings"]

_EXTRA = "pip install 'rpc[runtime]'"
_OFFLOAD = 64 * 1024  # compress larger writes in a thread


def accepted_encodings(ctx: Ctx, preferred: Sequence[str]) -> list[str]:
    """Caddy's `AcceptedEncodings`: q > 0, sorted by q then by the server's preference."""
    header = ctx.headers.get("Accept-Encoding", "")
    if not header or "Sec-WebSocket-Key" in ctx.headers:
        return []
    prefs: list[tuple[float, int, str]] = []
    for item in header.split(","):
        parts = item.split(";")
        name = parts[0].strip().lower()
        q = 1.0
        if len(parts) > 1:
            qtext = parts[1].strip().lower()
            if qtext.startswith("q="):
                try:
                    value = float(qtext[2:])
                except ValueError:
                    value = -1.0
                if 0 <= value <= 1:
                    q = value
        if q < 0.00001:
            continue
        order = preferred.index(name) if name in preferred else -1
        if order > -1:
            order = len(preferred) - order
        prefs.append((q, order, name))
    # Stable: equal q (within float noise) and preference keep header order.
    prefs.sort(key=lambda p: (-round(p[0], 5), -p[1]))
    return [name for _, _, name in prefs]


class Gzip:
    """The gzip encoder; level 0 means Caddy's default (5)."""

    __slots__ = ("level",)
    name = "gzip"

    def __init__(self, level: int = 0) -> None:
        self.level = level if 0 < level <= 9 else 5

    def compressor(self) -> _Stream:
        c = zlib.compressobj(self.level, zlib.DEFLATED, 31)
        return _Stream(c.compress, lambda: c.flush(zlib.Z_SYNC_FLUSH), c.flush)


_ZSTD_LEVELS = {"fastest": 1, "default": 3, "better": 7, "best": 11}


class Zstd:
    """The zstd encoder: a named level and whether frames carry a checksum."""

    __slots__ = ("checksum", "level")
    name = "zstd"

    def __init__(self, level: str = "", checksum: bool | None = None) -> None:
        self.level = _ZSTD_LEVELS.get(level or "default", 3)
        self.checksum = checksum is not False
        _zstandard()  # fail at startup, not on the first request

    def compressor(self) -> _Stream:
        zstd = _zstandard()
        c = zstd.ZstdCompressor(level=self.level, write_checksum=self.checksum).compressobj()
        return _Stream(
            c.compress,
            lambda: c.flush(zstd.COMPRESSOBJ_FLUSH_BLOCK),
            lambda: c.flush(zstd.COMPRESSOBJ_FLUSH_FINISH),
        )


def _zstandard() -> Any:
    try:
        import zstandard
    except ImportError as exc:
        raise RuntimeError(f"encode zstd needs zstandard: {_EXTRA}") from exc
    return zstandard


class _Stream:
    """A compressor in the shape aiohttp's payload writer calls (`await compress`, `flush`)."""

    __slots__ = ("_compress", "_finish", "_sync")

    def __init__(
        self,
        compress: Callable[[bytes], bytes],
        sync: Callable[[], bytes],
        finish: Callable[[], bytes],
    ) -> None:
        self._compress = compress
        self._sync = sync
        self._finish = finish

    def compress_all(self, data: bytes) -> bytes:
        return self._compress(data) + self._finish()

    def _chunk(self, data: bytes) -> bytes:
        return self._compress(bytes(data)) + self._sync()

    async def compress(self, data: bytes) -> bytes:
        if len(data) > _OFFLOAD:
            return await asyncio.get_running_loop().run_in_executor(None, self._chunk, data)
        return self._chunk(data)

    def flush(self, mode: int = 0) -> bytes:
        return self._finish()


Encoder = Gzip | Zstd


class Encode:
    """Compress the response with the best encoding both sides accept."""

    __slots__ = ("_hooks", "encodings", "match", "minimum_length", "origin", "prefer")

    def __init__(
        self,
        encodings: Sequence[Encoder],
        *,
        prefer: Sequence[str] = (),
        minimum_length: int = 512,
        match: ResponseMatcher,
        origin: str = "",
    ) -> None:
        self.encodings = {e.name: e for e in encodings}
        self.prefer = tuple(prefer)
        self.minimum_length = minimum_length
        self.match = match
        self.origin = origin
        self._hooks = {name: self._hook_for(enc) for name, enc in self.encodings.items()}

    async def __call__(self, ctx: Ctx) -> None:
        if "no-transform" in ctx.headers.get("Cache-Control", ""):
            return
        for name in accepted_encodings(ctx, self.prefer):
            hook = self._hooks.get(name)
            if hook is None:
                continue
            ctx.send_hooks.append(hook)
            etag = ctx.headers.get("If-None-Match", "")
            suffix = f'-{name}"'
            if etag and not etag.startswith("W/") and etag.endswith(suffix):
                ctx.writable_headers()["If-None-Match"] = etag[: -len(suffix)] + '"'
            return

    def _hook_for(self, encoder: Encoder) -> Callable[[Ctx, web.StreamResponse], None]:
        def hook(ctx: Ctx, resp: web.StreamResponse) -> None:
            self._maybe_encode(ctx, resp, encoder)

        return hook

    def _maybe_encode(self, ctx: Ctx, resp: web.StreamResponse, encoder: Encoder) -> None:
        status = resp.status
        headers = resp.headers
        if status == 304:
            _add_vary(headers)
            return
        if status < 200 or status in (204, 206) or ctx.method == "CONNECT":
            return  # no body, or a byte range of the unencoded representation
        if "Content-Range" in headers:
            return
        body: Any = resp.body if isinstance(resp, web.Response) else None
        whole = isinstance(body, (bytes, bytearray))
        if isinstance(resp, web.Response) and not whole and ctx.method != "HEAD":
            return  # an empty body or a payload object: nothing to compress here
        if whole:
            length: int | None = len(body)
        else:
            text = headers.get("Content-Length")
            length = int(text) if text is not None and text.isdigit() else None
        if length is None:
            if ctx.method != "HEAD":
                # Caddy decides on the first write; hold the headers until then.
                resp._send_headers_immediately = False  # type: ignore[misc,unused-ignore]
                writer: Any = ctx.request._payload_writer
                writer._compress = _FirstWrite(self, encoder, resp, writer)
            return
        if length <= self.minimum_length:
            return
        if whole and "Content-Type" not in headers:
            headers["Content-Type"] = _sniff(bytes(body[:512]))
        if not self._accepts(status, headers):
            return
        _encoded_headers(headers, encoder.name)
        if ctx.method == "HEAD":
            if isinstance(resp, web.Response):
                resp.body = None  # no body and, like Go's answer, no Content-Length
            return
        stream = encoder.compressor()
        if isinstance(resp, web.Response):
            data = stream.compress_all(bytes(body))
            resp.body = data
            headers["Content-Length"] = str(len(data))
            return
        ctx.request._payload_writer._compress = stream  # type: ignore[attr-defined]

    def _accepts(self, status: int, headers: CIMultiDict[str]) -> bool:
        """Caddy's checks when it starts encoding: not encoded yet, transformable, matched."""
        if "Content-Encoding" in headers or "no-transform" in headers.get("Cache-Control", ""):
            return False
        return self.match.match(status, headers)


class _FirstWrite:
    """A streamed body of unknown length: encode it if the first write is long enough.

    It sits where aiohttp's payload writer keeps its compressor; the headers
    are still unsent at the first write, so they can be rewritten then. It is
    falsy until it compresses, so an empty body ends without encoding.
    """

    __slots__ = ("_encode", "_encoder", "_resp", "_stream", "_writer")

    def __init__(self, encode: Encode, encoder: Encoder, resp: web.StreamResponse, writer: Any):
        self._encode = encode
        self._encoder = encoder
        self._resp = resp
        self._writer = writer
        self._stream: _Stream | None = None

    def __bool__(self) -> bool:
        return self._stream is not None

    async def compress(self, data: bytes) -> bytes:
        if self._stream is None:
            self._stream = self._decide(bytes(data))
            if self._stream is None:
                self._writer._compress = None
                return bytes(data)
        return await self._stream.compress(data)

    def flush(self, mode: int = 0) -> bytes:
        return self._stream.flush() if self._stream is not None else b""

    def _decide(self, first: bytes) -> _Stream | None:
        writer = self._writer
        headers = self._resp.headers
        buf = writer._headers_buf
        if len(first) <= self._encode.minimum_length or buf is None or writer._headers_written:
            return None
        if "Content-Type" not in headers:
            headers["Content-Type"] = _sniff(first[:512])
        if not self._encode._accepts(self._resp.status, headers):
            return None
        _encoded_headers(headers, self._encoder.name)
        status_line = bytes(buf).split(b"\r\n", 1)[0].decode("latin-1")
        writer._headers_buf = _serialize_headers(status_line, headers)
        return self._encoder.compressor()


def _encoded_headers(headers: CIMultiDict[str], name: str) -> None:
    """The response headers of an encoded representation (Caddy's `responseWriter.init`)."""
    headers.popall("Content-Length", None)
    headers["Content-Encoding"] = name
    _add_vary(headers)
    headers.popall("Accept-Ranges", None)
    etag = headers.get("Etag", "")
    if etag and not etag.startswith("W/"):
        headers["Etag"] = etag.rstrip('"') + f'-{name}"'


def _add_vary(headers: CIMultiDict[str]) -> None:
    for value in headers.getall("Vary", ()):
        if any(v.strip().lower() == "accept-encoding" for v in value.split(",")):
            return
    headers.add("Vary", "Accept-Encoding")


def _sniff(data: bytes) -> str:
    """A small part of Go's `DetectContentType`: HTML, XML, JSON-less text, or binary."""
    head = data.lstrip(b"\t\n\x0c\r ").lower()
    for sig in (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<p", b"<div"):
        if head.startswith(sig) and head[len(sig) : len(sig) + 1] in (b" ", b">"):
            return "text/html; charset=utf-8"
    if head.startswith(b"<?xml"):
        return "text/xml; charset=utf-8"
    if any(b < 0x20 and b not in (9, 10, 12, 13, 27) for b in data):
        return "application/octet-stream"
    return "text/plain; charset=utf-8"
