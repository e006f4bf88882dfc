"""rpc's directives for dynamic shard routing: `jwt`, `jwt_shard_router`, `dynamic redis`.

Documented in docs/jwt-shard.md. Security choices are made here, at compile
time: algorithms are pinned (never read from the token) and symmetric and
asymmetric ones cannot be mixed; the customer claim must match a strict
pattern; shard values must fit an allow-list when one is given.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from rpc.compiler import placeholders
from rpc.compiler.directives import lb
from rpc.compiler.directives.helper import Helper
from rpc.compiler.directives.registry import RPC_DIRECTIVES, handler_directive
from rpc.compiler.dispenser import Dispenser
from rpc.compiler.errors import did_you_mean
from rpc.compiler.ir.base import Duration
from rpc.compiler.ir.proxy import DynamicSource
from rpc.compiler.ir.routes import Handler
from rpc.compiler.ir.shard import (
    DEFAULT_CLAIM_PATTERN,
    InlineMap,
    JWTAuth,
    JWTSettings,
    MapFile,
    RedisLookup,
    RedisUpstreams,
    ShardRouter,
    ShardSource,
)
from rpc.compiler.values import parse_duration

__all__ = ["ALGORITHMS"]

# Both run after Caddy's own authentication directives and before request_header.
RPC_DIRECTIVES["jwt"] = "request_header"
RPC_DIRECTIVES["jwt_shard_router"] = "request_header"

SYMMETRIC = ("HS256", "HS384", "HS512")
ASYMMETRIC = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
ALGORITHMS = SYMMETRIC + ASYMMETRIC
REDIS_SCHEMES = ("redis", "rediss", "unix", "redis+sentinel", "redis+cluster", "rediss+cluster")


def _one(d: Dispenser) -> str:
    if not d.next_arg():
        raise d.arg_err()
    value = d.val
    if d.next_arg():
        raise d.arg_err()
    return value


def _duration(d: Dispenser) -> Duration:
    text = _one(d)
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise d.error(f"bad duration value '{text}': {exc}") from None


class _JWT:
    """Collects the token-verification options shared by both directives."""

    OPTIONS = (
        "alg",
        "key_file",
        "key_env",
        "jwks_file",
        "issuer",
        "audience",
        "leeway",
        "require",
        "claim",
        "claim_pattern",
    )

    def __init__(self) -> None:
        self.values: dict[str, object] = {}

    def take(self, d: Dispenser) -> bool:
        """Parse the option at the cursor if it is a JWT option."""
        opt = d.val
        if opt not in self.OPTIONS:
            return False
        if opt in self.values:
            raise d.error(f"{opt} already specified", code="RPC307")
        if opt == "alg":
            algs = d.remaining_args()
            if not algs:
                raise d.arg_err("name the algorithms tokens must use, e.g. `alg RS256`")
            for a in algs:
                if a not in ALGORITHMS:
                    raise d.error(
                        f"unsupported JWT algorithm {a!r}",
                        code="RPC303",
                        hint=did_you_mean(a, ALGORITHMS) or f"choose from {', '.join(ALGORITHMS)}",
                    )
            self.values["algorithms"] = tuple(algs)
        elif opt in ("audience", "require"):
            args = d.remaining_args()
            if not args:
                raise d.arg_err()
            self.values[opt] = tuple(args)
        elif opt == "leeway":
            self.values[opt] = _duration(d)
        elif opt == "claim_pattern":
            pattern = _one(d)
            try:
                re.compile(pattern)
            except re.error as exc:
                raise d.error(f"invalid claim_pattern: {exc}", code="RPC310") from None
            if not pattern.startswith("^") or not pattern.endswith("$"):
                raise d.error(
                    "claim_pattern must be anchored with ^ and $",
                    code="RPC303",
                    hint="an unanchored pattern would accept values with extra text",
                )
            self.values[opt] = pattern
        else:
            self.values[opt] = _one(d)
        return True

    def build(self, d: Dispenser, span: object) -> JWTSettings:
        algs = self.values.get("algorithms")
        if not algs:
            raise d.error(
                "missing `alg`: the accepted algorithms must be pinned",
                code="RPC302",
                hint="add e.g. `alg RS256`",
            )
        assert isinstance(algs, tuple)
        keys = [k for k in ("key_file", "key_env", "jwks_file") if k in self.values]
        if len(keys) != 1:
            raise d.error("give exactly one of key_file, key_env or jwks_file", code="RPC311")
        symmetric = [a for a in algs if a in SYMMETRIC]
        if symmetric and len(symmetric) != len(algs):
            raise d.error(
                "HMAC (HS*) and public-key algorithms cannot be mixed: a public key could "
                "then be used as an HMAC secret to forge tokens",
                code="RPC311",
            )
        if symmetric and keys[0] == "jwks_file":
            raise d.error(
                "HS* algorithms need a secret (key_file or key_env), not a JWKS", code="RPC311"
            )
        return JWTSettings(
            algorithms=algs,
            key_file=str(self.values.get("key_file", "")),
            key_env=str(self.values.get("key_env", "")),
            jwks_file=str(self.values.get("jwks_file", "")),
            issuer=str(self.values.get("issuer", "")),
            audience=self.values.get("audience", ()),  # type: ignore[arg-type]
            leeway=self.values.get("leeway"),  # type: ignore[arg-type]
            require=self.values.get("require", ("exp",)),  # type: ignore[arg-type]
            claim=str(self.values.get("claim", "customer")),
            claim_pattern=str(self.values.get("claim_pattern", DEFAULT_CLAIM_PATTERN)),
            span=span,  # type: ignore[arg-type]
        )


@handler_directive("jwt")
def parse_jwt(h: Helper) -> Handler:
    """
    jwt [<matcher>] {
        alg <algorithms...>
        key_file <path> | key_env <VAR> | jwks_file <path>
        issuer <iss>
        audience <aud...>
        leeway <duration>
        require <claims...>
        claim <name>
        claim_pattern <regexp>
    }

    Verifies `Authorization: Bearer <token>`; claims become
    `{http.auth.jwt.<claim>}`; a missing or bad token gets 401.
    """
    d = h.d
    d.next()
    span = d.span
    if d.next_arg():
        raise d.arg_err()
    jwt = _JWT()
    while d.next_block(0):
        if not jwt.take(d):
            raise d.error(
                f"unrecognized jwt option {d.val}",
                code="RPC301",
                hint=did_you_mean(d.val, _JWT.OPTIONS),
            )
    return JWTAuth(jwt=jwt.build(d, span), span=span)


_ROUTER_OPTIONS = (
    *_JWT.OPTIONS,
    "redis",
    "map_file",
    "map",
    "allow",
    "header",
    "var",
    "unknown_status",
    "unavailable_status",
    "retry_after",
)


@handler_directive("jwt_shard_router")
def parse_jwt_shard_router(h: Helper) -> Handler:
    """
    jwt_shard_router [<matcher>] {
        alg <algorithms...>
        key_file <path> | key_env <VAR> | jwks_file <path>
        issuer <iss>  audience <aud...>  leeway <d>  require <claims...>
        claim <name>                      # default customer (dotted: org.id)
        claim_pattern <regexp>            # default ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$

        redis <url> {                     # or map_file <path>, or map { <customer> <host:port> }
            prefix <key prefix>
            timeout <d>                   # default 50ms
            cache_ttl <d>                 # default 30s
            negative_ttl <d>              # default 5s
            stale_if_error <d>            # serve the last known shard this long when Redis fails
            invalidate <channel>          # pub/sub channel announcing changed customers
        }
        allow <cidrs|hosts|*.domain|:port...>
        header <name>                     # default X-Customer
        var <name>                        # default shard.upstream → {http.vars.shard.upstream}
        unknown_status 403|404            # default 403
        unavailable_status <5xx>          # default 503, with Retry-After
        retry_after <d>                   # default 5s
    }
    """
    d = h.d
    d.next()
    span = d.span
    if d.next_arg():
        raise d.arg_err()
    jwt = _JWT()
    source: ShardSource | None = None
    fields: dict[str, object] = {}
    while d.next_block(0):
        opt = d.val
        if jwt.take(d):
            continue
        if opt in ("redis", "map_file", "map"):
            if source is not None:
                raise d.error(
                    "the shard source is already given (one of redis, map_file, map)", code="RPC307"
                )
            source = _source(d)
        elif opt == "allow":
            entries = d.remaining_args()
            if not entries:
                raise d.arg_err()
            for entry in entries:
                if (problem := _allow_problem(entry)) is not None:
                    raise d.error(f"invalid allow entry {entry!r}: {problem}", code="RPC303")
            fields["allow"] = tuple(entries)
        elif opt in ("header", "var"):
            value = _one(d)
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
                raise d.error(f"invalid {opt} name {value!r}", code="RPC303")
            fields[opt] = value
        elif opt in ("unknown_status", "unavailable_status"):
            text = _one(d)
            allowed = ("403", "404") if opt == "unknown_status" else ("500", "502", "503", "504")
            if text not in allowed:
                raise d.error(f"{opt} must be one of {', '.join(allowed)}", code="RPC303")
            fields[opt] = int(text)
        elif opt == "retry_after":
            fields[opt] = _duration(d)
        else:
            raise d.error(
                f"unrecognized jwt_shard_router option {opt}",
                code="RPC301",
                hint=did_you_mean(opt, _ROUTER_OPTIONS),
            )
    if source is None:
        raise d.error(
            "jwt_shard_router needs a shard source: redis, map_file or map", code="RPC302"
        )
    return ShardRouter(jwt=jwt.build(d, span), source=source, span=span, **fields)  # type: ignore[arg-type]


def _source(d: Dispenser) -> ShardSource:
    kind = d.val
    span = d.span
    if kind == "map_file":
        return MapFile(path=_one(d), span=span)
    if kind == "map":
        if d.next_arg():
            raise d.arg_err()
        entries: list[tuple[str, str]] = []
        nesting = d.nesting
        while d.next_block(nesting):
            customer = d.val
            target = d.args(1)
            if target is None or d.next_arg():
                raise d.arg_err("write `<customer> <host:port>`")
            if (problem := _shard_problem(target[0])) is not None:
                raise d.error(f"invalid shard {target[0]!r}: {problem}", code="RPC303")
            entries.append((customer, target[0]))
        return InlineMap(entries=tuple(entries), span=span)
    url = _one_arg_before_block(d)
    scheme = urlsplit(url).scheme
    if scheme not in REDIS_SCHEMES:
        raise d.error(
            f"unsupported Redis URL scheme {scheme!r}",
            code="RPC303",
            hint=f"use one of {', '.join(s + '://' for s in REDIS_SCHEMES)}",
        )
    _check_password(d, url)
    values: dict[str, object] = {}
    nesting = d.nesting
    while d.next_block(nesting):
        opt = d.val
        if opt in ("timeout", "cache_ttl", "negative_ttl", "stale_if_error"):
            values[opt] = _duration(d)
        elif opt in ("prefix", "invalidate"):
            values[opt] = _one(d)
        else:
            raise d.error(
                f"unrecognized redis option {opt}",
                code="RPC301",
                hint=did_you_mean(
                    opt,
                    (
                        "prefix",
                        "timeout",
                        "cache_ttl",
                        "negative_ttl",
                        "stale_if_error",
                        "invalidate",
                    ),
                ),
            )
    return RedisLookup(url=url, span=span, **values)  # type: ignore[arg-type]


def _check_password(d: Dispenser, url: str) -> None:
    """A password in a Redis URL must come from the environment at run time."""
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password and not re.fullmatch(r"\{env\.[A-Za-z_][A-Za-z0-9_]*\}", password):
        raise d.error(
            "a Redis password cannot be written into the URL: it would be copied into the"
            " generated module",
            code="RPC303",
            hint="write it as redis://:{env.REDIS_PASSWORD}@host:6379 and set the variable"
            " where the proxy runs ({$VAR} would still copy it in at compile time)",
        )


def _one_arg_before_block(d: Dispenser) -> str:
    if not d.next_arg():
        raise d.arg_err()
    value = d.val
    if d.next_arg():
        raise d.arg_err()
    return value


def _shard_problem(value: str) -> str | None:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        return "must be host:port with a port from 1 to 65535"
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if not re.fullmatch(
        r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*",
        host,
    ):
        return "not a host name or IP address"
    return None


def _allow_problem(entry: str) -> str | None:
    if entry.startswith(":") and not entry.startswith("::"):
        return None if entry[1:].isdigit() and 0 < int(entry[1:]) < 65536 else "bad port"
    if "/" in entry:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError as exc:
            return str(exc)
        return None
    name = entry.removeprefix("*.")
    try:
        ipaddress.ip_address(name)
        return None
    except ValueError:
        pass
    if re.fullmatch(r"[A-Za-z0-9.-]+", name) and not name.startswith((".", "-")):
        return None
    return "expected a CIDR, an IP, a host name, *.domain or :port"


def _dynamic_redis(d: Dispenser) -> DynamicSource:
    """`dynamic redis <url> <key> { timeout <d>; refresh <d>; allow ... }`."""
    span = d.span
    d.next()
    args = d.remaining_args()
    if len(args) != 2:
        raise d.arg_err("write `dynamic redis <url> <key>`; the key may use placeholders")
    url, key = args
    if urlsplit(url).scheme not in REDIS_SCHEMES:
        raise d.error(f"unsupported Redis URL scheme in {url!r}", code="RPC303")
    _check_password(d, url)
    values: dict[str, object] = {}
    while d.next_block(0):
        opt = d.val
        if opt in ("timeout", "refresh"):
            values[opt] = _duration(d)
        elif opt == "allow":
            entries = d.remaining_args()
            for entry in entries:
                if (problem := _allow_problem(entry)) is not None:
                    raise d.error(f"invalid allow entry {entry!r}: {problem}", code="RPC303")
            values["allow"] = tuple(entries)
        else:
            raise d.error(f"unrecognized redis option '{opt}'", code="RPC301")
    return RedisUpstreams(
        url=url,
        key=placeholders.parse(key, keep_unknown=False),
        span=span,
        **values,  # type: ignore[arg-type]
    )


lb.register_source("redis", _dynamic_redis)
