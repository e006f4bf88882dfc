"""Response matchers: does a response (status, headers) meet a configured condition?

Input: a status code and response headers; output: a bool. This is Caddy's
`caddyhttp.ResponseMatcher` (`responsematchers.go`), used by `header`'s
`match` block, `header_down` requirements, and reverse_proxy's
`replace_status` / `handle_response` matchers (`@name { status 5xx; header X v }`).
"""

from __future__ import annotations

from collections.abc import Sequence

from multidict import CIMultiDict, CIMultiDictProxy

from rpc.runtime.matchers import value_matches

__all__ = ["ResponseMatcher", "status_matches"]


def status_matches(actual: int, expected: int) -> bool:
    """Caddy's StatusCodeMatches: an exact code, or a class (`5` = 5xx) when < 100."""
    if actual == expected:
        return True
    return expected < 100 and expected * 100 <= actual < (expected + 1) * 100


class ResponseMatcher:
    """`status <codes...>` (any of them; `5` stands for 5xx) and `header <field> [<values>]`.

    `headers` pairs a field with its allowed values: `None` means the field
    must be absent, `()` that it must exist, values are exact or use a
    leading/trailing `*` wildcard (Caddy's header matcher, without
    placeholders). All conditions must hold.
    """

    __slots__ = ("headers", "status_code")

    def __init__(
        self,
        status_code: Sequence[int] = (),
        headers: Sequence[tuple[str, Sequence[str] | None]] = (),
    ) -> None:
        self.status_code = tuple(status_code)
        self.headers = tuple((k, None if v is None else tuple(v)) for k, v in headers)

    def __repr__(self) -> str:
        return f"ResponseMatcher({self.status_code!r}, {self.headers!r})"

    def match(self, status: int, headers: CIMultiDict[str] | CIMultiDictProxy[str]) -> bool:
        if self.status_code and not any(status_matches(status, c) for c in self.status_code):
            return False
        for field, allowed in self.headers:
            actual = headers.getall(field, None)
            if allowed is None:
                if actual is None:
                    continue
                return False
            if not allowed:
                if actual is not None:
                    continue
                return False
            if actual is None or not any(
                value_matches(value, want) for value in actual for want in allowed
            ):
                return False
        return True
