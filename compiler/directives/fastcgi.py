"""`php_fastcgi`: the PHP shortcut, expanded into routes as Caddy expands it.

A port of `modules/caddyhttp/reverseproxy/fastcgi/caddyfile.go`
(`parsePHPFastCGI`). It is read so `rpc adapt` and `rpc check` see the whole
config; code generation refuses the resulting fastcgi transport (RPC304),
since the runtime has no FastCGI client.
"""

from __future__ import annotations

from dataclasses import replace

from rpc.compiler.directives.helper import ConfigValue, Helper
from rpc.compiler.directives.matchers import path_matcher, text
from rpc.compiler.directives.proxy import ProxyBuilder
from rpc.compiler.directives.registry import directive
from rpc.compiler.directives.rewrite import rewrite_text
from rpc.compiler.dispenser import Dispenser
from rpc.compiler.ir.handlers import Rewrite, StaticResponse
from rpc.compiler.ir.matchers import MatchFile, MatchNot
from rpc.compiler.ir.proxy import FastCGITransport
from rpc.compiler.ir.routes import MatcherSet, Route, Subroute
from rpc.compiler.source import Span
from rpc.compiler.values import parse_duration

__all__ = ["parse_php_fastcgi"]

_DIR_INDEX = "{http.request.uri.path}/"
# Where the canonical-path redirect points: the original path with a slash, query kept.
_CANONICAL = "{http.request.orig_uri.path}/{http.request.orig_uri.prefixed_query}"


class _Overrides:
    """The php_fastcgi-only subdirectives, taken out of the reverse_proxy tokens."""

    def __init__(self) -> None:
        self.extensions = [".php"]
        self.index_file = "index.php"
        self.try_files: list[str] = []
        self.settings: dict[str, object] = {}  # the fastcgi transport, in Caddy's field order
        self.env: dict[str, str] = {}

    def read(self, d: Dispenser) -> None:
        """Caddy's loop: every token at nesting 1 is looked at, and the ones read are deleted.

        As in Caddy, arguments of other subdirectives are visited too (so
        `header_up X root` reads `root` as a subdirective).
        """
        while d.next():
            while d.next_block(0):
                if d.nesting != 1:
                    continue  # a same-named line inside a reverse_proxy sub-block
                key = d.val
                if key == "root":
                    if not d.next_arg():
                        raise d.arg_err()
                    self.settings["root"] = d.val
                    _delete(d, 2)
                elif key == "split":
                    self.extensions = d.remaining_args()
                    _delete(d, len(self.extensions) + 1)
                    if not self.extensions:
                        raise d.arg_err()
                elif key == "env":
                    args = d.remaining_args()
                    _delete(d, len(args) + 1)
                    if len(args) != 2:
                        raise d.arg_err()
                    self.env[args[0]] = args[1]
                elif key == "index":
                    args = d.remaining_args()
                    _delete(d, len(args) + 1)
                    if len(args) != 1:
                        raise d.arg_err()
                    self.index_file = args[0]
                elif key == "try_files":
                    args = d.remaining_args()
                    _delete(d, len(args) + 1)
                    if not args:
                        raise d.arg_err()
                    self.try_files = args
                elif key in ("resolve_root_symlink", "capture_stderr"):
                    # arguments are accepted and dropped (unlike `transport fastcgi`)
                    _delete(d, len(d.remaining_args()) + 1)
                    self.settings[key] = True
                elif key in ("dial_timeout", "read_timeout", "write_timeout"):
                    if not d.next_arg():
                        raise d.arg_err()
                    try:
                        self.settings[key] = parse_duration(d.val)
                    except ValueError as exc:
                        raise d.error(f"bad timeout value {d.val}: {exc}") from None
                    _delete(d, 2)

    def transport(self, span: Span | None) -> FastCGITransport:
        order = ("root", "split_path", "resolve_root_symlink", "env")
        settings = dict(self.settings, split_path=tuple(self.extensions))
        if self.env:
            settings["env"] = tuple(self.env.items())
        pairs = [(k, settings[k]) for k in order if k in settings]
        pairs += [(k, v) for k, v in settings.items() if k not in order]
        return FastCGITransport(settings=tuple(pairs), span=span)


def _delete(d: Dispenser, count: int) -> None:
    for _ in range(count):
        d.delete()


@directive("php_fastcgi")
def parse_php_fastcgi(h: Helper) -> list[ConfigValue]:
    """
    php_fastcgi [<matcher>] <php_fastcgi_upstreams...> {
        root <path>
        split <substrings...>
        env [<key> <value>]
        index <filename>|off
        try_files <files...>
        resolve_root_symlink
        capture_stderr
        dial_timeout  <duration>
        read_timeout  <duration>
        write_timeout <duration>
        <any other reverse_proxy subdirectives...>
    }

    Expands to three routes (Caddy's): a 308 redirect adding the trailing
    slash to a directory with an index file, a rewrite to the file found by
    `try_files` (split at the PHP extension), and a reverse_proxy with the
    fastcgi transport for paths ending in the extensions. They stay together
    as one unit (a literal subroute, inlined); a matcher token wraps them in a
    subroute route instead.
    """
    d = h.d
    if not d.next():
        raise d.arg_err()
    span = d.span
    user_matcher = h.extract_matcher_set()
    d.next()  # the directive name again: extracting the matcher reset the cursor
    tokens = d.new_from_next_segment()
    ov = _Overrides()
    ov.read(tokens)
    tokens.reset()

    routes: list[Route] = []
    if ov.index_file != "off":
        dir_index = _DIR_INDEX + ov.index_file
        try_policy = "first_exist_fallback"
        try_files = ov.try_files
        if not try_files:
            try_files = ["{http.request.uri.path}", dir_index, ov.index_file]
            dir_redir = True
        else:
            if not try_files[-1].endswith(".php"):
                try_policy = ""  # first_exist when the last file is not a PHP file
            dir_redir = dir_index in try_files
        if dir_redir:
            not_dir = MatcherSet(matchers=(path_matcher(["*/"], span),), span=span)
            canonical = MatcherSet(
                matchers=(
                    MatchFile(try_files=(text(dir_index),), span=span),
                    MatchNot(sets=(not_dir,), span=span),
                ),
                span=span,
            )
            redirect = StaticResponse(
                status_code=text("308"),
                headers=(("Location", (text(_CANONICAL),)),),
                span=span,
            )
            routes.append(Route(match=(canonical,), handle=(redirect,), span=span))
        index_files = MatchFile(
            try_files=tuple(text(f) for f in try_files),
            try_policy=try_policy,
            split_path=tuple(ov.extensions),
            span=span,
        )
        rewrite = Rewrite(uri=rewrite_text("{http.matchers.file.relative}"), span=span)
        routes.append(
            Route(
                match=(MatcherSet(matchers=(index_files,), span=span),),
                handle=(rewrite,),
                span=span,
            )
        )

    # The rest is reverse_proxy's syntax, read by its own parser.
    builder = ProxyBuilder(h.with_dispenser(tokens))
    builder.preset_transport = ov.transport(span)
    tokens.next()  # the directive name
    builder.parse(tokens)
    proxy = builder.build(span)
    php_files = MatcherSet(
        matchers=(path_matcher(["*" + ext for ext in ov.extensions], span),), span=span
    )
    routes.append(Route(match=(php_files,), handle=(proxy,), span=span))
    routes = [replace(r, directive="php_fastcgi") for r in routes]

    subroute = Subroute(routes=tuple(routes), span=span)
    if user_matcher is not None:
        route = Route(match=(user_matcher,), handle=(subroute,), span=span)
        return [ConfigValue("route", route, span=span)]
    # A literal subroute: its routes are inlined in order, never sorted apart.
    return [ConfigValue("route", subroute, span=span)]
