"""Servers and options → the `Config` root (Caddy's `buildApps` in `httptype.go`).

The HTTP app gets the servers and the port/shutdown options; logging gets the
default logger's level from `debug` and every access logger sites defined;
TLS gets what `tls` directives and options asked for.
"""

from __future__ import annotations

from rpc.compiler.directives.helper import Lowering
from rpc.compiler.ir.base import Duration
from rpc.compiler.ir.config import Admin, Config, HTTPApp, Server
from rpc.compiler.ir.logs import Logger, Logging, SiteLog
from rpc.compiler.servers import Pairing

__all__ = ["build"]

DEFAULT_LOGGER = "default"


def build(servers: list[Server], pairings: list[Pairing], lowering: Lowering) -> Config:
    options = lowering.options
    http = HTTPApp(
        http_port=options.get("http_port", 0),
        https_port=options.get("https_port", 0),
        grace_period=_duration(options.get("grace_period")),
        shutdown_delay=_duration(options.get("shutdown_delay")),
        servers=tuple(servers),
    )
    admin = options.get("admin")
    return Config(
        admin=admin if isinstance(admin, Admin) else None,
        logging=_logging(pairings, lowering),
        http=http if http != HTTPApp() else None,
        options=tuple(sorted(options.items())),
    )


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
            from dataclasses import replace

            logger = replace(logger, level="DEBUG")
        loggers[ncl.name] = logger
        if ncl.name != DEFAULT_LOGGER and logger.include:
            from dataclasses import replace

            base = loggers.get(DEFAULT_LOGGER, Logger(name=DEFAULT_LOGGER))
            loggers[DEFAULT_LOGGER] = replace(
                base, exclude=tuple(sorted(set(base.exclude) | set(logger.include)))
            )
    if not loggers:
        return None
    ordered = [loggers.pop(DEFAULT_LOGGER)] if DEFAULT_LOGGER in loggers else []
    ordered.extend(loggers.values())
    return Logging(logs=tuple(ordered))
