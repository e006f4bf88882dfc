"""jwt_shard_router end to end: compiled modules, a real redis-server, loopback backends.

The first tests compile a site whose `respond` shows what the router decided
(no reverse proxy involved); the last ones run examples/jwt-shard as
written, proxying to two backends.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
import redis
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from multidict import CIMultiDict

from rpc.compiler.errors import RpcError
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpctest import procs
from rpctest.apps import AppProcess, run_app

EXAMPLE = Path(__file__).parent.parent / "examples" / "jwt-shard"

pytestmark = pytest.mark.redis


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def token(key: Any, customer: str, seconds: int = 300) -> str:
    claims = {"customer": customer, "sub": f"user@{customer}", "exp": int(time.time()) + seconds}
    return str(jwt.encode(claims, key, "RS256"))


class Backend:
    """A shard backend: answers with its name in X-Shard and records what it saw."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.seen: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.seen.append(dict(request.headers))
        return web.Response(text=self.name, headers={"X-Shard": self.name})


@pytest.fixture
async def backends(aiohttp_server: Any) -> AsyncIterator[dict[str, tuple[Backend, str]]]:
    out = {}
    for name in ("us-east-1", "europe-west-2"):
        backend = Backend(name)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", backend.handle)
        server = await aiohttp_server(app, host="127.0.0.1")
        out[name] = (backend, f"127.0.0.1:{server.port}")
    yield out


def compile_example(tmp_path: Path, name: str, replace: dict[str, str], key: Any) -> Path:
    text = (EXAMPLE / name).read_text()
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    text = text.replace("{\n\torder", "{\n\tadmin off\n\torder", 1)
    try:
        return compile_text(tmp_path, text, key)
    except RpcError as exc:
        # Until the reverse_proxy emitter lands on main (then these tests run).
        if any("'reverse_proxy' cannot run" in d.message for d in exc.errors):
            pytest.skip("reverse_proxy cannot be compiled yet")
        raise


def compile_text(tmp_path: Path, text: str, key: Any) -> Path:
    result = compile_caddyfile(text, "Caddyfile", stop_after=Stage.PYTHON, environ={})
    assert result.python is not None, [d.message for d in result.diagnostics]
    (tmp_path / "keys").mkdir(exist_ok=True)
    (tmp_path / "keys" / "jwt-public.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    path = tmp_path / "app.py"
    path.write_text(result.python)
    return path


@contextlib.contextmanager
def proxy(path: Path, port: int) -> Iterator[AppProcess]:
    with run_app(path, port) as app:
        yield app


async def get(port: int, tok: str | None, **headers: str) -> tuple[int, dict[str, str], str]:
    if tok is not None:
        headers["Authorization"] = f"Bearer {tok}"
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"http://127.0.0.1:{port}/orders",
            headers={"Host": f"localhost:{port}", **headers},
            timeout=aiohttp.ClientTimeout(total=10),
        ) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.text()


# ---------------------------------------------------------------- the router alone

SHOW = """{
	admin off
}
http://localhost:PORT {
	jwt_shard_router {
		alg RS256
		key_file keys/jwt-public.pem
		redis redis://127.0.0.1:REDIS/0 {
			prefix shard:
			timeout 2s
			cache_ttl 1h
			stale_if_error 1h
			invalidate shard-changes
		}
		allow 127.0.0.0/8
	}
	respond "{http.vars.shard.upstream} {http.request.header.X-Customer} {http.auth.user.id}"
}
"""


async def test_compiled_router_over_redis(tmp_path: Path, rsa_key: Any) -> None:
    # The lookup timeout is generous here: 200 concurrent requests on a loaded
    # 2-core CI machine can take longer than the 50 ms of the example; timing
    # out within the lookup timeout is tested on its own (tests/runtime/test_rediskv.py).
    port, redis_port = procs.free_port(), procs.free_port()
    text = SHOW.replace("PORT", str(port)).replace("REDIS", str(redis_port))
    app = compile_text(tmp_path, text, rsa_key)
    walmart, waitrose = token(rsa_key, "walmart"), token(rsa_key, "waitrose")
    with proxy(app, port):
        with procs.run_redis(tmp_path, redis_port):
            r = redis.Redis(port=redis_port)
            r.set("shard:walmart", "127.0.0.1:9001")
            r.set("shard:waitrose", "127.0.0.1:9002")
            r.set("shard:poisoned", "127.0.0.1:9001/admin")
            r.config_resetstat()
            # Refused before any lookup.
            status, headers, _ = await get(port, None)
            assert (status, headers["WWW-Authenticate"]) == (401, "Bearer")
            r.config_resetstat()
            status, headers, _ = await get(port, token(rsa_key, "walmart", seconds=-5))
            assert status == 401 and "expired" in headers["WWW-Authenticate"]
            assert (await get(port, token(rsa_key, "wal/../mart")))[0] == 401
            assert await two_tokens(port, walmart) == 401
            assert gets(r) == 0
            # 200 concurrent requests for a customer not seen yet: one GET.
            answers = await asyncio.gather(*(get(port, waitrose) for _ in range(200)))
            assert {(a[0], a[2]) for a in answers} == {
                (200, "127.0.0.1:9002 waitrose user@waitrose")
            }
            assert gets(r) == 1
            status, _, body = await get(port, walmart, **{"X-Customer": "waitrose"})
            assert (status, body) == (200, "127.0.0.1:9001 walmart user@walmart")
            assert (await get(port, token(rsa_key, "tesco")))[0] == 403
            assert (await get(port, token(rsa_key, "poisoned")))[0] == 502
            # A move announced on the channel is seen at once, despite cache_ttl 1h.
            await until_subscribed(r, "shard-changes")
            r.set("shard:walmart", "127.0.0.1:9003")
            r.publish("shard-changes", "walmart")
            assert await until_body(port, walmart, "127.0.0.1:9003 walmart user@walmart")
        # Redis stopped: cached customers go on, others get 503 + Retry-After, fast.
        assert (await get(port, walmart))[2].startswith("127.0.0.1:9003 ")
        status, headers, _ = await get(port, token(rsa_key, "aldi"))
        assert (status, headers["Retry-After"]) == (503, "5")
        with procs.run_redis(tmp_path, redis_port):
            redis.Redis(port=redis_port).set("shard:aldi", "127.0.0.1:9004")
            assert await until_body(port, token(rsa_key, "aldi"), "127.0.0.1:9004 aldi user@aldi")


async def two_tokens(port: int, tok: str) -> int:
    headers = CIMultiDict([("Host", f"localhost:{port}"), ("Authorization", f"Bearer {tok}")] * 2)
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/", headers=headers) as resp,
    ):
        assert "invalid_request" in resp.headers["WWW-Authenticate"]
        return resp.status


def gets(client: redis.Redis) -> int:
    stats: dict[str, Any] = client.info("commandstats")
    return int(stats.get("cmdstat_get", {}).get("calls", 0))


async def until_body(port: int, tok: str, body: str, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, _, text = await get(port, tok)
        if status == 200 and text == body:
            return True
        await asyncio.sleep(0.05)
    return False


# ---------------------------------------------------------------- the example, proxying


async def test_embedded_map(
    tmp_path: Path, rsa_key: Any, backends: dict[str, tuple[Backend, str]]
) -> None:
    port = procs.free_port()
    (us, us_addr), (eu, eu_addr) = backends["us-east-1"], backends["europe-west-2"]
    app = compile_example(
        tmp_path,
        "Caddyfile.map",
        {
            "localhost:5000": f"localhost:{port}",
            "127.0.0.1:9001": us_addr,
            "127.0.0.1:9002": eu_addr,
        },
        rsa_key,
    )
    with proxy(app, port):
        status, headers, body = await get(
            port, token(rsa_key, "waitrose"), **{"X-Customer": "walmart"}
        )
        assert (status, headers["X-Shard"], body) == (200, "europe-west-2", "europe-west-2")
        assert eu.seen[-1]["X-Customer"] == "waitrose"
        status, headers, _ = await get(port, token(rsa_key, "walmart"))
        assert (status, headers["X-Shard"]) == (200, "us-east-1")
        assert us.seen[-1]["X-Customer"] == "walmart"
        status, headers, _ = await get(port, None)
        assert status == 401 and headers["WWW-Authenticate"] == "Bearer"
        assert (await get(port, token(rsa_key, "tesco")))[0] == 403
        assert (await get(port, token(rsa_key, "walmart", seconds=-10)))[0] == 401
        assert len(us.seen) + len(eu.seen) == 2


async def test_redis_lookup_failures_and_invalidation(
    tmp_path: Path, rsa_key: Any, backends: dict[str, tuple[Backend, str]]
) -> None:
    port, redis_port = procs.free_port(), procs.free_port()
    (_, us_addr), (_, eu_addr) = backends["us-east-1"], backends["europe-west-2"]
    app = compile_example(
        tmp_path,
        "Caddyfile",
        {"localhost:5000": f"localhost:{port}", "127.0.0.1:6379": f"127.0.0.1:{redis_port}"},
        rsa_key,
    )
    walmart, waitrose = token(rsa_key, "walmart"), token(rsa_key, "waitrose")
    with proxy(app, port):
        with procs.run_redis(tmp_path, redis_port):
            r = redis.Redis(port=redis_port)
            r.set("shard:walmart", us_addr)
            r.set("shard:waitrose", eu_addr)
            r.set("shard:poisoned", "169.254.169.254:80")
            assert (await get(port, walmart))[1]["X-Shard"] == "us-east-1"
            assert (await get(port, token(rsa_key, "poisoned")))[0] == 502
            # A move announced on the channel is seen at once (the cache TTL is 30s).
            await until_subscribed(r, "shard-changes")
            r.set("shard:walmart", eu_addr)
            r.publish("shard-changes", "walmart")
            assert await until_shard(port, walmart, "europe-west-2")
        # Redis is gone: known customers keep their shard (stale_if_error), others get 503.
        assert (await get(port, walmart))[1]["X-Shard"] == "europe-west-2"
        status, headers, _ = await get(port, waitrose)
        assert status == 503 and headers["Retry-After"] == "5"
        with procs.run_redis(tmp_path, redis_port):
            r = redis.Redis(port=redis_port)
            r.set("shard:waitrose", eu_addr)
            assert await until_shard(port, waitrose, "europe-west-2")


async def until_subscribed(r: redis.Redis, channel: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while r.pubsub_numsub(channel) != [(channel.encode(), 1)]:
        assert time.monotonic() < deadline, "the proxy never subscribed"
        await _sleep()


async def until_shard(port: int, tok: str, shard: str, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, headers, _ = await get(port, tok)
        if status == 200 and headers.get("X-Shard") == shard:
            return True
        await _sleep()
    return False


async def _sleep() -> None:
    await asyncio.sleep(0.05)
