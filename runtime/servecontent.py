"""Go's `http.ServeContent` for a file on disk: validators, conditionals, one range, the body.

The file server hands over the file, its stat and the headers decided so far
(ETag, Content-Type, Content-Encoding, Vary); this module answers exactly as
Go's `net/http/fs.go` does: `Last-Modified`, If-Match / If-Unmodified-Since
(412), If-None-Match / If-Modified-Since (304), If-Range, `Range` (206 or
416, several ranges as multipart/byteranges) and `Accept-Ranges`, then
sends the bytes: small files at once, larger ones streamed, disk reads
beyond 64 KiB in a thread.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from email.utils import formatdate, parsedate_to_datetime
from typing import BinaryIO

from aiohttp import web
from multidict import CIMultiDict

from rpc.runtime.context import Ctx

__all__ = ["serve_content"]

_CHUNK = 256 * 1024
_SMALL = 256 * 1024  # read in one thread hop
# Read on the event loop: like the stat before it, a few microseconds from the page
# cache, far less than a hop to a thread.
_INLINE = 64 * 1024


class _Response(web.StreamResponse):
    """A StreamResponse that can go out without Content-Type (Go never sniffs one here)."""

    __slots__ = ("_no_content_type",)

    def __init__(self, *, status: int, headers: CIMultiDict[str], no_content_type: bool) -> None:
        super().__init__(status=status, headers=headers)
        self._no_content_type = no_content_type

    async def _write_headers(self) -> None:
        if self._no_content_type:
            self.headers.popall("Content-Type", None)
        await super()._write_headers()


class _Whole(web.Response):
    """A complete small file as one response (encode can compress it at once)."""

    __slots__ = ("_no_content_type",)

    def __init__(
        self,
        *,
        status: int,
        headers: CIMultiDict[str],
        body: bytes | None,
        no_content_type: bool,
    ) -> None:
        super().__init__(status=status, headers=headers, body=body)
        self._no_content_type = no_content_type

    async def _write_headers(self) -> None:
        if self._no_content_type:
            self.headers.popall("Content-Type", None)
        await super()._write_headers()


async def serve_content(
    ctx: Ctx,
    filename: str,
    st: os.stat_result,
    headers: CIMultiDict[str],
    status_override: int = 0,
) -> web.StreamResponse:
    """The response for `filename` (size and mtime from `st`) with `headers` already set."""
    mtime = int(st.st_mtime)
    useful = mtime not in (0, 1)
    if useful:
        headers["Last-Modified"] = formatdate(mtime, usegmt=True)
    req = ctx.headers
    method = ctx.method
    etag = headers.get("Etag", "")

    verdict = _if_match(req.get("If-Match"), etag)
    if verdict is None:
        verdict = _if_unmodified_since(req.get("If-Unmodified-Since"), mtime if useful else None)
    if verdict is False:
        return _bare(412, headers, status_override)
    none_match = _if_none_match(req.get("If-None-Match"), etag)
    if none_match is False:
        if method in ("GET", "HEAD"):
            return _not_modified(headers, status_override)
        return _bare(412, headers, status_override)
    if (
        none_match is None
        and method in ("GET", "HEAD")
        and useful
        and _not_modified_since(req.get("If-Modified-Since"), mtime)
    ):
        return _not_modified(headers, status_override)

    size = st.st_size
    range_header = req.get("Range", "")
    if range_header and not _if_range(req.get("If-Range"), etag, mtime if useful else None, method):
        range_header = ""
    try:
        ranges = _parse_range(range_header, size)
    except _NoOverlap:
        if size == 0:
            ranges = []
        else:
            headers["Content-Range"] = f"bytes */{size}"
            return _error(416, "invalid range: failed to overlap", headers, status_override)
    except ValueError:
        return _error(416, "invalid range", headers, status_override)
    if sum(length for _, length in ranges) > size:
        ranges = []  # probably an attack or a confused client: Go sends it all
    status, offset, count = 200, 0, size
    parts: list[tuple[bytes, int, int]] = []  # (part head, offset, count)
    tail = b""
    if len(ranges) == 1:
        offset, count = ranges[0]
        status = 206
        headers["Content-Range"] = f"bytes {offset}-{offset + count - 1}/{size}"
    elif ranges:
        status = 206
        boundary = secrets.token_hex(30)  # as Go's mime/multipart
        ctype = headers.get("Content-Type", "")
        for i, (start, length) in enumerate(ranges):
            part = (
                ("" if i == 0 else "\r\n")
                + f"--{boundary}\r\nContent-Range: bytes {start}-{start + length - 1}/{size}"
                + f"\r\nContent-Type: {ctype}\r\n\r\n"
            )
            parts.append((part.encode(), start, length))
        tail = f"\r\n--{boundary}--\r\n".encode()
        count = sum(len(h) + n for h, _, n in parts) + len(tail)
        headers["Content-Type"] = f"multipart/byteranges; boundary={boundary}"
    headers["Accept-Ranges"] = "bytes"
    if ranges or "Content-Encoding" not in headers:
        headers["Content-Length"] = str(count)
    no_type = "Content-Type" not in headers
    status = status_override or status
    if not parts and count <= _SMALL:
        # One thread hop and one response object: headers and body leave together.
        body = None
        if method != "HEAD" and count <= _INLINE:
            body = _read_range(filename, offset, count) if count else b""
        elif method != "HEAD":
            loop = asyncio.get_running_loop()
            body = await loop.run_in_executor(None, _read_range, filename, offset, count)
        return _Whole(status=status, headers=headers, body=body, no_content_type=no_type)
    resp = _Response(status=status, headers=headers, no_content_type=no_type)
    await ctx.prepare(resp)
    if method != "HEAD" and count:
        if parts:
            for part_head, start, length in parts:
                await resp.write(part_head)
                await _copy(resp, filename, start, length)
            await resp.write(tail)
        else:
            await _copy(resp, filename, offset, count)
    await resp.write_eof()
    return resp


async def _copy(resp: web.StreamResponse, filename: str, offset: int, count: int) -> None:
    """Send `count` bytes from `offset`; disk reads happen in a thread, small files in one go."""
    loop = asyncio.get_running_loop()
    if count <= _SMALL:
        data = await loop.run_in_executor(None, _read_range, filename, offset, count)
        await resp.write(data)
        return
    fh = await loop.run_in_executor(None, _open_at, filename, offset)
    try:
        left = count
        while left > 0:
            chunk = await loop.run_in_executor(None, fh.read, min(_CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            await resp.write(chunk)
    finally:
        fh.close()


def _open_at(filename: str, offset: int) -> BinaryIO:
    fh = open(filename, "rb")  # noqa: SIM115 - closed by the caller
    if offset:
        fh.seek(offset)
    return fh


def _read_range(filename: str, offset: int, count: int) -> bytes:
    with open(filename, "rb") as fh:
        if offset:
            fh.seek(offset)
        return fh.read(count)


def _bare(status: int, headers: CIMultiDict[str], override: int) -> web.StreamResponse:
    return web.Response(status=override or status, headers=headers)


def _not_modified(headers: CIMultiDict[str], override: int) -> web.StreamResponse:
    for name in ("Content-Type", "Content-Length", "Content-Encoding"):
        headers.popall(name, None)
    if headers.get("Etag"):
        headers.popall("Last-Modified", None)
    return web.Response(status=override or 304, headers=headers)


def _error(status: int, text: str, headers: CIMultiDict[str], override: int) -> web.StreamResponse:
    """Go's `serveError`: validators dropped, a plain-text body."""
    for name in ("Cache-Control", "Content-Encoding", "Etag", "Last-Modified", "Content-Length"):
        headers.popall(name, None)
    headers["Content-Type"] = "text/plain; charset=utf-8"
    headers["X-Content-Type-Options"] = "nosniff"
    return web.Response(status=override or status, headers=headers, body=(text + "\n").encode())


# ---------------------------------------------------------------- validators


def _etags(header: str) -> list[tuple[str, bool]] | None:
    """Go's `scanETag` over a list: (etag, weak) pairs; None if malformed."""
    out: list[tuple[str, bool]] = []
    s = header.strip()
    while s:
        if s[0] == ",":
            s = s[1:].lstrip()
            continue
        if s[0] == "*":
            out.append(("*", False))
            s = s[1:].lstrip()
            continue
        weak = s.startswith("W/")
        rest = s[2:] if weak else s
        if len(rest) < 2 or rest[0] != '"':
            return None
        end = rest.find('"', 1)
        if end < 0:
            return None
        out.append((rest[: end + 1], weak))
        s = rest[end + 1 :].lstrip()
    return out


def _if_match(header: str | None, etag: str) -> bool | None:
    if header is None:
        return None
    tags = _etags(header)
    if tags is None:
        return False
    for tag, weak in tags:
        if tag == "*":
            return True
        if not weak and etag and not etag.startswith("W/") and tag == etag:
            return True
    return False


def _if_none_match(header: str | None, etag: str) -> bool | None:
    """False when the client's copy is current (304), True when not, None without header."""
    if header is None:
        return None
    tags = _etags(header)
    if tags is None:
        return True
    bare = etag.removeprefix("W/")
    return not any(tag == "*" or (bare and tag == bare) for tag, _weak in tags)


def _parse_time(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(parsedate_to_datetime(text).timestamp())
    except (TypeError, ValueError, IndexError):
        return None


def _if_unmodified_since(header: str | None, mtime: int | None) -> bool | None:
    when = _parse_time(header)
    if when is None or mtime is None:
        return None
    return mtime <= when


def _not_modified_since(header: str | None, mtime: int) -> bool:
    when = _parse_time(header)
    return when is not None and mtime <= when


def _if_range(header: str | None, etag: str, mtime: int | None, method: str) -> bool:
    if method not in ("GET", "HEAD") or header is None:
        return True
    tags = _etags(header)
    if tags and header.strip()[:1] in ('"', "W"):
        tag, weak = tags[0]
        return not weak and bool(etag) and not etag.startswith("W/") and tag == etag
    when = _parse_time(header)
    return when is not None and mtime is not None and when == mtime


# ---------------------------------------------------------------- ranges


class _NoOverlap(ValueError):
    pass


def _parse_int(text: str) -> int:
    if not text or not text.isascii() or not text.isdigit():
        raise ValueError(text)
    return int(text)


def _parse_range(header: str, size: int) -> list[tuple[int, int]]:
    """Go's `parseRange`: (start, length) pairs; ValueError if invalid, _NoOverlap if none fit."""
    if not header:
        return []
    if not header.startswith("bytes="):
        raise ValueError("invalid range")
    ranges: list[tuple[int, int]] = []
    no_overlap = False
    for spec in header[6:].split(","):
        spec = spec.strip(" \t")
        if not spec:
            continue
        start_s, sep, end_s = spec.partition("-")
        if not sep:
            raise ValueError("invalid range")
        start_s, end_s = start_s.strip(" \t"), end_s.strip(" \t")
        if not start_s:
            suffix = _parse_int(end_s)
            suffix = min(suffix, size)
            ranges.append((size - suffix, suffix))
            continue
        start = _parse_int(start_s)
        if start >= size:
            no_overlap = True
            continue
        if not end_s:
            ranges.append((start, size - start))
            continue
        end = _parse_int(end_s)
        if start > end:
            raise ValueError("invalid range")
        end = min(end, size - 1)
        ranges.append((start, end - start + 1))
    if no_overlap and not ranges:
        raise _NoOverlap("invalid range: failed to overlap")
    return ranges
