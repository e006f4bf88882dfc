"""Runtime placeholders: `{http.request.host}` and friends, resolved per request.

The compiler parses placeholder syntax at compile time; generated code builds
`Template`s from literal parts and `Placeholder` references, and each
reference is bound to its resolver once, at startup. At request time a
template is a join over strings and small functions of the `Ctx`.

Resolution follows Caddy's replacer (`replacer.go`,
`modules/caddyhttp/replacer.go`): unknown keys are either kept verbatim
(`ReplaceKnown`, e.g. header values, response bodies) or become empty
(`ReplaceAll`, e.g. matcher patterns, upstream addresses); the caller picks.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from rpc.runtime.context import Ctx, split_host
from rpc.runtime.goduration import go_duration

__all__ = [
    "Lazy",
    "Placeholder",
    "Resolver",
    "Template",
    "render",
    "resolver_for",
    "stringify",
]

Resolver = Callable[[Ctx], Any]


class Placeholder:
    """A reference to one placeholder key, as the compiler found it."""

    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key

    def __repr__(self) -> str:
        return f"Placeholder({self.key!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Placeholder) and other.key == self.key

    def __hash__(self) -> int:
        return hash(("ph", self.key))


def stringify(value: Any) -> str:
    """Caddy's stringification of placeholder values (bools lower-case, None empty)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return ",".join(stringify(v) for v in value)
    return str(value)


class Template:
    """Text with placeholders, rendered per request.

    `parts` alternate between literal strings and `Placeholder`s. With
    `keep_unknown`, an unknown placeholder renders as its own `{key}` text,
    else as the empty string.
    """

    __slots__ = ("_fns", "const", "keep_unknown", "parts")

    def __init__(self, parts: Iterable[str | Placeholder], *, keep_unknown: bool = False):
        self.parts = tuple(parts)
        self.keep_unknown = keep_unknown
        fns: list[str | Resolver] = []
        for part in self.parts:
            if isinstance(part, str):
                if fns and isinstance(fns[-1], str):
                    fns[-1] += part
                else:
                    fns.append(part)
                continue
            fns.append(_bind(part.key, keep_unknown))
        self._fns = tuple(fns)
        self.const: str | None = (
            fns[0] if len(fns) == 1 and isinstance(fns[0], str) else ("" if not fns else None)
        )

    def __repr__(self) -> str:
        return f"Template({self.parts!r}, keep_unknown={self.keep_unknown})"

    def render(self, ctx: Ctx) -> str:
        if self.const is not None:
            return self.const
        out = []
        for fn in self._fns:
            out.append(fn if isinstance(fn, str) else stringify(fn(ctx)))
        return "".join(out)


def render(value: str | Template, ctx: Ctx) -> str:
    """A configured text value for this request: constant strings pass through."""
    return value if isinstance(value, str) else value.render(ctx)


class Lazy:
    """A placeholder value computed each time it is read (a `map` destination in `ctx.extra`)."""

    __slots__ = ("arg", "fn")

    def __init__(self, fn: Callable[[Ctx, Any], Any], arg: Any) -> None:
        self.fn = fn
        self.arg = arg

    def get(self, ctx: Ctx) -> Any:
        return self.fn(ctx, self.arg)


def _bind(key: str, keep_unknown: bool) -> Resolver:
    fn = resolver_for(key)
    if fn is None:
        # A name no provider knows may still be published at run time (`map`).
        text = "{" + key + "}" if keep_unknown else ""

        def custom(ctx: Ctx) -> Any:
            value = ctx.extra.get(key, text)
            return value.get(ctx) if isinstance(value, Lazy) else value

        return custom
    if not keep_unknown:
        return fn
    literal = "{" + key + "}"

    def known_or_literal(ctx: Ctx) -> Any:
        value = fn(ctx)
        return literal if value is _UNKNOWN else value

    return known_or_literal


class _Unknown:
    """Returned by family resolvers whose key turns out unknown at request time."""

    def __str__(self) -> str:
        return ""


_UNKNOWN = _Unknown()


# ---------------------------------------------------------------- resolvers


def _header(name: str) -> Resolver:
    def get(ctx: Ctx) -> str:
        if name.lower() == "host":
            return ctx.hostport
        return ",".join(ctx.headers.getall(name, ()))

    return get


def _cookie(name: str) -> Resolver:
    def get(ctx: Ctx) -> str:
        # Go's cookie parsing: `a=1; b=2`, first match wins, quotes stripped.
        for raw in ctx.headers.getall("Cookie", ()):
            for pair in raw.split(";"):
                key, sep, value = pair.strip().partition("=")
                if sep and key == name:
                    return value[1:-1] if len(value) > 1 and value[0] == value[-1] == '"' else value
        return ""

    return get


def _query_arg(name: str) -> Resolver:
    def get(ctx: Ctx) -> str:
        return ",".join(parse_qs(ctx.query, keep_blank_values=True).get(name, ()))

    return get


def _path_segment(index: int) -> Resolver:
    def get(ctx: Ctx) -> str:
        # Caddy splits on "/" and drops only the first, empty, part: `//a` has "" at 0.
        segments = ctx.path.split("/")
        if segments and not segments[0]:
            del segments[0]
        return segments[index] if 0 <= index < len(segments) else ""

    return get


def _request_host(ctx: Ctx) -> str:
    """`{http.request.host}`: Go's SplitHostPort host of the Host header, case kept; the
    whole header when it has no port."""
    host = split_host(ctx.hostport)
    return host if host is not None else ctx.hostport


def _host_label(index: int) -> Resolver:
    def get(ctx: Ctx) -> str:
        labels = _request_host(ctx).lower().split(".")
        labels.reverse()  # counted from the right: 0 is the TLD
        return labels[index] if 0 <= index < len(labels) else ""

    return get


def _extra(key: str) -> Resolver:
    def get(ctx: Ctx) -> Any:
        value = ctx.extra.get(key, _UNKNOWN)
        return value.get(ctx) if isinstance(value, Lazy) else value

    return get


def _var(name: str) -> Resolver:
    def get(ctx: Ctx) -> Any:
        return ctx.vars.get(name)

    return get


def _env(name: str) -> Resolver:
    return lambda ctx: os.environ.get(name, "")


def _resp_header(name: str) -> Resolver:
    def get(ctx: Ctx) -> str:
        return ",".join(ctx.resp_headers.getall(name, ()))

    return get


def _file_contents(path: str) -> Resolver:
    def get(ctx: Ctx) -> str:
        try:
            with open(path, "rb") as fh:
                data = fh.read(1 << 20)
        except OSError:
            return ""
        return data.decode("utf-8", "replace").rstrip("\n")

    return get


def _dir(path: str) -> str:
    return path[: path.rfind("/") + 1] if "/" in path else ""


def _file(path: str) -> str:
    return path[path.rfind("/") + 1 :]


def _ext(path: str) -> str:
    """Go's `path.Ext`: from the last dot of the last element (`.hidden` included)."""
    name = _file(path)
    dot = name.rfind(".")
    return name[dot:] if dot >= 0 else ""


def _base(path: str) -> str:
    """Go's `path.Base`: the last element, trailing slashes dropped; "/" and "." at the ends."""
    trimmed = path.rstrip("/")
    if not trimmed:
        return "/" if path else "."
    return trimmed[trimmed.rfind("/") + 1 :]


def _port(ctx: Ctx) -> str:
    hp = ctx.hostport
    if hp.startswith("["):
        end = hp.find("]")
        rest = hp[end + 1 :]
        return rest[1:] if rest.startswith(":") else ""
    _, sep, tail = hp.rpartition(":")
    return tail if sep and tail.isdigit() else ""


def _orig_path(ctx: Ctx) -> str:
    return unquote(ctx.orig_raw_path)


_EXACT: dict[str, Resolver] = {
    "http.request.method": lambda c: c.method,
    "http.request.scheme": lambda c: c.scheme,
    "http.request.proto": lambda c: f"HTTP/{c.request.version.major}.{c.request.version.minor}",
    "http.request.host": _request_host,
    "http.request.hostport": lambda c: c.hostport,
    "http.request.port": _port,
    "http.request.uri": lambda c: c.uri,
    "http.request.uri_escaped": lambda c: quote(c.uri, safe=""),
    "http.request.uri.path": lambda c: c.path,
    "http.request.uri.path_escaped": lambda c: quote(c.path, safe=""),
    "http.request.uri.path.dir": lambda c: _dir(c.path),
    "http.request.uri.path.file": lambda c: _file(c.path),
    "http.request.uri.path.file.base": lambda c: _base(c.path).removesuffix(_ext(c.path)),
    "http.request.uri.path.file.ext": lambda c: _ext(c.path),
    "http.request.uri.query": lambda c: c.query,
    "http.request.uri.query_escaped": lambda c: quote(c.query, safe=""),
    "http.request.uri.prefixed_query": lambda c: f"?{c.query}" if c.query else "",
    "http.request.remote": lambda c: f"{c.remote_ip}:{c.remote_port}" if c.remote_ip else "",
    "http.request.remote.host": lambda c: c.remote_ip,
    "http.request.remote.port": lambda c: c.remote_port,
    "http.request.uuid": lambda c: c.extra.setdefault("http.request.uuid", str(uuid.uuid4())),
    "http.request.orig_method": lambda c: c.orig_method,
    "http.request.orig_uri": lambda c: (
        f"{c.orig_raw_path}?{c.orig_query}" if c.orig_query else c.orig_raw_path
    ),
    "http.request.orig_uri.path": _orig_path,
    "http.request.orig_uri.path.dir": lambda c: _dir(_orig_path(c)),
    "http.request.orig_uri.path.file": lambda c: _file(_orig_path(c)),
    "http.request.orig_uri.query": lambda c: c.orig_query,
    "http.request.orig_uri.prefixed_query": lambda c: f"?{c.orig_query}" if c.orig_query else "",
    # Go measures in whole nanoseconds: `105.749µs`, and 0.105749 in milliseconds.
    "http.request.duration": lambda c: go_duration(time.monotonic() - c.started),
    "http.request.duration_ms": lambda c: round((time.monotonic() - c.started) * 1e9) / 1e6,
    "http.request.local": lambda c: _local(c, "both"),
    "http.request.local.host": lambda c: _local(c, "host"),
    "http.request.local.port": lambda c: _local(c, "port"),
    "http.request.tls.version": lambda c: _tls(c, "version"),
    "http.request.tls.cipher_suite": lambda c: _tls(c, "cipher"),
    "http.request.tls.proto": lambda c: _tls(c, "proto"),
    "http.request.tls.server_name": lambda c: _tls(c, "server_name"),
    "http.vars.client_ip": lambda c: c.client_ip,
    "time.now": lambda c: time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    "time.now.http": lambda c: formatdate(usegmt=True),
    "time.now.common_log": lambda c: time.strftime("%d/%b/%Y:%H:%M:%S %z"),
    "time.now.year": lambda c: time.strftime("%Y"),
    "time.now.unix": lambda c: int(time.time()),
    "time.now.unix_ms": lambda c: int(time.time() * 1000),
    "system.hostname": lambda c: socket.gethostname(),
    "system.slash": lambda c: os.sep,
    "system.os": lambda c: sys.platform,
    "system.wd": lambda c: os.getcwd(),
    "system.arch": lambda c: os.uname().machine if hasattr(os, "uname") else "",
}


def _local(ctx: Ctx, part: str) -> str:
    transport = ctx.request.transport
    sock = transport.get_extra_info("sockname") if transport else None
    if not isinstance(sock, tuple):
        return ""
    host, port = str(sock[0]), str(sock[1])
    return {"host": host, "port": port}.get(part, f"{host}:{port}")


def _tls(ctx: Ctx, part: str) -> str:
    transport = ctx.request.transport
    ssl_obj = transport.get_extra_info("ssl_object") if transport else None
    if ssl_obj is None:
        return ""
    if part == "version":
        return str(ssl_obj.version() or "").lower().replace("tlsv", "tls")
    if part == "cipher":
        cipher = ssl_obj.cipher()
        return str(cipher[0]) if cipher else ""
    if part == "proto":
        return str(ssl_obj.selected_alpn_protocol() or "")
    if part == "server_name":
        return str(getattr(ssl_obj, "server_hostname", "") or ctx.host)
    return ""


# Families: a key prefix and a factory taking the rest of the key.
_FAMILIES: tuple[tuple[str, Callable[[str], Resolver | None]], ...] = (
    ("http.request.header.", _header),
    ("http.request.cookie.", _cookie),
    ("http.request.uri.query.", _query_arg),
    ("http.request.uri.path.", lambda rest: _path_segment(int(rest)) if rest.isdigit() else None),
    ("http.request.host.labels.", lambda rest: _host_label(int(rest)) if rest.isdigit() else None),
    ("http.vars.", _var),
    ("env.", _env),
    ("file.", _file_contents),
    ("http.response.header.", _resp_header),
    # Values handlers publish while they run: captures, proxy results, errors, auth.
    ("http.regexp.", lambda rest: _extra("http.regexp." + rest)),
    ("http.reverse_proxy.", lambda rest: _extra("http.reverse_proxy." + rest)),
    ("http.intercept.", lambda rest: _extra("http.intercept." + rest)),
    ("http.error.", lambda rest: _extra("http.error." + rest)),
    ("http.auth.", lambda rest: _extra("http.auth." + rest)),
    ("http.matchers.", lambda rest: _extra("http.matchers." + rest)),
    ("http.shard.", lambda rest: _extra("http.shard." + rest)),
)

# Keys that families would accept but that nothing can ever set.
KNOWN_PREFIXES = tuple(prefix for prefix, _ in _FAMILIES)


def resolver_for(key: str) -> Resolver | None:
    """The function computing `key` from a request, or None for an unknown key."""
    fn = _EXACT.get(key)
    if fn is not None:
        return fn
    for prefix, factory in _FAMILIES:
        if key.startswith(prefix) and len(key) > len(prefix):
            return factory(key[len(prefix) :])
    return None
