"""The app spec a generated module builds and hands to `main()`.

Input: literal values the compiler computed from a Caddyfile (already parsed:
seconds, bytes, networks, compiled route functions); output: small frozen,
validated objects mirroring Caddy's JSON — `apps.http.servers` (`ServerConfig`),
the `tls` app (`TLSConfig`), the `logging` app (`Log`), the `admin` endpoint
and the HTTP app's global options (`App`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from rpc.runtime.typedefs import Route

__all__ = [
    "App",
    "Certificate",
    "IPNetwork",
    "Log",
    "MetricsConfig",
    "ServerConfig",
    "ServerLogs",
    "TLSConfig",
    "Timeouts",
]

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_OUTPUTS = ("stdout", "stderr", "discard", "file")
_FORMATS = ("json", "console")
_LEVELS = ("DEBUG", "INFO", "WARN", "WARNING", "ERROR", "PANIC", "FATAL")


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Server timeouts in seconds; None disables one. Names are Caddy's JSON fields.

    Caddyfile `timeouts { read_body read_header write idle }` map to
    `read_timeout`, `read_header_timeout`, `write_timeout`, `idle_timeout`.
    Defaults are Caddy 2.11's: 1 min to read request headers, 5 min idle
    keep-alive, no body-read or write limit.
    """

    read_timeout: float | None = None
    read_header_timeout: float | None = 60.0
    write_timeout: float | None = None
    idle_timeout: float | None = 300.0

    def __post_init__(self) -> None:
        for name in ("read_timeout", "read_header_timeout", "write_timeout", "idle_timeout"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"timeout {name} must be positive or None, got {value!r}")


@dataclass(frozen=True, slots=True)
class ServerLogs:
    """Access logging of one server (Caddy's `servers.*.logs`); its presence turns logs on.

    `logger_names` maps a request host (no port) to the names of the logs its
    entries go to (`http.log.access.<name>`); unmapped hosts log to
    `http.log.access.<default_logger_name>` (plain `http.log.access` when
    empty) unless `skip_unmapped_hosts`. `skip_hosts` may hold wildcards.
    """

    logger_names: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default_logger_name: str = ""
    skip_hosts: tuple[str, ...] = ()
    skip_unmapped_hosts: bool = False
    should_log_credentials: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "logger_names", MappingProxyType(dict(self.logger_names)))


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """One HTTP server (Caddy's `apps.http.servers.<name>`); `ctx.server` points to it.

    `route` handles every request (its `None` means Caddy's empty 200);
    `errors` runs when a handler raises `HandlerError`. `tls` serves the
    listeners over TLS (except one on the app's `http_port`, as Caddy does).
    `trusted_proxies` are the peers whose `client_ip_headers` are believed.
    `max_header_bytes` (Caddyfile `max_header_size`) caps the request line and each header line (bytes);
    None keeps aiohttp's 8190-byte limits.
    """

    name: str
    listen: tuple[str, ...]
    route: Route
    errors: Route | None = None
    tls: bool = False
    trusted_proxies: tuple[IPNetwork, ...] = ()
    client_ip_headers: tuple[str, ...] = ("X-Forwarded-For",)
    trusted_proxies_strict: bool = False
    timeouts: Timeouts = Timeouts()
    max_header_bytes: int | None = None
    logs: ServerLogs | None = None
    origin: str = ""

    def __post_init__(self) -> None:
        if not self.listen:
            raise ValueError(f"server {self.name}: no listen address")
        if self.max_header_bytes is not None and self.max_header_bytes < 1024:
            raise ValueError(f"server {self.name}: max_header_bytes below 1024 bytes")
        if not self.client_ip_headers:
            object.__setattr__(self, "client_ip_headers", ("X-Forwarded-For",))


@dataclass(frozen=True, slots=True)
class Log:
    """One named log of Caddy's `logging.logs` (a `log` block, global or per site).

    `output`: stdout, stderr, discard or file (with `filename`, created with
    `mode`); `format`: json or console; `include`/`exclude`: logger-name
    namespaces (`http.log.access.log0`), Caddy's longest-match rule.
    """

    name: str = "default"
    output: str = "stderr"
    filename: str | None = None
    format: str = "json"
    level: str = "INFO"
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    mode: int = 0o600

    def __post_init__(self) -> None:
        if self.output not in _OUTPUTS:
            raise ValueError(f"log {self.name}: output must be one of {_OUTPUTS}")
        if (self.output == "file") != (self.filename is not None):
            raise ValueError(f"log {self.name}: filename goes with output 'file' only")
        if self.format not in _FORMATS:
            raise ValueError(f"log {self.name}: format must be one of {_FORMATS}")
        if self.level.upper() not in _LEVELS:
            raise ValueError(f"log {self.name}: unknown level {self.level!r}")


@dataclass(frozen=True, slots=True)
class Certificate:
    """A certificate and key loaded from PEM files (`tls <cert> <key>`).

    `hosts` are the names (SNI, wildcards allowed) it is served for; empty
    makes it the certificate for every name without a better match.
    """

    cert_file: str
    key_file: str
    hosts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TLSConfig:
    """Certificates for the TLS servers (Caddy's `tls` app, minus ACME).

    `internal` hosts get leaf certificates from a local CA (`tls internal`)
    kept under `data_dir` (default `$XDG_DATA_HOME/rpc`, or `--data-dir`).
    `acme` lists the hosts for which Caddy would obtain a publicly trusted
    certificate: rpc cannot (no ACME), so the app refuses to start and says
    how to choose `tls internal`, certificate files or plain http.
    """

    certificates: tuple[Certificate, ...] = ()
    internal: tuple[str, ...] = ()
    acme: tuple[str, ...] = ()
    data_dir: str | None = None


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """The global `metrics` option: HTTP metrics are collected only when it is set.

    With `per_host`, a `host` label is added; hosts outside `hosts` (the
    configured site names) are counted as `_other` unless
    `observe_catchall_hosts`, so a client cannot mint label values.
    """

    per_host: bool = False
    hosts: frozenset[str] = frozenset()
    observe_catchall_hosts: bool = False


@dataclass(frozen=True, slots=True)
class App:
    """Everything `python app.py` serves.

    `grace_period` None waits for in-flight requests forever on shutdown
    (Caddy's default); `shutdown_delay` keeps serving that long after the
    signal first. `admin` is the admin endpoint address (`localhost:2019`
    in Caddy) or None for `admin off`. `version` describes the generated
    module for `--version`.
    """

    servers: tuple[ServerConfig, ...]
    tls: TLSConfig = TLSConfig()
    logs: tuple[Log, ...] = ()
    grace_period: float | None = None
    shutdown_delay: float = 0.0
    http_port: int = 80
    https_port: int = 443
    admin: str | None = None
    metrics: MetricsConfig | None = None
    version: str = ""

    def __post_init__(self) -> None:
        names = [server.name for server in self.servers]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate server names: {names}")
        if self.grace_period is not None and self.grace_period < 0:
            raise ValueError("grace_period must not be negative")
        if self.shutdown_delay < 0:
            raise ValueError("shutdown_delay must not be negative")
        log_names = [log.name for log in self.logs]
        if len(set(log_names)) != len(log_names):
            raise ValueError(f"duplicate log names: {log_names}")
