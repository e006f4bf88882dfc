"""Go's `net/url` escaping and query handling, and `regexp.Expand`, for handlers that rewrite.

Caddy's rewrite, map and file handlers lean on these Go functions; their
exact edge cases (which bytes `EscapedPath` keeps, how `ParseQuery` drops
malformed pairs, what `$1x` expands to) decide what reaches an upstream, so
they are ported rather than approximated with `urllib.parse` defaults.
Strings are Python `str`; bytes that are not UTF-8 survive as surrogates.
"""

from __future__ import annotations

import re
from urllib.parse import quote

__all__ = [
    "default_escaped_path",
    "encode_query",
    "escaped_path",
    "go_expand",
    "parse_query",
    "path_escape",
    "path_unescape",
    "query_escape",
    "query_unescape",
]

_HEX = frozenset("0123456789abcdefABCDEF")
# Go's shouldEscape(c, encodePath) keeps these besides letters, digits and `-_.~`.
_PATH_SAFE = "$&+,/:;=@"
# ... and validEncoded also accepts these in a raw path.
_VALID_ENCODED = frozenset(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.~$&+,/:;=@!'()*[]%"
)


def _unescape(s: str, plus_is_space: bool) -> str:
    if "%" not in s and not (plus_is_space and "+" in s):
        return s
    out = bytearray()
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "%":
            if i + 2 >= n or s[i + 1] not in _HEX or s[i + 2] not in _HEX:
                raise ValueError(f"invalid URL escape {s[i : i + 3]!r}")
            out.append(int(s[i + 1 : i + 3], 16))
            i += 3
            continue
        if c == "+" and plus_is_space:
            out.append(0x20)
        else:
            out += c.encode("utf-8", "surrogateescape")
        i += 1
    return out.decode("utf-8", "surrogateescape")


def path_unescape(s: str) -> str:
    """`url.PathUnescape`: `%XX` decoded, `+` kept; ValueError on a bad escape."""
    return _unescape(s, False)


def query_unescape(s: str) -> str:
    """`url.QueryUnescape`: `%XX` decoded, `+` is a space; ValueError on a bad escape."""
    return _unescape(s, True)


def _bytes(s: str) -> bytes:
    return s.encode("utf-8", "surrogateescape")


def default_escaped_path(path: str) -> str:
    """`(&url.URL{Path: p}).EscapedPath()`: Go's default escaping of a path."""
    return quote(_bytes(path), safe=_PATH_SAFE)


def path_escape(s: str) -> str:
    """`url.PathEscape`: a path segment (`/` escaped too)."""
    return quote(_bytes(s), safe="$&+,:;=@")


def query_escape(s: str) -> str:
    """`url.QueryEscape`: space becomes `+`, everything but `-_.~` and alphanumerics escaped."""
    return quote(_bytes(s), safe="").replace("%20", "+")


def _valid_encoded(raw: str) -> bool:
    return all(c in _VALID_ENCODED for c in raw)


def escaped_path(path: str, raw_path: str) -> str:
    """`URL.EscapedPath()`: the raw path when it is a valid encoding of `path`, else the default."""
    if raw_path and _valid_encoded(raw_path):
        try:
            if path_unescape(raw_path) == path:
                return raw_path
        except ValueError:
            pass
    return default_escaped_path(path)


def parse_query(query: str) -> dict[str, list[str]]:
    """`url.ParseQuery` ignoring its error: malformed pairs (bad escapes, `;`) are dropped."""
    values: dict[str, list[str]] = {}
    for pair in query.split("&"):
        if not pair or ";" in pair:
            continue
        key, _, value = pair.partition("=")
        try:
            k = query_unescape(key)
            v = query_unescape(value)
        except ValueError:
            continue
        values.setdefault(k, []).append(v)
    return values


def encode_query(values: dict[str, list[str]]) -> str:
    """`url.Values.Encode`: keys sorted (bytewise), each value `key=value`, escaped."""
    out = []
    for key in sorted(values, key=_bytes):
        k = query_escape(key)
        for v in values[key]:
            out.append(f"{k}={query_escape(v)}")
    return "&".join(out)


_NAME = re.compile(r"[A-Za-z0-9_]+")


def go_expand(template: str, m: re.Match[str]) -> str:
    """Go's `Regexp.Expand`: `$1`, `${1}`, `$name`, `${name}`, `$$`; unknown groups are empty."""
    if "$" not in template:
        return template
    out: list[str] = []
    rest = template
    groups = m.re.groupindex
    while True:
        before, sep, after = rest.partition("$")
        if not sep:
            break
        out.append(before)
        rest = after
        if rest.startswith("$"):
            out.append("$")
            rest = rest[1:]
            continue
        brace = rest.startswith("{")
        found = _NAME.match(rest, 1 if brace else 0)
        if found is None or (brace and not rest.startswith("}", found.end())):
            out.append("$")  # malformed: the `$` is literal text
            continue
        name = found.group(0)
        rest = rest[found.end() + (1 if brace else 0) :]
        index = (int(name) if len(name) < 9 else None) if name.isdigit() else groups.get(name)
        if index is not None and index <= (m.re.groups or 0):
            value = m.group(index)
            if value is not None:
                out.append(value)
    out.append(rest)
    return "".join(out)
