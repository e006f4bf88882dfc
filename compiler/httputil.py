"""Small HTTP facts the compiler needs exactly as Go has them."""

from __future__ import annotations

__all__ = ["canonical_header_key"]

_TOKEN_CHARS = frozenset(
    "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
)


def canonical_header_key(key: str) -> str:
    """Go's `textproto.CanonicalMIMEHeaderKey`: `x-foo-bar` → `X-Foo-Bar`.

    Keys with a character outside the HTTP token set (e.g. a space) are
    returned unchanged, as Go does.
    """
    if not key or any(c not in _TOKEN_CHARS for c in key):
        return key
    out = []
    upper = True
    for c in key:
        out.append(c.upper() if upper else c.lower())
        upper = c == "-"
    return "".join(out)
