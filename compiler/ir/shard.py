"""rpc's own handlers for dynamic shard routing: JWT verification and shard lookup.

Not Caddy modules: `rpc adapt --format caddy-json` shows them as handlers
named `jwt` and `jwt_shard_router` so the JSON view stays complete, but no
Caddy build runs them.
"""

from __future__ import annotations

from dataclasses import dataclass

from rpc.compiler.ir.base import Duration, Node, Text, jfield
from rpc.compiler.ir.proxy import DynamicSource
from rpc.compiler.ir.routes import Handler

__all__ = [
    "InlineMap",
    "JWTAuth",
    "JWTSettings",
    "MapFile",
    "RedisLookup",
    "RedisUpstreams",
    "ShardRouter",
    "ShardSource",
]

DEFAULT_CLAIM = "customer"
DEFAULT_CLAIM_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


@dataclass(frozen=True, slots=True, kw_only=True)
class JWTSettings(Node):
    """How a bearer token is verified, and which claim names the customer."""

    algorithms: tuple[str, ...] = jfield()
    key_file: str = jfield(default="")
    key_env: str = jfield(default="")
    jwks_file: str = jfield(default="")
    issuer: str = jfield(default="")
    audience: tuple[str, ...] = jfield(default=())
    leeway: Duration | None = jfield(default=None)
    require: tuple[str, ...] = jfield(default=("exp",))
    claim: str = jfield(default=DEFAULT_CLAIM)
    claim_pattern: str = jfield(default=DEFAULT_CLAIM_PATTERN)


@dataclass(frozen=True, slots=True, kw_only=True)
class ShardSource(Node):
    """Base of where a customer's shard is looked up."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisLookup(ShardSource):
    """`redis <url> { ... }`: GET <prefix><customer>, cached locally."""

    CADDY_TAG = ("source", "redis")

    url: str = jfield()
    prefix: str = jfield(default="")
    timeout: Duration | None = jfield(default=None)
    cache_ttl: Duration | None = jfield(default=None)
    negative_ttl: Duration | None = jfield(default=None)
    stale_if_error: Duration | None = jfield(default=None)
    invalidate: str = jfield(default="")


@dataclass(frozen=True, slots=True, kw_only=True)
class MapFile(ShardSource):
    """`map_file <path>`: a JSON object customer → host:port, reloaded when it changes."""

    CADDY_TAG = ("source", "map_file")

    path: str = jfield()


@dataclass(frozen=True, slots=True, kw_only=True)
class InlineMap(ShardSource):
    """`map { <customer> <host:port> ... }`: entries in the Caddyfile."""

    CADDY_TAG = ("source", "map")

    entries: tuple[tuple[str, str], ...] = jfield(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class JWTAuth(Handler):
    """`jwt { ... }`: verify the bearer token, publish its claims, or answer 401."""

    CADDY_TAG = ("handler", "jwt")

    jwt: JWTSettings = jfield()


@dataclass(frozen=True, slots=True, kw_only=True)
class ShardRouter(Handler):
    """`jwt_shard_router { ... }`: token → customer claim → shard → `{http.vars.<var>}`."""

    CADDY_TAG = ("handler", "jwt_shard_router")

    jwt: JWTSettings = jfield()
    source: ShardSource = jfield()
    allow: tuple[str, ...] = jfield(default=())
    header: str = jfield(default="X-Customer")
    var: str = jfield(default="shard.upstream")
    unknown_status: int = jfield(default=403)
    unavailable_status: int = jfield(default=503)
    retry_after: Duration | None = jfield(default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class RedisUpstreams(DynamicSource):
    """`dynamic redis <url> <key> { ... }`: a shard's replicas from a Redis set or list."""

    CADDY_TAG = ("source", "redis")

    url: str = jfield()
    key: Text = jfield()
    timeout: Duration | None = jfield(default=None)
    refresh: Duration | None = jfield(default=None)
    allow: tuple[str, ...] = jfield(default=())
