"""Caddy 2.11's directive order: which handler directives run before which.

Handler directives in one block are not run in the order written; they are
sorted by their position in this list (`caddyconfig/httpcaddyfile/directives.go`
`defaultDirectiveOrder`), then by path specificity among equal directives.
The global `order` option edits a copy of this list per compilation.
"""

from __future__ import annotations

__all__ = ["DEFAULT_ORDER", "UNORDERED"]

DEFAULT_ORDER: tuple[str, ...] = (
    "tracing",
    # Variables and the site root are set first so later handlers can read them.
    "map",
    "vars",
    "fs",
    "root",
    "log_append",
    "skip_log",  # deprecated alias of log_skip
    "log_skip",
    "log_name",
    # Response headers are registered early so they apply to any response.
    "header",
    "copy_response_headers",  # only in handle_response blocks
    "request_body",
    "timeouts",
    "redir",
    # Request rewriting: incoming requests are made canonical before routing.
    "method",
    "rewrite",
    "uri",
    "try_files",
    # Authentication and request headers, after rewriting.
    "basicauth",  # deprecated alias of basic_auth
    "basic_auth",
    "forward_auth",
    "request_header",
    "encode",
    "push",
    "intercept",
    "templates",
    # Special routing and dispatching directives.
    "invoke",
    "handle",
    "handle_path",
    "route",
    # Handlers that typically respond to requests.
    "abort",
    "error",
    "copy_response",  # only in handle_response blocks
    "respond",
    "metrics",
    "reverse_proxy",
    "php_fastcgi",
    "file_server",
    "acme_server",
)

# Directives that configure the site rather than handle requests: never sorted.
UNORDERED: tuple[str, ...] = ("bind", "tls", "log", "handle_errors")
