"""`file_server`: static files below a root, as Caddy 2.11's `file_server` handler serves them.

A port of `modules/caddyhttp/fileserver/staticfiles.go`: the request path is
joined to the root without escaping it (`..` cannot climb out), index files
are tried for directories, hidden files do not exist, canonical URIs are
enforced with 308 redirects, precompressed sidecars (`.br`, `.zst`, `.gz`)
are chosen by Accept-Encoding, and the body goes out through Go's
ServeContent rules (`servecontent`). Unlike Caddy, a symbolic link whose
target lies outside the root is treated as missing, so a link cannot expose
the rest of the disk. Only the local file system is supported.
"""

from __future__ import annotations

import asyncio
import html
import os
import stat
from collections.abc import Sequence

from aiohttp import web
from multidict import CIMultiDict

from rpc.runtime.browse import Browse, listing_response, read_entries
from rpc.runtime.context import Ctx
from rpc.runtime.encode import accepted_encodings
from rpc.runtime.errors import HandlerError
from rpc.runtime.filepaths import file_hidden, go_abs, inside, sanitized_join
from rpc.runtime.gomime import type_by_extension
from rpc.runtime.gourl import path_unescape
from rpc.runtime.pathmatch import go_clean
from rpc.runtime.placeholders import Template, render
from rpc.runtime.servecontent import serve_content

__all__ = ["FileServer"]

Text = str | Template

_SUFFIXES = {"br": ".br", "gzip": ".gz", "zstd": ".zst"}
_DEFAULT_INDEX = ("index.html", "index.txt")


class FileServer:
    """Serve the file the request path names below `root` (default `{http.vars.root}`)."""

    __slots__ = (
        "browse",
        "canonical_uris",
        "etag_file_extensions",
        "hide",
        "index_names",
        "origin",
        "pass_thru",
        "precompressed",
        "precompressed_order",
        "root",
        "status_code",
    )

    def __init__(
        self,
        *,
        root: Text | None = None,
        hide: Sequence[Text] = (),
        index_names: Sequence[str] | None = None,
        browse: Browse | None = None,
        canonical_uris: bool = True,
        status_code: Text | None = None,
        pass_thru: bool = False,
        precompressed: Sequence[str] = (),
        precompressed_order: Sequence[str] = (),
        etag_file_extensions: Sequence[str] = (),
        origin: str = "",
    ) -> None:
        self.root = root
        # Static hide entries with a separator become absolute once (as Caddy's Provision).
        self.hide = tuple(go_abs(h) if isinstance(h, str) and "/" in h else h for h in hide)
        self.index_names = tuple(index_names) if index_names is not None else _DEFAULT_INDEX
        self.browse = browse
        self.canonical_uris = canonical_uris
        self.status_code = status_code
        self.pass_thru = pass_thru
        self.precompressed = frozenset(precompressed) | frozenset(precompressed_order)
        self.precompressed_order = tuple(precompressed_order)
        self.etag_file_extensions = tuple(etag_file_extensions)
        self.origin = origin

    def _root(self, ctx: Ctx) -> str:
        if self.root is None:
            value = ctx.vars.get("root")
            root = "" if value is None else str(value)
        else:
            root = render(self.root, ctx)
        return root or "."

    def _hidden_list(self, ctx: Ctx) -> list[str]:
        out = []
        for h in self.hide:
            if isinstance(h, str):
                out.append(h)
                continue
            value = h.render(ctx)
            out.append(go_abs(value) if "/" in value else value)
        return out

    def _not_found(self) -> None:
        if self.pass_thru:
            return
        raise HandlerError(404, "", origin=self.origin)

    async def __call__(self, ctx: Ctx) -> web.StreamResponse | None:
        hide = self._hidden_list(ctx)
        root = self._root(ctx)
        filename = sanitized_join(root, ctx.path)
        filename = filename.removesuffix("/")
        loop = asyncio.get_running_loop()
        st = _stat_inside(filename, root)
        if isinstance(st, HandlerError):
            if st.status == 404:
                self._not_found()
                return None
            raise st
        implicit_index = False
        if stat.S_ISDIR(st.st_mode):
            for name in self.index_names:
                index_path = sanitized_join(filename, name)
                if file_hidden(index_path, hide):
                    continue
                found = _stat_inside(index_path, root)
                if isinstance(found, HandlerError):
                    continue
                st, filename, implicit_index = found, index_path, True
                break
        if stat.S_ISDIR(st.st_mode):
            if self.browse is not None and not file_hidden(filename, hide):
                return await self._browse(ctx, root, filename, hide)
            self._not_found()
            return None
        if file_hidden(filename, hide):
            self._not_found()
            return None

        if self.canonical_uris:
            redirect = self._canonical_redirect(ctx, implicit_index)
            if redirect is not None:
                return redirect

        headers: CIMultiDict[str] = CIMultiDict()
        etag = ctx.resp_headers.get("Etag", "")
        # On the response writer in Caddy: kept even if an error follows.
        ctx.resp_headers.add("Vary", "Accept-Encoding")
        serve_name, serve_st = filename, st
        accepted = accepted_encodings(ctx, self.precompressed_order) if self.precompressed else ()
        for encoding in accepted:
            suffix = _SUFFIXES.get(encoding)
            if suffix is None or encoding not in self.precompressed:
                continue
            side = _stat_inside(filename + suffix, root)
            if isinstance(side, HandlerError) or stat.S_ISDIR(side.st_mode):
                continue
            serve_name, serve_st = filename + suffix, side
            headers["Content-Encoding"] = encoding
            if "Range" not in ctx.headers:
                headers["Content-Length"] = str(side.st_size)
            if not etag and self.etag_file_extensions:
                etag = await loop.run_in_executor(None, self._etag_from_file, serve_name)
            if not etag:
                etag = _calculate_etag(side)
            break
        else:
            if not etag and self.etag_file_extensions:
                etag = await loop.run_in_executor(None, self._etag_from_file, filename)
            if not etag:
                etag = _calculate_etag(st)

        if ctx.method not in ("GET", "HEAD") and ctx.error is None:
            ctx.resp_headers.add("Allow", "GET, HEAD")
            raise HandlerError(405, "", origin=self.origin)
        if etag:
            headers["Etag"] = etag
            ctx.resp_headers.popall("Etag", None)
        if "Content-Type" not in ctx.resp_headers:
            mime = type_by_extension(os.path.splitext(filename)[1])
            if mime:
                headers["Content-Type"] = mime
        override = 0
        if ctx.error is not None:
            override = ctx.error.status if ctx.error.status > 0 else 500
        if self.status_code is not None:
            text = render(self.status_code, ctx)
            digits = text[1:] if text[:1] in "+-" else text
            if digits.isascii() and digits.isdigit():
                override = int(text)
            else:
                raise HandlerError(
                    500, f'strconv.Atoi: parsing "{text}": invalid syntax', origin=self.origin
                ) from None
        return await serve_content(ctx, serve_name, serve_st, headers, override)

    def _canonical_redirect(self, ctx: Ctx, implicit_index: bool) -> web.StreamResponse | None:
        """Caddy's trailing-slash convention, only when the file name was not rewritten."""
        orig = _orig_path(ctx)
        if _go_base(orig) != _go_base(ctx.path):
            return None
        if implicit_index and not orig.endswith("/"):
            return redirect(ctx, orig + "/")
        if not implicit_index and orig.endswith("/"):
            return redirect(ctx, orig[:-1])
        return None

    def _etag_from_file(self, filename: str) -> str:
        for suffix in self.etag_file_extensions:
            try:
                with open(filename + suffix, "rb") as fh:
                    return fh.read().replace(b"\n", b"").decode("utf-8", "replace")
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise HandlerError(500, f"cannot read etag from file: {exc}") from exc
        return ""

    async def _browse(
        self, ctx: Ctx, root: str, dirname: str, hide: list[str]
    ) -> web.StreamResponse:
        assert self.browse is not None
        orig = _orig_path(ctx)
        canonical = ctx.path == "" or _go_base(orig) == _go_base(ctx.path)
        if self.canonical_uris and canonical and not orig.endswith("/"):
            return redirect(ctx, orig + "/")
        if ctx.method not in ("GET", "HEAD"):
            ctx.resp_headers.add("Allow", "GET, HEAD")
            raise HandlerError(405, "", origin=self.origin)
        loop = asyncio.get_running_loop()
        entries = await loop.run_in_executor(None, read_entries, self.browse, dirname, root, hide)
        return listing_response(ctx, self.browse, root, dirname, hide, entries)


def redirect(ctx: Ctx, to: str) -> web.StreamResponse:
    """Caddy's file-server redirect: 308 to a same-origin path (query kept), Go's body."""
    while to.startswith("//"):
        to = to[1:]
    trailing = to.endswith("/")
    to = go_clean(to)
    if trailing and not to.endswith("/"):
        to += "/"
    if ctx.query:
        to += "?" + ctx.query
    location = "".join(c if ord(c) < 0x80 else _hex_escape(c) for c in to)
    resp = web.Response(status=308)
    resp.headers["Location"] = location
    if ctx.method in ("GET", "HEAD"):
        resp.headers["Content-Type"] = "text/html; charset=utf-8"
        body = f'<a href="{html.escape(location)}">Permanent Redirect</a>.\n\n'
        resp.body = body.encode() if ctx.method == "GET" else None
    return resp


def _hex_escape(c: str) -> str:
    return "".join(f"%{b:02x}" for b in c.encode("utf-8", "surrogateescape"))


def _orig_path(ctx: Ctx) -> str:
    try:
        return path_unescape(ctx.orig_raw_path)
    except ValueError:
        return ctx.orig_raw_path


def _go_base(p: str) -> str:
    """Go's `path.Base`."""
    if p == "":
        return "."
    p = p.rstrip("/")
    if p == "":
        return "/"
    return p[p.rfind("/") + 1 :]


def _stat_inside(filename: str, root: str) -> os.stat_result | HandlerError:
    """Stat `filename` (following links), refusing what resolves outside `root`."""
    try:
        st = os.stat(filename)
    except (FileNotFoundError, NotADirectoryError):
        return HandlerError(404, "")
    except PermissionError as exc:
        return HandlerError(403, str(exc))
    except ValueError as exc:  # NUL byte in the path
        return HandlerError(400, str(exc))
    except OSError as exc:
        return HandlerError(500, str(exc))
    if not inside(filename, root):
        return HandlerError(404, "")
    return st


def _calculate_etag(st: os.stat_result) -> str:
    """Caddy's ETag: base-36 modification time (ns) and size; none for a useless mtime."""
    if int(st.st_mtime) in (0, 1):
        return ""
    return f'"{_base36(st.st_mtime_ns)}-{_base36(st.st_size)}"'


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    if n == 0:
        return "0"
    sign = "-" if n < 0 else ""
    n = abs(n)
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(digits[r])
    return sign + "".join(reversed(out))
