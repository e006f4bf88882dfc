"""TLS and certificate global options: ACME defaults, issuers, on-demand TLS, ECH, PKI.

Input: a dispenser over one option's segment; output: the option's value in
`Lowering.options`, read by `tlsapp.py` (automation policies, issuer
defaults) and `pkiapp.py`. Ports of `httpcaddyfile/options.go` and
`pkiapp.go` `parsePKIApp`.
"""

from __future__ import annotations

from dataclasses import replace

from rpc.compiler.directives.helper import Lowering
from rpc.compiler.directives.modparse import duration, kw, parse_float
from rpc.compiler.directives.tlsmodules import (
    IssuerRef,
    dns_provider,
    parse_issuer,
    parse_permission,
    parse_preferred_chains,
)
from rpc.compiler.dispenser import Dispenser
from rpc.compiler.ir.base import Duration
from rpc.compiler.ir.config import PKICA, KeyPair
from rpc.compiler.ir.logs import Module, Obj
from rpc.compiler.ir.tls import EAB, ChainPreference
from rpc.compiler.options import duration_option, option, single_arg

__all__: list[str] = []

DEFAULT_CA_ID = "local"


def _true(d: Dispenser, lowering: Lowering) -> bool:
    return True


for _name in ("local_certs", "skip_install_trust"):
    option(_name)(_true)


def _string(d: Dispenser, lowering: Lowering) -> str:
    return single_arg(d)


for _name in ("acme_ca", "acme_ca_root", "email", "key_type"):
    option(_name)(_string)


def _duration(d: Dispenser, lowering: Lowering) -> object:
    return duration_option(d)


for _name in ("renew_interval", "ocsp_interval", "cert_lifetime"):
    option(_name)(_duration)


@option("storage_check")
def parse_storage_check(d: Dispenser, lowering: Lowering) -> str:
    """`storage_check off`: skip the storage write test at startup."""
    value = single_arg(d)
    if value != "off":
        raise d.error("storage_check must be 'off'", code="RPC308")
    return value


@option("storage_clean_interval")
def parse_storage_clean_interval(d: Dispenser, lowering: Lowering) -> Duration | bool:
    """`storage_clean_interval <duration>|off`."""
    value = single_arg(d)
    if value == "off":
        return False
    return duration(
        d, value, "failed to parse storage_clean_interval, must be a duration or 'off' {err}"
    )


@option("ocsp_stapling")
def parse_ocsp_stapling(d: Dispenser, lowering: Lowering) -> bool:
    """`ocsp_stapling off`: value is "stapling disabled"."""
    d.next()
    got = d.all_args(1)
    if got is None:
        raise d.arg_err()
    if got[0] != "off":
        raise d.error(f"invalid argument '{got[0]}'", code="RPC308")
    return True


@option("acme_eab")
def parse_acme_eab(d: Dispenser, lowering: Lowering) -> EAB:
    """`acme_eab { key_id <id>; mac_key <key> }`."""
    d.next()
    if d.next_arg():
        raise d.arg_err()
    eab = EAB(span=d.head_span)
    while d.next_block(0):
        opt = d.val
        if opt not in ("key_id", "mac_key"):
            raise d.error(f"unrecognized parameter '{opt}'", code="RPC301")
        if not d.next_arg():
            raise d.arg_err()
        eab = replace(eab, **kw(opt, d.val))
    return eab


@option("cert_issuer")
def parse_cert_issuer(d: Dispenser, lowering: Lowering) -> list[IssuerRef]:
    """`cert_issuer <name> ...` (repeatable: the issuers are tried in order)."""
    d.next()
    if not d.next():
        raise d.arg_err()
    return [IssuerRef(parse_issuer(d))]


@option("on_demand_tls")
def parse_on_demand(d: Dispenser, lowering: Lowering) -> tuple[tuple[str, object], ...]:
    """`on_demand_tls { ask <endpoint> | permission <module> ... }`."""
    d.next()
    if d.next_arg():
        raise d.arg_err()
    permission: Module | None = None
    seen = False
    nesting = d.nesting
    while d.next_block(nesting):
        opt = d.val
        if opt in ("ask", "permission"):
            if not d.next_arg():
                raise d.arg_err()
            seen = True
            if permission is not None:
                raise d.error(
                    "on-demand TLS permission module (or 'ask') already specified", code="RPC307"
                )
            if opt == "ask":
                permission = Module(tag="module", module="http", settings=(("endpoint", d.val),))
            else:
                permission = parse_permission(d)
        elif opt in ("interval", "burst"):
            raise d.error(
                f"the on_demand_tls '{opt}' option is no longer supported, remove it from "
                "your config",
                code="RPC308",
            )
        else:
            raise d.error(f"unrecognized parameter '{opt}'", code="RPC301")
    if not seen:
        raise d.error("expected at least one config parameter for on_demand_tls", code="RPC302")
    return (("permission", permission),)


@option("preferred_chains")
def parse_preferred_chains_option(d: Dispenser, lowering: Lowering) -> ChainPreference:
    """`preferred_chains [smallest] { root_common_name ...; any_common_name ... }`."""
    d.next()
    return parse_preferred_chains(d)


@option("dns")
def parse_dns(d: Dispenser, lowering: Lowering) -> Module:
    """`dns <provider> ...`: the DNS provider of the TLS app (none in a standard build)."""
    d.next()
    if not d.next():
        raise d.arg_err()
    return dns_provider(d)


@option("acme_dns")
def parse_acme_dns(d: Dispenser, lowering: Lowering) -> Module | None:
    """`acme_dns [<provider> ...]`: the DNS challenge for every ACME issuer."""
    d.next()
    if not d.next():
        return None  # use the provider of the `dns` option
    return dns_provider(d)


@option("ech")
def parse_ech(d: Dispenser, lowering: Lowering) -> Module:
    """`ech <public_names...> { dns <provider> ... }`: Encrypted ClientHello."""
    d.next()
    names = d.remaining_args()
    if not names:
        raise d.arg_err()
    nesting = d.nesting
    while d.next_block(nesting):
        if d.val != "dns":
            raise d.error(f"ech: unrecognized subdirective '{d.val}'", code="RPC301")
        if not d.next():
            raise d.arg_err()
        dns_provider(d)
    configs = tuple(Obj(items=(("public_name", n),)) for n in names)
    return Module(module="", settings=(("configs", configs),), span=d.head_span)


@option("tls_resolvers")
def parse_tls_resolvers(d: Dispenser, lowering: Lowering) -> tuple[str, ...]:
    """`tls_resolvers <dns_servers...>`: resolvers for DNS challenges and ECH."""
    d.next()
    args = d.remaining_args()
    if not args:
        raise d.arg_err()
    return tuple(args)


@option("tls_automate_names")
def parse_tls_automate_names(d: Dispenser, lowering: Lowering) -> list[str]:
    """`tls_automate_names <names...>`: manage certificates for names no site serves."""
    d.next()
    names = d.remaining_args()
    if not names:
        raise d.arg_err()
    return names


@option("renewal_window_ratio")
def parse_renewal_window_ratio(d: Dispenser, lowering: Lowering) -> float:
    """`renewal_window_ratio <0..1>`: renew when this fraction of a lifetime remains."""
    text = single_arg(d)
    ratio = parse_float(d, text, "parsing renewal_window_ratio: {err}")
    if not 0 < ratio < 1:
        raise d.error("renewal_window_ratio must be between 0 and 1 (exclusive)", code="RPC308")
    return ratio


# ---------------------------------------------------------------- pki


@option("pki")
def parse_pki(d: Dispenser, lowering: Lowering) -> dict[str, PKICA]:
    """`pki { ca [<id>] { name, root_cn, intermediate_cn, intermediate_lifetime,
    maintenance_interval, renewal_window_ratio, root {...}, intermediate {...} } }`."""
    cas: dict[str, PKICA] = {}
    d.next()
    nesting = d.nesting
    while d.next_block(nesting):
        if d.val != "ca":
            raise d.error(f"unrecognized pki option '{d.val}'", code="RPC301")
        ca_id = ""
        if d.next_arg():
            ca_id = d.val
            if d.next_arg():
                raise d.arg_err()
        ca = PKICA(id=ca_id or DEFAULT_CA_ID, span=d.span)
        inner = d.nesting
        while d.next_block(inner):
            opt = d.val
            if opt in ("name", "root_cn", "intermediate_cn"):
                if not d.next_arg():
                    raise d.arg_err()
                key = {"root_cn": "root_common_name", "intermediate_cn": "intermediate_common_name"}
                ca = replace(ca, **kw(key.get(opt, opt), d.val))
            elif opt in ("intermediate_lifetime", "maintenance_interval"):
                if not d.next_arg():
                    raise d.arg_err()
                ca = replace(ca, **kw(opt, duration(d, d.val)))
            elif opt == "renewal_window_ratio":
                if not d.next_arg():
                    raise d.arg_err()
                ca = replace(ca, renewal_window_ratio=parse_float(d, d.val))
            elif opt in ("root", "intermediate"):
                pair = getattr(ca, opt) or KeyPair()
                pair_nesting = d.nesting
                while d.next_block(pair_nesting):
                    field = {"cert": "certificate", "key": "private_key", "format": "format"}
                    if d.val not in field:
                        raise d.error(f"unrecognized pki ca {opt} option '{d.val}'", code="RPC301")
                    name = field[d.val]
                    if not d.next_arg():
                        raise d.arg_err()
                    pair = replace(pair, **kw(name, d.val))
                ca = replace(ca, **kw(opt, pair))
            else:
                raise d.error(f"unrecognized pki ca option '{opt}'", code="RPC301")
        cas[ca.id] = ca
    return cas
