"""Health checks: passive failure accounting and active background probes.

`PassiveHealth` turns the outcome of proxied requests (errors, bad statuses,
slow responses) into failure counts on the shared `Host`, each forgotten
after `fail_duration`. `ActiveHealthCheck` probes a handler's static
upstreams over HTTP in the background and keeps an up/down verdict per
checked address; selection policies skip upstreams that are down either way.
Semantics are Caddy 2.11's (`reverseproxy/healthchecks.go`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import ssl
from collections.abc import Collection, Hashable, Mapping, Sequence
from typing import Any

import aiohttp
from yarl import URL

from rpc.runtime.upstreams import ActiveState, Host, Upstream

__all__ = ["ActiveHealthCheck", "PassiveHealth", "status_matches"]

log = logging.getLogger("rpc.runtime.health")

TARGET_UPSTREAM = "{http.reverse_proxy.active.target_upstream}"


def _status_code(spec: int | str) -> int:
    """`500` → 500, `"5xx"` → 5 (a class, as in Caddy's JSON)."""
    if isinstance(spec, str):
        text = spec.strip().lower()
        if len(text) == 3 and text.endswith("xx") and text[0].isdigit():
            return int(text[0])
        return int(text)
    return spec


def status_matches(actual: int, expected: int) -> bool:
    """Caddy's StatusCodeMatches: an exact code, or a class when `expected` < 100."""
    if actual == expected:
        return True
    return expected < 100 and expected * 100 <= actual < (expected + 1) * 100


# ---------------------------------------------------------------- passive


def _forget(host: Host) -> None:
    if host.fails > 0:
        host.fails -= 1


class PassiveHealth:
    """A handler's passive health policy (`fail_duration`, `max_fails`, `unhealthy_*`).

    Failures are recorded only when `fail_duration` > 0; an upstream is down
    while its host's recent failures reach `max_fails` (default 1).
    `unhealthy_request_count` becomes the in-flight limit of every upstream
    without its own (`provision`).
    """

    __slots__ = (
        "_statuses",
        "fail_duration",
        "max_fails",
        "unhealthy_latency",
        "unhealthy_request_count",
        "unhealthy_status",
    )

    def __init__(
        self,
        *,
        fail_duration: float,
        max_fails: int = 1,
        unhealthy_status: tuple[int | str, ...] = (),
        unhealthy_latency: float | None = None,
        unhealthy_request_count: int = 0,
    ) -> None:
        self.fail_duration = fail_duration
        self.max_fails = max_fails if max_fails > 0 else 1
        self.unhealthy_status = unhealthy_status
        self._statuses = tuple(_status_code(s) for s in unhealthy_status)
        self.unhealthy_latency = unhealthy_latency
        self.unhealthy_request_count = unhealthy_request_count

    def provision(self, upstream: Upstream) -> Upstream:
        """Apply this policy's limits to one upstream (static at start, dynamic per attempt)."""
        upstream.max_fails = self.max_fails
        if self.unhealthy_request_count > 0 and upstream.max_requests == 0:
            upstream.max_requests = self.unhealthy_request_count
        return upstream

    def count_failure(self, upstream: Upstream) -> None:
        """Remember one failure of `upstream`'s host for `fail_duration` seconds."""
        if self.fail_duration <= 0:
            return
        host = upstream.host
        host.fails += 1
        asyncio.get_running_loop().call_later(self.fail_duration, _forget, host)

    def strikes(self, status: int, latency: float) -> int:
        """How many failures a completed round trip counts: one per matching
        `unhealthy_status` entry, plus one if it took `unhealthy_latency` or longer."""
        count = sum(1 for expected in self._statuses if status_matches(status, expected))
        limit = self.unhealthy_latency
        if limit is not None and limit > 0 and latency >= limit:
            count += 1
        return count

    def is_unhealthy_response(self, status: int, latency: float) -> bool:
        """Whether a completed round trip counts as at least one failure."""
        return self.strikes(status, latency) > 0


# ---------------------------------------------------------------- active


def _split_host_port(address: str) -> tuple[str, str]:
    if address.startswith("["):
        end = address.find("]")
        host = address[1:end]
        rest = address[end + 1 :]
        return host, rest[1:] if rest.startswith(":") else ""
    host, sep, port = address.rpartition(":")
    if not sep or ":" in host:
        return address, ""
    return host, port


def _join_host_port(host: str, port: str | int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class _Checker:
    """The probe loop of one address under one check configuration (shared)."""

    __slots__ = ("address", "config", "inflight", "session", "state", "task", "users")

    def __init__(self, address: str, config: ActiveHealthCheck) -> None:
        self.address = address
        self.config = config
        self.state = ActiveState()
        self.users = 0
        self.task: asyncio.Task[None] | None = None
        self.session: aiohttp.ClientSession | None = None
        self.inflight: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.config.interval
        next_at = loop.time()
        while True:
            # Like Caddy's ticker: a probe slower than the interval does not
            # delay the next one.
            probe = asyncio.create_task(self.check_once())
            self.inflight.add(probe)
            probe.add_done_callback(self.inflight.discard)
            now = loop.time()
            while next_at <= now:
                next_at += interval
            await asyncio.sleep(next_at - now)

    async def stop(self) -> None:
        tasks = [t for t in (self.task, *self.inflight) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.task = None
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def check_once(self) -> None:
        try:
            healthy = await self.probe()
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError) as exc:
            log.info("active health check failed", extra={"host": self.address, "error": str(exc)})
            healthy = False
        self.record(healthy)

    def record(self, healthy: bool) -> None:
        state = self.state
        config = self.config
        if healthy:
            state.passes += 1
            if state.unhealthy and state.passes >= config.passes:
                state.unhealthy = False
                state.passes = state.fails = 0
                log.info("host is up", extra={"host": self.address})
        else:
            state.fails += 1
            if not state.unhealthy and state.fails >= config.fails:
                state.unhealthy = True
                state.passes = state.fails = 0
                log.info("host is down", extra={"host": self.address})

    async def probe(self) -> bool:
        config = self.config
        target = self.address
        connector: aiohttp.BaseConnector | None = None
        if target.startswith("unix/"):
            # Socket paths cannot be URL hosts; Caddy uses "localhost".
            host, port, host_addr = "localhost", "", "localhost"
            socket_path = target[len("unix/") :]
            if self.session is None:
                connector = aiohttp.UnixConnector(path=socket_path)
        else:
            host, port = _split_host_port(target)
            host_addr = target
        url_host = host_addr
        if config.upstream:
            url_host = config.upstream
        elif config.port:
            url_host = _join_host_port(host, config.port)
        use_tls = config.tls is not None and port not in config.tls_except_ports
        scheme = "https" if use_tls else "http"
        url = URL(
            f"{scheme}://{url_host}{config.path or '/'}"
            + (f"?{config.query}" if config.query else ""),
            encoded=True,
        )

        headers: list[tuple[str, str]] = []
        host_header = None
        for key, values in config.headers:
            key = key.replace(TARGET_UPSTREAM, target)
            if key.lower() == "host":
                # Caddy sets the request's Host from the first value only.
                if host_header is None and values:
                    host_header = values[0].replace(TARGET_UPSTREAM, target)
                continue
            for value in values:
                headers.append((key, value.replace(TARGET_UPSTREAM, target)))
        if host_header is not None:
            headers.append(("Host", host_header))

        if self.session is None:
            self.session = aiohttp.ClientSession(
                connector=connector, timeout=aiohttp.ClientTimeout(total=None)
            )
        async with self.session.request(
            config.method,
            url,
            headers=headers,
            data=config.body.encode() if config.body else None,
            allow_redirects=config.follow_redirects,
            ssl=config.tls if use_tls and config.tls is not None else True,
            timeout=aiohttp.ClientTimeout(total=config.timeout),
        ) as resp:
            expected = config.expect_status
            if expected > 0:
                if not status_matches(resp.status, expected):
                    log.info(
                        "unexpected status code", extra={"host": host_addr, "status": resp.status}
                    )
                    return False
            elif not 200 <= resp.status < 300:
                log.info(
                    "status code out of tolerances",
                    extra={"host": host_addr, "status": resp.status},
                )
                return False
            pattern = config.expect_body
            if pattern is not None:
                body = await (
                    resp.content.read(config.max_size) if config.max_size > 0 else resp.read()
                )
                subject: Any = (
                    body if isinstance(pattern.pattern, bytes) else body.decode("utf-8", "replace")
                )
                if pattern.search(subject) is None:
                    log.info("response body failed expectations", extra={"host": host_addr})
                    return False
        return True


_CHECKERS: dict[tuple[str, Hashable], _Checker] = {}


class ActiveHealthCheck:
    """A handler's active health checks over its static upstreams.

    Keyword arguments are Caddy's JSON fields (`health_*` subdirectives):
    `uri` (path and query), `port` or `upstream` (probe another address),
    `interval` (30 s), `timeout` (5 s), `expect_status` (a code, or `"2xx"`
    style; default 2xx), `expect_body` (regexp searched in the body),
    `headers` (a `Host` entry sets the Host), `method`, `body`, `passes`
    and `fails` (thresholds, default 1), `follow_redirects`, `max_size`.
    `tls` is the handler transport's client context when it uses TLS
    (probes then use https, except to ports in `tls_except_ports`).

    Checks run only if `uri` or `port` is set, never for upstreams whose
    dial address has placeholders. One probe loop runs per (address, check
    configuration), shared by every handler with the same configuration;
    the verdict is set on each checked `Upstream.active`. `start()` and
    `stop()` are called by the server around its lifetime.
    """

    __slots__ = (
        "_checkers",
        "_key",
        "_started",
        "body",
        "expect_body",
        "expect_status",
        "fails",
        "follow_redirects",
        "headers",
        "interval",
        "max_size",
        "method",
        "origin",
        "passes",
        "path",
        "port",
        "query",
        "timeout",
        "tls",
        "tls_except_ports",
        "upstream",
        "uri",
    )

    def __init__(
        self,
        upstreams: Sequence[Upstream],
        *,
        uri: str = "",
        port: int = 0,
        upstream: str = "",
        interval: float = 30.0,
        timeout: float = 5.0,
        expect_status: int | str = 0,
        expect_body: re.Pattern[str] | re.Pattern[bytes] | None = None,
        headers: Mapping[str, Sequence[str]] | None = None,
        method: str = "GET",
        body: str = "",
        passes: int = 1,
        fails: int = 1,
        follow_redirects: bool = False,
        max_size: int = 0,
        tls: ssl.SSLContext | None = None,
        tls_except_ports: Collection[str | int] = (),
        origin: str = "",
    ) -> None:
        self.uri = uri
        self.path, _, self.query = uri.partition("?")
        self.port = port
        self.upstream = upstream
        self.interval = interval if interval > 0 else 30.0
        self.timeout = timeout if timeout > 0 else 5.0
        self.expect_status = _status_code(expect_status)
        self.expect_body = expect_body
        self.headers = tuple((k, tuple(v)) for k, v in (headers or {}).items())
        self.method = method or "GET"
        self.body = body
        self.passes = max(passes, 1)
        self.fails = max(fails, 1)
        self.follow_redirects = follow_redirects
        self.max_size = max_size
        self.tls = tls
        self.tls_except_ports = frozenset(str(p) for p in tls_except_ports)
        self.origin = origin
        self._started = False
        pattern = expect_body
        self._key: Hashable = (
            self.path, self.query, port, upstream, self.interval, self.timeout,
            self.expect_status,
            None if pattern is None else (pattern.pattern, pattern.flags),
            self.headers, self.method, body, self.passes, self.fails, follow_redirects,
            max_size, id(tls) if tls is not None else None, self.tls_except_ports,
        )  # fmt: skip
        self._checkers: list[_Checker] = []
        if not self.enabled:
            return
        for up in upstreams:
            if "{" in up.dial:
                continue  # placeholders: no address to probe
            key = (up.dial, self._key)
            checker = _CHECKERS.get(key)
            if checker is None:
                checker = _CHECKERS[key] = _Checker(up.dial, self)
            up.active = checker.state
            if checker not in self._checkers:
                self._checkers.append(checker)

    @property
    def enabled(self) -> bool:
        """Caddy runs active checks only when a URI or a port is configured."""
        return bool(self.uri or self.port)

    async def start(self) -> None:
        """Start probing: once right away, then every `interval`."""
        if self._started:
            return
        self._started = True
        for checker in self._checkers:
            checker.users += 1
            if checker.task is None:
                checker.task = asyncio.create_task(checker.run())

    async def stop(self) -> None:
        """Stop probing (the loop of a shared address ends with its last user)."""
        if not self._started:
            return
        self._started = False
        for checker in self._checkers:
            checker.users -= 1
            if checker.users == 0:
                await checker.stop()
