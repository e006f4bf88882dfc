"""Directory listings of `file_server browse`: Caddy's JSON exactly, and a simple HTML page.

A port of the listing part of Caddy 2.11's `browse.go`: entries (hidden
files left out, links described by their own mode and time but the size and
kind of their target), the `sort`/`order`/`limit`/`offset` query parameters
and cookies, `Last-Modified` from the newest entry, If-Modified-Since, and
`Vary: Accept, Accept-Encoding`. Clients asking for `application/json` get
Caddy's JSON array byte for byte; browsers get rpc's own minimal HTML page
instead of Caddy's template. Links that resolve outside the root are not
listed, as the file server would not serve them.
"""

from __future__ import annotations

import functools
import html
import json
import os
import stat
import time
from collections.abc import Sequence
from email.utils import formatdate, parsedate_to_datetime
from typing import Any

from aiohttp import web

from rpc.runtime.context import Ctx
from rpc.runtime.errors import HandlerError
from rpc.runtime.filepaths import file_hidden, inside
from rpc.runtime.gourl import parse_query, path_escape

__all__ = ["Browse", "listing_response"]

_SORTS = ("name", "namedirfirst", "size", "time")
_DEFAULT_LIMIT = 10000


class Browse:
    """`browse { sort <by> [<order>]; file_limit <n>; reveal_symlinks }`."""

    __slots__ = ("file_limit", "reveal_symlinks", "sort")

    def __init__(
        self, *, sort: Sequence[str] = (), file_limit: int = 0, reveal_symlinks: bool = False
    ) -> None:
        self.sort = tuple(sort)
        self.file_limit = file_limit
        self.reveal_symlinks = reveal_symlinks


class _Entry:
    __slots__ = ("is_dir", "is_link", "mode", "mtime_ns", "name", "size", "target")

    def __init__(self, name: str, lst: os.stat_result, st: os.stat_result, target: str) -> None:
        self.is_link = stat.S_ISLNK(lst.st_mode)
        self.is_dir = stat.S_ISDIR(st.st_mode)
        self.name = name + ("/" if self.is_dir else "")
        self.size = st.st_size
        self.mtime_ns = lst.st_mtime_ns
        self.mode = _go_file_mode(lst.st_mode)
        self.target = target

    def as_json(self, reveal: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "size": self.size,
            "url": "./" + path_escape(self.name.rstrip("/")) + ("/" if self.is_dir else ""),
            "mod_time": _rfc3339nano(self.mtime_ns),
            "mode": self.mode,
            "is_dir": self.is_dir,
            "is_symlink": self.is_link,
        }
        if reveal and self.is_link:
            out["symlink_path"] = self.target
        return out


def _read(dirname: str, root: str, hide: list[str], limit: int) -> list[_Entry]:
    try:
        names = os.listdir(dirname)
    except PermissionError as exc:
        raise HandlerError(403, str(exc)) from exc
    except OSError as exc:
        raise HandlerError(500, str(exc)) from exc
    out = []
    for name in names[:limit]:
        full = os.path.join(dirname, name)
        if file_hidden(full, hide):
            continue
        try:
            lst = os.lstat(full)
            target = ""
            st = lst
            if stat.S_ISLNK(lst.st_mode):
                if not inside(full, root):
                    continue
                target = os.readlink(full)
                st = os.stat(full)
        except OSError:
            continue
        out.append(_Entry(name, lst, st, target))
    return out


def _sort_key(by: str) -> Any:
    if by == "name":
        return lambda e: e.name.lower()
    if by == "size":
        # Directories first (by name), then files by size, as Caddy's bySize.
        return lambda e: (0, e.name.lower()) if e.is_dir else (1, e.size)
    if by == "time":
        return lambda e: e.mtime_ns
    return lambda e: (not e.is_dir, e.name.lower())


def listing_response(
    ctx: Ctx, browse: Browse, root: str, dirname: str, hide: list[str], entries: list[_Entry]
) -> web.StreamResponse:
    """The listing answer for `entries` (read with `read_entries`)."""
    query = parse_query(ctx.query)
    cookies = _cookies(ctx)
    set_cookies = []
    sort_by = (query.get("sort") or [""])[0]
    if not sort_by:
        sort_by = cookies.get("sort") or (browse.sort[0] if browse.sort else "namedirfirst")
    elif sort_by in _SORTS:
        set_cookies.append(f"sort={sort_by}")
    order = (query.get("order") or [""])[0]
    if not order:
        order = cookies.get("order") or (browse.sort[1] if len(browse.sort) > 1 else "asc")
    elif order in ("asc", "desc"):
        set_cookies.append(f"order={order}")
    if sort_by in _SORTS:
        entries.sort(key=_sort_key(sort_by), reverse=order == "desc")
    offset = _atoi((query.get("offset") or [""])[0])
    if 0 < offset <= len(entries):
        entries = entries[offset:]
    limit = _atoi((query.get("limit") or [""])[0])
    if 0 < limit <= len(entries):
        entries = entries[:limit]

    newest = max((e.mtime_ns for e in entries), default=0)
    headers = ctx.resp_headers
    for cookie in set_cookies:
        headers.add("Set-Cookie", f"{cookie}; HttpOnly; SameSite=Lax")
    headers.add("Vary", "Accept, Accept-Encoding")
    since = ctx.headers.get("If-Modified-Since")
    if since and newest:
        try:
            when = parsedate_to_datetime(since).timestamp()
        except (TypeError, ValueError, IndexError):
            when = None
        if when is not None and newest // 1_000_000_000 <= when:
            return web.Response(status=304)
    if "application/json" in ctx.headers.get("Accept", "").lower():
        body = _go_json([e.as_json(browse.reveal_symlinks) for e in entries]) + "\n"
        content_type = "application/json; charset=utf-8"
    else:
        body = _html(ctx.path, entries)
        content_type = "text/html; charset=utf-8"
    resp = web.Response(body=body.encode())  # aiohttp sends only its length for HEAD
    resp.headers["Content-Type"] = content_type
    resp.headers["Last-Modified"] = (
        formatdate(newest / 1e9, usegmt=True) if newest else "Mon, 01 Jan 0001 00:00:00 GMT"
    )
    return resp


def read_entries(browse: Browse, dirname: str, root: str, hide: list[str]) -> list[_Entry]:
    """The visible entries of `dirname` (blocking; run it in a thread)."""
    return _read(dirname, root, hide, browse.file_limit or _DEFAULT_LIMIT)


def _atoi(text: str) -> int:
    digits = text[1:] if text[:1] in "+-" else text
    return int(text) if digits.isascii() and digits.isdigit() else 0


def _cookies(ctx: Ctx) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in ctx.headers.getall("Cookie", ()):
        for pair in raw.split(";"):
            key, sep, value = pair.strip().partition("=")
            if sep and key not in out:
                out[key] = value
    return out


def _go_json(value: object) -> str:
    """`encoding/json` output: compact, `<>&` and U+2028/9 escaped, UTF-8 kept."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, esc)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _rfc3339nano(ns: int) -> str:
    """Go's `time.RFC3339Nano` in the local zone (trailing zeros of the fraction trimmed)."""
    secs, frac = divmod(ns, 1_000_000_000)
    local = time.localtime(secs)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", local)
    if frac:
        stamp += "." + f"{frac:09d}".rstrip("0")
    offset = local.tm_gmtoff or 0
    if offset == 0:
        return stamp + "Z"
    sign = "+" if offset > 0 else "-"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return f"{stamp}{sign}{hours:02d}:{minutes:02d}"


@functools.cache
def _type_bits() -> dict[int, int]:
    return {
        stat.S_IFDIR: 1 << 31,
        stat.S_IFLNK: 1 << 27,
        stat.S_IFBLK: 1 << 26,
        stat.S_IFCHR: (1 << 26) | (1 << 21),
        stat.S_IFIFO: 1 << 25,
        stat.S_IFSOCK: 1 << 24,
    }


def _go_file_mode(mode: int) -> int:
    """Go's `os.FileMode` bits for a stat mode (type bits, setuid/setgid/sticky, perm)."""
    out = mode & 0o777 | _type_bits().get(stat.S_IFMT(mode), 0)
    if mode & stat.S_ISUID:
        out |= 1 << 23
    if mode & stat.S_ISGID:
        out |= 1 << 22
    if mode & stat.S_ISVTX:
        out |= 1 << 20
    return out


def _html(path: str, entries: list[_Entry]) -> str:
    title = html.escape(path)
    rows = "\n".join(
        f'<tr><td><a href="./{html.escape(path_escape(e.name.rstrip("/")))}'
        f'{"/" if e.is_dir else ""}">{html.escape(e.name)}</a></td>'
        f"<td>{'' if e.is_dir else e.size}</td><td>{_rfc3339nano(e.mtime_ns)}</td></tr>"
        for e in entries
    )
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>{title}</h1><table><tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n"
        f'<tr><td><a href="../">../</a></td><td></td><td></td></tr>\n{rows}\n</table></body></html>\n'
    )
