"""Global options beyond the core (`options.py`): debug, timeouts, auto_https, admin, ...

Ports of the parsers in `httpcaddyfile/options.go`.
"""

from __future__ import annotations

from rpc.compiler.directives.helper import Lowering
from rpc.compiler.dispenser import Dispenser
from rpc.compiler.ir.config import Admin
from rpc.compiler.options import duration_option, option, single_arg

__all__: list[str] = []


@option("debug")
def parse_debug(d: Dispenser, lowering: Lowering) -> bool:
    """`debug`: log at DEBUG level."""
    d.next()
    if d.next_arg():
        raise d.arg_err()
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
    """`auto_https off|disable_redirects|disable_certs|ignore_loaded_certs|prefer_wildcard`."""
    d.next()
    values = d.remaining_args()
    if not values:
        raise d.arg_err()
    allowed = (
        "off",
        "disable_redirects",
        "disable_certs",
        "ignore_loaded_certs",
        "prefer_wildcard",
    )
    for v in values:
        if v not in allowed:
            raise d.error(f"auto_https must be one of {', '.join(allowed)}", code="RPC308")
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
    """`default_bind <hosts...> [{ protocols ... }]`: listen interfaces of every site."""
    d.next()
    hosts = d.remaining_args()
    if not hosts:
        raise d.arg_err()
    protocols: list[str] = []
    nesting = d.nesting
    while d.next_block(nesting):
        if d.val == "protocols":
            protocols = d.remaining_args()
            if not protocols:
                raise d.arg_err()
        else:
            raise d.error(f"unknown subdirective: {d.val}", code="RPC301")
    return [(hosts, protocols)]


@option("admin")
def parse_admin(d: Dispenser, lowering: Lowering) -> Admin:
    """`admin off|<address> [{ origins ...; enforce_origin }]`."""
    d.next()
    listen = ""
    if d.next_arg():
        listen = d.val
        if d.next_arg():
            raise d.arg_err()
    if listen == "off":
        return Admin(disabled=True, span=d.head_span)
    origins: list[str] = []
    enforce = False
    nesting = d.nesting
    while d.next_block(nesting):
        if d.val == "enforce_origin":
            enforce = True
        elif d.val == "origins":
            origins.extend(d.remaining_args())
        else:
            raise d.error(f"unrecognized parameter '{d.val}'", code="RPC301")
    return Admin(listen=listen, origins=tuple(origins), enforce_origin=enforce, span=d.head_span)
