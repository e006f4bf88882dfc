"""Site-level directives that configure the server, not a handler: `tls`, `log`, `bind`.

Input: a `Helper` over one directive segment; output: config values by class
(`tls.connection_policy`, `tls.cert_loader`, `tls.cert_issuer`, `tls.key_type`,
`tls.on_demand`, `tls.cert_manager`, `tls.reuse_private_keys`,
`tls.force_automate`, `tls.renewal_window_ratio`, `custom_log`, `bind`) that
`servers.py` and `apps.py` assemble. Ports of `builtins.go` `parseTLS`,
`parseLog` and `parseBind`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace

from rpc.compiler.directives.helper import ConfigValue, Helper
from rpc.compiler.directives.logmodules import parse_log
from rpc.compiler.directives.modparse import kw, parse_float
from rpc.compiler.directives.registry import ParseFn, directive
from rpc.compiler.directives.tlsmodules import (
    IssuerRef,
    dns_provider,
    implicit_acme_issuers,
    parse_cert_manager,
    parse_issuer,
    with_dns,
)
from rpc.compiler.directives.trustpools import parse_client_auth
from rpc.compiler.dispenser import DirectiveError, Dispenser
from rpc.compiler.ir.base import Duration
from rpc.compiler.ir.logs import Module
from rpc.compiler.ir.tls import (
    EAB,
    ACMEIssuer,
    CertFile,
    ConnectionPolicy,
    InternalIssuer,
    IssuerNode,
)
from rpc.compiler.values import parse_duration

__all__ = ["CIPHER_SUITES", "CURVES", "PROTOCOLS", "parse_bind", "parse_log_directive", "parse_tls"]

PROTOCOLS = ("tls1.2", "tls1.3")
# Go's tls.CipherSuites(): the suites Caddy accepts by name.
CIPHER_SUITES = frozenset(
    {
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
    }
)
CURVES = frozenset({"x25519", "secp256r1", "secp384r1", "secp521r1", "x25519mlkem768"})
CERT_TAGS_STATE = "tlsCertTags"


def _documented(name: str) -> Callable[[ParseFn], ParseFn]:
    """Errors without a hint of their own point to the directive's documentation."""

    def wrap(fn: ParseFn) -> ParseFn:
        @functools.wraps(fn)
        def parse(h: Helper) -> list[ConfigValue]:
            try:
                return fn(h)
            except DirectiveError as exc:
                if exc.diag.hint is not None:
                    raise
                hint = f"see https://caddyserver.com/docs/caddyfile/directives/{name}"
                raise DirectiveError(replace(exc.diag, hint=hint)) from None

        return parse

    return wrap


@directive("bind")
@_documented("bind")
def parse_bind(h: Helper) -> list[ConfigValue]:
    """`bind <addresses...> [{ protocols h1|h2|h2c|h3 ... }]`."""
    d = h.d
    d.next()
    hosts, protocols = bind_args(d)
    return [ConfigValue("bind", (hosts, protocols), span=d.head_span)]


def bind_args(d: Dispenser) -> tuple[list[str], list[str]]:
    """The addresses and `protocols` of `bind` and `default_bind`."""
    hosts = d.remaining_args()
    protocols: list[str] = []
    while d.next_block(0):
        if d.val != "protocols":
            raise d.error(f"unknown subdirective: {d.val}", code="RPC301")
        protocols = d.remaining_args()
        if not protocols:
            raise d.error("protocols requires one or more arguments", code="RPC302")
    return hosts, protocols


@directive("log")
@_documented("log")
def parse_log_directive(h: Helper) -> list[ConfigValue]:
    """`log [<name>] { hostnames, no_hostname, output, format, core, level, sampling }`."""
    value = parse_log(h.d, h.lowering.state, None)
    return [ConfigValue("custom_log", value, span=h.d.head_span)]


def _one(d: Dispenser) -> str:
    args = d.remaining_args()
    if len(args) != 1:
        raise d.arg_err()
    return args[0]


@directive("tls")
@_documented("tls")
def parse_tls(h: Helper) -> list[ConfigValue]:
    """`tls [internal|force_automate|<email>|<cert_file> <key_file>] { protocols, ciphers,
    curves, alpn, client_auth, load, ca, ca_root, key_type, eab, issuer, get_certificate,
    dns, resolvers, propagation_delay, propagation_timeout, dns_ttl,
    dns_challenge_override_domain, on_demand, reuse_private_keys, insecure_secrets_log,
    renewal_window_ratio }`."""
    d = h.d
    d.next()
    span = d.head_span
    cp = ConnectionPolicy(span=span)
    files: list[CertFile] = []
    folders: list[str] = []
    tags: list[str] = []
    acme: ACMEIssuer | None = None
    internal: InternalIssuer | None = None
    issuers: list[IssuerNode] = []
    managers: list[Module] = []
    key_type = ""
    on_demand = reuse = force = False
    ratio = 0.0
    dns_options: list[str] = []

    first = d.remaining_args()
    if len(first) == 1:
        if first[0] == "internal":
            internal = InternalIssuer()
        elif first[0] == "force_automate":
            force = True
        elif "@" not in first[0]:
            raise d.error(
                "single argument must either be 'internal', 'force_automate', or an email address",
                hint="`tls off` does not exist in Caddy 2; use `http://` site addresses instead",
            )
        else:
            acme = ACMEIssuer(email=first[0])
    elif len(first) == 2:
        cert, key = first
        # One tag per certificate file: loading a file twice would keep only its last tag.
        seen: dict[str, str] = h.lowering.state.setdefault(CERT_TAGS_STATE, {})
        tag = seen.get(cert)
        if tag is None:
            tag = f"cert{len(seen)}"
            files.append(CertFile(certificate=cert, key=key, tags=(tag,), span=span))
            seen[cert] = tag
        tags.append(tag)
    elif first:
        raise d.arg_err()

    def dns_acme() -> ACMEIssuer:
        base = acme or ACMEIssuer()
        return replace(base, challenges=with_dns(base.challenges))

    has_block = False
    while d.next_block(0):
        has_block = True
        opt = d.val
        if opt == "protocols":
            args = d.remaining_args()
            if not args:
                raise d.error("protocols requires one or two arguments", code="RPC302")
            for i, proto in enumerate(args[:2]):
                if proto not in PROTOCOLS:
                    raise d.error(f"wrong protocol name or protocol not supported: '{proto}'")
                cp = replace(cp, **kw("protocol_min" if i == 0 else "protocol_max", proto))
        elif opt == "ciphers":
            while d.next_arg():
                if d.val not in CIPHER_SUITES:
                    raise d.error(
                        f"wrong cipher suite name or cipher suite not supported: '{d.val}'"
                    )
                cp = replace(cp, cipher_suites=(*cp.cipher_suites, d.val))
        elif opt == "curves":
            while d.next_arg():
                if d.val not in CURVES:
                    raise d.error(f"Wrong curve name or curve not supported: '{d.val}'")
                cp = replace(cp, curves=(*cp.curves, d.val))
        elif opt == "client_auth":
            cp = replace(cp, client_authentication=parse_client_auth(d.new_from_next_segment()))
        elif opt == "alpn":
            args = d.remaining_args()
            if not args:
                raise d.arg_err()
            cp = replace(cp, alpn=tuple(args))
        elif opt == "load":
            folders.extend(d.remaining_args())
        elif opt == "ca":
            acme = replace(acme or ACMEIssuer(), ca=_one(d))
        elif opt == "key_type":
            key_type = _one(d)
        elif opt == "eab":
            args = d.remaining_args()
            if len(args) != 2:
                raise d.arg_err()
            acme = replace(
                acme or ACMEIssuer(), external_account=EAB(key_id=args[0], mac_key=args[1])
            )
        elif opt == "issuer":
            d.require_arg()
            issuers.append(parse_issuer(d))
        elif opt == "get_certificate":
            d.require_arg()
            managers.append(parse_cert_manager(d))
        elif opt == "dns":
            acme = dns_acme()
            if d.next_arg():
                dns_provider(d)
            elif h.options.get("dns") is None:
                raise d.arg_err("configure a DNS provider, or set the `dns` global option")
        elif opt == "resolvers":
            args = d.remaining_args()
            if not args:
                raise d.arg_err()
            acme = dns_acme()
            acme = replace(acme, challenges=with_dns(acme.challenges, resolvers=tuple(args)))
            dns_options.append("resolvers")
        elif opt in ("propagation_delay", "propagation_timeout", "dns_ttl"):
            text = _one(d)
            value = _dns_duration(d, opt, text)
            acme = dns_acme()
            key = "ttl" if opt == "dns_ttl" else opt
            acme = replace(acme, challenges=with_dns(acme.challenges, **kw(key, value)))
            dns_options.append(opt)
        elif opt == "dns_challenge_override_domain":
            domain = _one(d)
            acme = dns_acme()
            acme = replace(acme, challenges=with_dns(acme.challenges, override_domain=domain))
            dns_options.append(opt)
        elif opt == "ca_root":
            root = _one(d)
            acme = acme or ACMEIssuer()
            acme = replace(acme, trusted_roots_pem_files=(*acme.trusted_roots_pem_files, root))
        elif opt in ("on_demand", "reuse_private_keys"):
            if d.next_arg():
                raise d.arg_err()
            if opt == "on_demand":
                on_demand = True
            else:
                reuse = True
        elif opt == "insecure_secrets_log":
            cp = replace(cp, insecure_secrets_log=d.require_arg())
        elif opt == "renewal_window_ratio":
            text = d.require_arg()
            ratio = parse_float(d, text, "parsing renewal_window_ratio: {err}")
            if not 0 < ratio < 1:
                raise d.error("renewal_window_ratio must be between 0 and 1 (exclusive)")
        else:
            raise d.error(f"unknown subdirective: {opt}", code="RPC301")

    if acme is not None and acme.challenges is not None and acme.challenges.dns is not None:
        provider_set = (
            acme.challenges.dns.provider is not None
            or h.options.get("dns") is not None
            or "acme_dns" in h.options
        )
        if dns_options and not provider_set:
            raise d.error(
                f"setting DNS challenge options [{', '.join(dns_options)}] requires a DNS "
                "provider (set with the 'dns' subdirective or 'acme_dns' global option)",
                code="RPC311",
            )
    if not first and not has_block:
        raise d.arg_err("write `tls internal`, `tls <cert> <key>` or a block of settings")

    out: list[ConfigValue] = []
    if files:
        out.append(ConfigValue("tls.cert_loader", ("load_files", tuple(files))))
    if folders:
        out.append(ConfigValue("tls.cert_loader", ("load_folders", tuple(folders))))
    if issuers and (acme is not None or internal is not None):
        raise d.error(
            "cannot mix issuer subdirective (explicit issuers) with other issuer-specific "
            "subdirectives (implicit issuers)",
            code="RPC311",
        )
    if acme is not None and internal is not None:
        raise d.error("cannot create both ACME and internal certificate issuers", code="RPC311")
    if issuers:
        out.extend(ConfigValue("tls.cert_issuer", IssuerRef(i)) for i in issuers)
    elif acme is not None:
        for ref in implicit_acme_issuers(h.options.get("cert_issuer"), acme):
            out.append(ConfigValue("tls.cert_issuer", ref))
    elif internal is not None:
        out.append(ConfigValue("tls.cert_issuer", IssuerRef(internal)))
    if key_type:
        out.append(ConfigValue("tls.key_type", key_type))
    if on_demand:
        out.append(ConfigValue("tls.on_demand", True))
    out.extend(ConfigValue("tls.cert_manager", m) for m in managers)
    if reuse:
        out.append(ConfigValue("tls.reuse_private_keys", True))
    if force:
        out.append(ConfigValue("tls.force_automate", True))
    if ratio:
        out.append(ConfigValue("tls.renewal_window_ratio", ratio))
    if tags:
        cp = replace(cp, certificate_tags=tuple(tags))
    # Always a connection policy: using `tls` at all turns TLS on for the site.
    out.append(ConfigValue("tls.connection_policy", cp))
    return out


def _dns_duration(d: Dispenser, opt: str, text: str) -> Duration:
    if opt == "propagation_timeout" and text == "-1":
        return Duration(-1)
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise d.error(f"invalid {opt} duration {text}: time: {exc}") from None
