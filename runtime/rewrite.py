"""`rewrite`, `uri`, `method`, `try_files` and `handle_path`: the request's method and URI changed in place.

A port of Caddy 2.11's `rewrite` handler (`modules/caddyhttp/rewrite/rewrite.go`).
The configured URI is split into path, query and fragment where its literal
text has `?` and `#`; only the parts it names replace the request's.
Placeholders in the query are query-escaped, a query that a placeholder
injects into the path replaces the request's query, and prefix/suffix
stripping compares in decoded space except where the pattern spells an
escape. `ctx.path`, `ctx.raw_path` and `ctx.query` stay consistent: the raw
path is always a valid escaping of the decoded one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from rpc.runtime.context import Ctx
from rpc.runtime.gourl import (
    default_escaped_path,
    encode_query,
    escaped_path,
    go_expand,
    parse_query,
    path_escape,
    path_unescape,
    query_escape,
)
from rpc.runtime.matchers import compile_regex
from rpc.runtime.pathmatch import clean_path
from rpc.runtime.placeholders import Placeholder, Template, render, resolver_for, stringify

__all__ = [
    "QueryArg",
    "QueryOps",
    "QueryReplace",
    "RegexReplace",
    "Rewrite",
    "SubstringReplace",
]

Text = str | Template

# Placeholders the path part of a rewritten URI substitutes in escaped form.
_PATH_KEY = "http.request.uri.path"
_FILE_KEY = "http.matchers.file.relative"
_QUERY_KEY = "http.request.uri.query"


class SubstringReplace:
    """`uri replace <find> <replace> [<limit>]`: in the path and the raw query."""

    __slots__ = ("find", "limit", "merge", "replace")

    def __init__(self, find: Text | None, replace: Text | None = None, limit: int = 0) -> None:
        self.find = find
        self.replace = replace
        self.limit = limit if limit > 0 else -1
        raw = find if isinstance(find, str) else _raw(find)
        self.merge = "//" not in raw

    def apply(self, ctx: Ctx) -> None:
        if not self.find:
            return
        find = render(self.find, ctx)
        repl = render(self.replace, ctx) if self.replace is not None else ""
        lim = self.limit
        _change_path(ctx, lambda p: clean_path(p, self.merge).replace(find, repl, lim))
        ctx.query = ctx.query.replace(find, repl, lim)


class RegexReplace:
    """`uri path_regexp <find> <replace>`: Go regexp replacement on the escaped path."""

    __slots__ = ("regex", "replace")

    def __init__(self, find: str, replace: Text | None = None) -> None:
        self.regex = compile_regex(find)
        self.replace = replace

    def apply(self, ctx: Ctx) -> None:
        repl = render(self.replace, ctx) if self.replace is not None else ""
        rx = self.regex
        _change_path(ctx, lambda p: rx.sub(lambda m: go_expand(repl, m), p))


class QueryArg:
    """A key and a value (or new name) of a query operation."""

    __slots__ = ("key", "val")

    def __init__(self, key: Text | None = None, val: Text | None = None) -> None:
        self.key = key
        self.val = val


class QueryReplace:
    """`uri query <key> <search_regexp> <replace>`; key `*` means every key."""

    __slots__ = ("key", "regex", "replace")

    def __init__(self, key: Text | None, search_regexp: str, replace: Text | None = None) -> None:
        self.key = key
        self.regex = compile_regex(search_regexp) if search_regexp else None
        self.replace = replace


class QueryOps:
    """`uri query ...`: rename, set, add, replace, delete, in that order; re-encoded sorted."""

    __slots__ = ("add", "delete", "rename", "replace", "set")

    def __init__(
        self,
        *,
        rename: Sequence[QueryArg] = (),
        set: Sequence[QueryArg] = (),
        add: Sequence[QueryArg] = (),
        replace: Sequence[QueryReplace] = (),
        delete: Sequence[Text] = (),
    ) -> None:
        self.rename = tuple(rename)
        self.set = tuple(set)
        self.add = tuple(add)
        self.replace = tuple(replace)
        self.delete = tuple(delete)

    def apply(self, ctx: Ctx) -> None:
        query = parse_query(ctx.query)
        for op in self.rename:
            key, val = _opt(op.key, ctx), _opt(op.val, ctx)
            if key and val and key != val and key in query:
                query[val] = query.pop(key)
        for op in self.set:
            key = _opt(op.key, ctx)
            if key:
                query[key] = [_opt(op.val, ctx)]
        for op in self.add:
            key = _opt(op.key, ctx)
            if key:
                query.setdefault(key, []).append(_opt(op.val, ctx))
        for rep in self.replace:
            key = _opt(rep.key, ctx)
            repl = _opt(rep.replace, ctx)
            keys = list(query) if key == "*" else [key] if key in query else []
            for k in keys:
                query[k] = [_regex_replace(rep.regex, v, repl) for v in query[k]]
        for d in self.delete:
            name = render(d, ctx)
            if name:
                query.pop(name, None)
        ctx.query = encode_query(query)


class Rewrite:
    """Caddy's `rewrite` handler: method, URI, strips, substring/regexp and query operations."""

    __slots__ = (
        "_frag",
        "_path",
        "_query",
        "_query_set",
        "method",
        "origin",
        "path_regexp",
        "query",
        "strip_path_prefix",
        "strip_path_suffix",
        "uri",
        "uri_substring",
    )

    def __init__(
        self,
        *,
        method: Text | None = None,
        uri: Text | None = None,
        strip_path_prefix: Text = "",
        strip_path_suffix: Text = "",
        uri_substring: Sequence[SubstringReplace] = (),
        path_regexp: Sequence[RegexReplace] = (),
        query: QueryOps | None = None,
        origin: str = "",
    ) -> None:
        self.method = method
        self.uri = uri
        self.strip_path_prefix = strip_path_prefix
        self.strip_path_suffix = strip_path_suffix
        self.uri_substring = tuple(uri_substring)
        self.path_regexp = tuple(path_regexp)
        self.query = query
        self.origin = origin
        self._path: list[_Part] | None = None
        self._query: list[tuple[bool, list[_Part]]] | None = None
        self._frag = False
        self._query_set = False  # the configured URI has a non-empty query part
        if uri:
            self._split(_parts(uri))

    def _split(self, parts: list[str | Placeholder]) -> None:
        """Caddy's scan for `?` and `#` in the configured URI (placeholders are opaque)."""
        path: list[_Part] = []
        query: list[_Part] | None = None
        current = path
        for part in parts:
            if not isinstance(part, str):
                current.append(part)
                continue
            for ch in part:
                if ch == "?" and query is None and current is path:
                    query = []
                    current = query
                elif ch == "#":
                    self._frag = True
                    break
                else:
                    current.append(ch)
            if self._frag:
                break
        self._path = path or None
        if query is not None:
            self._query = _query_components(query)
            self._query_set = bool(query)

    async def __call__(self, ctx: Ctx) -> None:
        self.rewrite(ctx)

    def rewrite(self, ctx: Ctx) -> None:
        """Apply the configured changes to the request in `ctx`."""
        if self.method is not None:
            method = render(self.method, ctx)
            if method:
                ctx.method = method.upper()
        if self.uri:
            self._rewrite_uri(ctx)
        if self.strip_path_prefix:
            prefix = render(self.strip_path_prefix, ctx)
            if not prefix.startswith("/"):
                prefix = "/" + prefix
            _strip(ctx, _trim_prefix, prefix)
        if self.strip_path_suffix:
            _strip(ctx, _trim_suffix, render(self.strip_path_suffix, ctx))
        for sub in self.uri_substring:
            sub.apply(ctx)
        for rep in self.path_regexp:
            rep.apply(ctx)
        if self.query is not None:
            self.query.apply(ctx)

    def _rewrite_uri(self, ctx: Ctx) -> None:
        query_parts = self._query
        new_path = ""
        if self._path is not None:
            new_path = "".join(_render_path_part(p, ctx) for p in self._path)
            new_path = new_path.split("#", 1)[0]
        injected = False
        new_query = ""
        if self._path is not None and "?" in new_path:
            new_path, injected_query = new_path.split("?", 1)
            if not self._query_set:
                # Bytes of a replacement value are data, never placeholders to expand.
                injected_query = injected_query.replace("{", "%7B").replace("}", "%7D")
                query_parts = _query_components(list(injected_query))
                injected = True
        if query_parts and (self._query_set or injected):
            new_query = _build_query(query_parts, ctx)
        if self._path is not None:
            try:
                ctx.path = path_unescape(new_path)
            except ValueError:
                ctx.path = new_path
            ctx.raw_path = default_escaped_path(ctx.path)
        if self._query is not None or injected:
            ctx.query = new_query


# ---------------------------------------------------------------- URI templates

_Part = str | Placeholder  # one character of literal text, or a placeholder


def _raw(t: Template | None) -> str:
    if t is None:
        return ""
    return "".join(p if isinstance(p, str) else "{" + p.key + "}" for p in t.parts)


def _parts(t: Text) -> list[str | Placeholder]:
    return [t] if isinstance(t, str) else list(t.parts)


def _resolve(key: str, ctx: Ctx) -> str:
    fn = _RESOLVERS.get(key)
    if fn is None:
        fn = resolver_for(key) or (lambda c: "")
        _RESOLVERS[key] = fn
    value = fn(ctx)
    return "" if value is None else stringify(value)


_RESOLVERS: dict[str, Callable[[Ctx], Any]] = {}


def _render_path_part(part: _Part, ctx: Ctx) -> str:
    if isinstance(part, str):
        return part
    if part.key == _PATH_KEY:
        return escaped_path(ctx.path, ctx.raw_path)
    if part.key == _FILE_KEY:
        value = ctx.extra.get(_FILE_KEY)
        if isinstance(value, str):
            return path_escape(value).replace("%2F", "/")
    return _resolve(part.key, ctx)


def _query_components(items: list[_Part]) -> list[tuple[bool, list[_Part]]]:
    """Caddy's `buildQueryString` scan: components and whether each is a key."""
    out: list[tuple[bool, list[_Part]]] = []
    is_key = True
    comp: list[_Part] = []
    for item in items:
        if item == "&" or (item == "=" and is_key):
            out.append((is_key, comp))
            comp = []
            is_key = item == "&"
            continue
        comp.append(item)
    out.append((is_key, comp))
    return out


def _build_query(components: list[tuple[bool, list[_Part]]], ctx: Ctx) -> str:
    out: list[str] = []
    size = 0
    for is_key, parts in components:
        text = []
        for part in parts:
            if isinstance(part, str):
                text.append(part)
            elif part.key == _QUERY_KEY and is_key:
                text.append(ctx.query)  # already escaped
            else:
                text.append(query_escape(_resolve(part.key, ctx)))
        comp = "".join(text)
        if is_key:
            if size and comp:
                out.append("&")
        else:
            out.append("=")
        out.append(comp)
        size += len(comp) + (0 if is_key else 1)
    return "".join(out)


# ---------------------------------------------------------------- path surgery


def _change_path(ctx: Ctx, fn: Callable[[str], str]) -> None:
    """Caddy's `changePath`: `fn` on the escaped path, the decoded path following it."""
    raw = fn(escaped_path(ctx.path, ctx.raw_path))
    try:
        decoded = path_unescape(raw)
    except ValueError:
        decoded = ""
    ctx.path = decoded if decoded else fn(ctx.path)
    ctx.raw_path = escaped_path(ctx.path, raw)


def _strip(ctx: Ctx, trim: Callable[[str, str], str], affix: str) -> None:
    """Strip a prefix or suffix (cleaning first); canonicalize the path if one was cut."""
    merge = "//" not in affix
    stripped = False

    def fn(p: str) -> str:
        nonlocal stripped
        cleaned = clean_path(p, merge)
        trimmed = trim(cleaned, affix)
        stripped = stripped or trimmed != cleaned
        return trimmed

    _change_path(ctx, fn)
    if stripped:
        _canonicalize(ctx)


def _canonicalize(ctx: Ctx) -> None:
    """Caddy's `canonicalizePath`: a stripped path anchored at `/` and cleaned."""
    p = ctx.path if ctx.path.startswith("/") else "/" + ctx.path
    p = path_unescape(clean_path(default_escaped_path(p), False))
    raw = ctx.raw_path
    if raw:
        if not raw.startswith("/"):
            raw = "/" + raw
        try:
            ok = path_unescape(raw) == p
        except ValueError:
            ok = False
        if not ok:
            raw = ""
    ctx.path = p
    ctx.raw_path = raw or default_escaped_path(p)


def _fold(b: int) -> int:
    return b + 32 if 65 <= b <= 90 else b


def _hex_byte(s: str) -> int | None:
    try:
        return int(s[1:3], 16) if len(s) == 3 and s[0] == "%" and s[1:3].isalnum() else None
    except ValueError:
        return None


def _trim_prefix(escaped: str, prefix: str) -> str:
    """Caddy's `trimPathPrefix`: lock-step, case-insensitive, escapes decoded unless spelled."""
    pre = prefix.encode("utf-8", "surrogateescape")
    path = escaped
    i = j = 0
    while i < len(path) and j < len(pre):
        pc = pre[j]
        ch = ord(path[i])
        if path[i] == "%" and pc != ord("%") and len(path) >= i + 3:
            value = _hex_byte(path[i : i + 3])
            if value is None:
                return escaped
            ch = value
            i += 2
        if _fold(ch) != _fold(pc):
            return escaped
        i += 1
        j += 1
    return path[i:] if j >= len(pre) else escaped


def _trim_suffix(escaped: str, suffix: str) -> str:
    """Caddy's `trimPathSuffix`: `_trim_prefix` from the end."""
    suf = suffix.encode("utf-8", "surrogateescape")
    path = escaped
    i, j = len(path), len(suf)
    while i > 0 and j > 0:
        sc = suf[j - 1]
        ch = ord(path[i - 1])
        step = 1
        if i >= 3 and path[i - 3] == "%" and not (j >= 3 and suf[j - 3] == ord("%")):
            value = _hex_byte(path[i - 3 : i])
            if value is None:
                return escaped
            ch = value
            step = 3
        if _fold(ch) != _fold(sc):
            return escaped
        i -= step
        j -= 1
    return path[:i] if j <= 0 else escaped


def _opt(t: Text | None, ctx: Ctx) -> str:
    return render(t, ctx) if t is not None else ""


def _regex_replace(rx: re.Pattern[str] | None, value: str, repl: str) -> str:
    if rx is None:
        return value
    return rx.sub(lambda m: go_expand(repl, m), value)
