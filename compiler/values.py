"""Caddyfile value syntaxes shared by directives: durations, sizes, ports, status codes.

Durations follow `caddy.ParseDuration` (Go's `time.ParseDuration` plus `d` for
days; a bare integer is not accepted there, but some directives take
nanoseconds, see `parse_duration_or_ns`). Sizes follow go-humanize's
`ParseBytes` (`10MB` = 10,000,000, `1MiB` = 1,048,576, plain bytes).
"""

from __future__ import annotations

import re

from rpc.compiler.ir.base import Duration

__all__ = ["parse_duration", "parse_duration_or_ns", "parse_size", "parse_status"]

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
}
_PART = re.compile(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h|d)")
_MAX_NS = (1 << 63) - 1


def parse_duration(text: str) -> Duration:
    """`1h30m`, `500ms`, `2d`, `-1s`, `0`; raises ValueError like Go does."""
    s = text
    if not s:
        raise ValueError('invalid duration ""')
    sign = 1
    if s[0] in "+-":
        sign = -1 if s[0] == "-" else 1
        s = s[1:]
    if s == "0":
        return Duration(0)
    if not s:
        raise ValueError(f'invalid duration "{text}"')
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _PART.match(s, pos)
        if m is None or m.group(1) in ("", "."):
            if m is None and re.match(r"\d", s[pos:]):
                raise ValueError(f'missing unit in duration "{text}"')
            raise ValueError(f'invalid duration "{text}"')
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    if total > _MAX_NS:
        raise ValueError(f'invalid duration "{text}"')
    return Duration(sign * round(total))


def parse_duration_or_ns(text: str) -> Duration:
    """A duration, or a bare integer meaning nanoseconds (`flush_interval -1`)."""
    if re.fullmatch(r"[+-]?\d+", text):
        return Duration(int(text))
    return parse_duration(text)


_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*$")
_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 10**3,
    "kb": 10**3,
    "m": 10**6,
    "mb": 10**6,
    "g": 10**9,
    "gb": 10**9,
    "t": 10**12,
    "tb": 10**12,
    "p": 10**15,
    "pb": 10**15,
    "e": 10**18,
    "eb": 10**18,
    "ki": 2**10,
    "kib": 2**10,
    "mi": 2**20,
    "mib": 2**20,
    "gi": 2**30,
    "gib": 2**30,
    "ti": 2**40,
    "tib": 2**40,
    "pi": 2**50,
    "pib": 2**50,
    "ei": 2**60,
    "eib": 2**60,
}


def parse_size(text: str) -> int:
    """Bytes from `4KB`, `1MiB`, `512`; raises ValueError."""
    m = _SIZE.match(text.replace(",", ""))
    if m is None:
        raise ValueError(f"invalid size {text!r}")
    unit = m.group(2).lower()
    if unit not in _SIZE_UNITS:
        raise ValueError(f"unhandled size name: {m.group(2)}")
    return int(float(m.group(1)) * _SIZE_UNITS[unit])


def parse_status(text: str) -> int:
    """A 3-digit HTTP status code."""
    if not re.fullmatch(r"\d{3}", text):
        raise ValueError(f"invalid status code {text!r}")
    return int(text)
