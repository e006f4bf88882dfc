"""The table of directives: name → parser, and the names Caddy knows.

Parsers register themselves with `@directive(name)`. Names Caddy knows but rpc
does not implement yet stay in `known_names()`, so they are still rejected as
site addresses and reported as "not supported yet" rather than "unknown".
"""

from __future__ import annotations

from rpc.compiler.directives.order import DEFAULT_ORDER, UNORDERED

__all__ = ["CADDY_DIRECTIVES", "known_names"]

# Every directive of a standard Caddy 2.11 build.
CADDY_DIRECTIVES: frozenset[str] = frozenset(DEFAULT_ORDER) | frozenset(UNORDERED)


def known_names() -> frozenset[str]:
    """Names that are directives (Caddy's, and rpc's own once registered)."""
    return CADDY_DIRECTIVES
