"""HTTP handlers other than the reverse proxy (Caddy's `http.handlers.*`), one class each.

Field names follow the handler's JSON config. Strings with placeholders are
`Text`; each directive parser decides whether unknown placeholders are kept
(ReplaceKnown) or dropped (ReplaceAll), as the Caddy module does.
"""

from __future__ import annotations

from dataclasses import dataclass

from rpc.compiler.ir.base import Node, Text, jfield
from rpc.compiler.ir.headers import ResponseMatcher
from rpc.compiler.ir.proxy import ResponseHandler
from rpc.compiler.ir.routes import Handler

__all__ = [
    "ENCODE_DEFAULT_CONTENT_TYPES",
    "ENCODE_DEFAULT_MINIMUM_LENGTH",
    "Account",
    "Authentication",
    "Browse",
    "CopyResponse",
    "CopyResponseHeaders",
    "Encode",
    "FileServer",
    "Gzip",
    "HTTPBasicAuth",
    "Intercept",
    "Invoke",
    "LogAppend",
    "MapHandler",
    "Mapping",
    "Metrics",
    "QueryArg",
    "QueryOps",
    "QueryReplace",
    "RegexReplace",
    "RequestBody",
    "Rewrite",
    "ScalarValue",
    "StaticError",
    "StaticResponse",
    "SubstringReplace",
    "VarValue",
    "Vars",
    "Zstd",
]

# A typed Caddyfile value (`Dispenser.scalar_val()`): strings keep their placeholders.
ScalarValue = Text | int | float | bool | None
# A `vars` value: a scalar, or a list of names (`log_name`).
VarValue = Text | int | float | bool | tuple[str, ...] | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Invoke(Handler):
    """`invoke <name>`: run a named route."""

    CADDY_TAG = ("handler", "invoke")

    name: str = jfield()


@dataclass(frozen=True, slots=True, kw_only=True)
class SubstringReplace(Node):
    """`uri replace <find> <replace> [<limit>]`: a substring replaced in path and query."""

    find: Text | None = jfield(default=None)
    replace: Text | None = jfield(default=None)
    limit: int = jfield(default=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class RegexReplace(Node):
    """`uri path_regexp <find> <replace>`: a regexp replaced in the path."""

    find: str = jfield(default="")
    replace: Text | None = jfield(default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryArg(Node):
    """One `key`/`val` pair of a query operation (`+k v`, `k v`, `a>b`); None when empty."""

    key: Text | None = jfield(default=None)
    val: Text | None = jfield(default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryReplace(Node):
    """`uri query <key> <search_regexp> <replace>`."""

    key: Text | None = jfield(default=None)
    search_regexp: str = jfield(default="")
    replace: Text | None = jfield(default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryOps(Node):
    """`uri query ...`: applied in Caddy's order rename, set, add, replace, delete."""

    rename: tuple[QueryArg, ...] = jfield(default=())
    set: tuple[QueryArg, ...] = jfield(default=())
    add: tuple[QueryArg, ...] = jfield(default=())
    replace: tuple[QueryReplace, ...] = jfield(default=())
    delete: tuple[Text, ...] = jfield(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class Rewrite(Handler):
    """`rewrite`, `uri`, `method`, `try_files`, and the prefix strip of `handle_path`."""

    CADDY_TAG = ("handler", "rewrite")

    method: Text | None = jfield(default=None)
    uri: Text | None = jfield(default=None)
    strip_path_prefix: str = jfield(default="")
    strip_path_suffix: str = jfield(default="")
    uri_substring: tuple[SubstringReplace, ...] = jfield(default=())
    path_regexp: tuple[RegexReplace, ...] = jfield(default=())
    query: QueryOps | None = jfield(default=None)  # present (even empty) when configured


@dataclass(frozen=True, slots=True, kw_only=True)
class StaticResponse(Handler):
    """`respond`, `redir`, `abort`: a response written without a backend."""

    CADDY_TAG = ("handler", "static_response")

    status_code: Text | None = jfield(default=None)  # JSON: a number when it is one
    headers: tuple[tuple[str, tuple[Text, ...]], ...] = jfield(default=())
    body: Text | None = jfield(default=None)
    close: bool = jfield(default=False)
    abort: bool = jfield(default=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class StaticError(Handler):
    """`error`: fail the request with a status, handled by `handle_errors`."""

    CADDY_TAG = ("handler", "error")

    error: Text | None = jfield(default=None)
    status_code: Text | None = jfield(default=None)


# ---------------------------------------------------------------- variables


@dataclass(frozen=True, slots=True, kw_only=True)
class Vars(Handler):
    """`vars`, `root`, `log_skip`, `log_name`: set request variables.

    JSON: the names are keys of the handler object itself, in written order
    here (Caddy's map sorts them).
    """

    CADDY_TAG = ("handler", "vars")

    values: tuple[tuple[str, VarValue], ...] = jfield(None, default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class Mapping(Node):
    """One line of a `map` block: an input (or `~regexp`) and one output per destination."""

    input: str = jfield(default="")
    input_regexp: str = jfield(default="")
    outputs: tuple[ScalarValue, ...] = jfield(default=())  # None is JSON null ("-")


@dataclass(frozen=True, slots=True, kw_only=True)
class MapHandler(Handler):
    """`map <source> <destinations...> { ... }`: placeholders computed from a source value."""

    CADDY_TAG = ("handler", "map")

    source: Text | None = jfield(default=None)
    destinations: tuple[str, ...] = jfield(default=())
    mappings: tuple[Mapping, ...] = jfield(default=())
    defaults: tuple[str, ...] = jfield(default=())


# ---------------------------------------------------------------- encoding

# What Caddy 2.11's provisioning fills in when `encode` has no `match` or
# `minimum_length`: responses with one of these Content-Types (a trailing `*`
# is a prefix match; checked against caddy: font/woff2 is not compressed).
ENCODE_DEFAULT_CONTENT_TYPES: tuple[str, ...] = (
    "application/atom+xml*",
    "application/eot*",
    "application/font*",
    "application/geo+json*",
    "application/graphql+json*",
    "application/javascript*",
    "application/json*",
    "application/ld+json*",
    "application/manifest+json*",
    "application/opentype*",
    "application/otf*",
    "application/rss+xml*",
    "application/truetype*",
    "application/ttf*",
    "application/vnd.api+json*",
    "application/vnd.ms-fontobject*",
    "application/wasm*",
    "application/x-httpd-cgi*",
    "application/x-javascript*",
    "application/x-opentype*",
    "application/x-otf*",
    "application/x-perl*",
    "application/x-protobuf*",
    "application/x-ttf*",
    "application/xhtml+xml*",
    "application/xml*",
    "font/ttf*",
    "font/otf*",
    "image/svg+xml*",
    "image/vnd.microsoft.icon*",
    "image/x-icon*",
    "multipart/bag*",
    "multipart/mixed*",
    "text/*",
)
ENCODE_DEFAULT_MINIMUM_LENGTH = 512


@dataclass(frozen=True, slots=True, kw_only=True)
class Gzip(Node):
    """The `gzip` encoder (`http.encoders.gzip`); level 0 means the default."""

    level: int = jfield(default=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Zstd(Node):
    """The `zstd` encoder: a named level and `disable_checksum` (JSON `checksum: false`)."""

    level: str = jfield(default="")
    checksum: bool | None = jfield(default=None, keep_zero=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Encode(Handler):
    """`encode`: compress responses with the client's preferred encoding.

    Without `match` and `minimum_length`, Caddy's provisioning applies
    `ENCODE_DEFAULT_CONTENT_TYPES` and `ENCODE_DEFAULT_MINIMUM_LENGTH`; the
    JSON, like Caddy's, leaves them out.
    """

    CADDY_TAG = ("handler", "encode")

    encodings: tuple[tuple[str, Gzip | Zstd], ...] = jfield()  # JSON: {name: {...}}
    prefer: tuple[str, ...] = jfield(default=())
    minimum_length: int = jfield(default=0)
    match: ResponseMatcher | None = jfield(default=None)


# ---------------------------------------------------------------- files


@dataclass(frozen=True, slots=True, kw_only=True)
class Browse(Node):
    """Directory listings of `file_server browse`."""

    template_file: str = jfield(default="")
    reveal_symlinks: bool = jfield(default=False)
    sort: tuple[str, ...] = jfield(default=())
    file_limit: int = jfield(default=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class FileServer(Handler):
    """`file_server`: serve static files below `root` (default `{http.vars.root}`)."""

    CADDY_TAG = ("handler", "file_server")

    fs: str = jfield(default="")
    root: Text | None = jfield(default=None)
    hide: tuple[Text, ...] = jfield(default=())
    index_names: tuple[str, ...] = jfield(default=())
    browse: Browse | None = jfield(default=None)  # present (even empty) when enabled
    canonical_uris: bool | None = jfield(default=None, keep_zero=True)
    status_code: Text | None = jfield(default=None)  # JSON: a number when it is one
    pass_thru: bool = jfield(default=False)
    precompressed: tuple[str, ...] = jfield(None, default=())  # JSON: {format: {}}
    precompressed_order: tuple[str, ...] = jfield(default=())
    etag_file_extensions: tuple[str, ...] = jfield(default=())


# ---------------------------------------------------------------- authentication


@dataclass(frozen=True, slots=True, kw_only=True)
class Account(Node):
    """One `<username> <hashed_password>` line of `basic_auth`."""

    username: str = jfield()
    password: str = jfield()


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTPBasicAuth(Node):
    """The `http_basic` authentication provider."""

    hash_algorithm: str = jfield(None)  # JSON: hash: {algorithm: ...}
    accounts: tuple[Account, ...] = jfield(default=())
    realm: str = jfield(default="")


@dataclass(frozen=True, slots=True, kw_only=True)
class Authentication(Handler):
    """`basic_auth`: the `authentication` handler with its `http_basic` provider."""

    CADDY_TAG = ("handler", "authentication")

    http_basic: HTTPBasicAuth = jfield(None)  # JSON: providers: {http_basic: {...}}


# ---------------------------------------------------------------- request body, logs, metrics


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestBody(Handler):
    """`request_body { max_size <size>; set <body> }`."""

    CADDY_TAG = ("handler", "request_body")

    max_size: int = jfield(default=0)
    set: Text | None = jfield(default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class LogAppend(Handler):
    """`log_append [<]<key> <value>`: a field added to the access log entry."""

    CADDY_TAG = ("handler", "log_append")

    key: str = jfield(default="")
    value: Text | None = jfield(default=None)
    early: bool = jfield(default=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Metrics(Handler):
    """`metrics`: serve the Prometheus metrics endpoint."""

    CADDY_TAG = ("handler", "metrics")

    disable_openmetrics: bool = jfield(default=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyResponse(Handler):
    """`copy_response` (in `handle_response`): write the upstream's response."""

    CADDY_TAG = ("handler", "copy_response")

    status_code: Text | None = jfield(default=None)  # JSON: a number when it is one


@dataclass(frozen=True, slots=True, kw_only=True)
class CopyResponseHeaders(Handler):
    """`copy_response_headers` (in `handle_response`): copy upstream response headers."""

    CADDY_TAG = ("handler", "copy_response_headers")

    include: tuple[str, ...] = jfield(default=())
    exclude: tuple[str, ...] = jfield(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class Intercept(Handler):
    """`intercept`: the first response handler matching the upstream response runs.

    Each entry replaces the status (`replace_status`) or runs routes instead of
    writing the response (`handle_response`); kept for the JSON view only.
    """

    CADDY_TAG = ("handler", "intercept")

    handle_response: tuple[ResponseHandler, ...] = jfield(default=())
