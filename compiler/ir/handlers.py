"""HTTP handlers other than the reverse proxy (Caddy's `http.handlers.*`), one class each.

Field names follow the handler's JSON config. Strings with placeholders are
`Text`; each directive parser decides whether unknown placeholders are kept
(ReplaceKnown) or dropped (ReplaceAll), as the Caddy module does.
"""

from __future__ import annotations

from dataclasses import dataclass

from rpc.compiler.ir.base import Text, jfield
from rpc.compiler.ir.routes import Handler

__all__ = ["Invoke", "Rewrite", "StaticError", "StaticResponse"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Invoke(Handler):
    """`invoke <name>`: run a named route."""

    CADDY_TAG = ("handler", "invoke")

    name: str = jfield()


@dataclass(frozen=True, slots=True, kw_only=True)
class Rewrite(Handler):
    """`rewrite`, `uri`, and the prefix strip of `handle_path` (the `rewrite` module)."""

    CADDY_TAG = ("handler", "rewrite")

    method: Text | None = jfield(default=None)
    uri: Text | None = jfield(default=None)
    strip_path_prefix: str = jfield(default="")
    strip_path_suffix: str = jfield(default="")
    uri_substring: tuple[tuple[str, str, int], ...] = jfield(None, default=())
    path_regexp: tuple[tuple[str, str], ...] = jfield(None, default=())
    query: object | None = jfield(None, default=None)


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
