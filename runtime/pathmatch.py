"""Caddy's path matching: cleaning, case folding, and Go's `path.Match` globs.

`match_path(ctx)` is the request path as Caddy's path matcher compares it:
lower-cased and cleaned (`.`/`..` resolved, duplicate slashes merged, a
trailing slash kept), computed once per request. Generated code inlines the
common pattern kinds against it (`/api/*` → `startswith`); `PathPattern`
handles the rest exactly as `modules/caddyhttp/matchers.go` does.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rpc.runtime.context import Ctx

__all__ = ["PathPattern", "clean_path", "go_clean", "match_path"]


def go_clean(p: str) -> str:
    """Go's `path.Clean`: the shortest equivalent path (lexical)."""
    if p == "":
        return "."
    rooted = p.startswith("/")
    out: list[str] = []
    for part in p.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if out and out[-1] != "..":
                out.pop()
            elif not rooted:
                out.append("..")
            continue
        out.append(part)
    cleaned = "/".join(out)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def clean_path(p: str, merge_slashes: bool = True) -> str:
    """Caddy's `CleanPath`: `path.Clean` keeping a trailing slash; optionally keep `//`."""
    if not merge_slashes:
        marked = []
        for i, ch in enumerate(p):
            if ch == "/" and i > 0 and p[i - 1] == "/":
                marked.append("\x00")
            marked.append(ch)
        return clean_path("".join(marked)).replace("\x00", "")
    cleaned = go_clean(p)
    if cleaned != "/" and p.endswith("/"):
        cleaned += "/"
    return cleaned


def match_path(ctx: Ctx) -> str:
    """The lower-cased, cleaned request path (cached on the context)."""
    cached = ctx.extra.get("_match_path")
    if cached is None or cached[0] != ctx.path:
        value = clean_path(ctx.path.lower())
        ctx.extra["_match_path"] = (ctx.path, value)
        return value
    return cached[1]  # type: ignore[no-any-return]


@lru_cache(maxsize=256)
def _glob(pattern: str) -> re.Pattern[str] | None:
    """Go's `path.Match` pattern as a regular expression (None if malformed)."""
    out = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            i += 1
            if i >= n:
                return None
            out.append(re.escape(pattern[i]))
        elif c == "[":
            j = i + 1
            negate = j < n and pattern[j] == "^"
            if negate:
                j += 1
            items = []
            first = True
            while j < n and (pattern[j] != "]" or first):
                first = False
                ch = pattern[j]
                if ch == "\\":
                    j += 1
                    if j >= n:
                        return None
                    ch = pattern[j]
                lo = ch
                j += 1
                if j + 1 < n and pattern[j] == "-" and pattern[j + 1] != "]":
                    hi = pattern[j + 1]
                    if hi == "\\":
                        j += 1
                        if j + 1 >= n:
                            return None
                        hi = pattern[j + 1]
                    j += 2
                    if lo > hi:
                        return None
                    items.append(f"{re.escape(lo)}-{re.escape(hi)}")
                else:
                    items.append(re.escape(lo))
            if j >= n:
                return None  # unterminated class
            cls = "".join(items)
            out.append(f"[^/{cls}]" if negate else f"(?=[^/])[{cls}]")
            i = j
        else:
            out.append(re.escape(c))
        i += 1
    return re.compile("".join(out) + r"\Z", re.DOTALL)


def glob_match(pattern: str, name: str) -> bool:
    """Go's `path.Match(pattern, name)`; a malformed pattern matches nothing."""
    rx = _glob(pattern)
    return rx is not None and rx.match(name) is not None


class PathPattern:
    """One `path` matcher pattern, lower-cased, as Caddy evaluates it."""

    __slots__ = ("kind", "merge", "pattern", "value")

    def __init__(self, pattern: str) -> None:
        p = pattern.lower()
        self.pattern = p
        self.merge = "//" not in p
        stars = p.count("*")
        if p == "*":
            self.kind, self.value = "any", ""
        elif "%" in p:
            self.kind, self.value = "escaped", p
        elif stars == 2 and p.startswith("*") and p.endswith("*"):
            self.kind, self.value = "contains", p[1:-1]
        elif stars == 1 and p.startswith("*"):
            self.kind, self.value = "suffix", p[1:]
        elif stars == 1 and p.endswith("*"):
            self.kind, self.value = "prefix", p[:-1]
        else:
            self.kind, self.value = "glob", p

    def matches(self, ctx: Ctx) -> bool:
        kind = self.kind
        if kind == "any":
            return True
        if kind == "escaped":
            return _match_escaped(clean_path(ctx.raw_path, self.merge), self.value)
        path = match_path(ctx) if self.merge else clean_path(ctx.path.lower(), False)
        if kind == "prefix":
            return path.startswith(self.value)
        if kind == "suffix":
            return path.endswith(self.value)
        if kind == "contains":
            return self.value in path
        return glob_match(self.value, path)


def _match_escaped(escaped_path: str, pattern: str) -> bool:
    """Patterns with `%`: compare in escaped space, `%*` a wildcard over a raw span.

    A port of Caddy's `matchPatternWithEscapeSequence`: the path is decoded
    except for the escapes the pattern spells out, then glob-matched.
    """
    # Escapes the pattern names (like %2f) stay escaped; everything else is decoded.
    kept = {m.group(0).lower() for m in re.finditer(r"%[0-9a-fA-F]{2}", pattern)}
    out = []
    i = 0
    path = escaped_path
    while i < len(path):
        if (
            path[i] == "%"
            and i + 2 < len(path) + 1
            and re.fullmatch(r"[0-9a-fA-F]{2}", path[i + 1 : i + 3])
        ):
            seq = path[i : i + 3].lower()
            out.append(seq if seq in kept else chr(int(seq[1:], 16)))
            i += 3
            continue
        out.append(path[i])
        i += 1
    decoded = "".join(out).lower()
    glob = pattern.replace("%*", "*")
    return glob_match(glob, decoded)
