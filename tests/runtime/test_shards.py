"""rpc.runtime.shards: the jwt_shard_router handler over map sources, allow lists and failures."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import make_mocked_request
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from multidict import CIMultiDict

from rpc.runtime.context import Ctx
from rpc.runtime.errors import HandlerError
from rpc.runtime.jwt import JWTVerifier
from rpc.runtime.shards import (
    AllowList,
    InlineMap,
    MapFile,
    ShardRouter,
    ShardUnavailable,
    split_shard,
)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def verifier(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> JWTVerifier:
    path = tmp_path / "pub.pem"
    path.write_bytes(
        rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return JWTVerifier(algorithms=["RS256"], key_file=str(path))


def token(key: Any, customer: Any = "walmart", **extra: Any) -> str:
    payload = {"customer": customer, "exp": int(time.time()) + 300, **extra}
    return str(jwt.encode(payload, key, "RS256"))


def make_ctx(tok: str | None = None, **headers: str) -> Ctx:
    h: CIMultiDict[str] = CIMultiDict(headers)
    if tok is not None:
        h["Authorization"] = f"Bearer {tok}"
    return Ctx(make_mocked_request("GET", "/", headers=h))


class Counting:
    """A source that records each lookup (to prove which requests reach it)."""

    def __init__(self, entries: dict[str, str], fail: bool = False) -> None:
        self.entries = entries
        self.fail = fail
        self.calls: list[str] = []

    async def lookup(self, customer: str) -> str | None:
        self.calls.append(customer)
        if self.fail:
            raise ShardUnavailable("redis: timed out")
        return self.entries.get(customer)


async def answer(router: ShardRouter, ctx: Ctx) -> int:
    try:
        assert await router(ctx) is None
    except HandlerError as exc:
        return exc.status
    return 200


# ---------------------------------------------------------------- routing


async def test_found_sets_the_variable_and_replaces_the_customer_header(
    verifier: JWTVerifier, rsa_key: Any
) -> None:
    router = ShardRouter(jwt=verifier, source=InlineMap([("walmart", "127.0.0.1:8081")]))
    ctx = make_ctx(token(rsa_key), **{"X-Customer": "waitrose", "x-customer": "other"})
    assert await answer(router, ctx) == 200
    assert ctx.vars["shard.upstream"] == "127.0.0.1:8081"
    assert ctx.headers.getall("X-Customer") == ["walmart"]
    assert ctx.extra["http.shard.customer"] == "walmart"
    assert ctx.extra["http.auth.jwt.customer"] == "walmart"


async def test_custom_header_and_variable(verifier: JWTVerifier, rsa_key: Any) -> None:
    router = ShardRouter(
        jwt=verifier,
        source=InlineMap({"walmart": "10.0.0.7:8080"}),
        header="X-Tenant",
        var="backend",
    )
    ctx = make_ctx(token(rsa_key), **{"X-Tenant": "evil", "X-Customer": "kept"})
    assert await answer(router, ctx) == 200
    assert ctx.vars == {"backend": "10.0.0.7:8080"}
    assert ctx.headers.getall("X-Tenant") == ["walmart"]
    assert ctx.headers["X-Customer"] == "kept"


async def test_bad_tokens_never_reach_the_source(verifier: JWTVerifier, rsa_key: Any) -> None:
    source = Counting({"walmart": "127.0.0.1:8081"})
    router = ShardRouter(jwt=verifier, source=source)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for ctx in (
        make_ctx(),
        make_ctx("garbage"),
        make_ctx(token(other)),
        make_ctx(token(rsa_key, customer="../walmart")),
        make_ctx(token(rsa_key, customer="walmart\r\nX-Admin: 1")),
        make_ctx(token(rsa_key, customer=None)),
    ):
        assert await answer(router, ctx) == 401
        assert ctx.resp_headers["WWW-Authenticate"].startswith("Bearer")
        assert "shard.upstream" not in ctx.vars
    assert source.calls == []
    assert await answer(router, make_ctx(token(rsa_key))) == 200
    assert source.calls == ["walmart"]


@pytest.mark.parametrize("status", [403, 404])
async def test_unknown_customer(verifier: JWTVerifier, rsa_key: Any, status: int) -> None:
    router = ShardRouter(jwt=verifier, source=InlineMap({}), unknown_status=status)
    ctx = make_ctx(token(rsa_key))
    assert await answer(router, ctx) == status
    assert "shard.upstream" not in ctx.vars
    assert "Retry-After" not in ctx.resp_headers


async def test_unavailable_source_answers_with_retry_after(
    verifier: JWTVerifier, rsa_key: Any
) -> None:
    router = ShardRouter(
        jwt=verifier,
        source=Counting({}, fail=True),
        unavailable_status=504,
        retry_after=7.0,
    )
    ctx = make_ctx(token(rsa_key))
    assert await answer(router, ctx) == 504
    assert ctx.resp_headers["Retry-After"] == "7"
    assert "shard.upstream" not in ctx.vars


@pytest.mark.parametrize(
    "value",
    [
        "http://127.0.0.1:8081",
        "evil.example@127.0.0.1:8081",
        "127.0.0.1:8081/path",
        "127.0.0.1",
        "127.0.0.1:0",
        "127.0.0.1:99999",
        "127.0.0.1: 8081",
        " 127.0.0.1:8081",
        "127.0.0.1:8081\r\nX: y",
        "::1:8081",
        "127.1:8081",
        "",
        "10.0.0.1:8081",  # valid, but outside the allow list
        "127.0.0.1:9000",  # port not allowed
        "localhost:8081",  # a name never fits an IP rule
    ],
)
async def test_poisoned_shard_values_are_refused(
    verifier: JWTVerifier, rsa_key: Any, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    router = ShardRouter(
        jwt=verifier,
        source=InlineMap({"walmart": value}),
        allow=["127.0.0.0/8", "::1", ":8081"],
    )
    ctx = make_ctx(token(rsa_key))
    assert await answer(router, ctx) == 502
    assert "shard.upstream" not in ctx.vars
    assert "X-Customer" not in ctx.headers
    assert any("shard value refused" in r.getMessage() for r in caplog.records)


async def test_allowed_values(verifier: JWTVerifier, rsa_key: Any) -> None:
    allow = ["127.0.0.0/8", "::1", "db.internal", "*.shards.example", ":8081", ":8082"]
    for value in (
        "127.0.0.2:8081",
        "[::1]:8082",
        "db.internal:8081",
        "DB.Internal:8081",
        "eu-1.shards.example:8082",
        "a.b.shards.example:8081",
    ):
        router = ShardRouter(jwt=verifier, source=InlineMap({"walmart": value}), allow=allow)
        ctx = make_ctx(token(rsa_key))
        assert await answer(router, ctx) == 200, value
        assert ctx.vars["shard.upstream"] == value
    for value in ("shards.example:8081", "db.internal.evil:8081", "[::2]:8081"):
        router = ShardRouter(jwt=verifier, source=InlineMap({"walmart": value}), allow=allow)
        assert await answer(router, make_ctx(token(rsa_key))) == 502, value


def test_split_shard() -> None:
    assert split_shard("127.0.0.1:80") == ("127.0.0.1", 80)
    assert split_shard("[2001:db8::1]:443") == ("2001:db8::1", 443)
    assert split_shard("Eu-West-2.internal:8080") == ("eu-west-2.internal", 8080)
    for bad in ("a_b:80", "a..b:80", "-a:80", "a:+80", "a:٨٠", "ä:80", "[::1:80", "1.2.3.4.5:80"):
        assert split_shard(bad) is None, bad


def test_allow_list_without_entries_allows_any_valid_address() -> None:
    everything = AllowList()
    assert everything.permits("203.0.113.9", 1)
    assert everything.permits("anywhere.example", 65535)
    ports_only = AllowList([":8080"])
    assert ports_only.permits("203.0.113.9", 8080)
    assert not ports_only.permits("203.0.113.9", 8081)


# ---------------------------------------------------------------- map_file


async def test_map_file_is_reloaded_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "shards.json"
    path.write_text(json.dumps({"walmart": "127.0.0.1:8081"}))
    source = MapFile(str(path), check_interval=0.0)
    assert await source.lookup("walmart") == "127.0.0.1:8081"
    assert await source.lookup("waitrose") is None
    path.write_text(json.dumps({"walmart": "127.0.0.1:8082", "waitrose": "127.0.0.1:8083"}))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert await source.lookup("walmart") == "127.0.0.1:8082"
    assert await source.lookup("waitrose") == "127.0.0.1:8083"


async def test_map_file_keeps_the_previous_map_when_the_new_one_is_broken(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "shards.json"
    path.write_text(json.dumps({"walmart": "127.0.0.1:8081"}))
    source = MapFile(str(path), check_interval=0.0)
    path.write_text("{not json")
    assert await source.lookup("walmart") == "127.0.0.1:8081"
    assert any("reload failed" in r.getMessage() for r in caplog.records)
    path.unlink()
    assert await source.lookup("walmart") == "127.0.0.1:8081"


async def test_map_file_non_string_values_become_refused_shards(
    tmp_path: Path, verifier: JWTVerifier, rsa_key: Any
) -> None:
    path = tmp_path / "shards.json"
    path.write_text(json.dumps({"walmart": {"host": "127.0.0.1", "port": 1}}))
    router = ShardRouter(jwt=verifier, source=MapFile(str(path)))
    assert await answer(router, make_ctx(token(rsa_key))) == 502


def test_map_file_must_exist_and_be_an_object(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        MapFile(str(tmp_path / "missing.json"))
    path = tmp_path / "list.json"
    path.write_text("[]")
    with pytest.raises(ValueError, match="not a JSON object"):
        MapFile(str(path))
