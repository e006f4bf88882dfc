"""General global options: debug, ports' companions, admin, storage, logs, metrics, ...

Input: a dispenser over one option's segment; output: the option's value in
`Lowering.options` (read by `servers.py` and `apps.py`). Ports of the parsers
in `httpcaddyfile/options.go` (and of the `events` and `filesystem` options,
registered by their apps). TLS options are in `tlsoptions.py`, `servers` in
`serveroptions.py`.
"""

from __future__ import annotations

from dataclasses import replace

from rpc.compiler.directives.helper import Lowering
from rpc.compiler.directives.logmodules import parse_log
from rpc.compiler.directives.modparse import kw, unknown_module
from rpc.compiler.directives.site import bind_args
from rpc.compiler.directives.tlsmodules import parse_storage
from rpc.compiler.dispenser import Dispenser
from rpc.compiler.ir.config import Admin, ServerMetrics
from rpc.compiler.ir.logs import Module, SiteLog
from rpc.compiler.options import duration_option, option, single_arg

__all__: list[str] = []

DEFAULT_ADMIN_LISTEN = "localhost:2019"
AUTO_HTTPS = ("off", "disable_redirects", "disable_certs", "ignore_loaded_certs")


@option("debug")
def parse_debug(d: Dispenser, lowering: Lowering) -> bool:
    """`debug`: log at DEBUG level (Caddy reads no argument of it)."""
    return True


@option("grace_period")
def parse_grace_period(d: Dispenser, lowering: Lowering) -> object:
    """`grace_period <duration>`: how long in-flight requests may finish on shutdown."""
    return duration_option(d)


@option("shutdown_delay")
def parse_shutdown_delay(d: Dispenser, lowering: Lowering) -> object:
    """`shutdown_delay <duration>`: keep serving this long after a stop signal."""
    return duration_option(d)


@option("auto_https")
def parse_auto_https(d: Dispenser, lowering: Lowering) -> list[str]:
    """`auto_https off|disable_redirects|disable_certs|ignore_loaded_certs ...`."""
    d.next()
    values = d.remaining_args()
    if not values:
        raise d.arg_err()
    for v in values:
        if v not in AUTO_HTTPS:
            raise d.error(
                "auto_https must be one of 'off', 'disable_redirects', 'disable_certs', or "
                "'ignore_loaded_certs'",
                code="RPC308",
                hint="Caddy 2.11 does not accept `prefer_wildcard` here"
                if v == "prefer_wildcard"
                else None,
            )
    return values


@option("default_sni")
def parse_default_sni(d: Dispenser, lowering: Lowering) -> str:
    """`default_sni <name>`: the server name assumed when a client sends none."""
    return single_arg(d)


@option("fallback_sni")
def parse_fallback_sni(d: Dispenser, lowering: Lowering) -> str:
    """`fallback_sni <name>`: the server name used when the client's has no certificate."""
    return single_arg(d)


@option("default_bind")
def parse_default_bind(d: Dispenser, lowering: Lowering) -> list[tuple[list[str], list[str]]]:
    """`default_bind [<hosts...>] [{ protocols ... }]`: listen interfaces of every site."""
    d.next()
    hosts, protocols = bind_args(d)
    return [(hosts or [""], protocols)]


@option("admin")
def parse_admin(d: Dispenser, lowering: Lowering) -> Admin:
    """`admin off|<address> [{ origins ...; enforce_origin }]`."""
    d.next()
    listen = ""
    if d.next_arg():
        if d.val == "off":
            if d.next():
                raise d.error(
                    "No more option is allowed after turning off admin config", code="RPC302"
                )
            return Admin(disabled=True, span=d.head_span)
        listen = d.val
        if d.next_arg():
            raise d.arg_err()
    origins: tuple[str, ...] = ()
    enforce = False
    while d.next_block(0):
        if d.val == "enforce_origin":
            enforce = True
        elif d.val == "origins":
            origins = tuple(d.remaining_args())
        else:
            raise d.error(f"unrecognized parameter '{d.val}'", code="RPC301")
    return Admin(
        listen=listen or DEFAULT_ADMIN_LISTEN,
        origins=origins,
        enforce_origin=enforce,
        span=d.head_span,
    )


@option("persist_config")
def parse_persist_config(d: Dispenser, lowering: Lowering) -> str:
    """`persist_config off`: do not save the config to disk on changes."""
    value = single_arg(d)
    if value != "off":
        raise d.error("persist_config must be 'off'", code="RPC308")
    return value


@option("storage")
def parse_storage_option(d: Dispenser, lowering: Lowering) -> Module:
    """`storage file_system [<root>] { root <path> }`: where certificates and keys live."""
    d.next()
    if not d.next():
        raise d.arg_err()
    return parse_storage(d)


@option("log")
def parse_log_option(d: Dispenser, lowering: Lowering) -> list[SiteLog]:
    """`log [<name>] { output, format, level, include, exclude, core, sampling }`."""
    used = {v.name for v in lowering.options.get("log", [])}
    return [parse_log(d, {}, used)]


@option("metrics")
def parse_metrics(d: Dispenser, lowering: Lowering) -> ServerMetrics:
    """`metrics { per_host; observe_catchall_hosts; otlp }`: metrics of the HTTP app."""
    d.next()
    metrics = ServerMetrics(span=d.head_span)
    # Caddy reads every token of the block as an option name, arguments included.
    while d.next_block(0):
        if d.val not in ("per_host", "observe_catchall_hosts", "otlp"):
            raise d.error(f"unrecognized servers option '{d.val}'", code="RPC301")
        metrics = replace(metrics, **kw(d.val, True))
    return metrics


@option("events")
def parse_events(d: Dispenser, lowering: Lowering) -> tuple[tuple[str, object], ...]:
    """`events { on <event> <handler> ... }`: a standard build has no event handlers."""
    d.next()
    while d.next_block(0):
        if d.val != "on":
            raise d.arg_err()
        if not d.next_arg():
            raise d.arg_err()
        if not d.next_arg():
            raise d.arg_err()
        raise unknown_module(d, "events.handlers." + d.val)
    return ()


@option("filesystem")
def parse_filesystem(d: Dispenser, lowering: Lowering) -> tuple[tuple[str, object], ...]:
    """`filesystem <name> <module> ...`: a standard build has no file system modules."""
    d.next()
    if not d.next_arg() or not d.next_arg():
        raise d.arg_err()
    raise unknown_module(d, "caddy.fs." + d.val)
