"""Shared pieces of the ports of Caddy modules' `UnmarshalCaddyfile` methods.

Input: a dispenser positioned on a token; output: Go-compatible values
(durations, integers, floats, sizes) or the `DirectiveError` Caddy would
report, worded like Caddy's (`strconv.Atoi: parsing "x": invalid syntax`,
`getting module named '...': module not registered: ...`) so messages match.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from rpc.compiler.dispenser import DirectiveError, Dispenser
from rpc.compiler.ir.base import Duration
from rpc.compiler.values import parse_duration, parse_size

__all__ = [
    "MODULE_HINT",
    "atoi",
    "duration",
    "kw",
    "parse_float",
    "size",
    "unknown_module",
    "unmarshal_module",
]

MODULE_HINT = (
    "a standard Caddy 2.11 build has no such module; rpc accepts the modules of the "
    "standard build only (`caddy list-modules`)"
)

T = TypeVar("T")


def unknown_module(d: Dispenser, module_id: str) -> DirectiveError:
    """Caddy's error for a module name that is not registered."""
    return d.error(
        f"getting module named '{module_id}': module not registered: {module_id}",
        code="RPC303",
        hint=MODULE_HINT,
    )


def unmarshal_module(
    d: Dispenser, namespace: str, parsers: dict[str, Callable[[Dispenser], T]]
) -> T:
    """`caddyfile.UnmarshalModule`: parse the current token's segment with its module.

    The current token names the module (`namespace` + name); its parser gets a
    dispenser over the rest of the line and its block, positioned before it.
    """
    name = d.val
    parser = parsers.get(name)
    if parser is None:
        raise unknown_module(d, namespace + name)
    return parser(d.new_from_next_segment())


def kw(name: str, value: object) -> dict[str, Any]:
    """One keyword argument named at run time (for `dataclasses.replace`)."""
    return {name: value}


def atoi(d: Dispenser, text: str, fmt: str = "{err}") -> int:
    """Go's `strconv.Atoi`, with its error in `fmt` (`{err}` is Go's message)."""
    if re.fullmatch(r"[+-]?\d+", text):
        value = int(text)
        if -(1 << 63) <= value < (1 << 63):
            return value
        err = f'strconv.Atoi: parsing "{text}": value out of range'
    else:
        err = f'strconv.Atoi: parsing "{text}": invalid syntax'
    raise d.error(fmt.format(err=err), code="RPC303")


def parse_float(d: Dispenser, text: str, fmt: str = "{err}") -> float:
    """Go's `strconv.ParseFloat(s, 64)`, with its error in `fmt`."""
    try:
        if re.fullmatch(
            r"[+-]?(\d+\.?\d*([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf|infinity)",
            text,
            re.IGNORECASE,
        ):
            return float(text)
    except ValueError:
        pass
    err = f'strconv.ParseFloat: parsing "{text}": invalid syntax'
    raise d.error(fmt.format(err=err), code="RPC303")


def duration(d: Dispenser, text: str, fmt: str = "{err}") -> Duration:
    """`caddy.ParseDuration` (Go durations plus `d` for days)."""
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise d.error(fmt.format(err=f"time: {exc}"), code="RPC303") from None


def size(d: Dispenser, text: str, fmt: str = "{err}") -> int:
    """go-humanize's `ParseBytes`."""
    try:
        return parse_size(text)
    except ValueError as exc:
        raise d.error(fmt.format(err=str(exc)), code="RPC303") from None
