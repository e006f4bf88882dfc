"""Servers and options → the `Config` root (Caddy's `buildApps` in `httptype.go`).

The HTTP app gets the servers and the port/shutdown options; logging gets the
default logger's level from `debug` and every access logger sites defined;
TLS gets what `tls` directives and options asked for.
"""

from __future__ import annotations

from dataclasses import replace

from rpc.compiler.directives.helper import Lowering
from rpc.compiler.ir.base import Duration
from rpc.compiler.ir.config import PKICA, Admin, Config, HTTPApp, PKIApp, Server, ServerMetrics
from rpc.compiler.ir.logs import Logger, Logging, Module, SiteLog
from rpc.compiler.servers import Pairing
from rpc.compiler.tlsapp import build_tls

__all__ = ["build"]

DEFAULT_LOGGER = "default"
DEFAULT_CA = "local"


def build(servers: list[Server], pairings: list[Pairing], lowering: Lowering) -> Config:
    options = lowering.options
    servers, metrics = _hoist_metrics(servers, options.get("metrics"))
    http = HTTPApp(
        http_port=options.get("http_port", 0),
        https_port=options.get("https_port", 0),
        grace_period=_duration(options.get("grace_period")),
        shutdown_delay=_duration(options.get("shutdown_delay")),
        metrics=metrics,
        servers=tuple(servers),
    )
    admin = options.get("admin")
    if not isinstance(admin, Admin):
        admin = None
    if options.get("persist_config") == "off":
        admin = replace(admin or Admin(), config_persist=False)
    storage = options.get("storage")
    return Config(
        admin=admin,
        logging=_logging(pairings, lowering),
        storage=storage if isinstance(storage, Module) else None,
        http=http if servers else None,
        tls=build_tls(pairings, lowering),
        pki=_pki(pairings, lowering),
        options=tuple(sorted(options.items(), key=lambda kv: kv[0])),
    )


def _pki(pairings: list[Pairing], lowering: Lowering) -> PKIApp | None:
    """`buildPKIApp`: CAs of the `pki` option and of sites; `skip_install_trust` on each."""
    skip_trust = "skip_install_trust" in lowering.options
    cas: dict[str, PKICA] = dict(lowering.options.get("pki") or {})
    for p in pairings:
        for site in p.sites:
            for v in site.pile.get("pki.ca", []):
                cas.setdefault(v.value.id, v.value)
    if not cas and skip_trust:
        cas[DEFAULT_CA] = PKICA(id=DEFAULT_CA)
    if skip_trust:
        cas = {k: replace(ca, install_trust=False) for k, ca in cas.items()}
    return PKIApp(certificate_authorities=tuple(cas.values())) if cas else None


def _hoist_metrics(
    servers: list[Server], metrics: ServerMetrics | None
) -> tuple[list[Server], ServerMetrics | None]:
    """Metrics of a server (deprecated `servers { metrics }`) become the HTTP app's."""
    out = []
    for server in servers:
        if server.metrics is not None:
            per_host = server.metrics.per_host or (metrics is not None and metrics.per_host)
            base = metrics or ServerMetrics()
            metrics = replace(base, per_host=per_host, span=None)
            server = replace(server, metrics=None)
        out.append(server)
    return out, metrics


def _duration(value: object) -> Duration | None:
    return value if isinstance(value, Duration) else None


def _logging(pairings: list[Pairing], lowering: Lowering) -> Logging | None:
    debug = "debug" in lowering.options
    logs: list[SiteLog] = [v for v in lowering.options.get("log", [])]
    for p in pairings:
        for site in p.sites:
            logs.extend(v.value for v in site.pile.get("custom_log", []))
    loggers: dict[str, Logger] = {}
    has_default = any(ncl.name == DEFAULT_LOGGER for ncl in logs)
    if debug and not has_default:
        loggers[DEFAULT_LOGGER] = Logger(name=DEFAULT_LOGGER, level="DEBUG")
    for ncl in logs:
        if not ncl.name or ncl.logger is None:
            continue
        logger = ncl.logger
        if debug and not logger.level:
            logger = replace(logger, level="DEBUG")
        loggers[ncl.name] = logger
        if ncl.name != DEFAULT_LOGGER and logger.include:
            base = loggers.get(DEFAULT_LOGGER, Logger(name=DEFAULT_LOGGER))
            loggers[DEFAULT_LOGGER] = replace(
                base, exclude=tuple(sorted(set(base.exclude) | set(logger.include)))
            )
    if not loggers:
        return None
    ordered = [loggers.pop(DEFAULT_LOGGER)] if DEFAULT_LOGGER in loggers else []
    ordered.extend(loggers.values())
    return Logging(logs=tuple(ordered))
