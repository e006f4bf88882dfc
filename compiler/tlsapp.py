"""Sites and TLS options → the TLS app: certificate loaders and automation policies.

Input: the pairings (listeners → sites, sites sorted as for their server)
and the evaluated global options; output: a `TLSApp` or None. A port of
`httpcaddyfile/tlsapp.go` `buildTLSApp` with `newBaseAutomationPolicy`,
`fillInGlobalACMEDefaults` and `consolidateAutomationPolicies`, and of the
certmagic name checks they use. Policies are mutable while being built, and
issuers are shared `IssuerRef`s, because Caddy fills global defaults into
issuer values that several policies point to.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from rpc.compiler.addresses import split_host_port
from rpc.compiler.caddyjson import value as json_value
from rpc.compiler.certnames import (
    match_wildcard,
    subject_is_internal,
    subject_is_ip,
    subject_qualifies_for_cert,
    subject_qualifies_for_public_cert,
)
from rpc.compiler.directives.helper import Lowering
from rpc.compiler.directives.tlsmodules import IssuerRef, default_issuers
from rpc.compiler.gosort import slice_stable
from rpc.compiler.ir.base import Duration
from rpc.compiler.ir.logs import Module
from rpc.compiler.ir.tls import (
    ACMEIssuer,
    AutomationPolicy,
    CertFile,
    Challenges,
    InternalIssuer,
    PortChallenge,
    TLSApp,
)
from rpc.compiler.options import OPTION_SPANS_STATE
from rpc.compiler.servers import DEFAULT_HTTP_PORT, Pairing, SiteBlock
from rpc.compiler.source import Span

__all__ = ["build_tls"]


class TLSBuildError(Exception):
    """Caddy refuses the TLS configuration as a whole (no single directive is wrong)."""

    def __init__(
        self,
        message: str,
        span: Span | None = None,
        hint: str | None = None,
        option: str | None = None,
    ) -> None:
        super().__init__(message)
        self.span = span
        self.hint = hint
        self.option = option  # the global option at fault, if one is


# ---------------------------------------------------------------- policies while building


@dataclass(eq=False)
class _Policy:
    """A mutable `caddytls.AutomationPolicy` (identity matters: Go shares pointers)."""

    subjects: list[str] | None = None
    issuers: list[IssuerRef] | None = None  # Go's decoded Issuers
    raw_issuers: list[dict[str, Any]] | None = None  # Go's IssuersRaw (JSON)
    managers: list[Module] | None = None
    key_type: str = ""
    on_demand: bool = False
    reuse_private_keys: bool = False
    renewal_window_ratio: float = 0.0
    disable_ocsp_stapling: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> _Policy:
        return replace(self, extra=dict(self.extra))

    def key(self) -> tuple[object, ...]:
        """Everything `reflect.DeepEqual` compares (nil and empty lists differ)."""
        return (
            None if self.subjects is None else tuple(self.subjects),
            None if self.issuers is None else tuple(r.value for r in self.issuers),
            None if self.raw_issuers is None else repr(self.raw_issuers),
            None if self.managers is None else tuple(self.managers),
            self.key_type,
            self.on_demand,
            self.reuse_private_keys,
            self.renewal_window_ratio,
            self.disable_ocsp_stapling,
            repr(sorted(self.extra.items())),
        )


def _deep_equal(a: _Policy, b: _Policy) -> bool:
    return a is b or a.key() == b.key()


def _is_empty(ap: _Policy, subjects: list[str] | None, managers: list[Module] | None) -> bool:
    """DeepEqual with a new policy that has only these subjects and managers."""
    return _deep_equal(ap, _Policy(subjects=subjects, managers=managers))


def _has_global_acme_defaults(options: dict[str, Any]) -> bool:
    return (
        "email" in options
        or "acme_ca" in options
        or "acme_ca_root" in options
        or "acme_dns" in options
        or "acme_eab" in options
        or "preferred_chains" in options
    )


def _base_policy(options: dict[str, Any], always: bool) -> _Policy | None:
    """`newBaseAutomationPolicy`: a policy carrying the global automation options."""
    has_issuers = "cert_issuer" in options
    has_local = "local_certs" in options
    has_key_type = "key_type" in options
    has_ocsp = "ocsp_stapling" in options
    has_ratio = "renewal_window_ratio" in options
    has_automation = has_issuers or has_local or has_key_type or has_ocsp or has_ratio
    has_acme = (
        "acme_ca" in options
        or "acme_ca_root" in options
        or "acme_dns" in options
        or "acme_eab" in options
        or "preferred_chains" in options
    )
    if not has_automation and not has_acme:
        return _Policy() if always else None
    ap = _Policy(key_type=options.get("key_type", ""))
    if has_issuers and has_local:
        raise TLSBuildError(
            "global options are ambiguous: local_certs is confusing when combined with "
            "cert_issuer, because local_certs is also a specific kind of issuer",
            hint="keep one of them: `cert_issuer internal` is what `local_certs` means",
            option="local_certs",
        )
    if has_issuers:
        ap.issuers = options["cert_issuer"]  # the same list everywhere, as in Go
    elif has_local:
        ap.issuers = [IssuerRef(InternalIssuer())]
    if has_acme:
        for i, ref in enumerate(ap.issuers or []):
            try:
                _fill_acme_defaults(ref, options)
            except TLSBuildError as exc:
                raise TLSBuildError(
                    f"filling in global issuer defaults for issuer {i}: {exc}"
                ) from None
    if has_ocsp:
        ap.disable_ocsp_stapling = bool(options["ocsp_stapling"])
    if has_ratio:
        ap.renewal_window_ratio = options["renewal_window_ratio"]
    return ap


def _fill_acme_defaults(ref: IssuerRef, options: dict[str, Any]) -> None:
    """`fillInGlobalACMEDefaults`: global ACME options fill what an ACME issuer leaves unset."""
    iss = ref.value
    if not isinstance(iss, ACMEIssuer):
        return
    ch = iss.challenges
    if "email" in options and not iss.email:
        iss = replace(iss, email=options["email"])
    if "acme_ca" in options and not iss.ca:
        iss = replace(iss, ca=options["acme_ca"])
    root = options.get("acme_ca_root")
    if root is not None and root not in iss.trusted_roots_pem_files:
        iss = replace(iss, trusted_roots_pem_files=(*iss.trusted_roots_pem_files, root))
    if "acme_dns" in options and (ch is None or ch.dns is None or ch.dns.provider is None):
        # A standard build has no DNS provider: `acme_dns` and `dns` can only be empty.
        raise TLSBuildError(
            "acme_dns specified without DNS provider config, but no provider specified with "
            "'dns' global option"
        )
    if "acme_eab" in options and iss.external_account is None:
        eab = options["acme_eab"]
        iss = replace(iss, external_account=replace(eab, span=None))
    if "preferred_chains" in options and iss.preferred_chains is None:
        iss = replace(iss, preferred_chains=replace(options["preferred_chains"], span=None))
    ch = iss.challenges
    no_dns = ch is None or ch.dns is None
    if (
        "http_port" in options
        and no_dns
        and (ch is None or ch.http is None or not ch.http.alternate_port)
    ):
        ch = ch or Challenges()
        ch = replace(
            ch, http=replace(ch.http or PortChallenge(), alternate_port=options["http_port"])
        )
    if (
        "https_port" in options
        and no_dns
        and (ch is None or ch.tls_alpn is None or not ch.tls_alpn.alternate_port)
    ):
        ch = ch or Challenges()
        ch = replace(
            ch,
            tls_alpn=replace(ch.tls_alpn or PortChallenge(), alternate_port=options["https_port"]),
        )
    if ch is None or (ch.dns is None and not ch.bind_host):
        binds = options.get("default_bind")
        if binds and binds[0][0] and binds[0][0][0]:
            ch = replace(ch or Challenges(), bind_host=binds[0][0][0])
    iss = replace(iss, challenges=ch)
    lifetime = options.get("cert_lifetime")
    if isinstance(lifetime, Duration) and iss.certificate_lifetime is None:
        iss = replace(iss, certificate_lifetime=lifetime)
    resolvers = options.get("tls_resolvers")
    ch = iss.challenges
    if resolvers and ch is not None and ch.dns is not None:
        has_dns = "acme_dns" in options or ch.dns.provider is not None
        if has_dns and not ch.dns.resolvers:
            iss = replace(iss, challenges=replace(ch, dns=replace(ch.dns, resolvers=resolvers)))
    ref.value = iss


# ---------------------------------------------------------------- building


def _port_of(listen: str) -> int | None:
    """The port of a listener address, or None for unix sockets and ranges Caddy reads."""
    if listen.startswith("unix"):
        return None
    addr = listen.split("/", 1)[1] if "/" in listen else listen
    try:
        port = split_host_port(addr)[1]
    except ValueError:
        return None
    start, _, end = port.partition("-")
    return int(start) if start.isdigit() and (not end or end == start) else None


def _uses_port_other_than(listen: list[str], port: int) -> bool:
    """`listenersUseAnyPortOtherThan`."""
    for ln in listen:
        p = _port_of(ln)
        if p is None or p != port:
            return True
    return False


def _hosts_not_http(site: SiteBlock, http_port: str) -> list[str]:
    hosts: list[str] = []
    for a in site.addresses:
        if a.host and a.scheme != "http" and a.port != http_port and a.host not in hosts:
            hosts.append(a.host)
    return sorted(hosts)


def _qualifies_public(ap: _Policy, subj: str) -> bool:
    """Caddy's lenient `subjectQualifiesForPublicCert` (no IPs; `*.*.x` with on-demand)."""
    return (
        not subject_is_ip(subj)
        and not subject_is_internal(subj)
        and (subj.count("*.") < 2 or ap.on_demand)
    )


def _is_tailscale(name: str) -> bool:
    return name.lower().endswith(".ts.net")


def build_tls(pairings: list[Pairing], lowering: Lowering) -> TLSApp | None:
    """The TLS app, or None when it would be empty; errors go to the diagnostics."""
    try:
        return _build(pairings, lowering)
    except TLSBuildError as exc:
        span = exc.span
        spans: dict[str, Span] = lowering.state.get(OPTION_SPANS_STATE, {})
        if span is None and exc.option is not None:
            span = spans.get(exc.option)
        if span is None:
            span = next((s.span for p in pairings for s in p.sites if s.span), None)
        hint = exc.hint or "see https://caddyserver.com/docs/automatic-https"
        lowering.diags.error("RPC311", str(exc), span, hint)
        return None


def _build(pairings: list[Pairing], lowering: Lowering) -> TLSApp | None:
    options = lowering.options
    http_port = str(options.get("http_port", DEFAULT_HTTP_PORT))
    auto_https: list[str] = options.get("auto_https", [])
    shared_hosts: list[str] = []  # hosts sharing a site with a hostless key
    if "off" not in auto_https:
        for p in pairings:
            for site in p.sites:
                for addr in site.addresses:
                    if addr.host:
                        continue
                    for other in site.addresses:
                        if other.original == addr.original:
                            continue
                        if (
                            other.host
                            and other.scheme != "http"
                            and other.port != http_port
                            and other.host not in shared_hosts
                        ):
                            shared_hosts.append(other.host)
                    break

    policies: list[_Policy] = []
    automation = False
    catch_all = _base_policy(options, always=False)
    if catch_all is not None:
        automation = True
        policies.append(catch_all)
    forced: list[str] = []
    loaders: dict[str, list[object]] = {}

    for p in pairings:
        if not _uses_port_other_than([a for a, _ in p.addresses], int(http_port)):
            continue
        for site in p.sites:
            if all(a.scheme == "http" for a in site.addresses):
                continue
            ap = _base_policy(options, always=True)
            assert ap is not None
            hosts = site.hosts()
            if not hosts and catch_all is not None:
                ap = catch_all
            pile = site.pile
            if "tls.on_demand" in pile:
                ap.on_demand = True
            if "tls.force_automate" in pile:
                forced.extend(h for h in hosts if h not in forced)
            if "tls.reuse_private_keys" in pile:
                ap.reuse_private_keys = True
            if "tls.key_type" in pile:
                ap.key_type = pile["tls.key_type"][0].value
            if "tls.renewal_window_ratio" in pile:
                ap.renewal_window_ratio = pile["tls.renewal_window_ratio"][0].value
            elif "renewal_window_ratio" in options:
                ap.renewal_window_ratio = options["renewal_window_ratio"]
            if "tls.cert_issuer" in pile:
                issuers = [v.value for v in pile["tls.cert_issuer"]]
                if ap is catch_all and [r.value for r in ap.issuers or []] != [
                    r.value for r in issuers
                ]:
                    raise TLSBuildError(
                        "automation policy from site block is also default/catch-all policy "
                        "because of key without hostname, and the two are in conflict"
                    )
                ap.issuers = issuers
            for v in pile.get("tls.cert_manager", []):
                ap.managers = [*(ap.managers or []), v.value]
            for v in pile.get("bind", []):
                bind_hosts = v.value[0]
                for ref in ap.issuers or []:
                    iss = ref.value
                    if not isinstance(iss, ACMEIssuer):
                        continue
                    ch = iss.challenges or Challenges()
                    if not ch.bind_host:
                        ch = replace(ch, bind_host=bind_hosts[0] if bind_hosts else "")
                    ref.value = replace(iss, challenges=ch)
            if not hosts and catch_all is None:
                catch_all = ap
            ap.subjects = _hosts_not_http(site, http_port)
            ap2: _Policy | None = None
            if not ap.issuers:
                internal: list[str] = []
                external: list[str] = []
                for s in ap.subjects:
                    if _is_tailscale(s):
                        continue
                    if not subject_qualifies_for_cert(s):
                        raise TLSBuildError(
                            f"subject does not qualify for certificate: '{s}'", site.span
                        )
                    (external if _qualifies_public(ap, s) else internal).append(s)
                if external and internal:
                    ap.subjects = external
                    ap2 = ap.copy()
                    ap2.subjects = internal
                    ap2.raw_issuers = [{"module": "internal"}]
            automation = True
            policies.append(ap)
            if ap2 is not None:
                policies.append(ap2)
            for v in pile.get("tls.cert_loader", []):
                kind, items = v.value
                loaders.setdefault(kind, []).extend(items)

    on_demand = options.get("on_demand_tls")
    if on_demand is not None:
        automation = True

    ech = options.get("ech")
    if ech is not None:
        ap = _base_policy(options, always=True)
        assert ap is not None
        ap.subjects = []
        for cfg in ech.get("configs", ()):
            name = dict(cfg.items).get("public_name", "")
            if not name:
                continue
            ap.subjects.append(name)
        if ap.subjects:
            automation = True
            policies.append(ap)

    storage_clean = options.get("storage_clean_interval")
    automate: list[str] = []
    internal_ap = _Policy(raw_issuers=[{"module": "internal"}])
    if "off" not in auto_https and "disable_certs" not in auto_https:
        for h in shared_hosts:
            automate.append(h)
            if not subject_qualifies_for_public_cert(h):
                internal_ap.subjects = [*(internal_ap.subjects or []), h]
    for name in forced:
        if name not in automate:
            automate.append(name)
    _automate_names(automate, internal_ap, policies, options)
    automate.sort()
    if internal_ap.subjects:
        automation = True
        policies.append(internal_ap)

    if automation and _has_global_acme_defaults(options):
        for ap in policies:
            if not ap.issuers and not ap.raw_issuers and _all_public(ap):
                ap.issuers = default_issuers(options.get("email", ""))
                if "acme_ca" in options:
                    ap.issuers = [IssuerRef(ACMEIssuer())]

    final: list[AutomationPolicy] = []
    if automation:
        for i, ap in enumerate(policies):
            for j, ref in enumerate(ap.issuers or []):
                try:
                    _fill_acme_defaults(ref, options)
                except TLSBuildError as exc:
                    raise TLSBuildError(
                        f"filling in global issuer defaults for AP {i}, issuer {j}: {exc}"
                    ) from None
        for ap in policies:
            if ap.issuers and ap.raw_issuers is None:
                ap.raw_issuers = [json_value(r.value) for r in ap.issuers]
        policies = _consolidate(policies)
        seen: set[str] = set()
        for ap in policies:
            for s in ap.subjects or []:
                if s in seen:
                    raise TLSBuildError(
                        "hostname appears in more than one automation policy, making "
                        f"certificate management ambiguous: {s}"
                    )
                seen.add(s)
        final = [_freeze(ap) for ap in policies]

    files = tuple(x for x in loaders.get("load_files", ()) if isinstance(x, CertFile))
    folders = tuple(str(x) for x in loaders.get("load_folders", ()))
    app = TLSApp(
        automate=tuple(automate),
        load_files=files,
        load_folders=folders,
        policies=tuple(final),
        on_demand=on_demand or (),
        ocsp_interval=options.get("ocsp_interval"),
        renew_interval=options.get("renew_interval"),
        storage_clean_interval=storage_clean if isinstance(storage_clean, Duration) else None,
        disable_ocsp_stapling=bool(options.get("ocsp_stapling")),
        disable_storage_check=options.get("storage_check") == "off",
        disable_storage_clean=storage_clean is False,
        resolvers=tuple(options.get("tls_resolvers", ())),
        encrypted_client_hello=ech,
    )
    return None if app == TLSApp() else app


def _automate_names(
    automate: list[str], internal_ap: _Policy, policies: list[_Policy], options: dict[str, Any]
) -> None:
    """The `tls_automate_names` option: managed names without a site of their own."""
    public: list[str] = []
    for name in options.get("tls_automate_names", ()):
        if name in automate:
            continue
        automate.append(name)
        if any(name in (ap.subjects or []) for ap in policies):
            continue  # a site's policy already covers it
        if subject_qualifies_for_public_cert(name):
            public.append(name)
        else:
            internal_ap.subjects = [*(internal_ap.subjects or []), name]
    if public:
        ap = _base_policy(options, always=_has_global_acme_defaults(options))
        if ap is not None:
            ap.subjects = public
            policies.append(ap)


def _all_public(ap: _Policy) -> bool:
    """`automationPolicyHasAllPublicNames`."""
    return not any(not _qualifies_public(ap, s) or _is_tailscale(s) for s in ap.subjects or [])


def _is_subset(a: _Policy, b: _Policy) -> bool:
    """`automationPolicyIsSubset`: every subject of a is covered by b."""
    if not b.subjects:
        return True
    if not a.subjects:
        return False
    return all(any(match_wildcard(s, w) for w in b.subjects) for s in a.subjects)


def _shadows(i: int, aps: list[_Policy]) -> int:
    for j in range(i + 1, len(aps)):
        if _is_subset(aps[i], aps[j]):
            return j
    return -1


def _implicit_class(ap: _Policy) -> str:
    if not ap.subjects:
        return "catch-all"
    public = any(_qualifies_public(ap, s) for s in ap.subjects)
    internal = any(not _qualifies_public(ap, s) for s in ap.subjects)
    if public and internal:
        return "mixed"
    return "public" if public else "internal"


def _uses_default_internal(ap: _Policy) -> bool:
    if not ap.raw_issuers and not ap.issuers:
        return _implicit_class(ap) == "internal"
    return (
        ap.raw_issuers is not None
        and len(ap.raw_issuers) == 1
        and not ap.issuers
        and ap.raw_issuers[0] == {"module": "internal"}
    )


def _same_issuers(a: _Policy, b: _Policy) -> bool:
    if repr(a.raw_issuers or None) == repr(b.raw_issuers or None):
        if a.raw_issuers or a.issuers or b.raw_issuers or b.issuers:
            return True
        ca, cb = _implicit_class(a), _implicit_class(b)
        return ca == "catch-all" or cb == "catch-all" or ca == cb
    return _uses_default_internal(a) and _uses_default_internal(b)


def _same_settings(a: _Policy, b: _Policy) -> bool:
    return (
        _same_issuers(a, b)
        and (a.managers or None) == (b.managers or None)
        and a.key_type == b.key_type
        and a.on_demand == b.on_demand
        and a.reuse_private_keys == b.reuse_private_keys
        and a.renewal_window_ratio == b.renewal_window_ratio
    )


def _consolidate(aps: list[_Policy]) -> list[_Policy]:
    """`consolidateAutomationPolicies`: most specific first; merge identical policies."""

    def less(a: _Policy, b: _Policy) -> bool:
        if _is_subset(a, b):
            return True
        if _is_subset(b, a):
            return False
        return len(a.subjects or []) > len(b.subjects or [])

    aps = list(aps)
    slice_stable(aps, less)

    empty_count = 0
    original = len(aps)
    i = 0
    while i < len(aps):
        if _is_empty(aps[i], aps[i].subjects, None):
            empty_count += 1
            # An empty policy in front of a non-empty one it shadows has a purpose.
            shadow = _shadows(i, aps)
            shadow_empty = shadow >= 0 and _is_empty(
                aps[shadow], aps[shadow].subjects, aps[shadow].managers
            )
            if i == len(aps) - 1 or shadow_empty:
                del aps[i]
                continue
        i += 1
    if empty_count == original:
        return []

    i = 0
    while i < len(aps):
        again = False  # Go's `i--; continue outer`: look at position i afresh
        j = i + 1
        while j < len(aps):
            if _deep_equal(aps[i], aps[j]):
                del aps[j]
                again = True
                break
            if _same_settings(aps[i], aps[j]):
                if aps[i].subjects and not aps[j].subjects:
                    # Drop the specific policy in favour of the catch-all, unless a
                    # policy in between (say for `*.com`) would then take its names.
                    if _shadows(i, aps) >= j:
                        del aps[i]
                        again = True
                        break
                else:
                    merged = list(aps[i].subjects or [])
                    merged.extend(s for s in aps[j].subjects or [] if s not in merged)
                    aps[i].subjects = merged
                    del aps[j]
                    continue
            j += 1
        if not again:
            i += 1
    return aps


def _freeze(ap: _Policy) -> AutomationPolicy:
    """The IR node of a finished policy."""
    issuers = tuple(r.value for r in ap.issuers or [])
    extra: tuple[tuple[str, object], ...] = ()
    if not issuers and ap.raw_issuers:
        extra = (("issuers", tuple(ap.raw_issuers)),)
    return AutomationPolicy(
        subjects=tuple(ap.subjects or ()),
        issuers=issuers,
        managers=tuple(ap.managers or ()),
        key_type=ap.key_type,
        renewal_window_ratio=ap.renewal_window_ratio,
        on_demand=ap.on_demand,
        reuse_private_keys=ap.reuse_private_keys,
        disable_ocsp_stapling=ap.disable_ocsp_stapling,
        extra=extra,
    )
