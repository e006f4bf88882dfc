"""The reverse proxy: upstreams, load balancing, health checks, transport (Caddy's `reverse_proxy`).

One class per selection policy and per dynamic upstream source, named like
Caddy's modules; `ReverseProxy` mirrors the handler's JSON.
"""

from __future__ import annotations

from dataclasses import dataclass

from rpc.compiler.ir.base import Duration, Node, Text, jfield
from rpc.compiler.ir.headers import HeaderOps, RespHeaderOps, ResponseMatcher
from rpc.compiler.ir.routes import Handler, MatcherSet, Route

__all__ = [
    "AUpstreams",
    "ActiveHealthChecks",
    "ClientIPHash",
    "CookieHash",
    "DynamicSource",
    "First",
    "HTTPTransport",
    "HeaderHash",
    "HealthChecks",
    "IPHash",
    "KeepAlive",
    "LeastConn",
    "LoadBalancing",
    "MultiUpstreams",
    "PassiveHealthChecks",
    "Policy",
    "QueryHash",
    "Random",
    "RandomChoose",
    "ResponseHandler",
    "ResponseMatcher",
    "ReverseProxy",
    "RoundRobin",
    "SRVUpstreams",
    "TLSConfig",
    "URIHash",
    "Upstream",
    "WeightedRoundRobin",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Upstream(Node):
    """One backend; `dial` may hold placeholders (expanded per request)."""

    dial: Text = jfield()


# ---------------------------------------------------------------- selection policies


@dataclass(frozen=True, slots=True, kw_only=True)
class Policy(Node):
    """Base of `lb_policy` selection policies; `CADDY_TAG` is `("policy", <name>)`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Random(Policy):
    """`lb_policy random` (the default)."""

    CADDY_TAG = ("policy", "random")


@dataclass(frozen=True, slots=True, kw_only=True)
class RandomChoose(Policy):
    """`lb_policy random_choose <n>`: the least loaded of n random upstreams."""

    CADDY_TAG = ("policy", "random_choose")

    choose: int = jfield(default=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class First(Policy):
    """`lb_policy first`: the first available upstream (failover order)."""

    CADDY_TAG = ("policy", "first")


@dataclass(frozen=True, slots=True, kw_only=True)
class RoundRobin(Policy):
    """`lb_policy round_robin`."""

    CADDY_TAG = ("policy", "round_robin")


@dataclass(frozen=True, slots=True, kw_only=True)
class WeightedRoundRobin(Policy):
    """`lb_policy weighted_round_robin <weights...>`."""

    CADDY_TAG = ("policy", "weighted_round_robin")

    weights: tuple[int, ...] = jfield(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class LeastConn(Policy):
    """`lb_policy least_conn`."""

    CADDY_TAG = ("policy", "least_conn")


@dataclass(frozen=True, slots=True, kw_only=True)
class IPHash(Policy):
    """`lb_policy ip_hash`: the TCP peer's address."""

    CADDY_TAG = ("policy", "ip_hash")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientIPHash(Policy):
    """`lb_policy client_ip_hash`: the client address (trusted proxies honoured)."""

    CADDY_TAG = ("policy", "client_ip_hash")


@dataclass(frozen=True, slots=True, kw_only=True)
class URIHash(Policy):
    """`lb_policy uri_hash`."""

    CADDY_TAG = ("policy", "uri_hash")


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryHash(Policy):
    """`lb_policy query <key> { fallback <policy> }`."""

    CADDY_TAG = ("policy", "query")

    key: str = jfield(default="")
    fallback: Policy | None = jfield(default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class HeaderHash(Policy):
    """`lb_policy header <field> { fallback <policy> }`."""

    CADDY_TAG = ("policy", "header")

    field: str = jfield(default="")
    fallback: Policy | None = jfield(default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class CookieHash(Policy):
    """`lb_policy cookie [<name> [<secret>]] { fallback <policy>; max_age <d> }`."""

    CADDY_TAG = ("policy", "cookie")

    name: str = jfield(default="")
    secret: str = jfield(default="")
    max_age: Duration | None = jfield(default=None)
    fallback: Policy | None = jfield(default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadBalancing(Node):
    """`load_balancing`: selection, and retries."""

    selection_policy: Policy | None = jfield(default=None)
    retries: int = jfield(default=0)
    try_duration: Duration | None = jfield(default=None)
    try_interval: Duration | None = jfield(default=None)
    retry_match: tuple[MatcherSet, ...] = jfield(default=())


# ---------------------------------------------------------------- health


@dataclass(frozen=True, slots=True, kw_only=True)
class ActiveHealthChecks(Node):
    """`health_*` subdirectives."""

    path: str = jfield(default="")
    uri: str = jfield(default="")
    upstream: str = jfield(default="")
    port: int = jfield(default=0)
    headers: tuple[tuple[str, tuple[Text, ...]], ...] = jfield(default=())
    method: str = jfield(default="")
    body: str = jfield(default="")
    follow_redirects: bool = jfield(default=False)
    interval: Duration | None = jfield(default=None)
    timeout: Duration | None = jfield(default=None)
    passes: int = jfield(default=0)
    fails: int = jfield(default=0)
    max_size: int = jfield(default=0)
    expect_status: int = jfield(default=0)
    expect_body: str = jfield(default="")


@dataclass(frozen=True, slots=True, kw_only=True)
class PassiveHealthChecks(Node):
    """`fail_duration`, `max_fails`, `unhealthy_*`."""

    fail_duration: Duration | None = jfield(default=None)
    max_fails: int = jfield(default=0)
    unhealthy_request_count: int = jfield(default=0)
    unhealthy_status: tuple[int, ...] = jfield(default=())
    unhealthy_latency: Duration | None = jfield(default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class HealthChecks(Node):
    active: ActiveHealthChecks | None = jfield(default=None)
    passive: PassiveHealthChecks | None = jfield(default=None)


# ---------------------------------------------------------------- dynamic upstreams


@dataclass(frozen=True, slots=True, kw_only=True)
class DynamicSource(Node):
    """Base of `dynamic` upstream sources; `CADDY_TAG` is `("source", <name>)`."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AUpstreams(DynamicSource):
    """`dynamic a [<name> <port>] { ... }`: one upstream per A/AAAA record."""

    CADDY_TAG = ("source", "a")

    name: Text | None = jfield(default=None)
    port: Text | None = jfield(default=None)
    refresh: Duration | None = jfield(default=None)
    resolvers: tuple[str, ...] = jfield(None, default=())  # JSON: resolver.addresses
    dial_timeout: Duration | None = jfield(default=None)
    dial_fallback_delay: Duration | None = jfield(default=None)
    ipv4: bool | None = jfield(None, default=None)  # JSON: versions.ipv4
    ipv6: bool | None = jfield(None, default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class SRVUpstreams(DynamicSource):
    """`dynamic srv [<name>] { ... }`: one upstream per SRV record."""

    CADDY_TAG = ("source", "srv")

    service: str = jfield(default="")
    proto: str = jfield(default="")
    name: Text | None = jfield(default=None)
    refresh: Duration | None = jfield(default=None)
    resolvers: tuple[str, ...] = jfield(None, default=())
    dial_timeout: Duration | None = jfield(default=None)
    dial_fallback_delay: Duration | None = jfield(default=None)
    grace_period: Duration | None = jfield(default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class MultiUpstreams(DynamicSource):
    """`dynamic multi { <source> ...; <source> ... }`: several sources concatenated."""

    CADDY_TAG = ("source", "multi")

    sources: tuple[DynamicSource, ...] = jfield(default=())


# ---------------------------------------------------------------- transport


@dataclass(frozen=True, slots=True, kw_only=True)
class TLSConfig(Node):
    """TLS to the upstreams (`tls*` transport options, or an `https://` upstream)."""

    root_ca_pem_files: tuple[str, ...] = jfield(default=())
    client_certificate_file: str = jfield(default="")
    client_certificate_key_file: str = jfield(default="")
    client_certificate_automate: str = jfield(default="")
    insecure_skip_verify: bool = jfield(default=False)
    handshake_timeout: Duration | None = jfield(default=None)
    server_name: Text | None = jfield(default=None)
    renegotiation: str = jfield(default="")
    except_ports: tuple[str, ...] = jfield(default=())
    curves: tuple[str, ...] = jfield(default=())
    ca: tuple[tuple[str, object], ...] = jfield(None, default=())  # trust pool module


@dataclass(frozen=True, slots=True, kw_only=True)
class KeepAlive(Node):
    """`keepalive*` transport options."""

    enabled: bool | None = jfield(default=None, keep_zero=True)
    probe_interval: Duration | None = jfield(default=None)
    max_idle_conns: int = jfield(default=0)
    max_idle_conns_per_host: int = jfield(default=0)
    idle_timeout: Duration | None = jfield(default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTPTransport(Node):
    """`transport http { ... }`."""

    CADDY_TAG = ("protocol", "http")

    resolvers: tuple[str, ...] = jfield(None, default=())  # JSON: resolver.addresses
    tls: TLSConfig | None = jfield(default=None)
    keep_alive: KeepAlive | None = jfield(default=None)
    compression: bool | None = jfield(default=None, keep_zero=True)
    max_conns_per_host: int = jfield(default=0)
    proxy_protocol: str = jfield(default="")
    forward_proxy_url: str = jfield(default="")
    network_proxy: tuple[tuple[str, object], ...] = jfield(None, default=())
    dial_timeout: Duration | None = jfield(default=None)
    dial_fallback_delay: Duration | None = jfield(default=None)
    response_header_timeout: Duration | None = jfield(default=None)
    expect_continue_timeout: Duration | None = jfield(default=None)
    max_response_header_size: int = jfield(default=0)
    write_buffer_size: int = jfield(default=0)
    read_buffer_size: int = jfield(default=0)
    read_timeout: Duration | None = jfield(default=None)
    write_timeout: Duration | None = jfield(default=None)
    versions: tuple[str, ...] = jfield(default=())
    local_address: str = jfield(default="")


@dataclass(frozen=True, slots=True, kw_only=True)
class FastCGITransport(Node):
    """`transport fastcgi { ... }` (php_fastcgi): kept for the JSON view only."""

    CADDY_TAG = ("protocol", "fastcgi")

    settings: tuple[tuple[str, object], ...] = jfield(None, default=())  # flattened


# ---------------------------------------------------------------- responses


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseHandler(Node):
    """`replace_status` (status_code) or `handle_response` (routes), with a matcher."""

    match: ResponseMatcher | None = jfield(default=None)
    status_code: Text | None = jfield(default=None)
    routes: tuple[Route, ...] = jfield(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class ReverseProxy(Handler):
    """`reverse_proxy`, and the proxying half of `forward_auth`."""

    CADDY_TAG = ("handler", "reverse_proxy")

    transport: HTTPTransport | FastCGITransport | None = jfield(default=None)
    load_balancing: LoadBalancing | None = jfield(default=None)
    health_checks: HealthChecks | None = jfield(default=None)
    upstreams: tuple[Upstream, ...] = jfield(default=())
    dynamic_upstreams: DynamicSource | None = jfield(default=None)
    flush_interval: Duration | None = jfield(default=None)
    trusted_proxies: tuple[str, ...] = jfield(default=())
    request_headers: HeaderOps | None = jfield(None, default=None)  # JSON: headers.request
    response_headers: RespHeaderOps | None = jfield(None, default=None)  # JSON: headers.response
    request_buffers: int = jfield(default=0)
    response_buffers: int = jfield(default=0)
    stream_timeout: Duration | None = jfield(default=None)
    stream_close_delay: Duration | None = jfield(default=None)
    stream_buffer_size: int = jfield(default=0)
    rewrite_method: Text | None = jfield(None, default=None)  # JSON: rewrite.method
    rewrite_uri: Text | None = jfield(None, default=None)  # JSON: rewrite.uri
    handle_response: tuple[ResponseHandler, ...] = jfield(default=())
    verbose_logs: bool = jfield(default=False)
