"""`log_append`: a field added to the request's access log entry.

A port of Caddy 2.11's `log_append` handler (`modules/logging/appendhandler.go`).
A value that is exactly one placeholder is read when the entry is written,
after the response (or, with `early` / `<key`, before the rest of the chain
runs), and keeps its type (a number stays a number, an unknown name is
null); any other text is logged as written, as Caddy 2.11 does.
"""

from __future__ import annotations

from typing import Any

from rpc.runtime.context import Ctx
from rpc.runtime.placeholders import (
    Lazy,
    Placeholder,
    Resolver,
    Template,
    resolver_for,
    stringify,
)

__all__ = ["LogAppend"]

Text = str | Template


class LogAppend:
    """Append `key: value` to the access log entry (`ctx.log_fields`)."""

    __slots__ = ("_value", "early", "key", "origin")

    def __init__(
        self, key: str, value: Text | None = None, *, early: bool = False, origin: str = ""
    ) -> None:
        self.key = key
        self.early = early
        self.origin = origin
        self._value: Resolver = _resolver(value)

    async def __call__(self, ctx: Ctx) -> None:
        value: Any = self._value(ctx) if self.early else self._value
        ctx.log_fields[self.key] = value


def _resolver(value: Text | None) -> Resolver:
    if value is None:
        return lambda ctx: ""
    if isinstance(value, str):
        return lambda ctx: value
    parts = value.parts
    if len(parts) == 1 and isinstance(parts[0], Placeholder):
        key = parts[0].key
        fn = resolver_for(key)
        return _typed(fn) if fn is not None else _published(key)
    return value.render


def _published(key: str) -> Resolver:
    """A name only the config publishes (a `map` destination); null when unset."""

    def get(ctx: Ctx) -> Any:
        value = ctx.extra.get(key)
        return value.get(ctx) if isinstance(value, Lazy) else value

    return get


def _typed(fn: Resolver) -> Resolver:
    def get(ctx: Ctx) -> Any:
        value = fn(ctx)
        if value is None or isinstance(value, (str, int, float, bool)):
            return value
        return stringify(value)

    return get
