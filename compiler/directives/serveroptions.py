"""The `servers` global option: per-listener HTTP server settings, and applying them.

Input: `servers [<listener_address>] { ... }` segments; output: a list of
`ServerOptions` in `Lowering.options["servers"]`, and `apply_server_options`,
which sets them on the built servers (the first entry whose listener address
a server listens on, else the entry without an address). A port of
`httpcaddyfile/serveroptions.go`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from rpc.compiler.directives.helper import Lowering
from rpc.compiler.directives.matchers import PRIVATE_RANGES
from rpc.compiler.directives.modparse import duration, size, unknown_module, unmarshal_module
from rpc.compiler.dispenser import Dispenser
from rpc.compiler.gosort import slice_stable
from rpc.compiler.ir.base import Duration
from rpc.compiler.ir.config import Server, ServerLogs, ServerMetrics, Timeouts, TrustedProxies
from rpc.compiler.ir.logs import Module
from rpc.compiler.options import finish_option, option
from rpc.compiler.source import Span

__all__ = ["ServerOptions", "apply_server_options"]


@dataclass
class ServerOptions:
    """One `servers` option: overrides for the servers listening on `listener_address`."""

    listener_address: str = ""
    name: str = ""
    listener_wrappers: list[Module] = field(default_factory=list)
    packet_conn_wrappers: list[Module] = field(default_factory=list)
    timeouts: dict[str, Duration] = field(default_factory=dict)
    keepalive_interval: Duration | None = None
    keepalive_idle: Duration | None = None
    keepalive_count: int = 0
    max_header_bytes: int = 0
    enable_full_duplex: bool = False
    protocols: list[str] = field(default_factory=list)
    strict_sni_host: bool | None = None
    trusted_proxies: TrustedProxies | None = None
    trusted_proxies_strict: int = 0
    trusted_proxies_unix: bool = False
    client_ip_headers: list[str] = field(default_factory=list)
    should_log_credentials: bool = False
    metrics: ServerMetrics | None = None
    trace: bool = False
    allow_0rtt: bool | None = None
    span: Span | None = None


_TIMEOUTS = {
    "read_body": "read_timeout",
    "read_header": "read_header_timeout",
    "write": "write_timeout",
    "idle": "idle_timeout",
}


def _no_args(d: Dispenser) -> None:
    if d.next_arg():
        raise d.arg_err()


@option("servers")
def parse_servers(d: Dispenser, lowering: Lowering) -> list[ServerOptions]:
    """`servers [<listener_address>] { name, listener_wrappers, packet_conn_wrappers,
    timeouts, keepalive_interval, keepalive_idle, keepalive_count, max_header_size,
    enable_full_duplex, log_credentials, protocols, strict_sni_host, trusted_proxies,
    trusted_proxies_strict, trusted_proxies_unix, client_ip_headers, metrics, trace, 0rtt }`."""
    d.next()
    o = ServerOptions(span=d.head_span)
    if d.next_arg():
        o.listener_address = d.val
        if d.next_arg():
            raise d.arg_err()
    while d.next_block(0):
        opt = d.val
        if opt == "name":
            if not o.listener_address:
                raise d.error(
                    "cannot set a name for a server without a listener address", code="RPC308"
                )
            o.name = d.require_arg()
        elif opt == "listener_wrappers":
            nesting = d.nesting
            while d.next_block(nesting):
                o.listener_wrappers.append(_listener_wrapper(d))
        elif opt == "packet_conn_wrappers":
            nesting = d.nesting
            while d.next_block(nesting):
                raise unknown_module(d, "caddy.packetconns." + d.val)
        elif opt == "timeouts":
            nesting = d.nesting
            while d.next_block(nesting):
                which = d.val
                if which not in _TIMEOUTS:
                    raise d.error(f"unrecognized timeouts option '{which}'", code="RPC301")
                text = d.require_arg()
                o.timeouts[_TIMEOUTS[which]] = duration(
                    d, text, f"parsing {which} timeout duration: {{err}}"
                )
        elif opt in ("keepalive_interval", "keepalive_idle"):
            text = d.require_arg()
            what = "interval" if opt == "keepalive_interval" else "idle"
            setattr(o, opt, duration(d, text, f"parsing keepalive {what} duration: {{err}}"))
        elif opt == "keepalive_count":
            text = d.require_arg()
            try:
                o.keepalive_count = int(text, 10)
                if not -(1 << 31) <= o.keepalive_count < 1 << 31:
                    raise ValueError
            except ValueError:
                raise d.error(
                    f'parsing keepalive count int: strconv.ParseInt: parsing "{text}": '
                    "invalid syntax"
                ) from None
        elif opt == "max_header_size":
            got = d.all_args(1)
            if got is None:
                raise d.arg_err()
            o.max_header_bytes = size(d, got[0], "parsing max_header_size: {err}")
        elif opt in ("enable_full_duplex", "log_credentials", "trusted_proxies_unix", "trace"):
            _no_args(d)
            attr = {"log_credentials": "should_log_credentials"}.get(opt, opt)
            setattr(o, attr, True)
        elif opt == "trusted_proxies_strict":
            _no_args(d)
            o.trusted_proxies_strict = 1
        elif opt == "protocols":
            for proto in d.remaining_args():
                if proto not in ("h1", "h2", "h2c", "h3"):
                    raise d.error(
                        f"unknown protocol '{proto}': expected h1, h2, h2c, or h3", code="RPC308"
                    )
                if proto in o.protocols:
                    raise d.error(f"protocol {proto} specified more than once", code="RPC307")
                o.protocols.append(proto)
            if d.next_block(d.nesting):
                raise d.arg_err()
        elif opt == "strict_sni_host":
            if d.next_arg() and d.val not in ("insecure_off", "on"):
                raise d.error(
                    f"strict_sni_host only supports 'on' or 'insecure_off', got '{d.val}'",
                    code="RPC308",
                )
            o.strict_sni_host = d.val != "insecure_off"
        elif opt == "trusted_proxies":
            if not d.next_arg():
                raise d.error(
                    "trusted_proxies expects an IP range source module name as its first argument",
                    code="RPC302",
                )
            o.trusted_proxies = unmarshal_module(d, "http.ip_sources.", {"static": _static_ips})
        elif opt == "client_ip_headers":
            for header in d.remaining_args():
                if header in o.client_ip_headers:
                    raise d.error(
                        f"client IP header {header} specified more than once", code="RPC307"
                    )
                o.client_ip_headers.append(header)
            if d.next_block(d.nesting):
                raise d.arg_err()
        elif opt == "metrics":
            d_nesting = d.nesting
            metrics = ServerMetrics()
            while d.next_block(d_nesting):
                if d.val != "per_host":
                    raise d.error(f"unrecognized metrics option '{d.val}'", code="RPC301")
                metrics = ServerMetrics(per_host=True)
            o.metrics = metrics
            lowering.warn(
                "RPC410",
                "the nested 'metrics' option inside `servers` is deprecated; use the global "
                "'metrics' option instead",
                d.span,
            )
        elif opt == "0rtt":
            if not d.next_arg():
                raise d.arg_err()
            if d.val != "off":
                raise d.error(
                    f"unsupported 0rtt argument '{d.val}' (only 'off' is supported)",
                    code="RPC308",
                )
            o.allow_0rtt = False
        else:
            raise d.error(f"unrecognized servers option '{opt}'", code="RPC301")
    return [o]


def _static_ips(d: Dispenser) -> TrustedProxies:
    """`static <ranges...>` (`private_ranges` stands for the private networks)."""
    ranges: list[str] = []
    if d.next():
        while d.next_arg():
            ranges.extend(PRIVATE_RANGES if d.val == "private_ranges" else (d.val,))
    return TrustedProxies(source="static", ranges=tuple(ranges))


def _listener_wrapper(d: Dispenser) -> Module:
    return unmarshal_module(
        d,
        "caddy.listeners.",
        {"http_redirect": _http_redirect, "tls": _tls_wrapper, "proxy_protocol": _proxy_protocol},
    )


def _http_redirect(d: Dispenser) -> Module:
    return Module(tag="wrapper", module="http_redirect")


def _tls_wrapper(d: Dispenser) -> Module:
    return Module(tag="wrapper", module="tls")


_FALLBACK_POLICIES = ("IGNORE", "USE", "REJECT", "REQUIRE", "SKIP")


def _proxy_protocol(d: Dispenser) -> Module:
    """`proxy_protocol { timeout, allow, deny, fallback_policy }`."""
    d.next()
    if d.next_arg():
        raise d.arg_err()
    s: dict[str, object] = {}
    while d.next_block(0):
        opt = d.val
        if opt == "timeout":
            text = d.require_arg()
            s["timeout"] = duration(d, text, "parsing proxy_protocol timeout duration: {err}")
        elif opt in ("allow", "deny"):
            current = s.get(opt, ())
            assert isinstance(current, tuple)
            s[opt] = current + tuple(d.remaining_args())
        elif opt == "fallback_policy":
            policy = d.require_arg().upper()
            if policy not in _FALLBACK_POLICIES:
                raise d.error(f"{d.val} is invalid policy", code="RPC308")
            s["fallback_policy"] = policy
        else:
            raise d.arg_err()
    return Module(tag="wrapper", module="proxy_protocol", settings=tuple(s.items()))


@finish_option("servers")
def _check_servers(lowering: Lowering) -> None:
    """Most specific listener address first; one entry per listener address."""
    entries: list[ServerOptions] = lowering.options["servers"]
    slice_stable(entries, lambda a, b: len(a.listener_address) > len(b.listener_address))
    seen: set[str] = set()
    for entry in entries:
        if entry.listener_address in seen:
            lowering.diags.error(
                "RPC307",
                "cannot have 'servers' global options with duplicate listener addresses: "
                + entry.listener_address,
                entry.span,
                "merge the two `servers` blocks into one",
            )
        seen.add(entry.listener_address)


def apply_server_options(servers: list[Server], lowering: Lowering) -> list[Server]:
    """Set each server's options from the first `servers` entry that applies to it."""
    entries: list[ServerOptions] = lowering.options.get("servers") or []
    if not entries:
        return servers
    names: set[str] = set()
    for entry in entries:
        if entry.name:
            if entry.name in names:
                lowering.diags.error(
                    "RPC307",
                    f"applying global server options: cannot use duplicate server name "
                    f"'{entry.name}'",
                    entry.span,
                    "give each `servers` block its own name",
                )
            names.add(entry.name)
    out = []
    for server in servers:
        chosen = next(
            (e for e in entries if not e.listener_address or e.listener_address in server.listen),
            None,
        )
        out.append(server if chosen is None else _apply(server, chosen))
    # Caddy keys servers by name: a server renamed to another's name replaces it.
    renamed = {s.name for s, old in zip(out, servers, strict=True) if s.name != old.name}
    return [
        s
        for s, old in zip(out, servers, strict=True)
        if not (s.name == old.name and s.name in renamed)
    ]


def _apply(server: Server, o: ServerOptions) -> Server:
    logs = server.logs
    if o.should_log_credentials:
        logs = replace(logs or ServerLogs(), should_log_credentials=True)
    if o.trace:
        logs = replace(logs or ServerLogs(), trace=True)
    return replace(
        server,
        name=o.name or server.name,
        listener_wrappers=tuple(o.listener_wrappers),
        packet_conn_wrappers=tuple(o.packet_conn_wrappers),
        timeouts=Timeouts(**o.timeouts) if o.timeouts else None,  # type: ignore[arg-type]
        keepalive_interval=o.keepalive_interval,
        keepalive_idle=o.keepalive_idle,
        keepalive_count=o.keepalive_count,
        max_header_bytes=o.max_header_bytes,
        enable_full_duplex=o.enable_full_duplex,
        protocols=tuple(o.protocols),
        strict_sni_host=o.strict_sni_host,
        trusted_proxies=o.trusted_proxies,
        client_ip_headers=tuple(o.client_ip_headers),
        trusted_proxies_strict=o.trusted_proxies_strict,
        trusted_proxies_unix=o.trusted_proxies_unix,
        metrics=o.metrics,
        allow_0rtt=o.allow_0rtt,
        logs=logs,
    )
