"""Static files: file_server, try_files, root → `file_server`, `rewrite` + `file`, `vars`.

Ports of `caddyhttp/fileserver/caddyfile.go` (`UnmarshalCaddyfile`,
`FinalizeUnmarshalCaddyfile`, `parseTryFiles`) and of `parseRoot` in
`httpcaddyfile/builtins.go`, as Caddy 2.11 has them. `file_server` hides the
Caddyfile(s) the site was read from, as Caddy does, so a site rooted at the
config's folder never serves its own config.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from rpc.compiler import caddyjson, placeholders
from rpc.compiler.directives.helper import ConfigValue, Helper
from rpc.compiler.directives.registry import directive, handler_directive
from rpc.compiler.directives.rewrite import rewrite_text
from rpc.compiler.directives.static import weak_string
from rpc.compiler.dispenser import Dispenser
from rpc.compiler.errors import did_you_mean
from rpc.compiler.gopath import go_clean, go_match
from rpc.compiler.ir.base import Text
from rpc.compiler.ir.handlers import Browse, FileServer, Rewrite, Vars
from rpc.compiler.ir.matchers import MatchFile
from rpc.compiler.ir.routes import Handler, MatcherSet
from rpc.compiler.source import Span

__all__ = ["site_config_files"]

_SORT_OPTIONS = ("name", "namedirfirst", "size", "time", "asc", "desc")
_PRECOMPRESSED = ("br", "gzip", "zstd")
_TRY_POLICIES = (
    "first_exist",
    "first_exist_fallback",
    "smallest_size",
    "largest_size",
    "most_recently_modified",
)


def _text(raw: str) -> Text:
    return placeholders.parse(raw, keep_unknown=False)


# ---------------------------------------------------------------- file_server


class _FileServer:
    """A `FileServer` under construction."""

    def __init__(self) -> None:
        self.fs = ""
        self.root: str | None = None
        self.hide: list[str] = []
        self.index: list[str] = []
        self.browse: dict[str, object] | None = None
        self.canonical_uris: bool | None = None
        self.status: str | None = None
        self.pass_thru = False
        self.precompressed: list[str] = []
        self.etag_extensions: list[str] = []

    def parse(self, d: Dispenser) -> None:
        d.next()
        args = d.remaining_args()
        if len(args) > 1 or (args and args[0] != "browse"):
            raise d.arg_err("the only argument file_server takes is `browse`")
        if args:
            self.browse = {}
        while d.next_block(0):
            sub = d.val
            handler = _SUBDIRECTIVES.get(sub)
            if handler is None:
                raise d.error(
                    f"unknown subdirective '{sub}'",
                    code="RPC301",
                    hint=did_you_mean(sub, _SUBDIRECTIVES)
                    or "file_server takes " + ", ".join(_SUBDIRECTIVES),
                )
            handler(self, d)

    def build(self, span: Span | None) -> FileServer:
        browse = None
        if self.browse is not None:
            browse = Browse(**self.browse)  # type: ignore[arg-type]
        return FileServer(
            fs=self.fs,
            root=_text(self.root) if self.root else None,
            hide=tuple(_text(x) for x in self.hide),
            index_names=tuple(self.index),
            browse=browse,
            canonical_uris=self.canonical_uris,
            status_code=_text(self.status) if self.status else None,
            pass_thru=self.pass_thru,
            precompressed=tuple(dict.fromkeys(self.precompressed)),
            precompressed_order=tuple(self.precompressed),
            etag_file_extensions=tuple(self.etag_extensions),
            span=span,
        )


_Subdirective = Callable[[_FileServer, Dispenser], None]


def _fs(b: _FileServer, d: Dispenser) -> None:
    if not d.next_arg():
        raise d.arg_err()
    if b.fs:
        raise d.error(
            "file system already specified",
            code="RPC307",
            hint="a file_server serves from one file system",
        )
    b.fs = d.val


def _hide(b: _FileServer, d: Dispenser) -> None:
    files = d.remaining_args()
    if not files:
        raise d.arg_err("name the files or globs to hide")
    b.hide.extend(files)


def _index(b: _FileServer, d: Dispenser) -> None:
    b.index = d.remaining_args()
    if not b.index:
        raise d.arg_err("name the index files, e.g. `index index.html`")


def _root(b: _FileServer, d: Dispenser) -> None:
    if not d.next_arg():
        raise d.arg_err()
    b.root = d.val


def _browse(b: _FileServer, d: Dispenser) -> None:
    if b.browse is not None:
        raise d.error(
            "browsing is already configured",
            code="RPC307",
            hint="use either `file_server browse` or a `browse` line, once",
        )
    browse: dict[str, object] = {}
    b.browse = browse
    if d.next_arg():
        browse["template_file"] = d.val
    nesting = d.nesting
    while d.next_block(nesting):
        sub = d.val
        if sub == "reveal_symlinks":
            if browse.get("reveal_symlinks"):
                raise d.error(
                    "Symlinks path reveal is already enabled",
                    code="RPC307",
                    hint="write reveal_symlinks once",
                )
            browse["reveal_symlinks"] = True
        elif sub == "sort":
            options = list(browse.get("sort", ()))  # type: ignore[call-overload]
            while d.next_arg():
                if d.val not in _SORT_OPTIONS:
                    raise d.error(
                        f"unknown sort option '{d.val}'",
                        hint="sort by name, namedirfirst, size or time, then asc or desc",
                    )
                options.append(d.val)
            browse["sort"] = tuple(options)
        elif sub == "file_limit":
            value = d.remaining_args()
            if len(value) != 1 or not _is_int(value[0]):
                raise d.error(
                    "file_limit should have an integer value",
                    hint="the most entries a listing shows, e.g. `file_limit 1000`",
                )
            if browse.get("file_limit"):
                raise d.error(
                    "file_limit is already enabled", code="RPC307", hint="write file_limit once"
                )
            browse["file_limit"] = int(value[0])
        else:
            raise d.error(
                f"unknown subdirective '{sub}'",
                code="RPC301",
                hint="browse takes reveal_symlinks, sort and file_limit",
            )


def _is_int(text: str) -> bool:
    digits = text[1:] if text[:1] in "+-" else text
    return digits.isascii() and digits.isdigit()


def _precompressed(b: _FileServer, d: Dispenser) -> None:
    formats = d.remaining_args() or ["br", "zstd", "gzip"]
    for fmt in formats:
        if fmt not in _PRECOMPRESSED:
            raise d.error(
                f"getting module named 'http.precompressed.{fmt}': module not registered: "
                f"http.precompressed.{fmt}",
                code="RPC301",
                hint="precompressed formats are br, zstd and gzip",
            )
    b.precompressed = formats


def _status(b: _FileServer, d: Dispenser) -> None:
    if not d.next_arg():
        raise d.arg_err()
    b.status = d.val


def _flag(attr: str, value: bool) -> _Subdirective:
    def parse(b: _FileServer, d: Dispenser) -> None:
        if d.next_arg():
            raise d.arg_err(f"`{d.val}` is not an argument of this subdirective")
        setattr(b, attr, value)

    return parse


def _etag_file_extensions(b: _FileServer, d: Dispenser) -> None:
    b.etag_extensions = d.remaining_args()
    if not b.etag_extensions:
        raise d.arg_err("name the sidecar extensions, e.g. `etag_file_extensions .sha256`")


_SUBDIRECTIVES: dict[str, _Subdirective] = {
    "fs": _fs,
    "hide": _hide,
    "index": _index,
    "root": _root,
    "browse": _browse,
    "precompressed": _precompressed,
    "status": _status,
    "disable_canonical_uris": _flag("canonical_uris", False),
    "pass_thru": _flag("pass_thru", True),
    "etag_file_extensions": _etag_file_extensions,
}


@handler_directive("file_server")
def parse_file_server(h: Helper) -> Handler:
    """
    file_server [<matcher>] [browse] {
        fs            <filesystem>
        root          <path>
        hide          <files...>
        index         <files...>
        browse        [<template_file>] {
            reveal_symlinks
            sort   <name|namedirfirst|size|time|asc|desc...>
            file_limit <n>
        }
        precompressed [<br|zstd|gzip>...]
        status        <status>
        disable_canonical_uris
        pass_thru
        etag_file_extensions <extensions...>
    }
    """
    b = _FileServer()
    b.parse(h.d)
    # Hide the Caddyfile(s) the site came from (Caddy's FinalizeUnmarshalCaddyfile).
    for file in site_config_files(h):
        file = go_clean(file)
        if not _file_hidden(file, b.hide):
            b.hide.append(file if "/" in file else "./" + file)
    return b.build(h.d.head_span)


def site_config_files(h: Helper) -> list[str]:
    """The config files the directive's tokens came from, sorted (Caddy's `h.Caddyfiles()`).

    Caddy lists the files of every token of the site block; rpc sees the
    directive's own tokens and the imports that brought them in, which is the
    same set unless a site consists only of imports from other files.
    """
    span = h.d.head_span
    if span is None:
        return []
    names = {span.file, *(via.file for via in span.chain())}
    return sorted("-" if name == "<stdin>" else name for name in names if name)


def _file_hidden(filename: str, hide: list[str]) -> bool:
    """Caddy's `fileHidden`: whether `filename` is covered by a `hide` entry."""
    if not hide:
        return False
    filename = os.path.abspath(filename)
    components = filename.split("/")
    for pattern in hide:
        if "/" not in pattern:
            if any(go_match(pattern, c) for c in components):
                return True
        elif filename.startswith(pattern) and filename[len(pattern) :].startswith("/"):
            return True
        if go_match(pattern, filename):
            return True
    return False


# ---------------------------------------------------------------- try_files, root


@directive("try_files")
def parse_try_files(h: Helper) -> list[ConfigValue]:
    """
    try_files <files...> {
        policy first_exist|first_exist_fallback|smallest_size|largest_size|most_recently_modified
    }

    Shorthand for a `file` matcher trying the files and a rewrite to the one
    found; a file with a query string (`index.php?{query}`) gets a route of
    its own whose rewrite keeps that query. No matcher token is accepted.
    """
    d = h.d
    d.next()
    span = d.span
    files = d.remaining_args()
    if not files:
        raise d.arg_err("name the files to try, e.g. `try_files {path} /index.html`")
    policy = ""
    while d.next_block(0):
        if d.val == "policy":
            if policy:
                raise d.error(
                    "try policy already configured", code="RPC307", hint="write `policy` once"
                )
            if not d.next_arg():
                raise d.arg_err()
            policy = d.val
            if policy not in _TRY_POLICIES:
                raise d.error(
                    f"unrecognized try policy: {policy}",
                    hint="use one of " + ", ".join(_TRY_POLICIES),
                )
        # Caddy 2.11 silently ignores other lines of the block.

    def route(tried: list[str], query: str) -> list[ConfigValue]:
        file = MatchFile(try_files=tuple(_text(x) for x in tried), try_policy=policy, span=span)
        rewrite = Rewrite(uri=rewrite_text("{http.matchers.file.relative}" + query), span=span)
        return h.new_route(MatcherSet(matchers=(file,), span=span), rewrite)

    result: list[ConfigValue] = []
    pending: list[str] = []
    for item in files:
        path, sep, query = item.partition("?")
        if sep:
            if pending:
                result += route(pending, "")
                pending = []
            result += route([path], "?" + query)
            continue
        pending.append(item)
    if pending:
        result += route(pending, "")
    h.group_routes(result)
    return result


@directive("root")
def parse_root(h: Helper) -> list[ConfigValue]:
    """
    root [<matcher>] <path>

    Sets `{http.vars.root}`, the site root of `file_server`, `try_files` and
    the `file` matcher. With one argument it is the path (even `/srv`),
    never a matcher.
    """
    d = h.d
    d.next()
    span = d.span
    count = d.count_remaining_args()
    if count == 0:
        raise d.error(
            "too few arguments; must have at least a root path",
            code="RPC302",
            hint="write `root [<matcher>] <path>`, e.g. `root * /srv`",
        )
    if count > 2:
        raise d.error(
            "too many arguments; should only be a matcher and a path",
            code="RPC302",
            hint="quote a path that contains spaces",
        )
    matcher_set = None
    if count == 2:
        matcher_set = h.extract_matcher_set()
        d.next()  # the directive name again: extracting the matcher reset the cursor
    d.next_arg()
    return h.new_route(matcher_set, Vars(values=(("root", _text(d.val)),), span=span))


# ---------------------------------------------------------------- JSON


@caddyjson.register(FileServer)
def _file_server_json(n: FileServer) -> dict[str, object]:
    out = caddyjson.fields(n)
    if n.status_code is not None:
        out["status_code"] = weak_string(n.status_code)
    if n.precompressed:
        out["precompressed"] = {fmt: {} for fmt in n.precompressed}
    return out
