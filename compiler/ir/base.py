"""Building blocks of the IR: the node base, typed values, and JSON field metadata.

The IR mirrors Caddy's JSON config: one frozen, slotted dataclass per JSON
object type (handler module, matcher, selection policy, ...), fields named
like the JSON keys. That makes `rpc adapt --format caddy-json` a mostly
generic serialisation (`rpc.compiler.caddyjson`) and gives the code
generator one node class per runtime class.

Values that Caddy keeps as strings with placeholders are `Text`: the text as
Caddy would put it in JSON (`raw`) plus its parsed parts, so placeholders are
typed references checked at compile time, never strings parsed per request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rpc.compiler.source import Span

__all__ = [
    "Duration",
    "Node",
    "Ph",
    "Text",
    "jfield",
    "node",
    "prefer",
]

# `node` is the decorator every IR class uses: frozen, slotted, keyword-only.
node = dataclass(frozen=True, slots=True, kw_only=True)


def jfield(
    json: str | None = "",
    *,
    default: Any = dataclasses.MISSING,
    factory: Any = dataclasses.MISSING,
    keep_zero: bool = False,
) -> Any:
    """A dataclass field with its Caddy JSON key.

    `json=""` means "the field's own name", `json=None` keeps the field out of
    the JSON (compiler-only data). Empty values are omitted like Go's
    `omitempty` unless `keep_zero` is set (then only None is omitted: for
    Go pointer fields, where an explicit `false` or `0` is meaningful).
    """
    meta = {"json": json, "keep_zero": keep_zero}
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata=meta)
    if default is dataclasses.MISSING:
        return field(metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """Base of every IR node: where in the Caddyfile it came from."""

    # The JSON object's type tag, e.g. ("handler", "static_response"); None if untagged.
    CADDY_TAG: ClassVar[tuple[str, str] | None] = None

    span: Span | None = field(default=None, compare=False, metadata={"json": None})

    @property
    def origin(self) -> str:
        """`Caddyfile:12`, or "" for synthesised nodes."""
        return self.span.origin if self.span is not None else ""

    def children(self) -> Iterator[Node]:
        """Direct child nodes, for generic walks (checks, codegen)."""
        for f in dataclasses.fields(self):
            yield from _nodes_in(getattr(self, f.name))


def _nodes_in(value: object) -> Iterator[Node]:
    if isinstance(value, Node):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _nodes_in(item)


@dataclass(frozen=True, slots=True)
class Ph:
    """A placeholder reference `{key}` with its full key (shorthands expanded)."""

    key: str


@dataclass(frozen=True, slots=True)
class Text:
    """A config string that may contain placeholders.

    `raw` is the string as Caddy's JSON holds it (shorthands expanded, escapes
    kept); `parts` alternates literal text and `Ph` references, with `\\{`
    `\\}` escapes resolved — what the runtime renders.
    """

    raw: str
    parts: tuple[str | Ph, ...]

    @property
    def is_constant(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)

    @property
    def constant(self) -> str:
        """The literal value; only meaningful when `is_constant`."""
        return "".join(p for p in self.parts if isinstance(p, str))

    @property
    def placeholders(self) -> tuple[Ph, ...]:
        return tuple(p for p in self.parts if isinstance(p, Ph))

    def __str__(self) -> str:
        return self.raw


@dataclass(frozen=True, slots=True)
class Duration:
    """A duration; Caddy's JSON stores it as integer nanoseconds."""

    ns: int

    @property
    def seconds(self) -> float:
        return self.ns / 1e9

    def __bool__(self) -> bool:
        return self.ns != 0


def prefer(first: Node, second: Node, *names: str) -> dict[str, Any]:
    """`name: first.name or second.name` for each field: Caddy's merge of two configs where
    what one sets wins over the other (as `replace(...)` keyword arguments)."""
    return {n: getattr(first, n) or getattr(second, n) for n in names}
