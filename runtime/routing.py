"""Dispatch structures generated route code uses instead of scanning route lists.

`PathTable` answers "which of these literal path patterns matches first?" in
a few dict lookups however many routes there are: patterns are grouped by the
length of their literal part, and a lookup tries each length once. Patterns
are Caddy path patterns without wildcards other than a trailing `*`
(`/api/*`, `/api*`) or none (`/exact`); the path given must already be
cleaned and lower-cased as Caddy's path matcher does (`match_path`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

__all__ = ["NOMATCH", "PathTable"]

T = TypeVar("T")


class PathTable(Generic[T]):
    """First-match lookup over literal path patterns; values are what generated code runs."""

    __slots__ = ("_exact", "_lengths", "_prefixes")

    def __init__(self, entries: Iterable[tuple[str, int, T]]) -> None:
        # pattern → (index, value); keep the lowest index per key (first match wins)
        exact: dict[str, tuple[int, T]] = {}
        prefixes: dict[int, dict[str, tuple[int, T]]] = {}
        for pattern, index, value in entries:
            key = pattern.lower()
            if key.endswith("*"):
                bucket = prefixes.setdefault(len(key) - 1, {})
                target = key[:-1]
                if target not in bucket or bucket[target][0] > index:
                    bucket[target] = (index, value)
            elif key not in exact or exact[key][0] > index:
                exact[key] = (index, value)
        self._exact = exact
        self._prefixes = prefixes
        self._lengths = tuple(sorted(prefixes))

    def lookup(self, path: str) -> T | None:
        """The value of the first pattern (by index) matching `path`, or None."""
        best: tuple[int, T] | None = self._exact.get(path)
        n = len(path)
        for length in self._lengths:
            if length > n:
                break
            hit = self._prefixes[length].get(path[:length])
            if hit is not None and (best is None or hit[0] < best[0]):
                best = hit
        return best[1] if best is not None else None

    def __len__(self) -> int:
        return len(self._exact) + sum(len(b) for b in self._prefixes.values())


class _NoMatch:
    """A site function's answer when the request is not for that site (not a reply)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOMATCH"


NOMATCH = _NoMatch()
