"""Header operations and the `header` / `request_header` handler.

Input: a header multidict and the request context; output: the same dict,
changed in place. `HeaderOps` is Caddy's `headers.HeaderOps` (`ApplyTo`,
`ApplyToRequest`): delete-all first, then add, set, the other deletes
(exact, `Prefix*`, `*Suffix`, `*sub*`), then substring/regexp replacements
with Go's `$1`/`${name}` expansion. It serves `header`, `request_header`,
and reverse_proxy's `header_up` / `header_down`. `Headers` is the handler:
request ops apply at once; response ops apply to `ctx.resp_headers` at once,
or — when deferred or conditional on a response matcher — in a send hook
just before the response headers go out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from aiohttp import web
from multidict import CIMultiDict

from rpc.runtime.context import Ctx, host_of
from rpc.runtime.placeholders import Template
from rpc.runtime.respmatch import ResponseMatcher
from rpc.runtime.typedefs import Reply

__all__ = ["HeaderOps", "Headers", "Replacement", "canonical_key", "go_expand"]

Text = str | Template

_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_CANONICAL: dict[str, str] = {}


def canonical_key(name: str) -> str:
    """Go's `CanonicalMIMEHeaderKey` (`x-foo-bar` → `X-Foo-Bar`), cached."""
    found = _CANONICAL.get(name)
    if found is not None:
        return found
    raw = name.encode("utf-8", "surrogateescape")
    if not raw or any(b not in _TOKEN for b in raw):
        out = name  # Go leaves invalid keys (and keys with spaces) unchanged
    else:
        out = "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))
    if len(_CANONICAL) < 4096:
        _CANONICAL[name] = out
    return out


def _render(value: Text, ctx: Ctx) -> str:
    return value if isinstance(value, str) else value.render(ctx)


# ---------------------------------------------------------------- Go's regexp expansion

_EXPAND = re.compile(r"\$(?:\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


def go_expand(template: str) -> Callable[[re.Match[str]], str]:
    """A `re.sub` callback expanding a Go `Regexp.Expand` template (`$1`, `${name}`, `$$`).

    As in Go, `$name` takes the longest run of word characters, and a name
    that is not a group of the pattern expands to nothing.
    """
    parts: list[str | int] = []  # literal text, or a group reference (int index / str name)
    refs: list[str] = []
    pos = 0
    for m in _EXPAND.finditer(template):
        parts.append(template[pos : m.start()])
        name = m.group(1) or m.group(2)
        if name is None:
            parts.append("$")
        else:
            parts.append(len(refs))
            refs.append(name)
        pos = m.end()
    parts.append(template[pos:])
    if not refs:
        text = "".join(p for p in parts if isinstance(p, str))
        return lambda m: text

    def expand(m: re.Match[str]) -> str:
        out = []
        for part in parts:
            if isinstance(part, str):
                out.append(part)
                continue
            name = refs[part]
            try:
                value = m.group(int(name) if name.isdigit() else name)
            except IndexError:  # not a group of the pattern
                value = None
            out.append(value or "")
        return "".join(out)

    return expand


class Replacement:
    """Replace `search` (a substring) or `search_regexp` matches with `replace`."""

    __slots__ = ("_expand", "replace", "search", "search_regexp")

    def __init__(
        self,
        *,
        search: Text = "",
        search_regexp: re.Pattern[str] | None = None,
        replace: Text = "",
    ) -> None:
        self.search = search
        self.search_regexp = search_regexp
        self.replace = replace
        self._expand = go_expand(replace) if isinstance(replace, str) else None

    def apply(self, value: str, ctx: Ctx) -> str:
        pattern = self.search_regexp
        if pattern is not None:
            expand = self._expand or go_expand(_render(self.replace, ctx))
            return pattern.sub(expand, value)
        return value.replace(_render(self.search, ctx), _render(self.replace, ctx))


class HeaderOps:
    """Caddy's HeaderOps: `add`, `set` (values joined with ","), `delete`, `replace`.

    `add`/`set` are `(field, (values...))` pairs, `delete` field names
    (wildcards allowed, `*` = all), `replace` `(field, (Replacement...))`
    pairs where field `*` means every field. Names and values may be
    templates (unknown placeholders kept, as Caddy's ReplaceKnown).
    """

    __slots__ = ("_delete_all", "add", "delete", "replace", "set")

    def __init__(
        self,
        *,
        add: Sequence[tuple[Text, Sequence[Text]]] = (),
        set: Sequence[tuple[Text, Sequence[Text]]] = (),
        delete: Sequence[Text] = (),
        replace: Sequence[tuple[Text, Sequence[Replacement]]] = (),
    ) -> None:
        self.add = tuple((k, tuple(v)) for k, v in add)
        self.set = tuple((k, tuple(v)) for k, v in set)
        self.delete = tuple(delete)
        self.replace = tuple((k, tuple(v)) for k, v in replace)
        self._delete_all = any(d == "*" for d in self.delete)

    def __repr__(self) -> str:
        return f"HeaderOps(add={self.add!r}, set={self.set!r}, delete={self.delete!r})"

    def apply(self, hdr: CIMultiDict[str], ctx: Ctx) -> None:
        """Apply the operations to `hdr` in Caddy's order."""
        if self._delete_all:
            hdr.clear()
        for name, values in self.add:
            key = _render(name, ctx)
            for value in values:
                hdr.add(key, _render(value, ctx))
        for name, values in self.set:
            hdr[_render(name, ctx)] = ",".join(_render(v, ctx) for v in values)
        for name in self.delete:
            field = _render(name, ctx).lower()
            if field == "*":
                continue
            if field.startswith("*") or field.endswith("*"):
                _delete_wild(hdr, field)
            else:
                hdr.popall(field, None)
        for name, replacements in self.replace:
            field = canonical_key(_render(name, ctx))
            for r in replacements:
                _replace_values(hdr, field, r, ctx)

    def apply_request(self, ctx: Ctx, hdr: CIMultiDict[str], host: str) -> str:
        """Apply to request headers with the Host as a header (ApplyToRequest); the new Host."""
        had = hdr.getall("Host", None)
        hdr.add("Host", host)
        self.apply(hdr, ctx)
        hosts = hdr.getall("Host", None)
        host = hosts[-1] if hosts else ""
        hdr.popall("Host", None)
        if had is not None:
            for value in had:
                hdr.add("Host", value)
        return host


def _delete_wild(hdr: CIMultiDict[str], field: str) -> None:
    if len(field) > 1 and field.startswith("*") and field.endswith("*"):
        sub = field[1:-1]
        doomed = {k.lower() for k in hdr if sub in k.lower()}
    elif field.startswith("*"):
        doomed = {k.lower() for k in hdr if k.lower().endswith(field[1:])}
    else:
        doomed = {k.lower() for k in hdr if k.lower().startswith(field[:-1])}
    for key in doomed:
        hdr.popall(key, None)


def _replace_values(hdr: CIMultiDict[str], field: str, r: Replacement, ctx: Ctx) -> None:
    if field != "*" and field not in hdr:
        return
    items = list(hdr.items())
    hdr.clear()
    for key, value in items:
        if field == "*" or canonical_key(key) == field:
            value = r.apply(value, ctx)
        hdr.add(key, value)


class Headers:
    """The `header` / `request_header` handler (Caddy's `http.handlers.headers`).

    `request` ops change the request headers (and the Host); `response` ops
    change `ctx.resp_headers` right away, unless `deferred` or `require`
    is set: then they run on the final response headers just before they
    are written, and only if `require` matches the response.
    """

    __slots__ = ("_hook", "deferred", "origin", "request", "require", "response")

    def __init__(
        self,
        *,
        request: HeaderOps | None = None,
        response: HeaderOps | None = None,
        require: ResponseMatcher | None = None,
        deferred: bool = False,
        origin: str = "",
    ) -> None:
        self.request = request
        self.response = response
        self.require = require
        self.deferred = deferred
        self.origin = origin
        self._hook = self._on_send if (deferred or require is not None) else None

    async def __call__(self, ctx: Ctx, /) -> Reply:
        if self.request is not None:
            apply_request_ops(self.request, ctx)
        if self.response is not None:
            if self._hook is not None:
                ctx.send_hooks.append(self._hook)
            else:
                self.response.apply(ctx.resp_headers, ctx)
        return None

    def _on_send(self, ctx: Ctx, resp: web.StreamResponse) -> None:
        if self.response is None:
            return
        if self.require is None or self.require.match(resp.status, resp.headers):
            self.response.apply(resp.headers, ctx)


def apply_request_ops(ops: HeaderOps, ctx: Ctx) -> None:
    """Apply request header ops to the context's request, updating its Host."""
    hostport = ops.apply_request(ctx, ctx.writable_headers(), ctx.hostport)
    if hostport != ctx.hostport:
        ctx.hostport = hostport
        ctx.host = host_of(hostport).lower()
