"""compiler/backend/shard.py: the declarations emitted for jwt, jwt_shard_router and dynamic redis."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, cast

import jwt
import pytest
from aiohttp.test_utils import make_mocked_request
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from multidict import CIMultiDict

from rpc import runtime
from rpc.compiler.backend import handlers as backend
from rpc.compiler.backend.emit import Emitter
from rpc.compiler.backend.shard import redis_upstreams
from rpc.compiler.ir.shard import JWTAuth, RedisUpstreams, ShardRouter
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpc.compiler.walk import nodes
from rpc.runtime.context import Ctx
from rpc.runtime.errors import HandlerError


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def pub_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> str:
    path = tmp_path / "pub.pem"
    path.write_bytes(
        rsa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return str(path)


def ir_nodes(caddyfile: str, kind: type) -> list[Any]:
    result = compile_caddyfile(caddyfile, "Caddyfile", stop_after=Stage.CHECK, environ={})
    assert result.ir is not None
    return [n for n in nodes(result.ir) if isinstance(n, kind)]


def build(e: Emitter, name: str) -> tuple[Any, str]:
    """Run the emitted declarations as a generated module would; the object and the source."""
    assert e.imports <= set(runtime.__all__)
    lines = [f"import {m}" for m in sorted(e.stdlib)]
    lines.append(f"from rpc.runtime import {', '.join(sorted(e.imports))}")
    lines += [f"{d.name} = {d.expr}" for d in e.decls]
    source = "\n".join(lines)
    namespace: dict[str, Any] = {}
    exec(compile(source, "<generated>", "exec"), namespace)  # noqa: S102 - generated code under test
    return namespace[name], source


def emit(h: Any) -> tuple[Any, str]:
    e = Emitter()
    name = backend.handler(e, cast(Any, None), h)
    return build(e, name)


def ctx_with(token: str, **headers: str) -> Ctx:
    h: CIMultiDict[str] = CIMultiDict(headers)
    h["Authorization"] = f"Bearer {token}"
    return Ctx(make_mocked_request("GET", "/", headers=h))


def site(body: str) -> str:
    return f":8080 {{\n{body}\n}}\n"


async def test_shard_router_with_inline_map(pub_file: str, rsa_key: Any) -> None:
    (ir,) = ir_nodes(
        site(
            "\tjwt_shard_router {\n\t\talg RS256\n\t\tkey_file "
            + pub_file
            + "\n\t\tleeway 30s\n\t\tclaim org.id\n\t\tclaim_pattern ^[a-z]+$\n"
            "\t\tmap {\n\t\t\twalmart 127.0.0.1:8081\n\t\t}\n"
            "\t\tallow 127.0.0.0/8 :8081\n\t\theader X-Tenant\n\t\tvar backend\n"
            "\t\tunknown_status 404\n\t\tretry_after 9s\n\t}"
        ),
        ShardRouter,
    )
    router, source = emit(ir)
    assert isinstance(router, runtime.ShardRouter)
    assert router.jwt.leeway == 30.0
    assert router.jwt.claim_pattern.pattern == "^[a-z]+$"
    assert (router.header, router.var, router.unknown_status) == ("X-Tenant", "backend", 404)
    assert router._retry_after == "9"
    assert "origin='Caddyfile:2'" in source
    token = jwt.encode({"org": {"id": "walmart"}, "exp": int(time.time()) + 60}, rsa_key, "RS256")
    ctx = ctx_with(token, **{"X-Tenant": "evil"})
    assert await router(ctx) is None
    assert ctx.vars["backend"] == "127.0.0.1:8081"
    assert ctx.headers.getall("X-Tenant") == ["walmart"]
    token = jwt.encode({"org": {"id": "nobody"}, "exp": int(time.time()) + 60}, rsa_key, "RS256")
    with pytest.raises(HandlerError) as info:
        await router(ctx_with(token))
    assert info.value.status == 404


def test_redis_and_map_file_sources(tmp_path: Path, pub_file: str) -> None:
    shards = tmp_path / "shards.json"
    shards.write_text("{}")
    base = f"\t\talg RS256\n\t\tkey_file {pub_file}\n"
    (redis_ir,) = ir_nodes(
        site(
            "\tjwt_shard_router {\n" + base + "\t\tredis redis://127.0.0.1:6379/2 {\n"
            "\t\t\tprefix shard:\n\t\t\ttimeout 20ms\n\t\t\tcache_ttl 1m\n"
            "\t\t\tnegative_ttl 2s\n\t\t\tstale_if_error 5m\n\t\t\tinvalidate shards\n\t\t}\n\t}"
        ),
        ShardRouter,
    )
    router, _ = emit(redis_ir)
    src = router.source
    assert isinstance(src, runtime.RedisLookup)
    assert (src.url, src.prefix, src.invalidate) == ("redis://127.0.0.1:6379/2", "shard:", "shards")
    assert (src.timeout, src.cache_ttl, src.negative_ttl, src.stale_if_error) == (
        0.02,
        60.0,
        2.0,
        300.0,
    )
    (defaults_ir,) = ir_nodes(
        site("\tjwt_shard_router {\n" + base + "\t\tredis redis://127.0.0.1:6379\n\t}"), ShardRouter
    )
    src = emit(defaults_ir)[0].source
    assert (src.timeout, src.cache_ttl, src.negative_ttl, src.stale_if_error) == (
        0.05,
        30.0,
        5.0,
        0.0,
    )
    (file_ir,) = ir_nodes(
        site("\tjwt_shard_router {\n" + base + f"\t\tmap_file {shards}\n\t}}"), ShardRouter
    )
    assert isinstance(emit(file_ir)[0].source, runtime.MapFile)


async def test_jwt_handler_and_secrets_stay_out_of_the_module(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "a-secret-of-at-least-64-bytes-for-hs512-" + "x" * 24
    monkeypatch.setenv("RPC_TEST_JWT_SECRET", secret)
    monkeypatch.setenv("RPC_TEST_REDIS_PASSWORD", "hunter2")
    (ir,) = ir_nodes(
        site(
            "\tjwt {\n\t\talg HS256 HS512\n\t\tkey_env RPC_TEST_JWT_SECRET\n"
            "\t\tissuer https://id.example\n\t\taudience api web\n\t\trequire exp sub\n\t}"
        ),
        JWTAuth,
    )
    handler, source = emit(ir)
    assert isinstance(handler, runtime.JWTAuth)
    assert secret not in source and "RPC_TEST_JWT_SECRET" in source
    assert handler.jwt.audience == ("api", "web")
    assert handler.jwt.require == ("exp", "sub")
    claims = {"customer": "acme", "sub": "u", "iss": "https://id.example", "aud": "web"}
    token = jwt.encode({**claims, "exp": int(time.time()) + 60}, secret, "HS512")
    ctx = ctx_with(token)
    assert await handler(ctx) is None
    assert ctx.extra["http.auth.user.id"] == "u"

    (rp,) = ir_nodes(
        site(
            "\treverse_proxy {\n\t\tdynamic redis "
            "redis://:{env.RPC_TEST_REDIS_PASSWORD}@127.0.0.1:6379 replicas:{http.auth.jwt.customer} {\n"
            "\t\t\ttimeout 100ms\n\t\t\trefresh 2s\n\t\t\tallow 127.0.0.0/8\n\t\t}\n\t}"
        ),
        RedisUpstreams,
    )
    e = Emitter()
    upstreams, source = build(e, redis_upstreams(e, rp))
    assert "hunter2" not in source
    assert isinstance(upstreams, runtime.RedisUpstreams)
    assert (upstreams.timeout, upstreams.refresh) == (0.1, 2.0)
    ctx.extra["http.auth.jwt.customer"] = "acme"
    assert upstreams.key.render(ctx) == "replicas:acme"


def test_generated_source_has_only_literals(pub_file: str) -> None:
    hostile = 'evil"); import os; os.system("x'
    (ir,) = ir_nodes(
        site(
            f"\tjwt_shard_router {{\n\t\talg RS256\n\t\tkey_file {pub_file}\n"
            f"\t\tissuer `{hostile}`\n\t\tmap {{\n\t\t\twalmart 127.0.0.1:8081\n\t\t}}\n\t}}"
        ),
        ShardRouter,
    )
    router, source = emit(ir)
    assert router.jwt.issuer == hostile
    assert re.search(r"^import os", source, re.MULTILINE) is None
