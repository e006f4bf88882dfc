"""Logging: named loggers, their writers and encoders (Caddy's top-level `logging`).

Access logs of a site (`log` directive) and the global `log` option both land
here; `Server.logs` maps hosts to logger names. Writers, encoders, cores and
field filters are Caddy modules rpc mostly passes through to the JSON view:
`Module` names one by its type key (`output`, `format`, `filter`, ...) and
keeps its settings as JSON values; `Obj` is a plain JSON object inside them.
"""

from __future__ import annotations

from dataclasses import dataclass

from rpc.compiler.ir.base import Node, jfield

__all__ = ["Logger", "Logging", "Module", "Obj", "Sampling", "SiteLog"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Module(Node):
    """A pluggable piece (writer, encoder, filter) named by its module and settings."""

    module: str = jfield(None)  # the JSON tag key differs per kind: output/format/filter
    tag: str = jfield(None, default="")  # "output", "format", "filter", ...
    settings: tuple[tuple[str, object], ...] = jfield(None, default=())  # flattened

    def get(self, key: str, default: object = None) -> object:
        """One setting's value."""
        for k, v in self.settings:
            if k == key:
                return v
        return default


@dataclass(frozen=True, slots=True, kw_only=True)
class Obj(Node):
    """A plain JSON object (keys in written order) inside a module's settings."""

    items: tuple[tuple[str, object], ...] = jfield(None, default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class Sampling(Node):
    """`sampling` of a logger: keep `first` entries per `interval`, then every `thereafter`."""

    interval: int = jfield(default=0)  # nanoseconds (Go time.Duration)
    first: int = jfield(default=0)
    thereafter: int = jfield(default=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Logger(Node):
    """One entry of `logging.logs`."""

    name: str = jfield(None)
    writer: Module | None = jfield(default=None)
    encoder: Module | None = jfield(default=None)
    core: Module | None = jfield(default=None)
    level: str = jfield(default="")
    sampling: Sampling | None = jfield(default=None)
    include: tuple[str, ...] = jfield(default=())
    exclude: tuple[str, ...] = jfield(default=())

    def is_empty(self) -> bool:
        """No setting at all (Caddy drops such a logger from a `log` directive)."""
        return self == Logger(name=self.name)


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
