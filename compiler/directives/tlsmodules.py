"""Ports of the Caddyfile syntax of Caddy's TLS modules: issuers, trust pools, client auth.

Input: a dispenser over one module's segment (as `caddyfile.UnmarshalModule`
hands it over: positioned before the module name); output: the IR node
(`ACMEIssuer`, `ClientAuth`, ...) or a `Module` for pass-through modules.
Used by the `tls` directive and the TLS global options. Only the modules of a
standard Caddy 2.11 build exist; DNS providers and other plugins are refused
with Caddy's "module not registered" error.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from rpc.compiler.directives.modparse import atoi, duration, kw, unknown_module, unmarshal_module
from rpc.compiler.dispenser import Dispenser
from rpc.compiler.ir.base import Duration
from rpc.compiler.ir.logs import Module, Obj
from rpc.compiler.ir.tls import (
    EAB,
    ACMEIssuer,
    ChainPreference,
    Challenges,
    ClientAuth,
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
    "parse_client_auth",
    "parse_issuer",
    "parse_permission",
    "parse_preferred_chains",
    "parse_storage",
    "parse_trust_pool",
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
        ca=over.ca or base.ca,
        test_ca=over.test_ca or base.test_ca,
        email=over.email or base.email,
        profile=over.profile or base.profile,
        account_key=over.account_key or base.account_key,
        external_account=over.external_account or base.external_account,
        acme_timeout=over.acme_timeout or base.acme_timeout,
        trusted_roots_pem_files=roots,
        preferred_chains=over.preferred_chains or base.preferred_chains,
        certificate_lifetime=over.certificate_lifetime or base.certificate_lifetime,
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
    return replace(
        base,
        provider=over.provider or base.provider,
        propagation_delay=over.propagation_delay or base.propagation_delay,
        propagation_timeout=over.propagation_timeout or base.propagation_timeout,
        resolvers=over.resolvers or base.resolvers,
        override_domain=over.override_domain or base.override_domain,
        ttl=over.ttl or base.ttl,
    )


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


def _arg(d: Dispenser) -> str:
    if not d.next_arg():
        raise d.arg_err()
    return d.val


def _all1(d: Dispenser) -> str:
    got = d.all_args(1)
    if got is None:
        raise d.arg_err()
    return got[0]


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
            text = _all1(d)
            life = duration(d, text, f"invalid lifetime {text}: {{err}}")
            if life.ns < 0:
                raise d.error(f"lifetime must be >= 0: {text}")
            iss = replace(iss, certificate_lifetime=life)
        elif opt == "dir":
            if iss.ca:
                raise d.error(f"directory is already specified: {iss.ca}")
            iss = replace(iss, ca=_all1(d))
        elif opt == "test_dir":
            iss = replace(iss, test_ca=_all1(d))
        elif opt == "email":
            iss = replace(iss, email=_all1(d))
        elif opt == "profile":
            iss = replace(iss, profile=_all1(d))
        elif opt == "timeout":
            text = _all1(d)
            iss = replace(
                iss, acme_timeout=duration(d, text, f"invalid timeout duration {text}: {{err}}")
            )
        elif opt in ("disable_http_challenge", "disable_tlsalpn_challenge"):
            if d.next_arg():
                raise d.arg_err()
            which = "http" if opt == "disable_http_challenge" else "tls_alpn"
            iss = replace(iss, challenges=_port_challenge(iss.challenges, which, disabled=True))
        elif opt == "distributed":
            if _arg(d) != "false":
                raise d.error("only accepted value is 'false'")
            iss = replace(
                iss, challenges=replace(iss.challenges or Challenges(), distributed=False)
            )
        elif opt in ("alt_http_port", "alt_tlsalpn_port"):
            text = _arg(d)
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
            text = _arg(d)
            delay = duration(d, text, f"invalid propagation_delay duration {text}: {{err}}")
            iss = replace(iss, challenges=with_dns(iss.challenges, propagation_delay=delay))
        elif opt == "propagation_timeout":
            text = _arg(d)
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
            text = _arg(d)
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
            iss = replace(iss, ca=_all1(d))
        elif opt == "lifetime":
            iss = replace(iss, lifetime=duration(d, _arg(d)))
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
    api_key = _arg(d)
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
            text = _arg(d)
            iss = replace(iss, alternate_http_port=atoi(d, text, f"invalid port {text}: {{err}}"))
        elif opt == "dns":
            _arg(d)
            dns_provider(d)
        elif opt == "propagation_delay":
            text = _arg(d)
            delay = duration(d, text, f"invalid propagation_delay duration {text}: {{err}}")
            cname = replace(cname or DNSChallenge(), propagation_delay=delay)
        elif opt == "propagation_timeout":
            text = _arg(d)
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
            text = _arg(d)
            ttl = duration(d, text, f"invalid dns_ttl duration {text}: {{err}}")
            cname = replace(cname or DNSChallenge(), ttl=ttl)
        else:
            raise d.error(f"unrecognized zerossl issuer property: {opt}", code="RPC301")
        iss = replace(iss, cname_validation=cname)
    return iss


# ---------------------------------------------------------------- client authentication


def parse_client_auth(d: Dispenser) -> ClientAuth:
    """`client_auth { mode, trust_pool <module>, trusted_ca_cert[_file],
    trusted_leaf_cert[_file], verifier <module> }`."""
    while d.next_arg():
        pass
    ca: Module | None = None
    trusted_ca: list[str] = []
    leaf: list[str] = []
    verifiers: list[Module] = []
    mode = ""
    nesting = d.nesting
    conflict = "cannot specify both 'trust_pool' and 'trusted_ca_cert' or 'trusted_ca_cert_file'"
    while d.next_block(nesting):
        sub = d.val
        if sub == "mode":
            if d.count_remaining_args() > 1 or not d.next_arg():
                raise d.arg_err()
            mode = d.val
        elif sub == "trusted_ca_cert":
            if ca is not None:
                raise d.error(conflict, code="RPC311")
            trusted_ca.append(_arg(d))
        elif sub == "trusted_leaf_cert":
            leaf.append(_arg(d))
        elif sub in ("trusted_ca_cert_file", "trusted_leaf_cert_file"):
            if sub == "trusted_ca_cert_file" and ca is not None:
                raise d.error(conflict, code="RPC311")
            ders = _pem_file_ders(d, _arg(d))
            (trusted_ca if sub == "trusted_ca_cert_file" else leaf).extend(ders)
        elif sub == "trust_pool":
            if trusted_ca:
                raise d.error(conflict, code="RPC311")
            _arg(d)
            ca = parse_trust_pool(d)
        elif sub == "verifier":
            _arg(d)
            verifiers.append(unmarshal_module(d, "tls.client_auth.verifier.", {"leaf": _leaf}))
        else:
            raise d.error(f"unknown subdirective for client_auth: {sub}", code="RPC301")
    if trusted_ca:
        ca = Module(
            tag="provider", module="inline", settings=(("trusted_ca_certs", tuple(trusted_ca)),)
        )
    return ClientAuth(ca=ca, trusted_leaf_certs=tuple(leaf), verifiers=tuple(verifiers), mode=mode)


_PEM_BLOCK = re.compile(
    r"-----BEGIN ([^-]+)-----\s*(?:[A-Za-z-]+:[^\n]*\n)*\s*([A-Za-z0-9+/=\s]*?)-----END \1-----"
)


def _pem_file_ders(d: Dispenser, filename: str) -> list[str]:
    """Caddy's `convertPEMFilesToDER`: each CERTIFICATE block as base64 DER."""
    try:
        data = Path(filename).read_text(encoding="latin-1")
    except OSError as exc:
        raise d.error(f"open {filename}: {exc.strerror.lower() if exc.strerror else exc}") from None
    ders = []
    for m in _PEM_BLOCK.finditer(data):
        if m.group(1) != "CERTIFICATE":
            raise d.error(f"no CERTIFICATE pem block found in {filename}")
        raw = base64.b64decode("".join(m.group(2).split()))
        ders.append(base64.b64encode(raw).decode("ascii"))
    if not ders:
        raise d.error(f"no CERTIFICATE pem block found in {filename}")
    return ders


def _leaf(d: Dispenser) -> Module:
    """`leaf [<loader> <args...>] | leaf { <loader> <args...> ... }`."""
    d.next_arg()
    loaders: list[Module] = []
    if d.count_remaining_args() > 1:
        d.next_arg()
        loaders.append(unmarshal_module(d, "tls.leaf_cert_loader.", _LEAF_LOADERS))
    else:
        nesting = d.nesting
        while d.next_block(nesting):
            loaders.append(unmarshal_module(d, "tls.leaf_cert_loader.", _LEAF_LOADERS))
    settings = (("leaf_certs_loaders", tuple(loaders)),) if loaders else ()
    return Module(tag="verifier", module="leaf", settings=settings)


def _leaf_loader(module: str, key: str) -> Callable[[Dispenser], Module]:
    def parse(d: Dispenser) -> Module:
        d.next_arg()
        values = tuple(d.remaining_args())
        return Module(tag="loader", module=module, settings=((key, values),) if values else ())

    return parse


def _not_unmarshaler(go_type: str) -> Callable[[Dispenser], Module]:
    def parse(d: Dispenser) -> Module:
        d.next()
        module_id = f"tls.leaf_cert_loader.{d.val}"
        raise d.error(f"module {module_id} is not a Caddyfile unmarshaler; is {go_type}")

    return parse


_LEAF_LOADERS: dict[str, Callable[[Dispenser], Module]] = {
    "file": _leaf_loader("file", "files"),
    "folder": _leaf_loader("folder", "folders"),
    "pem": _leaf_loader("pem", "certificates"),
    "storage": _not_unmarshaler("*caddytls.LeafStorageLoader"),
}


# ---------------------------------------------------------------- trust pools


def parse_trust_pool(d: Dispenser) -> Module:
    """`<pool> ...`: inline, file, pki_root, pki_intermediate, storage, http, combined, system."""
    return unmarshal_module(d, "tls.ca_pool.source.", _POOLS)


def _pool(name: str, settings: list[tuple[str, object]]) -> Module:
    return Module(tag="provider", module=name, settings=tuple((k, v) for k, v in settings if v))


def _inline_pool(d: Dispenser) -> Module:
    d.next()
    if d.count_remaining_args() > 0:
        raise d.arg_err()
    certs: list[str] = []
    while d.next_block(0):
        if d.val != "trust_der":
            raise d.error(f"unrecognized directive: {d.val}", code="RPC301")
        certs.extend(d.remaining_args())
    if not certs:
        raise d.error("no certificates specified")
    return _pool("inline", [("trusted_ca_certs", tuple(certs))])


def _list_pool(name: str, key: str, sub: str, what: str) -> Callable[[Dispenser], Module]:
    """file (`pem_file`), pki_root / pki_intermediate (`authority`)."""

    def parse(d: Dispenser) -> Module:
        d.next()
        values = d.remaining_args()
        nesting = d.nesting
        while d.next_block(nesting):
            if d.val != sub:
                raise d.error(f"unrecognized directive: {d.val}", code="RPC301")
            values.extend(d.remaining_args())
        if not values:
            raise d.error(f"no {what} specified")
        return _pool(name, [(key, tuple(values))])

    return parse


def _storage_pool(d: Dispenser) -> Module:
    d.next()
    keys = d.remaining_args()
    storage: Module | None = None
    nesting = d.nesting
    while d.next_block(nesting):
        if d.val == "storage":
            if storage is not None:
                raise d.error("storage module already set")
            _arg(d)
            storage = parse_storage(d)
        elif d.val == "keys":
            keys.extend(d.remaining_args())
        else:
            raise d.error(f"unrecognized directive: {d.val}", code="RPC301")
    return _pool("storage", [("pem_keys", tuple(keys)), ("storage", storage)])


def _http_pool(d: Dispenser) -> Module:
    d.next()
    endpoints = d.remaining_args()
    tls: list[tuple[str, object]] | None = None
    nesting = d.nesting
    while d.next_block(nesting):
        if d.val == "endpoints":
            if d.count_remaining_args() == 0:
                raise d.arg_err()
            endpoints.extend(d.remaining_args())
        elif d.val == "tls":
            if tls is not None:
                raise d.error("tls block already defined")
            tls = _pool_tls(d)
        else:
            raise d.error(f"unrecognized directive: {d.val}", code="RPC301")
    tls_obj = Obj(items=tuple(tls)) if tls is not None else None
    return _pool("http", [("endpoints", tuple(endpoints)), ("tls", tls_obj)])


def _pool_tls(d: Dispenser) -> list[tuple[str, object]]:
    out: dict[str, object] = {}
    nesting = d.nesting
    while d.next_block(nesting):
        opt = d.val
        if opt == "ca":
            _arg(d)
            out["ca"] = parse_trust_pool(d)
        elif opt == "insecure_skip_verify":
            out["insecure_skip_verify"] = True
        elif opt == "handshake_timeout":
            text = _arg(d)
            out["handshake_timeout"] = duration(d, text, f"bad timeout value '{text}': {{err}}")
        elif opt == "server_name":
            out["server_name"] = _arg(d)
        elif opt == "renegotiation":
            level = _arg(d)
            if level not in ("never", "once", "freely"):
                raise d.error("unrecognized renegotiation level: ")
            out["renegotiation"] = level
        else:
            raise d.error(f"unrecognized directive: {opt}", code="RPC301")
    return list(out.items())


def _combined_pool(d: Dispenser) -> Module:
    d.next()
    if d.next_arg():
        raise d.arg_err()
    sources: list[Module] = []
    nesting = d.nesting
    while d.next_block(nesting):
        if d.val != "source":
            raise d.error(f"unrecognized directive: {d.val}", code="RPC301")
        _arg(d)
        sources.append(parse_trust_pool(d))
    if not sources:
        raise d.error("no sources specified")
    return _pool("combined", [("sources", tuple(sources))])


def _system_pool(d: Dispenser) -> Module:
    d.next()
    if d.next_arg():
        raise d.arg_err()
    return _pool("system", [])


_POOLS: dict[str, Callable[[Dispenser], Module]] = {
    "inline": _inline_pool,
    "file": _list_pool("file", "pem_files", "pem_file", "certificates"),
    "pki_root": _list_pool("pki_root", "authority", "authority", "authorities"),
    "pki_intermediate": _list_pool("pki_intermediate", "authority", "authority", "authorities"),
    "storage": _storage_pool,
    "http": _http_pool,
    "combined": _combined_pool,
    "system": _system_pool,
}


# ---------------------------------------------------------------- other modules


def parse_cert_manager(d: Dispenser) -> Module:
    """`get_certificate http <url>` or `get_certificate tailscale`."""
    return unmarshal_module(
        d, "tls.get_certificate.", {"http": _http_manager, "tailscale": _tailscale}
    )


def _http_manager(d: Dispenser) -> Module:
    d.next()
    url = _arg(d)
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
        root = _arg(d)
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
    endpoint = _arg(d)
    if d.next_arg():
        raise d.arg_err()
    return Module(tag="module", module="http", settings=(("endpoint", endpoint),))
