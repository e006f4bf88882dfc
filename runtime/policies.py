"""Load-balancing policies: pick one available upstream of a pool for a request.

One class per Caddy 2.11 selection policy (`reverseproxy/selectionpolicies.go`),
named like the compiler's IR class. Each has `select(pool, ctx)` returning an
available `Upstream` or None. Behaviour follows the real caddy, quirks
included: round_robin starts at the second upstream, random_choose keeps
non-minimal candidates, the hash policies use rendezvous hashing with XXH64
of `dial + key`, and the cookie policy signs the upstream with HMAC-SHA256.
Random choices come from an injectable `random.Random`.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import re
from collections.abc import Callable, Sequence
from typing import Protocol

from rpc.runtime.context import Ctx
from rpc.runtime.upstreams import Upstream

__all__ = [
    "ClientIPHash",
    "CookieHash",
    "First",
    "HeaderHash",
    "IPHash",
    "LeastConn",
    "Policy",
    "QueryHash",
    "Random",
    "RandomChoose",
    "RoundRobin",
    "URIHash",
    "WeightedRoundRobin",
    "cookie_value",
    "go_query_values",
    "hash_select",
]

_U32 = 0xFFFFFFFF


class Policy(Protocol):
    """Chooses an available upstream from a pool, or None when none is available."""

    def select(self, pool: Sequence[Upstream], ctx: Ctx) -> Upstream | None: ...


def _rng(rng: random.Random | None) -> random.Random:
    return rng if rng is not None else random.Random()


class Random:
    """`lb_policy random`: uniform over available upstreams (reservoir sampling)."""

    __slots__ = ("_rng",)

    def __init__(self, *, rng: random.Random | None = None) -> None:
        self._rng = _rng(rng)

    def select(self, pool: Sequence[Upstream], ctx: Ctx) -> Upstream | None:
        chosen = None
        count = 0
        for upstream in pool:
            if not upstream.available():
                continue
            count += 1
            if self._rng.randrange(count) == 0:
                chosen = upstream
        return chosen


class RandomChoose:
    """`lb_policy random_choose [<n>]`: sample n available upstreams, keep the least loaded.

    The sample is Algorithm R over the available upstreams. Among the sample,
    the first one with no request in flight wins; otherwise Caddy 2.11 keeps
    every candidate whose load is <= the lowest seen *so far* (earlier,
    busier ones are not dropped) and picks uniformly among them — so a
    busier upstream can win. Checked against caddy 2.11.7.
    """

    __slots__ = ("_rng", "choose")

    def __init__(self, choose: int = 2, *, rng: random.Random | None = None) -> None:
        if choose < 2:
            raise ValueError("choose must be at least 2")
        self.choose = choose
        self._rng = _rng(rng)

    def select(self, pool: Sequence[Upstream], ctx: Ctx) -> Upstream | None:
        k = min(self.choose, len(pool))
        choices: list[Upstream] = []
        seen = 0
        for upstream in pool:
            if not upstream.available():
                continue
            seen += 1
            if len(choices) < k:
                choices.append(upstream)
                continue
            j = self._rng.randrange(seen)
            if j < k:
                choices[j] = upstream
        return _least_requests(choices, self._rng)


def _least_requests(upstreams: Sequence[Upstream], rng: random.Random) -> Upstream | None:
    best: list[Upstream] = []
    best_reqs = -1
    for upstream in upstreams:
        reqs = upstream.host.num_requests
        if reqs == 0:
            return upstream
        if reqs <= best_reqs or best_reqs == -1:
            best_reqs = reqs
            best.append(upstream)
    if not best:
        return None
    return best[rng.randrange(len(best))]


class LeastConn:
    """`lb_policy least_conn`: fewest requests in flight; ties broken uniformly."""

    __slots__ = ("_rng",)

    def __init__(self, *, rng: random.Random | None = None) -> None:
        self._rng = _rng(rng)

    def select(self, pool: Sequence[Upstream], ctx: Ctx) -> Upstream | None:
        best = None
        count = 0
        least = -1
        for upstream in pool:
            if not upstream.available():
                continue
            reqs = upstream.host.num_requests
            if least == -1 or reqs < least:
                least = reqs
                count = 0
            if reqs == least:
                count += 1
                if count == 1 or self._rng.randrange(count) == 0:
                    best = upstream
        return best


class RoundRobin:
    """`lb_policy round_robin`: a counter incremented *before* use (first pick: 2nd upstream)."""

    __slots__ = ("_robin",)

    def __init__(self) -> None:
        self._robin = 0  # Caddy's atomic uint32

    def select(self, pool: Sequence[Upstream], ctx: Ctx) -> Upstream | None:
        n = len(pool)
        for _ in range(n):
            self._robin = (self._robin + 1) & _U32
            upstream = pool[self._robin % n]
            if upstream.available():
                return upstream
        return None


class WeightedRoundRobin:
    """`lb_policy weighted_round_robin <w1> <w2> ...`: one non-negative weight per upstream.

    As Caddy 2.11: the counter picks a slot among the positive weights, then
    that slot indexes (modulo) the *available* positive-weight upstreams.
    With fewer than two weights the first upstream is always returned, even
    when it is down. Upstreams beyond the weight list count as weight 0.
    """

    __slots__ = ("_index", "_positive", "_total", "weights")

    def __init__(self, weights: Sequence[int]) -> None:
        if any(w < 0 for w in weights):
            raise ValueError("weight of an upstream cannot be negative")
        if sum(weights) <= 0:
            raise ValueError(
                "weighted_round_robin requires at least one upstream with a positive weight"
            )
        self.weights = tuple(weights)
        self._positive = tuple(w for w in self.weights if w > 0)
        self._total = sum(self.weights)
        self._index = 0  # Caddy's atomic uint32

    def select(self, pool: Sequence[Upstream], ctx: Ctx) -> Upstream | None:
        if not pool:
            return None
        if len(self.weights) < 2:
            return pool[0]
        self._index = (self._index + 1) & _U32
        current = self._index % self._total
        slot = 0
        cumulative = 0
        for i, weight in enumerate(self._positive):
            cumulative += weight
            if current < cumulative:
                slot = i
                break
        cap = len(self._positive)
        weights = self.weights
        chosen: list[Upstream] = []
        for i, upstream in enumerate(pool):
            if i >= len(weights) or weights[i] == 0 or not upstream.available():
                continue
            chosen.append(upstream)
            if len(chosen) == cap:
                break
        if not chosen:
            return None
        return chosen[slot % len(chosen)]


class First:
    """`lb_policy first`: the first available upstream in configured order."""

    __slots__ = ()

    def select(self, pool: Sequence[Upstream], ctx: Ctx) -> Upstream | None:
        for upstream in pool:
            if upstream.available():
                return upstream
        return None


# ---------------------------------------------------------------- hashing


def _load_xxh64() -> Callable[[bytes], int]:
    try:
        import xxhash
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("hash-based lb policies need xxhash: pip install 'rpc[runtime]'") from exc
    fn: Callable[[bytes], int] = xxhash.xxh64_intdigest
    return fn


def hash_select(
    pool: Sequence[Upstream], key: bytes, xxh64: Callable[[bytes], int] | None = None
) -> Upstream | None:
    """Rendezvous (highest random weight) choice among available upstreams.

    Weight = XXH64 (seed 0) of the configured dial string followed by the
    key; the strictly highest weight wins, so ties go to the earlier upstream
    (and, as in Caddy, a weight of exactly 0 never wins).
    """
    fn = xxh64 if xxh64 is not None else _load_xxh64()
    best = None
    highest = 0
    for upstream in pool:
        if not upstream.available():
            continue
        weight = fn(upstream.dial.encode() + key)
        if weight > highest:
            highest = weight
            best = upstream
    return best


class IPHash:
    """`lb_policy ip_hash`: hash of the peer IP (the connection's remote address)."""

    __slots__ = ("_xxh64",)

    def __init__(self) -> None:
        self._xxh64 = _load_xxh64()

    def select(self, pool: Sequence[Upstream], ctx: Ctx) -> Upstream | None:
        return hash_select(pool, ctx.remote_ip.encode(), self._xxh64)


class ClientIPHash:
    """`lb_policy client_ip_hash`: hash of the client IP (honours trusted proxies)."""

    __slots__ = ("_xxh64",)

    def __init__(self) -> None:
        self._xxh64 = _load_xxh64()

    def select(self, pool: Sequence[Upstream], ctx: Ctx) -> Upstream | None:
        return hash_select(pool, ctx.client_ip.encode(), self._xxh64)


class URIHash:
    """`lb_policy uri_hash`: hash of the request-target (escaped path and query)."""

    __slots__ = ("_xxh64",)

    def __init__(self) -> None:
        self._xxh64 = _load_xxh64()

    def select(self, pool: Sequence[Upstream], ctx: Ctx) -> Upstream | None:
        return hash_select(pool, ctx.uri.encode(), self._xxh64)


class QueryHash:
    """`lb_policy query <key> { fallback <policy> }`: hash of all values of a query key.

    Values are joined with "," (so repeating the key cannot steer the
    choice); an absent or empty key uses the fallback (default random).
    """

    __slots__ = ("_xxh64", "fallback", "key")

    def __init__(self, key: str, fallback: Policy | None = None) -> None:
        if not key:
            raise ValueError("query key is required")
        self.key = key
        self.fallback: Policy = fallback if fallback is not None else Random()
        self._xxh64 = _load_xxh64()

    def select(self, pool: Sequence[Upstream], ctx: Ctx) -> Upstream | None:
        values = go_query_values(ctx.query, self.key)
        joined = b",".join(values)
        if not joined:
            return self.fallback.select(pool, ctx)
        return hash_select(pool, joined, self._xxh64)


class HeaderHash:
    """`lb_policy header <field> { fallback <policy> }`: hash of a request header's first value.

    `Host` (spelled exactly so, as in Caddy) hashes the request's Host; any
    other spelling of "host" finds nothing, because Go keeps Host out of the
    header map. Missing or empty values use the fallback (default random).
    """

    __slots__ = ("_xxh64", "fallback", "field")

    def __init__(self, field: str, fallback: Policy | None = None) -> None:
        if not field:
            raise ValueError("header field is required")
        self.field = field
        self.fallback: Policy = fallback if fallback is not None else Random()
        self._xxh64 = _load_xxh64()

    def select(self, pool: Sequence[Upstream], ctx: Ctx) -> Upstream | None:
        field = self.field
        if field == "Host" and ctx.hostport:
            return hash_select(pool, ctx.hostport.encode(), self._xxh64)
        value = "" if field.lower() == "host" else ctx.headers.get(field, "")
        if not value:
            return self.fallback.select(pool, ctx)
        return hash_select(pool, value.encode(), self._xxh64)


# ---------------------------------------------------------------- cookies

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def cookie_value(secret: str, dial: str) -> str:
    """The sticky cookie value naming `dial`: hex HMAC-SHA256 keyed by the secret."""
    return hmac.new(secret.encode(), dial.encode(), hashlib.sha256).hexdigest()


def _valid_cookie_value(value: str) -> bool:
    return all(0x20 <= ord(c) < 0x7F and c not in '";\\' for c in value)


def _request_cookie(ctx: Ctx, name: str) -> str | None:
    """The first valid cookie `name` in the request, parsed as Go's `Request.Cookie`."""
    for line in ctx.headers.getall("Cookie", ()):
        for part in line.strip().split(";"):
            part = part.strip()
            if not part:
                continue
            key, _, value = part.partition("=")
            if key.strip(" \t") != name:
                continue
            if len(value) > 1 and value[0] == value[-1] == '"':
                value = value[1:-1]
            if _valid_cookie_value(value):
                return value
    return None


class CookieHash:
    """`lb_policy cookie [<name> [<secret>]] { fallback <policy>; max_age <d> }`.

    A request carrying cookie `name` goes to the first available upstream
    whose HMAC-SHA256(secret, dial) equals it (constant-time compare).
    Otherwise the fallback (default random) chooses, and the response gets
    `Set-Cookie: name=<hmac>; Path=/[; Max-Age=N]; HttpOnly; SameSite=Lax`,
    or `...; HttpOnly; Secure; SameSite=None` when the request came over TLS
    or from a trusted proxy whose last X-Forwarded-Proto is `https`. The
    header is added to `ctx.resp_headers` at selection time — Caddy's
    `http.SetCookie(w, ...)` — so a retry that selects again adds another.
    """

    __slots__ = ("_attrs", "_macs", "_settable", "fallback", "max_age", "name", "secret")

    def __init__(
        self,
        name: str = "lb",
        secret: str = "",
        max_age: float | None = None,
        fallback: Policy | None = None,
    ) -> None:
        self.name = name or "lb"
        self.secret = secret
        self.max_age = max_age
        self.fallback: Policy = fallback if fallback is not None else Random()
        # Go's Cookie.String() writes nothing for an invalid cookie name.
        self._settable = _TOKEN.fullmatch(self.name) is not None
        seconds = int(max_age) if max_age is not None else 0
        self._attrs = "; Path=/" + (f"; Max-Age={seconds}" if seconds > 0 else "") + "; HttpOnly"
        self._macs: dict[str, bytes] = {}  # dial → cookie value; bounded below

    def _mac(self, dial: str) -> bytes:
        mac = self._macs.get(dial)
        if mac is None:
            if len(self._macs) >= 4096:  # dynamic pools could name endless dials
                self._macs.clear()
            mac = self._macs[dial] = cookie_value(self.secret, dial).encode()
        return mac

    def select(self, pool: Sequence[Upstream], ctx: Ctx) -> Upstream | None:
        value = _request_cookie(ctx, self.name)
        if value is not None:
            wanted = value.encode()
            for candidate in pool:
                if not candidate.available():
                    continue
                if hmac.compare_digest(self._mac(candidate.dial), wanted):
                    return candidate
        chosen = self.fallback.select(pool, ctx)
        if chosen is not None and self._settable:
            ctx.resp_headers.add("Set-Cookie", self.set_cookie(chosen, ctx))
        return chosen

    def set_cookie(self, upstream: Upstream, ctx: Ctx) -> str:
        """The Set-Cookie value that pins this client to `upstream`."""
        value = f"{self.name}={self._mac(upstream.dial).decode()}{self._attrs}"
        if ctx.tls or (
            ctx.trusted_proxy and ctx.headers.getall("X-Forwarded-Proto", [""])[-1] == "https"
        ):
            return value + "; Secure; SameSite=None"
        return value + "; SameSite=Lax"


# ---------------------------------------------------------------- Go's query parsing

_HEX = "0123456789abcdefABCDEF"


def _go_unescape(text: str) -> bytes | None:
    """Go's `url.QueryUnescape`: `+` is a space; a bad `%` escape is an error (None)."""
    if "%" not in text and "+" not in text:
        return text.encode()
    raw = text.encode()
    out = bytearray()
    i = 0
    while i < len(raw):
        c = raw[i]
        if c == 0x25:  # %
            pair = raw[i + 1 : i + 3].decode("latin-1")
            if len(pair) != 2 or pair[0] not in _HEX or pair[1] not in _HEX:
                return None
            out.append(int(pair, 16))
            i += 3
        elif c == 0x2B:  # +
            out.append(0x20)
            i += 1
        else:
            out.append(c)
            i += 1
    return bytes(out)


def go_query_values(query: str, key: str) -> list[bytes]:
    """All values of `key` in a raw query string, as Go's `URL.Query()[key]`.

    Pairs are split on `&` only; a pair containing `;` or a malformed escape
    is dropped (Go >= 1.17), and keys and values are query-unescaped.
    """
    values: list[bytes] = []
    wanted = key.encode()
    for pair in query.split("&"):
        if not pair or ";" in pair:
            continue
        raw_key, _, raw_value = pair.partition("=")
        name = _go_unescape(raw_key)
        if name is None or name != wanted:
            continue
        value = _go_unescape(raw_value)
        if value is not None:
            values.append(value)
    return values
