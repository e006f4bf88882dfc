"""The table of directives: name → parser, and the names Caddy knows.

Parser modules register with `@directive(name)` (the parser returns config
values) or `@handler_directive(name)` (the parser returns one handler node;
the optional matcher token is taken off first, as Caddy's
`RegisterHandlerDirective` does). Names Caddy knows but rpc does not
implement stay in `known_names()`, so they are rejected with "not supported
yet" instead of "unknown directive", and are still refused as site addresses.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rpc.compiler.directives.order import DEFAULT_ORDER, UNORDERED

if TYPE_CHECKING:
    from rpc.compiler.directives.helper import ConfigValue, Helper
    from rpc.compiler.ir.routes import Handler

__all__ = [
    "CADDY_DIRECTIVES",
    "RPC_DIRECTIVES",
    "Entry",
    "directive",
    "handler_directive",
    "known_names",
    "lookup",
]

# Every directive of a standard Caddy 2.11 build.
CADDY_DIRECTIVES: frozenset[str] = frozenset(DEFAULT_ORDER) | frozenset(UNORDERED)

# rpc's own directives and where they sit in the default order (before which
# Caddy directive); `order` in the global options can move them.
RPC_DIRECTIVES: dict[str, str] = {}

# Modules that register directives when imported; loaded once, on first lookup.
_MODULES = (
    "rpc.compiler.directives.routing",
    "rpc.compiler.directives.static",
    "rpc.compiler.directives.headers",
    "rpc.compiler.directives.proxy",
    "rpc.compiler.directives.fastcgi",
    "rpc.compiler.directives.intercept",
    "rpc.compiler.directives.shard",
    "rpc.compiler.directives.rewrite",
    "rpc.compiler.directives.vars",
    "rpc.compiler.directives.encode",
    "rpc.compiler.directives.fileserver",
    "rpc.compiler.directives.auth",
    "rpc.compiler.directives.misc",
    "rpc.compiler.directives.site",
)

ParseFn = Callable[["Helper"], "list[ConfigValue]"]
HandlerFn = Callable[["Helper"], "Handler"]


@dataclass(frozen=True, slots=True)
class Entry:
    """A registered directive."""

    name: str
    parse: ParseFn
    handler: bool  # registered as a handler directive (matcher token handled for it)


_TABLE: dict[str, Entry] = {}
_loaded = False


def directive(name: str) -> Callable[[ParseFn], ParseFn]:
    """Register a directive whose parser returns config values."""

    def register(fn: ParseFn) -> ParseFn:
        _TABLE[name] = Entry(name, fn, handler=False)
        return fn

    return register


def handler_directive(name: str) -> Callable[[HandlerFn], HandlerFn]:
    """Register a handler directive: `[<matcher>] args...` → one handler in one route."""

    def register(fn: HandlerFn) -> HandlerFn:
        def parse(h: Helper) -> list[ConfigValue]:
            if not h.d.next():
                raise h.d.arg_err()
            matcher_set = h.extract_matcher_set()
            return h.new_route(matcher_set, fn(h))

        _TABLE[name] = Entry(name, parse, handler=True)
        return fn

    return register


def _load() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in _MODULES:
            importlib.import_module(module)


def lookup(name: str) -> Entry | None:
    """The parser registered for `name`, or None."""
    _load()
    return _TABLE.get(name)


def known_names() -> frozenset[str]:
    """Names that are directives (Caddy's, and rpc's own)."""
    _load()
    return CADDY_DIRECTIVES | frozenset(RPC_DIRECTIVES)
