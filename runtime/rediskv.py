"""Redis-backed lookups: a customer → its shard (`RedisLookup`), a key → a replica pool (`RedisUpstreams`).

Both use redis-py's asyncio client (imported when first used) over one
connection pool per event loop, with a tight per-lookup timeout and no
retries inside it: a slow or absent Redis costs at most `timeout` per
lookup, never redis-py's 5 s default. `RedisLookup` caches answers (unknown
customers too, for less time), lets concurrent misses of one customer share
one GET, serves the last known shard for `stale_if_error` when Redis fails,
and drops entries named on an `invalidate` pub/sub channel. `RedisUpstreams`
is the `dynamic redis` upstream source (the dynamic-source interface of
`rpc.runtime.dynamic`). A password comes into a URL from the environment
at startup (`{env.NAME}`), so it is neither in the generated module nor
in logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from rpc.runtime.context import Ctx
from rpc.runtime.dynamic import UpstreamSourceError
from rpc.runtime.placeholders import Template
from rpc.runtime.shards import AllowList, ShardUnavailable, split_shard
from rpc.runtime.upstreams import Upstream

__all__ = ["RedisLookup", "RedisUpstreams", "expand_env", "redact"]

log = logging.getLogger("rpc.runtime.rediskv")

DEFAULT_TIMEOUT = 0.05
# Connections per pool; a request beyond that waits (within its timeout) for a free one.
MAX_CONNECTIONS = 64
# Cached customers (or upstream keys) per source; the oldest go first.
CACHE_SIZE = 100_000
UPSTREAM_CACHE_SIZE = 1_000
# `dynamic redis` serves a key's last list this long after a failed refresh.
UPSTREAM_STALE_LIMIT = 300.0
# Pub/sub reconnection backoff bounds, in seconds.
RESUBSCRIBE_MIN, RESUBSCRIBE_MAX = 0.2, 5.0


_ENV = re.compile(r"\{env\.([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(url: str) -> str:
    """`url` with each `{env.NAME}` replaced by that variable, percent-encoded.

    This is how a password reaches a Redis URL without being written into
    the generated module: `redis://:{env.REDIS_PASSWORD}@db:6379/0`.
    """

    def value(m: re.Match[str]) -> str:
        found = os.environ.get(m.group(1))
        if found is None:
            raise ValueError(f"redis: environment variable {m.group(1)} (in the URL) is not set")
        return quote(found, safe="")

    return _ENV.sub(value, url)


def redact(url: str) -> str:
    """`url` with its password replaced by `***` (for logs and errors)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    user = parts.username or ""
    return parts._replace(netloc=f"{user}:***@{netloc}").geturl()


def _import_redis() -> Any:
    try:
        import redis.asyncio
        import redis.asyncio.cluster
        import redis.asyncio.retry
        import redis.asyncio.sentinel
        import redis.backoff
        import redis.exceptions
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("Redis lookups need redis-py: pip install 'rpc[runtime]'") from exc
    return redis


def _connect(url: str, timeout: float | None) -> Any:
    """A redis-py asyncio client for `url` (`redis`, `rediss`, `unix`, `+sentinel`, `+cluster`)."""
    redis = _import_redis()
    scheme = urlsplit(url).scheme
    common: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout if timeout is not None else 1.0,
        "retry": redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 0),
    }
    if scheme.endswith("+cluster"):
        plain = url.replace("+cluster", "", 1)
        return redis.asyncio.cluster.RedisCluster.from_url(plain, **common)
    if scheme == "redis+sentinel":
        return _sentinel(redis, url, common)
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=timeout, **common
    )
    return redis.asyncio.Redis.from_pool(pool)


def _sentinel(redis: Any, url: str, common: dict[str, Any]) -> Any:
    """`redis+sentinel://[user:pass@]host:port[,host:port...]/<service>[/<db>]`."""
    parts = urlsplit(url)
    hosts = parts.netloc.rpartition("@")[2]
    sentinels = []
    for item in hosts.split(","):
        host, _, port = item.rpartition(":")
        sentinels.append((host.strip("[]"), int(port or 26379)))
    service, _, db = parts.path.strip("/").partition("/")
    auth = {
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }
    manager = redis.asyncio.sentinel.Sentinel(sentinels, **common)
    return manager.master_for(service, db=int(db or 0), **auth, **common)


class _Client:
    """One client per event loop (redis-py's connections belong to the loop that made them)."""

    __slots__ = ("_client", "_loop", "timeout", "url")

    def __init__(self, url: str, timeout: float | None) -> None:
        self.url = url
        self.timeout = timeout
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def get(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = _connect(self.url, self.timeout)
            self._loop = loop
        return self._client

    async def close(self) -> None:
        if self._client is not None and self._loop is asyncio.get_running_loop():
            with contextlib.suppress(Exception):
                await self._client.aclose()
        self._client = None


class _Entry:
    __slots__ = ("expires", "stale_until", "value")

    def __init__(self, value: str | None, expires: float, stale_until: float) -> None:
        self.value = value
        self.expires = expires
        self.stale_until = stale_until


class RedisLookup:
    """`redis <url> { prefix; timeout; cache_ttl; negative_ttl; stale_if_error; invalidate }`.

    A customer's shard is `GET <prefix><customer>`. Answers are cached for
    `cache_ttl` seconds, missing keys for `negative_ttl`. When Redis fails or
    takes longer than `timeout`, a shard cached within the last `cache_ttl +
    stale_if_error` seconds is served; otherwise `ShardUnavailable`. A message
    on the `invalidate` channel names a customer whose entry is dropped (`*`
    drops all); after a lost subscription every entry is expired, since
    messages may have been missed.
    """

    __slots__ = (
        "_cache",
        "_client",
        "_inflight",
        "_subscriber",
        "cache_ttl",
        "invalidate",
        "negative_ttl",
        "prefix",
        "stale_if_error",
        "stats",
        "timeout",
        "url",
    )

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "",
        timeout: float = DEFAULT_TIMEOUT,
        cache_ttl: float = 30.0,
        negative_ttl: float = 5.0,
        stale_if_error: float = 0.0,
        invalidate: str = "",
    ) -> None:
        _import_redis()
        if invalidate and urlsplit(url).scheme.endswith("+cluster"):
            raise ValueError("redis: `invalidate` is not supported with a cluster URL")
        self.url = url = expand_env(url)
        self.prefix = prefix
        self.timeout = timeout if timeout > 0 else DEFAULT_TIMEOUT
        self.cache_ttl = cache_ttl
        self.negative_ttl = negative_ttl
        self.stale_if_error = stale_if_error
        self.invalidate = invalidate
        self._client = _Client(url, self.timeout)
        self._cache: dict[str, _Entry] = {}
        self._inflight: dict[str, asyncio.Task[str | None]] = {}
        self._subscriber: asyncio.Task[None] | None = None
        # Counters for tests and the admin view: hits, misses, errors, stale.
        self.stats = {"hits": 0, "misses": 0, "errors": 0, "stale": 0}

    async def lookup(self, customer: str) -> str | None:
        """The customer's shard (None when unknown); raises `ShardUnavailable`."""
        entry = self._cache.get(customer)
        if entry is not None and time.monotonic() < entry.expires:
            self.stats["hits"] += 1
            return entry.value
        task = self._inflight.get(customer)
        if task is None:
            loop = asyncio.get_running_loop()
            if self.invalidate and (
                self._subscriber is None or self._subscriber.get_loop() is not loop
            ):
                self._subscriber = loop.create_task(self._listen())
            task = loop.create_task(self._fetch(customer))
            task.add_done_callback(_retrieve)
            self._inflight[customer] = task
        # Shielded: a client that goes away must not cancel the lookup others wait for.
        return await asyncio.shield(task)

    async def _fetch(self, customer: str) -> str | None:
        self.stats["misses"] += 1
        task = asyncio.current_task()
        try:
            raw = await asyncio.wait_for(
                self._client.get().get(self.prefix + customer), self.timeout
            )
        except Exception as exc:  # noqa: BLE001 - every Redis failure means the same here
            self.stats["errors"] += 1
            entry = self._cache.get(customer)
            if (
                entry is not None
                and entry.value is not None
                and time.monotonic() < entry.stale_until
            ):
                self.stats["stale"] += 1
                return entry.value
            raise ShardUnavailable(_describe(exc)) from None
        finally:
            # Not ours any more when invalidated meanwhile: the answer may predate the change.
            owned = self._inflight.get(customer) is task
            if owned:
                del self._inflight[customer]
        value = None if raw is None else raw.decode("utf-8", "replace")
        if owned:
            self._store(customer, value)
        return value

    def _store(self, customer: str, value: str | None) -> None:
        now = time.monotonic()
        if value is None:
            entry = _Entry(None, now + self.negative_ttl, 0.0)
        else:
            expires = now + self.cache_ttl
            entry = _Entry(value, expires, expires + self.stale_if_error)
        cache = self._cache
        cache.pop(customer, None)
        if len(cache) >= CACHE_SIZE:
            del cache[next(iter(cache))]
        cache[customer] = entry

    def forget(self, customer: str) -> None:
        """Drop what is known about `customer` (`*`: everyone), including a lookup in flight."""
        if customer == "*":
            self._cache.clear()
            self._inflight.clear()
        else:
            self._cache.pop(customer, None)
            self._inflight.pop(customer, None)

    def _expire_all(self) -> None:
        for entry in self._cache.values():
            entry.expires = 0.0

    # ------------------------------------------------------------ invalidation

    async def _listen(self) -> None:
        """Follow the invalidation channel for the life of the loop, resubscribing on failure."""
        delay = RESUBSCRIBE_MIN
        first = True
        while True:
            client = _Client(self.url, None)
            pubsub = client.get().pubsub()
            try:
                await pubsub.subscribe(self.invalidate)
                if not first:
                    self._expire_all()
                first, delay = False, RESUBSCRIBE_MIN
                async for message in pubsub.listen():
                    data = message.get("data")
                    if message.get("type") == "message" and isinstance(data, bytes):
                        self.forget(data.decode("utf-8", "replace"))
            except Exception as exc:  # noqa: BLE001 - Redis is down; keep trying
                log.warning("redis invalidation channel lost: %s", _describe(exc))
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                await client.close()
            first = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, RESUBSCRIBE_MAX)

    async def close(self) -> None:
        """Stop the subscriber and close the connections (tests, shutdown)."""
        if self._subscriber is not None:
            self._subscriber.cancel()
            with contextlib.suppress(BaseException):
                await self._subscriber
            self._subscriber = None
        await self._client.close()


def _retrieve(task: asyncio.Task[Any]) -> None:
    # Every waiter may be gone; fetch the exception so asyncio does not log it as lost.
    if not task.cancelled():
        task.exception()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "redis: timed out"
    # redis-py's messages name host and port, never the password.
    return f"redis: {type(exc).__name__}: {exc}"[:300]


class _Pool:
    __slots__ = ("dials", "expired", "fetched_at")

    def __init__(self, dials: tuple[str, ...], fetched_at: float) -> None:
        self.dials = dials
        self.fetched_at = fetched_at
        self.expired = False


class RedisUpstreams:
    """`dynamic redis <url> <key> { timeout; refresh; allow }`: a shard's replicas.

    The upstreams are the members of the Redis set (sorted) or the items of
    the list (in order, for `lb_policy first`) at `key` (placeholders rendered per request; a key that renders
    empty or with control characters is refused). Members that are not a
    plain `host:port` inside `allow` are logged and skipped. Lists are cached
    for `refresh` seconds per key; concurrent misses share one lookup; after a
    failed refresh the last list is served for up to five minutes.
    """

    __slots__ = ("_cache", "_client", "_inflight", "allow", "key", "origin", "refresh", "timeout")

    def __init__(
        self,
        url: str,
        key: str | Template,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        refresh: float = 5.0,
        allow: Sequence[str] = (),
        origin: str = "",
    ) -> None:
        _import_redis()
        url = expand_env(url)
        self.key = key
        self.timeout = timeout if timeout > 0 else DEFAULT_TIMEOUT
        self.refresh = refresh if refresh > 0 else 5.0
        self.allow = AllowList(allow)
        self.origin = origin
        self._client = _Client(url, self.timeout)
        self._cache: dict[str, _Pool] = {}
        self._inflight: dict[str, asyncio.Task[tuple[str, ...]]] = {}

    async def get_upstreams(self, ctx: Ctx) -> list[Upstream]:
        key = self.key if isinstance(self.key, str) else self.key.render(ctx)
        if not key or not key.isprintable():
            raise UpstreamSourceError("dynamic redis: the key rendered empty or unprintable")
        pool = self._cache.get(key)
        if (
            pool is not None
            and not pool.expired
            and time.monotonic() - pool.fetched_at < self.refresh
        ):
            dials = pool.dials
        else:
            task = self._inflight.get(key)
            if task is None:
                task = asyncio.get_running_loop().create_task(self._fetch(key))
                task.add_done_callback(_retrieve)
                self._inflight[key] = task
            dials = await asyncio.shield(task)
        return [Upstream(dial, dynamic=True) for dial in dials]

    def reset(self) -> None:
        """Expire cached lists (the proxy calls this between retries)."""
        for pool in self._cache.values():
            pool.expired = True

    async def _fetch(self, key: str) -> tuple[str, ...]:
        try:
            members = await asyncio.wait_for(self._members(key), self.timeout)
        except Exception as exc:  # noqa: BLE001 - every Redis failure means the same here
            stale = self._cache.get(key)
            if stale is not None and time.monotonic() - stale.fetched_at < UPSTREAM_STALE_LIMIT:
                log.warning("dynamic redis: serving the last list: %s", _describe(exc))
                return stale.dials
            raise UpstreamSourceError(f"dynamic redis: {_describe(exc)}") from None
        finally:
            self._inflight.pop(key, None)
        dials = []
        for member in members:
            text = member.decode("utf-8", "replace")
            split = split_shard(text)
            if split is None or not self.allow.permits(*split):
                log.error(
                    "dynamic redis: upstream refused: not host:port or outside allow",
                    extra={"fields": {"key": key, "upstream": text[:200], "at": self.origin}},
                )
                continue
            dials.append(text)
        if key not in self._cache and len(self._cache) >= UPSTREAM_CACHE_SIZE:
            del self._cache[next(iter(self._cache))]
        self._cache[key] = _Pool(tuple(dials), time.monotonic())
        return tuple(dials)

    async def _members(self, key: str) -> list[bytes]:
        client = self._client.get()
        kind = await client.type(key)
        if kind == b"list":
            return list(await client.lrange(key, 0, -1))
        if kind == b"set":
            return sorted(await client.smembers(key))  # sets have no order; make one
        return []
