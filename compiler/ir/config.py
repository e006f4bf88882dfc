"""The IR root: Caddy's JSON config (admin, logging, storage, apps.http, apps.tls).

`Config` is what `lower` produces from a Document and what both back ends
read: `caddyjson` serialises it, `codegen` turns `http.servers` into the
generated module. Parts rpc only passes through to the JSON view (storage,
PKI, ACME automation) are typed too, so `rpc check` can reason about them.
"""

from __future__ import annotations

from dataclasses import dataclass

from rpc.compiler.ir.base import Duration, Node, jfield
from rpc.compiler.ir.logs import Logging, Module
from rpc.compiler.ir.routes import Route
from rpc.compiler.ir.tls import ConnectionPolicy, TLSApp

__all__ = [
    "PKICA",
    "Admin",
    "AutoHTTPS",
    "Config",
    "HTTPApp",
    "KeyPair",
    "PKIApp",
    "Server",
    "ServerLogs",
    "ServerMetrics",
    "Timeouts",
    "TrustedProxies",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoHTTPS(Node):
    """`automatic_https` of a server."""

    disable: bool = jfield(default=False)
    disable_redirects: bool = jfield(default=False)
    disable_certificates: bool = jfield(default=False)
    skip: tuple[str, ...] = jfield(default=())
    skip_certificates: tuple[str, ...] = jfield(default=())
    ignore_loaded_certificates: bool = jfield(default=False)
    prefer_wildcard: bool = jfield(default=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerLogs(Node):
    """`logs` of a server: which access loggers record which hosts."""

    default_logger_name: str = jfield(default="")
    logger_names: tuple[tuple[str, tuple[str, ...]], ...] = jfield(default=())
    skip_hosts: tuple[str, ...] = jfield(default=())
    skip_unmapped_hosts: bool = jfield(default=False)
    should_log_credentials: bool = jfield(default=False)
    trace: bool = jfield(default=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustedProxies(Node):
    """`trusted_proxies` of a server (the `static` source)."""

    source: str = jfield(default="static")
    ranges: tuple[str, ...] = jfield(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeouts(Node):
    """Server connection timeouts."""

    read_timeout: Duration | None = jfield(default=None)
    read_header_timeout: Duration | None = jfield(default=None)
    write_timeout: Duration | None = jfield(default=None)
    idle_timeout: Duration | None = jfield(default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerMetrics(Node):
    """`metrics` of the HTTP app (and, before hoisting, of a server)."""

    per_host: bool = jfield(default=False)
    observe_catchall_hosts: bool = jfield(default=False)
    otlp: bool = jfield(default=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class Server(Node):
    """One HTTP server: listener addresses and the routes serving them."""

    name: str = jfield(None)
    listen: tuple[str, ...] = jfield(default=())
    listener_wrappers: tuple[Module, ...] = jfield(default=())
    packet_conn_wrappers: tuple[Module, ...] = jfield(default=())
    timeouts: Timeouts | None = jfield(None, default=None)  # flattened into the JSON
    keepalive_interval: Duration | None = jfield(default=None)
    keepalive_idle: Duration | None = jfield(default=None)
    keepalive_count: int = jfield(default=0)
    max_header_bytes: int = jfield(default=0)
    enable_full_duplex: bool = jfield(default=False)
    routes: tuple[Route, ...] = jfield(default=())
    errors: tuple[Route, ...] = jfield(None, default=())  # JSON: {"errors": {"routes": [...]}}
    named_routes: tuple[tuple[str, Route], ...] = jfield(default=())
    tls_connection_policies: tuple[ConnectionPolicy, ...] = jfield(default=())
    automatic_https: AutoHTTPS | None = jfield(default=None)
    strict_sni_host: bool | None = jfield(default=None, keep_zero=True)
    trusted_proxies: TrustedProxies | None = jfield(default=None)
    client_ip_headers: tuple[str, ...] = jfield(default=())
    trusted_proxies_strict: int = jfield(default=0)
    trusted_proxies_unix: bool = jfield(default=False)
    logs: ServerLogs | None = jfield(default=None)
    listen_protocols: tuple[tuple[str, ...], ...] = jfield(default=())
    protocols: tuple[str, ...] = jfield(default=())
    allow_0rtt: bool | None = jfield(default=None, keep_zero=True)
    metrics: ServerMetrics | None = jfield(default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class HTTPApp(Node):
    """`apps.http`."""

    http_port: int = jfield(default=0)
    https_port: int = jfield(default=0)
    grace_period: Duration | None = jfield(default=None)
    shutdown_delay: Duration | None = jfield(default=None)
    metrics: ServerMetrics | None = jfield(default=None)
    servers: tuple[Server, ...] = jfield(None, default=())  # JSON: {"srv0": {...}, ...}


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyPair(Node):
    """A certificate and private key of a PKI CA, on disk."""

    certificate: str = jfield(default="")
    private_key: str = jfield(default="")
    format: str = jfield(default="")


@dataclass(frozen=True, slots=True, kw_only=True)
class PKICA(Node):
    """One certificate authority of the `pki` app (`local` unless named)."""

    id: str = jfield(None)  # the key in `certificate_authorities`
    name: str = jfield(default="")
    root_common_name: str = jfield(default="")
    intermediate_common_name: str = jfield(default="")
    intermediate_lifetime: Duration | None = jfield(default=None)
    install_trust: bool | None = jfield(default=None, keep_zero=True)
    root: KeyPair | None = jfield(default=None)
    intermediate: KeyPair | None = jfield(default=None)
    maintenance_interval: Duration | None = jfield(default=None)
    renewal_window_ratio: float = jfield(default=0.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class PKIApp(Node):
    """`apps.pki`: local certificate authorities (used by `tls internal`, `acme_server`)."""

    certificate_authorities: tuple[PKICA, ...] = jfield(None, default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class Admin(Node):
    """`admin`: Caddy's admin API; rpc serves its own admin endpoint from it."""

    disabled: bool = jfield(default=False)
    listen: str = jfield(default="")
    enforce_origin: bool = jfield(default=False)
    origins: tuple[str, ...] = jfield(default=())
    config_persist: bool | None = jfield(None, default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class Config(Node):
    """The whole configuration."""

    admin: Admin | None = jfield(default=None)
    logging: Logging | None = jfield(default=None)
    storage: Module | None = jfield(default=None)
    http: HTTPApp | None = jfield(None, default=None)
    tls: TLSApp | None = jfield(None, default=None)
    pki: PKIApp | None = jfield(None, default=None)
    # Apps rpc passes through: `events` (subscriptions) and `caddy.filesystems`.
    events: tuple[tuple[str, object], ...] | None = jfield(None, default=None)
    filesystems: tuple[tuple[str, object], ...] | None = jfield(None, default=None)
    # Global options rpc reads itself (order, debug, ...), as parsed.
    options: tuple[tuple[str, object], ...] = jfield(None, default=())
