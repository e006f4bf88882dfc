"""jwt, jwt_shard_router and dynamic redis: syntax, defaults and the compile-time safety checks."""

from __future__ import annotations

import pytest

from rpctest.lowering import adapt_error, handlers

BASE = "alg RS256\n\t\tkey_file pub.pem\n\t\tmap {\n\t\t\tacme 10.0.0.1:8080\n\t\t}"


def router(extra: str = "", base: str = BASE) -> str:
    return f"\tjwt_shard_router {{\n\t\t{base}\n\t\t{extra}\n\t}}"


def test_defaults() -> None:
    (h,) = handlers(router())
    assert h["handler"] == "jwt_shard_router"
    assert h["jwt"]["require"] == ["exp"]
    assert h["jwt"]["claim"] == "customer"
    assert (h["header"], h["var"], h["unknown_status"], h["unavailable_status"]) == (
        "X-Customer",
        "shard.upstream",
        403,
        503,
    )
    assert h["source"] == {"source": "map", "entries": [["acme", "10.0.0.1:8080"]]}


def test_order_option_places_rpc_directives() -> None:
    text = (
        "{\n\torder jwt_shard_router before header\n}\n:80 {\n\theader X-A b\n" + router() + "\n}\n"
    )
    from rpctest.oracle import rpc_adapt

    routes = rpc_adapt(text)["apps"]["http"]["servers"]["srv0"]["routes"]
    assert [h["handler"] for h in routes[0]["handle"]] == ["jwt_shard_router", "headers"]


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        (router(base="key_file pub.pem\n\t\tmap_file m.json"), "RPC302", "missing `alg`"),
        (
            router(base="alg none\n\t\tkey_file k\n\t\tmap_file m.json"),
            "RPC303",
            "unsupported JWT algorithm",
        ),
        (
            router(base="alg HS256 RS256\n\t\tkey_file k\n\t\tmap_file m.json"),
            "RPC311",
            "cannot be mixed",
        ),
        (
            router(base="alg HS256\n\t\tjwks_file j.json\n\t\tmap_file m.json"),
            "RPC311",
            "need a secret",
        ),
        (
            router(base="alg RS256\n\t\tkey_file a\n\t\tkey_env B\n\t\tmap_file m.json"),
            "RPC311",
            "exactly one",
        ),
        (router(base="alg RS256\n\t\tkey_file a"), "RPC302", "needs a shard source"),
        (router("claim_pattern [a-z]+"), "RPC303", "anchored"),
        (router("claim_pattern ^([a-z]$"), "RPC310", "invalid claim_pattern"),
        (router("allow 10.0.0.0/33"), "RPC303", "invalid allow entry"),
        (router("unknown_status 500"), "RPC303", "unknown_status must be one of 403, 404"),
        (router("redis ftp://x"), "RPC307", "already given"),
        (router("bogus 1"), "RPC301", "unrecognized jwt_shard_router option"),
        (
            router(base="alg RS256\n\t\tkey_file k\n\t\tmap {\n\t\t\tacme http://evil@x\n\t\t}"),
            "RPC303",
            "invalid shard",
        ),
    ],
)
def test_errors(body: str, code: str, fragment: str) -> None:
    diag = adapt_error(f":80 {{\n{body}\n}}\n")
    assert diag.code == code
    assert fragment in diag.message


def test_redis_source_and_scheme_check() -> None:
    (h,) = handlers(
        router(
            base="alg ES256\n\t\tjwks_file keys.json\n\t\tredis rediss://r:6380/1 {\n"
            "\t\t\tprefix s:\n\t\t\tstale_if_error 5m\n\t\t\tinvalidate shards\n\t\t}"
        )
    )
    assert h["source"]["url"] == "rediss://r:6380/1"
    assert h["source"]["stale_if_error"] == 300_000_000_000
    diag = adapt_error(
        ":80 {\n" + router(base="alg RS256\n\t\tkey_file k\n\t\tredis http://x") + "\n}\n"
    )
    assert "unsupported Redis URL scheme" in diag.message


def test_jwt_alone_and_dynamic_redis() -> None:
    (jwt, rp) = handlers(
        "\tjwt {\n\t\talg EdDSA\n\t\tkey_env JWT_KEY\n\t\taudience api\n\t}\n"
        "\treverse_proxy {\n\t\tdynamic redis redis://127.0.0.1:6379 replicas:{http.auth.jwt.customer}\n\t}"
    )
    assert jwt["handler"] == "jwt" and jwt["jwt"]["audience"] == ["api"]
    assert rp["dynamic_upstreams"] == {
        "source": "redis",
        "url": "redis://127.0.0.1:6379",
        "key": "replicas:{http.auth.jwt.customer}",
    }


def test_redis_password_only_from_the_environment() -> None:
    ok = "alg RS256\n\t\tkey_file k\n\t\tredis redis://:{env.REDIS_PASSWORD}@r:6379/0"
    (h,) = handlers(router(base=ok))
    assert h["source"]["url"] == "redis://:{env.REDIS_PASSWORD}@r:6379/0"
    for url in ("redis://:hunter2@r:6379/0", "rediss://app:hunter2@r/1"):
        diag = adapt_error(
            ":80 {\n" + router(base=f"alg RS256\n\t\tkey_file k\n\t\tredis {url}") + "\n}\n"
        )
        assert diag.code == "RPC303"
        assert "password" in diag.message
    diag = adapt_error(
        ":80 {\n\treverse_proxy {\n\t\tdynamic redis redis://:pw@127.0.0.1:6379 k\n\t}\n}\n"
    )
    assert "password" in diag.message


def test_allow_accepts_ipv6_addresses() -> None:
    (h,) = handlers(router("allow ::1 fd00::/8 :8080"))
    assert h["allow"] == ["::1", "fd00::/8", ":8080"]
