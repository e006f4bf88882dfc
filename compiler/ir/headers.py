"""Header manipulation (Caddy's `headers` handler and `HeaderOps`), and response matchers.

Used by the `header` and `request_header` directives and by reverse_proxy's
`header_up`/`header_down`. Names and values may hold placeholders; unknown
ones are kept, as Caddy's header ops use ReplaceKnown.
"""

from __future__ import annotations

from dataclasses import dataclass

from rpc.compiler.ir.base import Node, Text, jfield
from rpc.compiler.ir.routes import Handler

__all__ = ["HeaderOps", "Headers", "Replacement", "RespHeaderOps", "ResponseMatcher"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Replacement(Node):
    """`<field> <search> <replace>`: a regexp (or plain) substitution in a field's values."""

    search: str = jfield(default="")
    search_regexp: str = jfield(default="")
    replace: Text | None = jfield(default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class HeaderOps(Node):
    """Header operations, applied in Caddy's order: delete `*`, add, set, delete, replace."""

    add: tuple[tuple[Text, tuple[Text, ...]], ...] = jfield(default=())
    set: tuple[tuple[Text, tuple[Text, ...]], ...] = jfield(default=())
    delete: tuple[Text, ...] = jfield(default=())
    replace: tuple[tuple[str, tuple[Replacement, ...]], ...] = jfield(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseMatcher(Node):
    """`@name { status <codes...>; header <field> [<value>] }`: matches a response."""

    status_code: tuple[int, ...] = jfield(default=())
    headers: tuple[tuple[str, tuple[Text, ...] | None], ...] = jfield(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class RespHeaderOps(Node):
    """Response header operations: deferred until the response is written, or conditional."""

    ops: HeaderOps | None = jfield(None, default=None)  # flattened into the object
    require: ResponseMatcher | None = jfield(default=None)
    deferred: bool = jfield(default=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Headers(Handler):
    """`header` and `request_header` (the `headers` handler)."""

    CADDY_TAG = ("handler", "headers")

    request: HeaderOps | None = jfield(default=None)
    response: RespHeaderOps | None = jfield(default=None)
