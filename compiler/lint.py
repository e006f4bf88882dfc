"""Warnings a careful reviewer would raise about a valid config (`rpc check`).

Each rule is a small function over the IR, listed in `RULES`; they report
through the shared `Diagnostics` with a code, the span of the offending
directive and a hint. Nothing here changes the config.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from rpc.compiler import placeholders
from rpc.compiler.certplan import certificate_plan
from rpc.compiler.errors import Diagnostics
from rpc.compiler.ir.config import Config
from rpc.compiler.ir.handlers import StaticError, StaticResponse
from rpc.compiler.ir.matchers import MatchHost, MatchMethod, MatchPath
from rpc.compiler.ir.proxy import CookieHash, ReverseProxy
from rpc.compiler.ir.routes import Handler, Route
from rpc.compiler.source import Span
from rpc.compiler.walk import nodes, route_lists, texts

__all__ = ["RULES", "lint"]

Rule = Callable[[Config, Diagnostics], None]


def _proxies(config: Config) -> Iterator[ReverseProxy]:
    if config.http is None:
        return
    for server in config.http.servers:
        for n in nodes(server):
            if isinstance(n, ReverseProxy):
                yield n


def _policies(p: ReverseProxy) -> Iterator[object]:
    policy = p.load_balancing.selection_policy if p.load_balancing else None
    while policy is not None:
        yield policy
        policy = getattr(policy, "fallback", None)


def dynamic_health_checks(config: Config, diags: Diagnostics) -> None:
    """RPC404: active health checks never run for dynamic or placeholder upstreams."""
    for p in _proxies(config):
        if p.health_checks is None or p.health_checks.active is None:
            continue
        if p.dynamic_upstreams is not None:
            diags.warn(
                "RPC404",
                "active health checks are configured but never run for dynamic upstreams",
                p.span,
                "use passive health checks (fail_duration, max_fails) with dynamic upstreams",
            )
        for up in p.upstreams:
            if not up.dial.is_constant:
                diags.warn(
                    "RPC404",
                    f"active health checks never run for the placeholder upstream {up.dial.raw}",
                    up.span or p.span,
                    "use passive health checks (fail_duration, max_fails) for these upstreams",
                )


def public_certificates(config: Config, diags: Diagnostics) -> None:
    """RPC411: a site would need a public certificate (ACME), which rpc cannot obtain."""
    acme = certificate_plan(config).acme
    if not acme or config.http is None:
        return
    spans: dict[str, Span | None] = {}
    for server in config.http.servers:
        for n in nodes(server):
            if isinstance(n, MatchHost):
                for h in n.hosts:
                    spans.setdefault(h.raw, n.span)
    for host in acme:
        diags.warn(
            "RPC411",
            f"site {host} would need a publicly trusted certificate (Caddy gets one through "
            "ACME); rpc cannot obtain it, so the compiled app refuses to start",
            spans.get(host),
            f"use `tls internal`, `tls <cert.pem> <key.pem>`, or serve http://{host}",
        )


def busy_retry_loop(config: Config, diags: Diagnostics) -> None:
    """RPC405: `lb_try_interval 0` with `lb_try_duration` retries in a tight loop."""
    for p in _proxies(config):
        lb = p.load_balancing
        if lb is None or not lb.try_duration:
            continue
        if lb.try_interval is not None and lb.try_interval.ns == 0:
            diags.warn(
                "RPC405",
                "lb_try_interval 0 with lb_try_duration retries without pause while all "
                "upstreams are down, burning CPU",
                p.span,
                "remove lb_try_interval to get the 250ms default, or set a small positive interval",
            )


def cookie_without_secret(config: Config, diags: Diagnostics) -> None:
    """RPC406: sticky cookies without a secret are an HMAC of the upstream address with an empty key."""
    for p in _proxies(config):
        for policy in _policies(p):
            if isinstance(policy, CookieHash) and not policy.secret:
                diags.warn(
                    "RPC406",
                    "lb_policy cookie without a secret: the cookie value is an HMAC with an "
                    "empty key, so clients can compute it for any upstream",
                    policy.span or p.span,
                    "add a secret: `lb_policy cookie lb <secret>`",
                )


def insecure_upstream_tls(config: Config, diags: Diagnostics) -> None:
    """RPC407: `tls_insecure_skip_verify` accepts any certificate from the upstream."""
    for p in _proxies(config):
        t = p.transport
        tls = getattr(t, "tls", None)
        if tls is not None and tls.insecure_skip_verify:
            diags.warn(
                "RPC407",
                "tls_insecure_skip_verify disables certificate checks of the upstream: a "
                "machine-in-the-middle can read and change proxied traffic",
                t.span if t is not None and t.span else p.span,
                "trust the upstream's CA with tls_trusted_ca_certs or tls_trust_pool instead",
            )


def _route_methods(route: Route) -> set[str] | None:
    """Methods a route can match (None: any)."""
    if len(route.match) != 1:
        return None
    m = route.match[0].get("method")
    return {x.upper() for x in m.methods} if isinstance(m, MatchMethod) else None


def retries_that_never_apply(config: Config, diags: Diagnostics) -> None:
    """RPC408: without lb_retry_match, failures after a connection are retried for GET only."""
    for rl in route_lists(config):
        for route in rl.routes:
            methods = _route_methods(route)
            if methods is None or "GET" in methods:
                continue
            for h in route.handle:
                if not isinstance(h, ReverseProxy) or h.load_balancing is None:
                    continue
                lb = h.load_balancing
                if (lb.retries or lb.try_duration) and not lb.retry_match:
                    diags.warn(
                        "RPC408",
                        f"retries are configured but this route only matches "
                        f"{', '.join(sorted(methods))}: after a connection is made, only GET "
                        "requests are retried, so only dial errors will be",
                        h.span,
                        "add `lb_retry_match { method " + " ".join(sorted(methods)) + " }` if "
                        "these requests are safe to repeat",
                    )


_RESPONDERS = (StaticResponse, StaticError, ReverseProxy)


def _always_responds(h: Handler) -> bool:
    if isinstance(h, ReverseProxy):
        return not h.handle_response  # handle_response may fall through (forward_auth)
    return isinstance(h, _RESPONDERS)


def unreachable_routes(config: Config, diags: Diagnostics) -> None:
    """RPC402: handlers or routes after an unconditional responder never run."""
    for rl in route_lists(config):
        for route in rl.routes:
            for k, h in enumerate(route.handle[:-1]):
                if _always_responds(h):
                    after = route.handle[k + 1]
                    diags.warn(
                        "RPC402",
                        "this handler can never run: an earlier handler in the same route "
                        "always responds",
                        after.span,
                        f"the handler at {h.origin or 'an earlier line'} answers every request "
                        "this route matches",
                    )
                    break
        if rl.kind == "server":
            continue
        for i, route in enumerate(rl.routes):
            if route.match or route.group:
                continue
            if not any(_always_responds(h) for h in route.handle):
                continue
            later = [r for r in rl.routes[i + 1 :] if r.handle]
            if later:
                first = later[0]
                diags.warn(
                    "RPC402",
                    "this route can never run: an earlier route in the same block always responds",
                    first.span or (first.handle[0].span if first.handle else None),
                    f"the route at {route.origin or 'an earlier line'} answers every request; "
                    "give it a matcher, or move this one before it",
                )
            break


def _prefix(route: Route) -> str | None:
    if len(route.match) != 1 or len(route.match[0].matchers) != 1:
        return None
    m = route.match[0].matchers[0]
    if isinstance(m, MatchPath) and len(m.patterns) == 1 and m.patterns[0].is_constant:
        p = m.patterns[0].constant
        if p.endswith("*") and p.count("*") == 1:
            return p[:-1].lower()
    return None


def shadowed_handles(config: Config, diags: Diagnostics) -> None:
    """RPC413: in a `handle` group only the first match runs; a broader earlier one hides later ones."""
    for rl in route_lists(config):
        groups: dict[str, list[Route]] = {}
        for route in rl.routes:
            if route.group and route.directive == "handle":
                groups.setdefault(route.group, []).append(route)
        for routes in groups.values():
            for j, later in enumerate(routes):
                for earlier in routes[:j]:
                    broad = not earlier.match
                    ep, lp = _prefix(earlier), _prefix(later)
                    if not broad and not (ep is not None and lp is not None and lp.startswith(ep)):
                        continue
                    diags.warn(
                        "RPC413",
                        "this handle block never runs: an earlier handle in the same group "
                        "matches every request it would",
                        later.span,
                        f"the handle at {earlier.origin or 'an earlier line'} is broader; use "
                        "`route` to keep written order, or narrow the earlier matcher",
                    )
                    break


def exact_paths(config: Config, diags: Diagnostics) -> None:
    """RPC403: `handle /api` matches only `/api` itself, rarely what was meant."""
    for rl in route_lists(config):
        for route in rl.routes:
            if len(route.match) != 1 or route.directive not in ("handle", "reverse_proxy", "route"):
                continue
            m = route.match[0].get("path")
            if not isinstance(m, MatchPath):
                continue
            for p in m.patterns:
                raw = p.raw
                last = raw.rstrip("/").rsplit("/", 1)[-1]
                if raw != "/" and "*" not in raw and "." not in last and "{" not in raw:
                    diags.warn(
                        "RPC403",
                        f"path matcher {raw} matches only the exact path {raw}, not "
                        f"{raw.rstrip('/')}/anything",
                        m.span or route.span,
                        f"did you mean `{raw.rstrip('/')}/*` (the subtree) or "
                        f"`{raw.rstrip('/')}*` (anything starting with it)?",
                    )


def _looks_like_placeholder(key: str) -> bool:
    """Braces around JSON or prose (`{"a": 1}`) are text: names have no quotes or spaces."""
    return bool(key) and not any(c in key for c in " \t\n\"'")


def unknown_placeholders(config: Config, diags: Diagnostics) -> None:
    """RPC401: `{names}` no placeholder provider knows (typos stay literal or become empty)."""
    if config.http is None:
        return
    seen: set[tuple[str, object]] = set()
    for server in config.http.servers:
        for n in nodes(server):
            for t in texts(n):
                for key in placeholders.unknown_keys(t.raw):
                    if key.startswith(("args", "block")) or not _looks_like_placeholder(key):
                        continue
                    mark = (key, n.span)
                    if mark in seen:
                        continue
                    seen.add(mark)
                    diags.warn(
                        "RPC401",
                        f"unknown placeholder {{{key}}}",
                        n.span,
                        "see docs/placeholders.md for the placeholders rpc knows",
                    )


RULES: tuple[Rule, ...] = (
    unknown_placeholders,
    unreachable_routes,
    shadowed_handles,
    exact_paths,
    dynamic_health_checks,
    public_certificates,
    busy_retry_loop,
    cookie_without_secret,
    insecure_upstream_tls,
    retries_that_never_apply,
)


def lint(config: Config, diags: Diagnostics) -> None:
    """Run every rule; warnings go into `diags`."""
    for rule in RULES:
        rule(config, diags)
