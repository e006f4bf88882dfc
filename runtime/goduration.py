"""Go's `time.Duration` text (`7.557173ms`, `1.5s`, `2m3s`) for placeholders and logs.

Caddy's duration placeholders are Go durations; `GoDuration` keeps the
number (seconds) and formats only when a placeholder is rendered.
"""

from __future__ import annotations

__all__ = ["GoDuration", "go_duration"]


def go_duration(seconds: float) -> str:
    """Go's `time.Duration.String()` (`7.557173ms`, `1.5s`, `2m3s`)."""
    ns = round(seconds * 1e9)
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return sign + _frac(ns, 1000) + "µs"
    if ns < 1_000_000_000:
        return sign + _frac(ns, 1_000_000) + "ms"
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    out = sign
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    return out + _frac(rest, 10**9) + "s"


def _frac(value: int, unit: int) -> str:
    whole, part = divmod(value, unit)
    if not part:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}." + f"{part:0{digits}d}".rstrip("0")


class GoDuration(float):
    """Seconds that print as Go's `time.Duration` (formatted only when a placeholder is used)."""

    __slots__ = ()

    def __str__(self) -> str:
        return go_duration(self)
