"""Prometheus metrics with Caddy 2.11's names and labels (prometheus-client, imported lazily).

Input: top-level routes wrapped in `Instrumented` (the compiler does this
when the global `metrics` option is set; `handler` is the Caddy module name
of the route's first handler, e.g. `subroute`, `reverse_proxy`), the server
reporting each finished request (`finish`), and the upstream registry;
output: the exposition served by the admin endpoint's `/metrics` and by the
`metrics` directive (`MetricsHandler`).

Series (as `caddy` 2.11.7 exposes them): `caddy_http_requests_total`,
`caddy_http_request_errors_total`, `caddy_http_requests_in_flight`
{server, handler[, host]}; `caddy_http_request_duration_seconds`,
`caddy_http_request_size_bytes`, `caddy_http_response_size_bytes`,
`caddy_http_response_duration_seconds` (time to first byte)
{server, handler, code, method[, host]}; and, whether or not HTTP metrics
are on, `caddy_reverse_proxy_upstreams_healthy{upstream}` for the upstreams
reverse proxies registered with `watch_upstreams`.

With `--workers N` the workers share counters through prometheus-client's
multiprocess mode (a directory the parent creates, `PROMETHEUS_MULTIPROC_DIR`);
the in-flight gauge sums live workers, upstream health is the serving
worker's view.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from rpc.runtime.app import MetricsConfig
from rpc.runtime.errors import HandlerError
from rpc.runtime.typedefs import Reply, Route
from rpc.runtime.upstreams import Upstream

if TYPE_CHECKING:
    from rpc.runtime.context import Ctx

__all__ = [
    "Instrumented",
    "MetricsHandler",
    "enable",
    "exposition",
    "finish",
    "forget_upstreams",
    "watch_upstreams",
    "worker_exited",
]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_PENDING = "rpc.metrics.pending"  # ctx.extra key: observations opened by Instrumented routes
_METHODS = frozenset(
    {"GET", "HEAD", "PUT", "POST", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)
_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_SIZE_BUCKETS = tuple(256 * 4**i for i in range(8))  # Go's ExponentialBuckets(256, 4, 8)


def _prom() -> Any:
    try:
        import prometheus_client
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise RuntimeError("metrics need prometheus-client: pip install 'rpc[runtime]'") from exc
    return prometheus_client


class _HTTPMetrics:
    """The caddy_http_* collectors, created once per process."""

    def __init__(self, config: MetricsConfig) -> None:
        prom = _prom()
        basic = ["server", "handler"] + (["host"] if config.per_host else [])
        http = ["server", "handler", "code", "method"] + (["host"] if config.per_host else [])
        ns = {"namespace": "caddy", "subsystem": "http"}
        self.in_flight = prom.Gauge(
            "requests_in_flight",
            "Number of requests currently handled by this server.",
            basic,
            multiprocess_mode="livesum",
            **ns,
        )
        self.errors = prom.Counter(
            "request_errors", "Number of requests resulting in middleware errors.", basic, **ns
        )
        self.requests = prom.Counter("requests", "Counter of HTTP(S) requests made.", basic, **ns)
        self.duration = prom.Histogram(
            "request_duration_seconds",
            "Histogram of round-trip request durations.",
            http,
            buckets=_DURATION_BUCKETS,
            **ns,
        )
        self.req_size = prom.Histogram(
            "request_size_bytes",
            "Total size of the request. Includes body",
            http,
            buckets=_SIZE_BUCKETS,
            **ns,
        )
        self.resp_size = prom.Histogram(
            "response_size_bytes",
            "Size of the returned response.",
            http,
            buckets=_SIZE_BUCKETS,
            **ns,
        )
        self.ttfb = prom.Histogram(
            "response_duration_seconds",
            "Histogram of times to first byte in response bodies.",
            http,
            buckets=_DURATION_BUCKETS,
            **ns,
        )

    def unregister(self) -> None:
        registry = _prom().REGISTRY
        for collector in (
            self.in_flight,
            self.errors,
            self.requests,
            self.duration,
            self.req_size,
            self.resp_size,
            self.ttfb,
        ):
            registry.unregister(collector)


_config: MetricsConfig | None = None
_http: _HTTPMetrics | None = None
_upstream_collector_added = False


def enable(config: MetricsConfig | None) -> None:
    """Turn HTTP metrics on for this process (None: only upstream health is exposed)."""
    global _config, _http
    if _http is not None and (
        config is None or _config is None or config.per_host != _config.per_host
    ):
        _http.unregister()
        _http = None
    _config = config
    if config is not None and _http is None:
        _prom().disable_created_metrics()  # Go's client has no *_created series
        _http = _HTTPMetrics(config)


class _Observation:
    __slots__ = ("error_status", "handler", "host", "started", "ttfb")

    def __init__(self, handler: str, host: str | None) -> None:
        self.handler = handler
        self.host = host
        self.started = time.monotonic()
        self.ttfb: float | None = None
        self.error_status = 0

    def on_send(self, ctx: Ctx, resp: web.StreamResponse) -> None:
        if self.ttfb is None and not self.error_status:
            self.ttfb = time.monotonic() - self.started


def _host_label(ctx: Ctx, config: MetricsConfig) -> str | None:
    if not config.per_host:
        return None
    if ctx.host in config.hosts or config.observe_catchall_hosts or (ctx.tls and config.hosts):
        return ctx.hostport.lower()
    return "_other"


class Instrumented:
    """A top-level route observed as Caddy's metrics middleware observes it."""

    __slots__ = ("handler", "inner", "origin")

    def __init__(self, inner: Route, handler: str, *, origin: str = "") -> None:
        self.inner = inner
        self.handler = handler
        self.origin = origin

    async def __call__(self, ctx: Ctx) -> Reply:
        metrics, config = _http, _config
        if metrics is None or config is None:
            return await self.inner(ctx)
        obs = _Observation(self.handler, _host_label(ctx, config))
        labels = _basic(ctx, obs)
        metrics.in_flight.labels(*labels).inc()
        ctx.extra.setdefault(_PENDING, []).append(obs)
        ctx.send_hooks.append(obs.on_send)
        try:
            return await self.inner(ctx)
        except HandlerError as err:
            obs.error_status = err.status
            raise


def _basic(ctx: Ctx, obs: _Observation) -> list[str]:
    server = getattr(ctx.server, "name", "") or "UNKNOWN"
    return [server, obs.handler] if obs.host is None else [server, obs.handler, obs.host]


def finish(ctx: Ctx, status: int, size: int) -> None:
    """Close the observations of a finished request (called by the server, always once)."""
    pending = ctx.extra.pop(_PENDING, None)
    metrics = _http
    if not pending or metrics is None:
        return
    now = time.monotonic()
    method = ctx.orig_method if ctx.orig_method in _METHODS else "OTHER"
    req_size = _approx_request_size(ctx)
    for obs in pending:
        basic = _basic(ctx, obs)
        code_num = obs.error_status or status
        code = str(code_num) if code_num else "200"
        server, handler = basic[0], basic[1]
        full = [server, handler, code, method] + ([obs.host] if obs.host is not None else [])
        metrics.in_flight.labels(*basic).dec()
        metrics.requests.labels(*basic).inc()
        if obs.error_status:
            metrics.errors.labels(*basic).inc()
        metrics.duration.labels(*full).observe(now - obs.started)
        metrics.req_size.labels(*full).observe(req_size)
        metrics.resp_size.labels(*full).observe(0 if obs.error_status else size)
        if obs.ttfb is not None and not obs.error_status:
            metrics.ttfb.labels(*full).observe(obs.ttfb)


def _approx_request_size(ctx: Ctx) -> int:
    # promhttp's computeApproximateRequestSize, as Caddy uses it.
    request = ctx.request
    size = len(request.raw_path) + len(request.method) + len("HTTP/1.1") + len(ctx.hostport)
    for name, value in request.headers.items():
        if name.lower() != "host":
            size += len(name) + len(value)
    length = request.content_length
    return size + (length or 0)


_WATCHED: dict[str, Upstream] = {}


def watch_upstreams(pool: Iterable[Upstream]) -> None:
    """Report these (static) upstreams in `caddy_reverse_proxy_upstreams_healthy`.

    The reverse proxy calls this once per handler, as Caddy's
    `metricsUpstreamsHealthyUpdater` does; a dial address shared by several
    handlers reports the verdict of the handler registered last.
    """
    for upstream in pool:
        _WATCHED[upstream.dial] = upstream


def forget_upstreams() -> None:
    """Stop reporting every watched upstream (tests, reloads)."""
    _WATCHED.clear()


class _UpstreamCollector:
    """caddy_reverse_proxy_upstreams_healthy: `Upstream.healthy()` per dial address."""

    def collect(self) -> Any:
        prom = _prom()
        family = prom.metrics_core.GaugeMetricFamily(
            "caddy_reverse_proxy_upstreams_healthy",
            "Health status of reverse proxy upstreams.",
            labels=["upstream"],
        )
        for dial, upstream in list(_WATCHED.items()):
            family.add_metric([dial], 1.0 if upstream.healthy() else 0.0)
        yield family


_upstreams = _UpstreamCollector()


def _registry() -> Any:
    global _upstream_collector_added
    prom = _prom()
    if os.environ.get(MULTIPROC_ENV):
        multiprocess: Any = importlib.import_module("prometheus_client.multiprocess")
        registry = prom.CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        registry.register(_upstreams)
        return registry
    if not _upstream_collector_added:
        prom.REGISTRY.register(_upstreams)
        _upstream_collector_added = True
    return prom.REGISTRY


def exposition(accept: str = "", *, openmetrics: bool = True) -> tuple[bytes, str]:
    """(body, content type) of the current metrics, negotiated from an Accept header."""
    prom = _prom()
    encoder, content_type = prom.exposition.choose_encoder(accept if openmetrics else "")
    return encoder(_registry()), content_type


def worker_exited(pid: int) -> None:
    """Drop a dead worker's live gauges (multiprocess mode; called by the parent)."""
    path = os.environ.get(MULTIPROC_ENV)
    if path:
        multiprocess: Any = importlib.import_module("prometheus_client.multiprocess")
        multiprocess.mark_process_dead(pid, path)


class MetricsHandler:
    """The `metrics` directive: serve the exposition (`metrics [<matcher>] { disable_openmetrics }`)."""

    __slots__ = ("disable_openmetrics", "origin")

    def __init__(self, *, disable_openmetrics: bool = False, origin: str = "") -> None:
        self.disable_openmetrics = disable_openmetrics
        self.origin = origin

    async def __call__(self, ctx: Ctx) -> Reply:
        body, content_type = exposition(
            ctx.headers.get("Accept", ""), openmetrics=not self.disable_openmetrics
        )
        resp = web.Response(body=body)
        resp.headers["Content-Type"] = content_type
        return resp
