"""Ports of the Caddyfile syntax of Caddy's TLS modules: issuers, trust pools, client auth.

Input: a dispenser over one module's segment (as `caddyfile.UnmarshalModule`
hands it over: positioned before the module name); output: the IR node
(`ACMEIssuer`, `ClientAuth`, ...) or a `Module` for pass-through modules.
Used by the `tls` directive and the TLS global options. Only the modules of a
standard Caddy 2.11 build exist; DNS providers and other plugins are refused
with Caddy's "module not registered" error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from rpc.compiler.directives.modparse import atoi, duration, kw, unknown_module, unmarshal_module
from rpc.compiler.dispenser import Dispenser
from rpc.compiler.ir.base import Duration, prefer
from rpc.compiler.ir.logs import Module
from rpc.compiler.ir.tls import (
    EAB,
    ACMEIssuer,
    ChainPreference,
    Challenges,
    DNSChallenge,
    InternalIssuer,
    IssuerNode,
    PortChallenge,
    ZeroSSLIssuer,
)

__all__ = [
    "ZEROSSL_ACME_CA",
    "IssuerRef",
    "default_issuers",
    "dns_provider",
    "implicit_acme_issuers",
    "merge_acme",
    "parse_cert_manager",
    "parse_issuer",
    "parse_permission",
    "parse_preferred_chains",
    "parse_storage",
    "with_dns",
]

ZEROSSL_ACME_CA = "https://acme.zerossl.com/v2/DV90"


@dataclass(eq=False)
class IssuerRef:
    """A shared, updatable issuer: Caddy fills global defaults into issuers in place.

    Go code shares issuer pointers between automation policies (the global
    `cert_issuer` list, a site's `tls` issuers); filling in defaults through one
    policy shows in all of them. A ref is that pointer.
    """

    value: IssuerNode


def default_issuers(email: str) -> list[IssuerRef]:
    """`caddytls.DefaultIssuers`: Let's Encrypt, plus ZeroSSL's ACME CA when an email is set."""
    out = [IssuerRef(ACMEIssuer())]
    if email.strip():
        out.append(IssuerRef(ACMEIssuer(ca=ZEROSSL_ACME_CA, email=email)))
    return out


def implicit_acme_issuers(
    global_issuers: list[IssuerRef] | None, acme: ACMEIssuer
) -> list[IssuerRef]:
    """Caddy's `implicitACMEIssuers`: issuers for a site's ACME shortcuts (`ca`, `eab`, ...).

    The ACME issuers of the global `cert_issuer` option are the templates; without
    any, the default issuers (only one when the site names its own CA).
    """
    templates = [r.value for r in global_issuers or () if isinstance(r.value, ACMEIssuer)]
    if templates:
        return [IssuerRef(merge_acme(base, acme)) for base in templates]
    defaults = [IssuerRef(ACMEIssuer())] if acme.ca else default_issuers(acme.email)
    out = []
    for ref in defaults:
        base = ref.value
        out.append(IssuerRef(merge_acme(base, acme)) if isinstance(base, ACMEIssuer) else ref)
    return out


def merge_acme(base: ACMEIssuer, over: ACMEIssuer) -> ACMEIssuer:
    """`mergeACMEIssuers`: what `over` sets replaces (or, for roots, extends) `base`."""
    roots = base.trusted_roots_pem_files + tuple(
        r for r in over.trusted_roots_pem_files if r not in base.trusted_roots_pem_files
    )
    return replace(
        base,
        **prefer(
            over,
            base,
            "ca",
            "test_ca",
            "email",
            "profile",
            "account_key",
            "external_account",
            "acme_timeout",
            "preferred_chains",
            "certificate_lifetime",
        ),
        trusted_roots_pem_files=roots,
        challenges=_merge_challenges(base.challenges, over.challenges),
    )


def _merge_challenges(base: Challenges | None, over: Challenges | None) -> Challenges | None:
    if base is None or over is None:
        return over if base is None else base
    return replace(
        base,
        http=_merge_port(base.http, over.http),
        tls_alpn=_merge_port(base.tls_alpn, over.tls_alpn),
        dns=_merge_dns(base.dns, over.dns),
        bind_host=over.bind_host or base.bind_host,
        distributed=over.distributed if over.distributed is not None else base.distributed,
    )


def _merge_port(base: PortChallenge | None, over: PortChallenge | None) -> PortChallenge | None:
    if base is None or over is None:
        return over if base is None else base
    return PortChallenge(
        disabled=base.disabled or over.disabled,
        alternate_port=over.alternate_port or base.alternate_port,
    )


def _merge_dns(base: DNSChallenge | None, over: DNSChallenge | None) -> DNSChallenge | None:
    if base is None or over is None:
        return over if base is None else base
    fields = ("provider", "propagation_delay", "propagation_timeout", "resolvers")
    return replace(base, **prefer(over, base, *fields, "override_domain", "ttl"))


# ---------------------------------------------------------------- issuers


def parse_issuer(d: Dispenser) -> IssuerNode:
    """`<issuer_name> [...]` (`issuer` in `tls`, the `cert_issuer` option)."""
    parsers: dict[str, Callable[[Dispenser], IssuerNode]] = {
        "acme": parse_acme,
        "internal": parse_internal,
        "zerossl": parse_zerossl,
    }
    return unmarshal_module(d, "tls.issuance.", parsers)


def dns_provider(d: Dispenser) -> Module:
    """`<provider_name> ...`: a DNS provider; a standard build has none."""
    raise unknown_module(d, "dns.providers." + d.val)


def with_dns(challenges: Challenges | None, **changes: object) -> Challenges:
    """Challenges with the DNS challenge created (if needed) and updated."""
    ch = challenges or Challenges()
    dns = ch.dns or DNSChallenge()
    return replace(ch, dns=replace(dns, **changes))  # type: ignore[arg-type]


def _port_challenge(ch: Challenges | None, which: str, **changes: object) -> Challenges:
    ch = ch or Challenges()
    current = getattr(ch, which) or PortChallenge()
    return replace(ch, **kw(which, replace(current, **changes)))


def parse_acme(d: Dispenser) -> ACMEIssuer:
    """`acme [<directory_url>] { dir, test_dir, email, profile, timeout, lifetime, eab,
    disable_http_challenge, disable_tlsalpn_challenge, alt_http_port, alt_tlsalpn_port,
    distributed false, trusted_roots, dns, propagation_delay, propagation_timeout,
    resolvers, dns_ttl, dns_challenge_override_domain, preferred_chains }`."""
    d.next()
    iss = ACMEIssuer()
    if d.next_arg():
        iss = replace(iss, ca=d.val)
        if d.next_arg():
            raise d.arg_err()
    while d.next_block(0):
        opt = d.val
        if opt == "lifetime":
            text = d.require_only_arg()
            life = duration(d, text, f"invalid lifetime {text}: {{err}}")
            if life.ns < 0:
                raise d.error(f"lifetime must be >= 0: {text}")
            iss = replace(iss, certificate_lifetime=life)
        elif opt == "dir":
            if iss.ca:
                raise d.error(f"directory is already specified: {iss.ca}")
            iss = replace(iss, ca=d.require_only_arg())
        elif opt == "test_dir":
            iss = replace(iss, test_ca=d.require_only_arg())
        elif opt == "email":
            iss = replace(iss, email=d.require_only_arg())
        elif opt == "profile":
            iss = replace(iss, profile=d.require_only_arg())
        elif opt == "timeout":
            text = d.require_only_arg()
            iss = replace(
                iss, acme_timeout=duration(d, text, f"invalid timeout duration {text}: {{err}}")
            )
        elif opt in ("disable_http_challenge", "disable_tlsalpn_challenge"):
            if d.next_arg():
                raise d.arg_err()
            which = "http" if opt == "disable_http_challenge" else "tls_alpn"
            iss = replace(iss, challenges=_port_challenge(iss.challenges, which, disabled=True))
        elif opt == "distributed":
            if d.require_arg() != "false":
                raise d.error("only accepted value is 'false'")
            iss = replace(
                iss, challenges=replace(iss.challenges or Challenges(), distributed=False)
            )
        elif opt in ("alt_http_port", "alt_tlsalpn_port"):
            text = d.require_arg()
            port = atoi(d, text, f"invalid port {text}: {{err}}")
            which = "http" if opt == "alt_http_port" else "tls_alpn"
            iss = replace(
                iss, challenges=_port_challenge(iss.challenges, which, alternate_port=port)
            )
        elif opt == "eab":
            got = d.all_args(2)
            if got is None:
                raise d.arg_err()
            iss = replace(iss, external_account=EAB(key_id=got[0], mac_key=got[1]))
        elif opt == "trusted_roots":
            iss = replace(iss, trusted_roots_pem_files=tuple(d.remaining_args()))
        elif opt == "dns":
            iss = replace(iss, challenges=with_dns(iss.challenges))
            if d.next_arg():
                dns_provider(d)
        elif opt == "propagation_delay":
            text = d.require_arg()
            delay = duration(d, text, f"invalid propagation_delay duration {text}: {{err}}")
            iss = replace(iss, challenges=with_dns(iss.challenges, propagation_delay=delay))
        elif opt == "propagation_timeout":
            text = d.require_arg()
            timeout = (
                Duration(-1)
                if text == "-1"
                else duration(d, text, f"invalid propagation_timeout duration {text}: {{err}}")
            )
            iss = replace(iss, challenges=with_dns(iss.challenges, propagation_timeout=timeout))
        elif opt == "resolvers":
            resolvers = tuple(d.remaining_args())
            iss = replace(iss, challenges=with_dns(iss.challenges, resolvers=resolvers))
            if not resolvers:
                raise d.arg_err()
        elif opt == "dns_ttl":
            text = d.require_arg()
            ttl = duration(d, text, f"invalid dns_ttl duration {text}: {{err}}")
            iss = replace(iss, challenges=with_dns(iss.challenges, ttl=ttl))
        elif opt == "dns_challenge_override_domain":
            args = d.remaining_args()
            if len(args) != 1:
                raise d.arg_err()
            iss = replace(iss, challenges=with_dns(iss.challenges, override_domain=args[0]))
        elif opt == "preferred_chains":
            iss = replace(iss, preferred_chains=parse_preferred_chains(d))
        else:
            raise d.error(f"unrecognized ACME issuer property: {opt}", code="RPC301")
    return iss


def parse_preferred_chains(d: Dispenser) -> ChainPreference:
    """`preferred_chains [smallest] { root_common_name <names...>; any_common_name <names...> }`."""
    pref = ChainPreference()
    if d.next_arg():
        if d.val != "smallest":
            raise d.error(f"Invalid argument '{d.val}'")
        pref = replace(pref, smallest=True)
        if d.next_arg():
            raise d.arg_err()
        if d.next_block(d.nesting):
            raise d.error("No more options are accepted when using the 'smallest' option")
    root: list[str] | None = None
    any_: list[str] | None = None
    nesting = d.nesting
    while d.next_block(nesting):
        opt = d.val
        if opt == "root_common_name":
            names = d.remaining_args()
            root = (root or []) + names
            if not names:
                raise d.arg_err()
            if any_ is not None:
                raise d.error("Can't set root_common_name when any_common_name is already set")
        elif opt == "any_common_name":
            names = d.remaining_args()
            any_ = (any_ or []) + names
            if not names:
                raise d.arg_err()
            if root is not None:
                raise d.error("Can't set any_common_name when root_common_name is already set")
        else:
            raise d.error(f"Received unrecognized parameter '{opt}'", code="RPC301")
    if pref.smallest is None and root is None and any_ is None:
        raise d.error("No options for preferred_chains received")
    return replace(pref, root_common_name=tuple(root or ()), any_common_name=tuple(any_ or ()))


def parse_internal(d: Dispenser) -> InternalIssuer:
    """`internal { ca <name>; lifetime <duration>; sign_with_root }`."""
    d.next()
    iss = InternalIssuer()
    while d.next_block(0):
        opt = d.val
        if opt == "ca":
            iss = replace(iss, ca=d.require_only_arg())
        elif opt == "lifetime":
            iss = replace(iss, lifetime=duration(d, d.require_arg()))
        elif opt == "sign_with_root":
            if d.next_arg():
                raise d.arg_err()
            iss = replace(iss, sign_with_root=True)
        else:
            raise d.error(f"unrecognized subdirective '{opt}'", code="RPC301")
    return iss


def parse_zerossl(d: Dispenser) -> ZeroSSLIssuer:
    """`zerossl <api_key> { validity_days, alt_http_port, dns, propagation_delay,
    propagation_timeout, resolvers, dns_ttl }`."""
    d.next()
    api_key = d.require_arg()
    if d.next_arg():
        raise d.arg_err()
    iss = ZeroSSLIssuer(api_key=api_key)
    cname = iss.cname_validation
    nesting = d.nesting
    while d.next_block(nesting):
        opt = d.val
        if opt == "validity_days":
            if iss.validity_days:
                raise d.error(f"validity days is already specified: {iss.validity_days}")
            # Caddy reads the option's own name here, so this always fails as it does.
            days = atoi(d, d.val, f"invalid number of days {d.val}: {{err}}")
            iss = replace(iss, validity_days=days)
        elif opt == "alt_http_port":
            text = d.require_arg()
            iss = replace(iss, alternate_http_port=atoi(d, text, f"invalid port {text}: {{err}}"))
        elif opt == "dns":
            d.require_arg()
            dns_provider(d)
        elif opt == "propagation_delay":
            text = d.require_arg()
            delay = duration(d, text, f"invalid propagation_delay duration {text}: {{err}}")
            cname = replace(cname or DNSChallenge(), propagation_delay=delay)
        elif opt == "propagation_timeout":
            text = d.require_arg()
            timeout = (
                Duration(-1)
                if text == "-1"
                else duration(d, text, f"invalid propagation_timeout duration {text}: {{err}}")
            )
            cname = replace(cname or DNSChallenge(), propagation_timeout=timeout)
        elif opt == "resolvers":
            resolvers = tuple(d.remaining_args())
            cname = replace(cname or DNSChallenge(), resolvers=resolvers)
            if not resolvers:
                raise d.arg_err()
        elif opt == "dns_ttl":
            text = d.require_arg()
            ttl = duration(d, text, f"invalid dns_ttl duration {text}: {{err}}")
            cname = replace(cname or DNSChallenge(), ttl=ttl)
        else:
            raise d.error(f"unrecognized zerossl issuer property: {opt}", code="RPC301")
        iss = replace(iss, cname_validation=cname)
    return iss


# ---------------------------------------------------------------- other modules


def parse_cert_manager(d: Dispenser) -> Module:
    """`get_certificate http <url>` or `get_certificate tailscale`."""
    return unmarshal_module(
        d, "tls.get_certificate.", {"http": _http_manager, "tailscale": _tailscale}
    )


def _http_manager(d: Dispenser) -> Module:
    d.next()
    url = d.require_arg()
    if d.next_arg():
        raise d.arg_err()
    return Module(tag="via", module="http", settings=(("url", url),))


def _tailscale(d: Dispenser) -> Module:
    d.next()
    if d.next_arg():
        raise d.arg_err()
    return Module(tag="via", module="tailscale")


def parse_storage(d: Dispenser) -> Module:
    """`file_system [<root>] { root <path> }` (the only storage module of a standard build)."""
    return unmarshal_module(d, "caddy.storage.", {"file_system": _file_system})


def _file_system(d: Dispenser) -> Module:
    d.next()
    root = ""
    if d.next_arg():
        root = d.val
    if d.next_arg():
        raise d.arg_err()
    while d.next_block(0):
        if d.val != "root":
            raise d.error(f"unrecognized parameter '{d.val}'", code="RPC301")
        if root:
            raise d.error("root already set")
        root = d.require_arg()
        if d.next_arg():
            raise d.arg_err()
    if not root:
        raise d.error("missing root path (to use default, omit storage config entirely)")
    return Module(tag="module", module="file_system", settings=(("root", root),))


def parse_permission(d: Dispenser) -> Module:
    """`permission http <endpoint>` of `on_demand_tls`."""
    return unmarshal_module(d, "tls.permission.", {"http": _http_permission})


def _http_permission(d: Dispenser) -> Module:
    d.next()
    endpoint = d.require_arg()
    if d.next_arg():
        raise d.arg_err()
    return Module(tag="module", module="http", settings=(("endpoint", endpoint),))
