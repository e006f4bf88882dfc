"""`transport http { ... }` (and `transport fastcgi`, kept for the JSON view).

A port of `reverseproxy/caddyfile.go` `(*HTTPTransport).UnmarshalCaddyfile`.
"""

from __future__ import annotations

import re
from dataclasses import replace

from rpc.compiler import placeholders
from rpc.compiler.dispenser import Dispenser
from rpc.compiler.errors import did_you_mean
from rpc.compiler.ir.base import Duration
from rpc.compiler.ir.proxy import FastCGITransport, HTTPTransport, KeepAlive, TLSConfig
from rpc.compiler.values import parse_duration, parse_size

__all__ = ["parse_transport"]


def parse_transport(d: Dispenser) -> HTTPTransport | FastCGITransport:
    """The transport named by the current token (`http` or `fastcgi`)."""
    name = d.val
    seg = d.new_from_next_segment()
    if name == "http":
        return _http(seg)
    if name == "fastcgi":
        return _fastcgi(seg)
    raise d.error(
        f"getting module named 'http.reverse_proxy.transport.{name}': module not registered",
        code="RPC303",
        hint="rpc supports `transport http`",
    )


def _size(d: Dispenser, what: str) -> int:
    text = d.require_arg()
    try:
        return parse_size(text)
    except ValueError as exc:
        raise d.error(f"invalid {what} size '{text}': {exc}") from None


def _dur(d: Dispenser, what: str) -> Duration:
    text = d.require_arg()
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise d.error(f"{what} '{text}': {exc}") from None


def _int(d: Dispenser) -> int:
    text = d.require_arg()
    if not re.fullmatch(r"[+-]?\d+", text):
        raise d.error(f"bad integer value '{text}'")
    return int(text)


_OPTIONS = [
    "read_buffer",
    "write_buffer",
    "read_timeout",
    "write_timeout",
    "max_response_header",
    "proxy_protocol",
    "dial_timeout",
    "dial_fallback_delay",
    "response_header_timeout",
    "expect_continue_timeout",
    "resolvers",
    "tls",
    "tls_client_auth",
    "tls_insecure_skip_verify",
    "tls_curves",
    "tls_timeout",
    "tls_trusted_ca_certs",
    "tls_trust_pool",
    "tls_server_name",
    "tls_renegotiation",
    "tls_except_ports",
    "keepalive",
    "keepalive_interval",
    "keepalive_idle_conns",
    "keepalive_idle_conns_per_host",
    "versions",
    "compression",
    "max_conns_per_host",
    "network_proxy",
    "forward_proxy_url",
    "local_address",
]


def _http(d: Dispenser) -> HTTPTransport:
    span = d.span
    d.next()
    t = HTTPTransport(span=span)
    tls: TLSConfig | None = None
    ka: KeepAlive | None = None
    while d.next_block(0):
        opt = d.val
        if opt.startswith("tls") and tls is None:
            tls = TLSConfig()
        if opt.startswith("keepalive") and ka is None:
            ka = KeepAlive()
        if opt == "read_buffer":
            t = replace(t, read_buffer_size=_size(d, "read buffer"))
        elif opt == "write_buffer":
            t = replace(t, write_buffer_size=_size(d, "write buffer"))
        elif opt == "read_timeout":
            t = replace(t, read_timeout=_dur(d, "invalid read timeout duration"))
        elif opt == "write_timeout":
            t = replace(t, write_timeout=_dur(d, "invalid write timeout duration"))
        elif opt == "max_response_header":
            t = replace(t, max_response_header_size=_size(d, "max response header"))
        elif opt == "proxy_protocol":
            version = d.require_arg()
            if version not in ("v1", "v2"):
                raise d.error(f"invalid proxy protocol version '{version}'")
            t = replace(t, proxy_protocol=version)
        elif opt == "dial_timeout":
            t = replace(t, dial_timeout=_dur(d, "bad timeout value"))
        elif opt == "dial_fallback_delay":
            t = replace(t, dial_fallback_delay=_dur(d, "bad fallback delay value"))
        elif opt == "response_header_timeout":
            t = replace(t, response_header_timeout=_dur(d, "bad timeout value"))
        elif opt == "expect_continue_timeout":
            t = replace(t, expect_continue_timeout=_dur(d, "bad timeout value"))
        elif opt == "resolvers":
            found = tuple(d.remaining_args())
            if not found:
                raise d.error("must specify at least one resolver address", code="RPC302")
            t = replace(t, resolvers=found)
        elif opt == "tls":
            pass
        elif opt == "tls_client_auth":
            args = d.remaining_args()
            assert tls is not None
            if len(args) == 1:
                tls = replace(tls, client_certificate_automate=args[0])
            elif len(args) == 2:
                tls = replace(
                    tls, client_certificate_file=args[0], client_certificate_key_file=args[1]
                )
            else:
                raise d.arg_err()
        elif opt == "tls_insecure_skip_verify":
            if d.next_arg():
                raise d.arg_err()
            assert tls is not None
            tls = replace(tls, insecure_skip_verify=True)
        elif opt == "tls_curves":
            args = d.remaining_args()
            if not args:
                raise d.arg_err()
            assert tls is not None
            tls = replace(tls, curves=tuple(args))
        elif opt == "tls_timeout":
            assert tls is not None
            tls = replace(tls, handshake_timeout=_dur(d, "bad timeout value"))
        elif opt == "tls_trusted_ca_certs":
            args = d.remaining_args()
            if not args:
                raise d.arg_err()
            assert tls is not None
            if tls.ca:
                raise d.error(
                    "cannot specify both 'tls_trust_pool' and 'tls_trusted_ca_certs'", code="RPC311"
                )
            tls = replace(tls, root_ca_pem_files=tuple(args))
        elif opt == "tls_trust_pool":
            assert tls is not None
            if tls.root_ca_pem_files:
                raise d.error(
                    "cannot specify both 'tls_trust_pool' and 'tls_trusted_ca_certs'", code="RPC311"
                )
            tls = replace(tls, ca=_trust_pool(d))
        elif opt == "tls_server_name":
            assert tls is not None
            tls = replace(tls, server_name=placeholders.parse(d.require_arg(), keep_unknown=False))
        elif opt == "tls_renegotiation":
            value = d.require_arg()
            if value not in ("never", "once", "freely"):
                raise d.arg_err()
            assert tls is not None
            tls = replace(tls, renegotiation=value)
        elif opt == "tls_except_ports":
            args = d.remaining_args()
            if not args:
                raise d.arg_err()
            assert tls is not None
            tls = replace(tls, except_ports=tuple(args))
        elif opt == "keepalive":
            value = d.require_arg()
            assert ka is not None
            if value == "off":
                ka = replace(ka, enabled=False)
            else:
                try:
                    ka = replace(ka, idle_timeout=parse_duration(value))
                except ValueError as exc:
                    raise d.error(f"bad duration value '{value}': {exc}") from None
        elif opt == "keepalive_interval":
            assert ka is not None
            ka = replace(ka, probe_interval=_dur(d, "bad interval value"))
        elif opt == "keepalive_idle_conns":
            assert ka is not None
            ka = replace(ka, max_idle_conns=_int(d))
        elif opt == "keepalive_idle_conns_per_host":
            assert ka is not None
            ka = replace(ka, max_idle_conns_per_host=_int(d))
        elif opt == "versions":
            versions = tuple(d.remaining_args())
            if not versions:
                raise d.arg_err()
            t = replace(t, versions=versions)
        elif opt == "compression":
            if d.next_arg() and d.val == "off":
                t = replace(t, compression=False)
        elif opt == "max_conns_per_host":
            t = replace(t, max_conns_per_host=_int(d))
        elif opt == "network_proxy":
            t = replace(t, network_proxy=_network_proxy(d))
        elif opt == "forward_proxy_url":
            t = replace(t, network_proxy=(("from", "url"), ("url", d.require_arg())))
        elif opt == "local_address":
            t = replace(t, local_address=d.require_arg())
        else:
            raise d.error(
                f"unrecognized subdirective {opt}", code="RPC301", hint=did_you_mean(opt, _OPTIONS)
            )
    if ka is not None and ka.max_idle_conns_per_host and ka.probe_interval is None:
        # Caddy's parser fills in the default probe interval with the idle-conns setting.
        ka = replace(ka, probe_interval=Duration(30_000_000_000))
    return replace(t, tls=tls, keep_alive=ka)


def _network_proxy(d: Dispenser) -> tuple[tuple[str, object], ...]:
    source = d.require_arg()
    if source == "none":
        return (("from", "none"),)
    if source == "url":
        return (("from", "url"), ("url", d.require_arg()))
    raise d.error(
        f"unsupported network_proxy source '{source}'",
        code="RPC304",
        hint="use `network_proxy url <url>` or `network_proxy none`",
    )


def _trust_pool(d: Dispenser) -> tuple[tuple[str, object], ...]:
    provider = d.require_arg()
    if provider == "file":
        files: list[str] = list(d.remaining_args())
        nesting = d.nesting
        while d.next_block(nesting):
            if d.val == "pem_file":
                files.extend(d.remaining_args())
            else:
                raise d.error(f"unrecognized sub-directive {d.val}", code="RPC301")
        return (("pem_files", tuple(files)), ("provider", "file"))
    if provider == "inline":
        certs: list[str] = []
        nesting = d.nesting
        while d.next_block(nesting):
            if d.val == "trust_der":
                certs.extend(d.remaining_args())
            else:
                raise d.error(f"unrecognized sub-directive {d.val}", code="RPC301")
        return (("provider", "inline"), ("trusted_ca_certs", tuple(certs)))
    raise d.error(
        f"unsupported trust pool provider '{provider}'",
        code="RPC304",
        hint="rpc supports `tls_trust_pool file` and `tls_trust_pool inline`",
    )


def _fastcgi(d: Dispenser) -> FastCGITransport:
    """`transport fastcgi { ... }`, a port of Caddy's fastcgi `UnmarshalCaddyfile`.

    It is read so `rpc adapt` and `rpc check` see the whole config; code
    generation refuses it (RPC304), since the runtime has no FastCGI client.
    """
    span = d.span
    d.next()
    settings: dict[str, object] = {}
    env: dict[str, str] = {}
    while d.next_block(0):
        key = d.val
        if key == "root":
            settings["root"] = d.require_arg()
        elif key == "split":
            split = d.remaining_args()
            if not split:
                raise d.arg_err()
            settings["split_path"] = tuple(split)
        elif key == "env":
            args = d.remaining_args()
            if len(args) != 2:
                raise d.arg_err()
            env[args[0]] = args[1]
            settings["env"] = None  # keeps the key's first position
        elif key in ("resolve_root_symlink", "capture_stderr"):
            if d.next_arg():
                raise d.arg_err()
            settings[key] = True
        elif key in ("dial_timeout", "read_timeout", "write_timeout"):
            text = d.require_arg()
            try:
                settings[key] = parse_duration(text)
            except ValueError as exc:
                raise d.error(f"bad timeout value {text}: {exc}", code="RPC303") from None
        else:
            raise d.error(f"unrecognized subdirective {key}", code="RPC301")
    if env:
        settings["env"] = tuple(env.items())
    return FastCGITransport(settings=tuple(settings.items()), span=span)
