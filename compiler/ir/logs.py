"""Logging: named loggers, their writers and encoders (Caddy's top-level `logging`).

Access logs of a site (`log` directive) and the global `log` option both land
here; `Server.logs` maps hosts to logger names.
"""

from __future__ import annotations

from dataclasses import dataclass

from rpc.compiler.ir.base import Node, jfield

__all__ = ["Logger", "Logging", "Module", "SiteLog"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Module(Node):
    """A pluggable piece (writer, encoder, filter) named by its module and settings."""

    module: str = jfield(None)  # the JSON tag key differs per kind: output/format/filter
    tag: str = jfield(None, default="")  # "output", "format", "filter", ...
    settings: tuple[tuple[str, object], ...] = jfield(None, default=())  # flattened


@dataclass(frozen=True, slots=True, kw_only=True)
class Logger(Node):
    """One entry of `logging.logs`."""

    name: str = jfield(None)
    writer: Module | None = jfield(default=None)
    encoder: Module | None = jfield(default=None)
    level: str = jfield(default="")
    sampling: tuple[tuple[str, object], ...] = jfield(None, default=())
    include: tuple[str, ...] = jfield(default=())
    exclude: tuple[str, ...] = jfield(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class Logging(Node):
    """`logging`: every configured logger by name."""

    logs: tuple[Logger, ...] = jfield(None, default=())  # JSON: {"logs": {name: {...}}}
    sink: tuple[tuple[str, object], ...] = jfield(None, default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class SiteLog(Node):
    """A `log` directive of a site: the logger it defines and the hosts it covers."""

    name: str = jfield(None)
    hostnames: tuple[str, ...] = jfield(None, default=())
    logger: Logger | None = jfield(None, default=None)
    no_hostname: bool = jfield(None, default=False)
