"""Emitters for `jwt` (`JWTAuth`), `jwt_shard_router` (`ShardRouter`) and `dynamic redis` sources.

Secrets stay out of the generated module: it names the key file, the
environment variable or the JWKS file, and the runtime reads them at
startup; a Redis password must be written as an `{env.NAME}` placeholder in
the URL (the directive parser refuses a literal one), which the runtime
fills in at startup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rpc.compiler.backend.emit import Emitter
from rpc.compiler.backend.handlers import emits
from rpc.compiler.errors import InternalError
from rpc.compiler.ir.base import Duration
from rpc.compiler.ir.shard import (
    InlineMap,
    JWTAuth,
    JWTSettings,
    MapFile,
    RedisLookup,
    RedisUpstreams,
    ShardRouter,
    ShardSource,
)

if TYPE_CHECKING:
    from rpc.compiler.backend.routes import RouteCompiler

__all__ = ["jwt_auth", "redis_upstreams", "shard_router"]

# retry_after when the Caddyfile leaves it out (docs/jwt-shard.md).
DEFAULT_RETRY_AFTER = 5.0


def _seconds(e: Emitter, d: Duration | None) -> str | None:
    return e.lit(d.seconds) if d is not None else None


def _verifier(e: Emitter, s: JWTSettings, origin: str) -> str:
    fields = {
        "algorithms": e.lit(s.algorithms),
        "key_file": e.lit(s.key_file) if s.key_file else None,
        "key_env": e.lit(s.key_env) if s.key_env else None,
        "jwks_file": e.lit(s.jwks_file) if s.jwks_file else None,
        "issuer": e.lit(s.issuer) if s.issuer else None,
        "audience": e.lit(s.audience) if s.audience else None,
        "leeway": _seconds(e, s.leeway),
        "require": e.lit(s.require),
        "claim": e.lit(s.claim),
        "claim_pattern": f"{e.std('re')}.compile({e.lit(s.claim_pattern)})",
        "origin": e.lit(origin),
    }
    return e.declare("jwt", f"{e.rt('JWTVerifier')}({e.kwargs(**fields)})", origin)


@emits(JWTAuth)
def jwt_auth(e: Emitter, _rc: RouteCompiler, h: JWTAuth) -> str:
    verifier = _verifier(e, h.jwt, h.origin)
    return e.declare("h", f"{e.rt('JWTAuth')}(jwt={verifier}, origin={e.lit(h.origin)})", h.origin)


def _source(e: Emitter, src: ShardSource) -> str:
    if isinstance(src, RedisLookup):
        fields = {
            "prefix": e.lit(src.prefix) if src.prefix else None,
            "timeout": _seconds(e, src.timeout),
            "cache_ttl": _seconds(e, src.cache_ttl),
            "negative_ttl": _seconds(e, src.negative_ttl),
            "stale_if_error": _seconds(e, src.stale_if_error),
            "invalidate": e.lit(src.invalidate) if src.invalidate else None,
        }
        args = ", ".join(a for a in (e.lit(src.url), e.kwargs(**fields)) if a)
        return e.declare("src", f"{e.rt('RedisLookup')}({args})", src.origin)
    if isinstance(src, MapFile):
        return e.declare("src", f"{e.rt('MapFile')}({e.lit(src.path)})", src.origin)
    if isinstance(src, InlineMap):
        return e.declare("src", f"{e.rt('InlineMap')}({e.lit(src.entries)})", src.origin)
    raise InternalError(f"no emitter for shard source {type(src).__name__}")


@emits(ShardRouter)
def shard_router(e: Emitter, _rc: RouteCompiler, h: ShardRouter) -> str:
    retry_after = h.retry_after.seconds if h.retry_after is not None else DEFAULT_RETRY_AFTER
    fields = {
        "jwt": _verifier(e, h.jwt, h.origin),
        "source": _source(e, h.source),
        "allow": e.lit(h.allow) if h.allow else None,
        "header": e.lit(h.header),
        "var": e.lit(h.var),
        "unknown_status": e.lit(h.unknown_status),
        "unavailable_status": e.lit(h.unavailable_status),
        "retry_after": e.lit(retry_after),
        "origin": e.lit(h.origin),
    }
    return e.declare("h", f"{e.rt('ShardRouter')}({e.kwargs(**fields)})", h.origin)


def redis_upstreams(e: Emitter, src: RedisUpstreams) -> str:
    """The declared `RedisUpstreams` for a `dynamic redis` source (called by the proxy emitter)."""
    fields = {
        "timeout": _seconds(e, src.timeout),
        "refresh": _seconds(e, src.refresh),
        "allow": e.lit(src.allow) if src.allow else None,
        "origin": e.lit(src.origin),
    }
    # Placeholders in the key that are unknown render empty (Caddy's ReplaceAll for addresses).
    key = e.text(src.key, keep_unknown=False)
    expr = f"{e.rt('RedisUpstreams')}({e.lit(src.url)}, {key}, {e.kwargs(**fields)})"
    return e.declare("src", expr, src.origin)
