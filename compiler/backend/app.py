"""The `APP = App(...)` expression: servers, listeners, TLS, logs, admin, timeouts.

Maps the IR's Caddy-shaped config onto the runtime's app spec
(docs/dev/runtime.md, "Server and app spec"),  with the certificate
plan of `rpc.compiler.certplan` (rpc cannot run ACME; an app whose plan needs
it refuses to start and says why).
"""

from __future__ import annotations

from rpc.compiler.backend.emit import Emitter, Unsupported
from rpc.compiler.backend.routes import RouteCompiler, server_route
from rpc.compiler.certplan import CertFile, certificate_plan, server_hosts, uses_tls
from rpc.compiler.directives.matchers import PRIVATE_RANGES
from rpc.compiler.ir.config import Config, Server
from rpc.compiler.ir.logs import Logger
from rpc.compiler.ir.routes import Route

__all__ = ["app_expr"]


def _seconds(d: object) -> str:
    ns = getattr(d, "ns", None)
    return repr(ns / 1e9) if ns is not None else "None"


def app_expr(e: Emitter, rc: RouteCompiler, config: Config, version: str) -> str:
    """Render the whole `App(...)` expression (compiling every route list on the way);
    `version` is the expression for its version text."""
    http = config.http
    if http is None or not http.servers:
        raise Unsupported("the Caddyfile defines no site to serve")
    # Named routes may invoke each other (even in a cycle): names first, then bodies.
    bodies: list[tuple[str, Route]] = []
    for server in http.servers:
        for name, route in server.named_routes:
            if name not in rc.named:
                rc.named[name] = e.name("r")
                bodies.append((name, route))
    for name, route in bodies:
        rc.route_list((route,), f"The named route &({name}).", rc.named[name])
    servers = []
    plan = certificate_plan(config)
    for server in http.servers:
        if not server.listen:
            continue  # Caddy's JSON can hold a server without listeners; it serves nothing
        entry = server_route(
            rc, server.routes, f"Requests to {server.name} ({', '.join(server.listen)})."
        )
        errors = (
            rc.route_list(server.errors, f"Error routes of {server.name}.")
            if server.errors
            else None
        )
        servers.append(_server(e, server, entry, errors, uses_tls(server, config)))
    app = e.rt("App")
    tls_fields = {
        "certificates": _certificates(e, plan.files) if plan.files else None,
        "internal": e.lit(plan.internal),
        "acme": e.lit(plan.acme),
    }
    fields = {
        "servers": f"({', '.join(servers)},)",
        "tls": f"{e.rt('TLSConfig')}({e.kwargs(**tls_fields)})",
        "metrics": _metrics(e, config),
        "logs": _logs(e, config),
        "grace_period": _seconds(http.grace_period),
        "shutdown_delay": _seconds(http.shutdown_delay) if http.shutdown_delay else None,
        "http_port": e.lit(http.http_port) if http.http_port else None,
        "https_port": e.lit(http.https_port) if http.https_port else None,
        "admin": _admin(e, config),
        "version": version,
    }
    return f"{app}({e.kwargs(**fields)})"


def _certificates(e: Emitter, certs: tuple[CertFile, ...]) -> str:
    items = [
        f"{e.rt('Certificate')}({e.lit(c)}, {e.lit(k)}" + (f", hosts={e.lit(h)})" if h else ")")
        for c, k, h in certs
    ]
    return f"({', '.join(items)},)"


def _metrics(e: Emitter, config: Config) -> str | None:
    http = config.http
    if http is None or http.metrics is None:
        return None
    hosts = sorted({h for server in http.servers for h in server_hosts(server)})
    fields = {
        "per_host": "True" if http.metrics.per_host else None,
        "hosts": f"frozenset({e.lit(tuple(hosts))})" if hosts else None,
        "observe_catchall_hosts": "True" if http.metrics.observe_catchall_hosts else None,
    }
    return f"{e.rt('MetricsConfig')}({e.kwargs(**fields)})"


def _server(e: Emitter, s: Server, route: str, errors: str | None, tls: bool) -> str:
    for wrapper in s.listener_wrappers:
        # http_redirect and tls describe what the runtime does anyway; PROXY protocol
        # headers it cannot read, and serving without them would misattribute clients.
        if wrapper.module not in ("http_redirect", "tls"):
            raise Unsupported(
                f"the {wrapper.module} listener wrapper is not supported by rpc",
                s.span,
                "remove it from `servers { listener_wrappers }`, or terminate it in front of rpc",
            )
    ranges = s.trusted_proxies.ranges if s.trusted_proxies is not None else ()
    networks = []
    for r in ranges:
        for one in PRIVATE_RANGES if r == "private_ranges" else (r,):
            networks.append(f"{e.std('ipaddress')}.ip_network({e.lit(one)}, strict=False)")
    fields = {
        "name": e.lit(s.name),
        "listen": e.lit(s.listen),
        "route": route,
        "errors": errors,
        "tls": "True" if tls else None,
        "trusted_proxies": f"({', '.join(networks)},)" if networks else None,
        "client_ip_headers": e.lit(s.client_ip_headers) if s.client_ip_headers else None,
        "trusted_proxies_strict": "True" if s.trusted_proxies_strict else None,
        "timeouts": _timeouts(e, s),
        "max_header_bytes": e.lit(s.max_header_bytes) if s.max_header_bytes else None,
        "logs": _server_logs(e, s),
        "origin": e.lit(s.origin) if s.origin else None,
    }
    return f"{e.rt('ServerConfig')}({e.kwargs(**fields)})"


def _timeouts(e: Emitter, s: Server) -> str | None:
    t = s.timeouts
    if t is None:
        return None
    fields = {
        name: _seconds(getattr(t, name))
        for name in ("read_timeout", "read_header_timeout", "write_timeout", "idle_timeout")
        if getattr(t, name) is not None
    }
    return f"{e.rt('Timeouts')}({e.kwargs(**fields)})"


def _server_logs(e: Emitter, s: Server) -> str | None:
    logs = s.logs
    if logs is None:
        return None
    names = "{" + ", ".join(f"{e.lit(h)}: {e.lit(n)}" for h, n in logs.logger_names) + "}"
    fields = {
        "logger_names": names,
        "default_logger_name": e.lit(logs.default_logger_name)
        if logs.default_logger_name
        else None,
        "skip_hosts": e.lit(logs.skip_hosts) if logs.skip_hosts else None,
        "skip_unmapped_hosts": "True" if logs.skip_unmapped_hosts else None,
        "should_log_credentials": "True" if logs.should_log_credentials else None,
    }
    return f"{e.rt('ServerLogs')}({e.kwargs(**fields)})"


def _logs(e: Emitter, config: Config) -> str | None:
    if config.logging is None:
        return None
    out = [_log(e, lg) for lg in config.logging.logs]
    return f"({', '.join(out)},)" if out else None


def _log(e: Emitter, lg: Logger) -> str:
    writer = lg.writer
    output = writer.module if writer is not None else "stderr"
    filename = None
    if writer is not None and output == "file":
        filename = dict(writer.settings).get("filename")
    encoder = lg.encoder.module if lg.encoder is not None else "json"
    if output not in ("stdout", "stderr", "discard", "file"):
        raise Unsupported(f"log output {output!r} is not supported by rpc", lg.span)
    if encoder not in ("json", "console"):
        raise Unsupported(
            f"log format {encoder!r} is not supported by rpc",
            lg.span,
            "use `format json` or `format console`",
        )
    fields = {
        "name": e.lit(lg.name),
        "output": e.lit(output),
        "filename": e.lit(str(filename)) if filename else None,
        "format": e.lit(encoder),
        "level": e.lit(lg.level) if lg.level else None,
        "include": e.lit(lg.include) if lg.include else None,
        "exclude": e.lit(lg.exclude) if lg.exclude else None,
    }
    return f"{e.rt('Log')}({e.kwargs(**fields)})"


def _admin(e: Emitter, config: Config) -> str | None:
    admin = config.admin
    if admin is None:
        return None  # Caddy listens on localhost:2019 by default; rpc only when asked
    if admin.disabled:
        return None
    return e.lit(admin.listen or "localhost:2019")
