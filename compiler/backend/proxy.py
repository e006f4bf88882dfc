"""Emitters for `reverse_proxy` (`ReverseProxy`), `copy_response` and `copy_response_headers`.

The proxy becomes one runtime `ReverseProxy` built at import from
literals: its transport, selection policy, dynamic source, health checks,
header ops, and `handle_response` routes (compiled to route functions and
referenced through a lambda, since route functions are defined after the
module-level objects). Options the runtime cannot honour (FastCGI, HTTP/2-
or HTTP/3-only upstreams, PROXY protocol, outbound proxies, custom DNS
resolvers for dialing) are refused with RPC304 rather than ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rpc.compiler.backend.emit import Emitter, Unsupported
from rpc.compiler.backend.handlers import emits
from rpc.compiler.backend.headers import header_ops, regexp, response_matcher
from rpc.compiler.backend.shard import redis_upstreams
from rpc.compiler.ir.base import Duration
from rpc.compiler.ir.handlers import CopyResponse, CopyResponseHeaders
from rpc.compiler.ir.proxy import (
    ActiveHealthChecks,
    AUpstreams,
    ClientIPHash,
    CookieHash,
    DynamicSource,
    FastCGITransport,
    First,
    HeaderHash,
    HTTPTransport,
    IPHash,
    LeastConn,
    MultiUpstreams,
    PassiveHealthChecks,
    Policy,
    QueryHash,
    Random,
    RandomChoose,
    ReverseProxy,
    RoundRobin,
    SRVUpstreams,
    URIHash,
    WeightedRoundRobin,
)
from rpc.compiler.ir.shard import RedisUpstreams
from rpc.compiler.validate import FASTCGI_HINT, FASTCGI_REFUSAL

if TYPE_CHECKING:
    from rpc.compiler.backend.routes import RouteCompiler

__all__ = ["policy", "source", "transport"]


def _secs(d: Duration | None) -> str | None:
    return None if d is None else repr(d.seconds)


# ---------------------------------------------------------------- policies


def policy(e: Emitter, p: Policy) -> str:
    """The runtime selection policy for an IR policy (same class names)."""
    if isinstance(p, (Random, First, RoundRobin, LeastConn, IPHash, ClientIPHash, URIHash)):
        return f"{e.rt(type(p).__name__)}()"
    if isinstance(p, RandomChoose):
        return f"{e.rt('RandomChoose')}({e.lit(p.choose or 2)})"
    if isinstance(p, WeightedRoundRobin):
        return f"{e.rt('WeightedRoundRobin')}({e.lit(p.weights)})"
    fallback = policy(e, p.fallback) if getattr(p, "fallback", None) is not None else None  # type: ignore[attr-defined]
    if isinstance(p, QueryHash):
        return f"{e.rt('QueryHash')}({e.kwargs(key=e.lit(p.key), fallback=fallback)})"
    if isinstance(p, HeaderHash):
        return f"{e.rt('HeaderHash')}({e.kwargs(field=e.lit(p.field), fallback=fallback)})"
    if isinstance(p, CookieHash):
        fields = {
            "name": e.lit(p.name or "lb"),
            "secret": e.lit(p.secret),
            "max_age": _secs(p.max_age),
            "fallback": fallback,
        }
        return f"{e.rt('CookieHash')}({e.kwargs(**fields)})"
    raise Unsupported(f"the lb_policy {type(p).__name__!r} cannot run in a compiled proxy", p.span)


# ---------------------------------------------------------------- dynamic upstreams


def source(e: Emitter, s: DynamicSource) -> str:
    """The runtime dynamic upstream source."""
    if isinstance(s, AUpstreams):
        fields = {
            "name": e.text(s.name, keep_unknown=False) if s.name is not None else e.lit(""),
            "port": e.text(s.port, keep_unknown=False) if s.port is not None else None,
            "refresh": _secs(s.refresh),
            "resolvers": e.lit(s.resolvers) if s.resolvers else None,
            "dial_timeout": _secs(s.dial_timeout),
            "ipv4": e.lit(s.ipv4) if s.ipv4 is not None else None,
            "ipv6": e.lit(s.ipv6) if s.ipv6 is not None else None,
        }
        return f"{e.rt('AUpstreams')}({e.kwargs(**fields)})"
    if isinstance(s, SRVUpstreams):
        fields = {
            "name": e.text(s.name, keep_unknown=False) if s.name is not None else None,
            "service": e.lit(s.service) if s.service else None,
            "proto": e.lit(s.proto) if s.proto else None,
            "refresh": _secs(s.refresh),
            "resolvers": e.lit(s.resolvers) if s.resolvers else None,
            "dial_timeout": _secs(s.dial_timeout),
            "grace_period": _secs(s.grace_period),
        }
        return f"{e.rt('SRVUpstreams')}({e.kwargs(**fields)})"
    if isinstance(s, RedisUpstreams):
        return redis_upstreams(e, s)
    if isinstance(s, MultiUpstreams):
        inner = "".join(source(e, x) + ", " for x in s.sources)
        return f"{e.rt('MultiUpstreams')}(({inner}))"
    name = s.CADDY_TAG[1] if s.CADDY_TAG else type(s).__name__
    raise Unsupported(
        f"the dynamic upstream source {name!r} cannot run in a compiled proxy yet", s.span
    )


# ---------------------------------------------------------------- transport


def transport(e: Emitter, t: HTTPTransport | None, origin: str, span: object = None) -> str | None:
    """A declared runtime `Transport`, or None for the defaults."""
    if t is None:
        return None
    refuse = {
        "proxy_protocol": t.proxy_protocol,
        "forward_proxy_url": t.forward_proxy_url,
        "network_proxy": t.network_proxy,
        "local_address": t.local_address,
        "resolvers": t.resolvers,
    }
    for option, value in refuse.items():
        if value:
            raise Unsupported(
                f"the transport option {option!r} is not supported by rpc's upstream client",
                t.span or span,
            )
    if t.versions and "1.1" not in t.versions:
        raise Unsupported(
            "rpc talks HTTP/1.1 to upstreams; HTTP/2-only (h2c) or HTTP/3 transports are not "
            "supported",
            t.span or span,
            "remove `versions` (or the h2c:// scheme) to proxy over HTTP/1.1",
        )
    fields: dict[str, str | None] = {
        "dial_timeout": _secs(t.dial_timeout),
        "response_header_timeout": _secs(t.response_header_timeout),
        "read_timeout": _secs(t.read_timeout),
        "write_timeout": _secs(t.write_timeout),
        "max_conns_per_host": e.lit(t.max_conns_per_host) if t.max_conns_per_host else None,
        "compression": "False" if t.compression is False else None,
        "max_response_header_size": (
            e.lit(t.max_response_header_size) if t.max_response_header_size else None
        ),
    }
    ka = t.keep_alive
    if ka is not None:
        if ka.enabled is False:
            fields["keepalive"] = "False"
        fields["idle_timeout"] = _secs(ka.idle_timeout)
        fields["max_idle_conns"] = e.lit(ka.max_idle_conns) if ka.max_idle_conns else None
        fields["max_idle_conns_per_host"] = (
            e.lit(ka.max_idle_conns_per_host) if ka.max_idle_conns_per_host else None
        )
    tls = t.tls
    if tls is not None:
        if tls.client_certificate_automate or tls.ca:
            raise Unsupported(
                "automated client certificates and tls_trust_pool modules are not supported; "
                "use tls_client_auth <cert> <key> and tls_trusted_ca_certs",
                tls.span,
            )
        ctx_fields = {
            "root_ca_pem_files": e.lit(tls.root_ca_pem_files) if tls.root_ca_pem_files else None,
            "insecure_skip_verify": "True" if tls.insecure_skip_verify else None,
            "client_certificate_file": (
                e.lit(tls.client_certificate_file) if tls.client_certificate_file else None
            ),
            "client_certificate_key_file": (
                e.lit(tls.client_certificate_key_file) if tls.client_certificate_key_file else None
            ),
        }
        fields["tls"] = f"{e.rt('client_tls')}({e.kwargs(**ctx_fields)})"
        fields["tls_server_name"] = (
            e.text(tls.server_name, keep_unknown=False) if tls.server_name is not None else None
        )
        fields["tls_except_ports"] = e.lit(tls.except_ports) if tls.except_ports else None
        fields["tls_handshake_timeout"] = _secs(tls.handshake_timeout)
    return e.declare("tr", f"{e.rt('Transport')}({e.kwargs(**fields)})", origin)


# ---------------------------------------------------------------- health


def _active(e: Emitter, a: ActiveHealthChecks, tr: str | None, origin: str) -> str:
    headers = None
    if a.headers:
        headers = (
            "{"
            + ", ".join(f"{e.lit(k)}: {e.lit(tuple(v.raw for v in vs))}" for k, vs in a.headers)
            + "}"
        )
    fields = {
        "uri": e.lit(a.uri or a.path) if (a.uri or a.path) else None,
        "port": e.lit(a.port) if a.port else None,
        "upstream": e.lit(a.upstream) if a.upstream else None,
        "interval": _secs(a.interval),
        "timeout": _secs(a.timeout),
        "expect_status": e.lit(a.expect_status) if a.expect_status else None,
        "expect_body": regexp(e, a.expect_body, a.span) if a.expect_body else None,
        "headers": headers,
        "method": e.lit(a.method) if a.method else None,
        "body": e.lit(a.body) if a.body else None,
        "passes": e.lit(a.passes) if a.passes else None,
        "fails": e.lit(a.fails) if a.fails else None,
        "follow_redirects": "True" if a.follow_redirects else None,
        "max_size": e.lit(a.max_size) if a.max_size else None,
        "tls": f"{tr}.tls" if tr is not None else None,
        "tls_except_ports": f"{tr}.tls_except_ports" if tr is not None else None,
        # Health-check logs name the line; the block itself carries no span of its own.
        "origin": e.lit(a.origin or origin),
    }
    return f"lambda pool: {e.rt('ActiveHealthCheck')}(pool, {e.kwargs(**fields)})"


def _passive(e: Emitter, p: PassiveHealthChecks) -> str:
    fields = {
        "fail_duration": _secs(p.fail_duration) or "0.0",
        "max_fails": e.lit(p.max_fails) if p.max_fails else None,
        "unhealthy_status": e.lit(p.unhealthy_status) if p.unhealthy_status else None,
        "unhealthy_latency": _secs(p.unhealthy_latency),
        "unhealthy_request_count": (
            e.lit(p.unhealthy_request_count) if p.unhealthy_request_count else None
        ),
    }
    return f"{e.rt('PassiveHealth')}({e.kwargs(**fields)})"


# ---------------------------------------------------------------- the handler


@emits(ReverseProxy)
def reverse_proxy(e: Emitter, rc: RouteCompiler, h: ReverseProxy) -> str:
    if isinstance(h.transport, FastCGITransport):
        raise Unsupported(FASTCGI_REFUSAL, h.transport.span or h.span, FASTCGI_HINT)
    tr = transport(e, h.transport, h.origin, h.span)
    lb = h.load_balancing
    health = h.health_checks
    fields: dict[str, str | None] = {
        "upstreams": (
            "(" + "".join(e.text(u.dial, keep_unknown=False) + ", " for u in h.upstreams) + ")"
            if h.upstreams
            else None
        ),
        "dynamic_upstreams": (
            source(e, h.dynamic_upstreams) if h.dynamic_upstreams is not None else None
        ),
        "transport": tr,
    }
    if lb is not None:
        fields["selection_policy"] = (
            policy(e, lb.selection_policy) if lb.selection_policy is not None else None
        )
        fields["retries"] = e.lit(lb.retries) if lb.retries else None
        fields["try_duration"] = _secs(lb.try_duration)
        fields["try_interval"] = _secs(lb.try_interval)
        if lb.retry_match:
            checks = "".join(f"lambda ctx: ({rc.condition(ms)}), " for ms in lb.retry_match)
            fields["retry_match"] = f"({checks})"
    if health is not None:
        if health.active is not None:
            fields["active_health"] = _active(e, health.active, tr, h.origin)
        if health.passive is not None:
            fields["passive_health"] = _passive(e, health.passive)
    fields["flush_interval"] = _secs(h.flush_interval)
    if h.trusted_proxies:
        ips = e.std("ipaddress")
        nets = "".join(f"{ips}.ip_network({e.lit(r)}, strict=False), " for r in h.trusted_proxies)
        fields["trusted_proxies"] = f"({nets})"
    if h.request_headers is not None:
        fields["request_headers"] = header_ops(e, h.request_headers)
    down = h.response_headers
    if down is not None:
        fields["response_headers"] = header_ops(e, down.ops) if down.ops is not None else None
        fields["response_require"] = (
            response_matcher(e, down.require) if down.require is not None else None
        )
    fields["request_buffers"] = e.lit(h.request_buffers) if h.request_buffers else None
    fields["response_buffers"] = e.lit(h.response_buffers) if h.response_buffers else None
    fields["stream_timeout"] = _secs(h.stream_timeout)
    fields["stream_close_delay"] = _secs(h.stream_close_delay)
    fields["stream_buffer_size"] = e.lit(h.stream_buffer_size) if h.stream_buffer_size else None
    fields["rewrite_method"] = (
        e.text(h.rewrite_method, keep_unknown=False) if h.rewrite_method is not None else None
    )
    fields["rewrite_uri"] = (
        e.text(h.rewrite_uri, keep_unknown=False) if h.rewrite_uri is not None else None
    )
    if h.handle_response:
        entries = []
        for rh in h.handle_response:
            rfields: dict[str, str | None] = {
                "match": response_matcher(e, rh.match) if rh.match is not None else None,
                "status_code": (
                    e.text(rh.status_code, keep_unknown=False)
                    if rh.status_code is not None
                    else None
                ),
            }
            if rh.status_code is None:
                where = f" at {rh.origin}" if rh.origin else ""
                fn = rc.route_list(rh.routes, f"handle_response routes{where}.")
                # Route functions are defined after the module-level objects.
                rfields["routes"] = f"lambda ctx: {fn}(ctx)"
            entries.append(f"{e.rt('ResponseHandler')}({e.kwargs(**rfields)})")
        fields["handle_response"] = "(" + "".join(x + ", " for x in entries) + ")"
    fields["verbose_logs"] = "True" if h.verbose_logs else None
    fields["origin"] = e.lit(h.origin)
    return e.declare("h", f"{e.rt('ReverseProxy')}({e.kwargs(**fields)})", h.origin)


@emits(CopyResponse)
def copy_response(e: Emitter, _rc: RouteCompiler, h: CopyResponse) -> str:
    fields = {
        "status_code": (
            e.text(h.status_code, keep_unknown=False) if h.status_code is not None else None
        ),
        "origin": e.lit(h.origin),
    }
    return e.declare("h", f"{e.rt('CopyResponse')}({e.kwargs(**fields)})", h.origin)


@emits(CopyResponseHeaders)
def copy_response_headers(e: Emitter, _rc: RouteCompiler, h: CopyResponseHeaders) -> str:
    fields = {
        "include": e.lit(h.include) if h.include else None,
        "exclude": e.lit(h.exclude) if h.exclude else None,
        "origin": e.lit(h.origin),
    }
    return e.declare("h", f"{e.rt('CopyResponseHeaders')}({e.kwargs(**fields)})", h.origin)
