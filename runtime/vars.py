"""`vars`, `root`, `log_skip`, `log_name` and `map`: request variables and mapped placeholders.

Ports of Caddy 2.11's `vars` handler (`modules/caddyhttp/vars.go`) and `map`
handler (`modules/caddyhttp/map/map.go`). `Vars` stores typed values in
`ctx.vars` (text is expanded when the handler runs). `Map` publishes its
destinations as lazy placeholders in `ctx.extra`: the source is read and the
mappings searched only when a destination is used, so a later rewrite is
seen, as in Caddy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from rpc.runtime.context import Ctx
from rpc.runtime.gourl import go_expand
from rpc.runtime.matchers import compile_regex
from rpc.runtime.placeholders import Lazy, Template, render

__all__ = ["Map", "MapEntry", "Vars"]

Text = str | Template
Value = Text | int | float | bool | tuple[str, ...] | None


class Vars:
    """Set request variables (`{http.vars.*}`); text values are expanded (unknown → empty)."""

    __slots__ = ("origin", "values")

    def __init__(self, values: Sequence[tuple[Text, Value]], *, origin: str = "") -> None:
        self.values = tuple(values)
        self.origin = origin

    async def __call__(self, ctx: Ctx) -> None:
        for name, value in self.values:
            key = name if isinstance(name, str) else name.render(ctx)
            if isinstance(value, Template):
                value = value.render(ctx)
            ctx.vars[key] = value
            if key == "http.auth.user.id":
                ctx.extra[key] = value  # Caddy lets vars override the user ID for access logs


class MapEntry:
    """One mapping: an exact `input` or an `input_regexp`, and one output per destination."""

    __slots__ = ("input", "outputs", "regex")

    def __init__(
        self, *, input: str = "", input_regexp: str = "", outputs: Sequence[Value] = ()
    ) -> None:
        self.input = input
        self.regex: re.Pattern[str] | None = compile_regex(input_regexp) if input_regexp else None
        self.outputs = tuple(outputs)


class Map:
    """`map <source> <destinations...>`: the first matching mapping with a non-null output wins.

    A regexp mapping's output is expanded with the regexp's captures (`$1`,
    `${name}`) and not for placeholders; an exact mapping's output and the
    defaults are expanded for placeholders (unknown → empty).
    """

    __slots__ = ("defaults", "destinations", "mappings", "origin", "source")

    def __init__(
        self,
        *,
        source: Text,
        destinations: Sequence[str],
        mappings: Sequence[MapEntry] = (),
        defaults: Sequence[Text] = (),
        origin: str = "",
    ) -> None:
        self.source = source
        self.destinations = tuple(d.strip("{}") for d in destinations)
        self.mappings = tuple(mappings)
        self.defaults = tuple(defaults)
        self.origin = origin

    async def __call__(self, ctx: Ctx) -> None:
        for index, name in enumerate(self.destinations):
            ctx.extra[name] = Lazy(self._value, index)

    def _value(self, ctx: Ctx, index: int) -> Any:
        source = render(self.source, ctx)
        for m in self.mappings:
            output = m.outputs[index] if index < len(m.outputs) else None
            if output is None:
                continue
            if m.regex is not None:
                found = m.regex.search(source)
                if found is None:
                    continue
                return go_expand(_raw(output), found)
            if source == m.input:
                return render(output, ctx) if isinstance(output, Template) else _to_string(output)
        if index < len(self.defaults):
            return render(self.defaults[index], ctx)
        return None


def _raw(value: Value) -> str:
    """The output as Caddy's config holds it (placeholders unexpanded)."""
    if isinstance(value, Template):
        return "".join(p if isinstance(p, str) else "{" + p.key + "}" for p in value.parts)
    return _to_string(value)


def _to_string(value: Value) -> str:
    """`caddy.ToString` of a JSON-decoded output (numbers are float64, printed without exponent)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        text = format(Decimal(repr(float(value))), "f")
        return text.removesuffix(".0")
    if isinstance(value, tuple):
        return ",".join(value)
    return value if isinstance(value, str) else _raw(value)
