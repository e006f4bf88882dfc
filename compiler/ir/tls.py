"""TLS: certificates to load or automate, and which connections use which (`apps.tls`).

rpc serves TLS itself only from certificate files and `tls internal` (a local
CA); the ACME parts exist so the Caddy-JSON view is faithful and `rpc check`
can say which sites would need a public certificate. Issuers are typed
(`ACMEIssuer`, `InternalIssuer`, `ZeroSSLIssuer`); other pluggable modules
(trust pools, DNS providers, certificate managers) are `logs.Module` values.
"""

from __future__ import annotations

from dataclasses import dataclass

from rpc.compiler.ir.base import Duration, Node, jfield
from rpc.compiler.ir.logs import Module

__all__ = [
    "EAB",
    "ACMEIssuer",
    "AutomationPolicy",
    "CertFile",
    "ChainPreference",
    "Challenges",
    "ClientAuth",
    "ConnectionPolicy",
    "DNSChallenge",
    "InternalIssuer",
    "Issuer",
    "IssuerNode",
    "PortChallenge",
    "TLSApp",
    "ZeroSSLIssuer",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class CertFile(Node):
    """`certificates.load_files[]`: a certificate and key on disk."""

    certificate: str = jfield()
    key: str = jfield()
    format: str = jfield(default="")
    tags: tuple[str, ...] = jfield(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class Issuer(Node):
    """A certificate issuer known only by its module name and JSON settings."""

    module: str = jfield()
    settings: tuple[tuple[str, object], ...] = jfield(None, default=())  # flattened


@dataclass(frozen=True, slots=True, kw_only=True)
class EAB(Node):
    """ACME external account binding credentials."""

    key_id: str = jfield(default="", keep_zero=True)
    mac_key: str = jfield(default="", keep_zero=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class PortChallenge(Node):
    """The `http` or `tls-alpn` challenge settings of an ACME issuer."""

    disabled: bool = jfield(default=False)
    alternate_port: int = jfield(default=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class DNSChallenge(Node):
    """DNS challenge settings (also ZeroSSL's CNAME validation)."""

    provider: Module | None = jfield(default=None)
    ttl: Duration | None = jfield(default=None)
    propagation_delay: Duration | None = jfield(default=None)
    propagation_timeout: Duration | None = jfield(default=None)
    resolvers: tuple[str, ...] = jfield(default=())
    override_domain: str = jfield(default="")


@dataclass(frozen=True, slots=True, kw_only=True)
class Challenges(Node):
    """`challenges` of an ACME issuer."""

    http: PortChallenge | None = jfield(default=None)
    tls_alpn: PortChallenge | None = jfield("tls-alpn", default=None)
    dns: DNSChallenge | None = jfield(default=None)
    bind_host: str = jfield(default="")
    distributed: bool | None = jfield(default=None, keep_zero=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class ChainPreference(Node):
    """`preferred_chains` of an ACME issuer."""

    smallest: bool | None = jfield(default=None, keep_zero=True)
    root_common_name: tuple[str, ...] = jfield(default=())
    any_common_name: tuple[str, ...] = jfield(default=())


@dataclass(frozen=True, slots=True, kw_only=True)
class ACMEIssuer(Node):
    """`tls.issuance.acme`: certificates from an ACME CA (Let's Encrypt by default)."""

    CADDY_TAG = ("module", "acme")

    ca: str = jfield(default="")
    test_ca: str = jfield(default="")
    email: str = jfield(default="")
    profile: str = jfield(default="")
    account_key: str = jfield(default="")
    external_account: EAB | None = jfield(default=None)
    acme_timeout: Duration | None = jfield(default=None)
    challenges: Challenges | None = jfield(default=None)
    trusted_roots_pem_files: tuple[str, ...] = jfield(default=())
    preferred_chains: ChainPreference | None = jfield(default=None)
    certificate_lifetime: Duration | None = jfield(default=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class InternalIssuer(Node):
    """`tls.issuance.internal`: certificates from a local CA of the `pki` app."""

    CADDY_TAG = ("module", "internal")

    ca: str = jfield(default="")
    lifetime: Duration | None = jfield(default=None)
    sign_with_root: bool = jfield(default=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ZeroSSLIssuer(Node):
    """`tls.issuance.zerossl`: certificates from ZeroSSL's API (not its ACME endpoint)."""

    CADDY_TAG = ("module", "zerossl")

    api_key: str = jfield(default="")
    validity_days: int = jfield(default=0)
    listen_host: str = jfield(default="")
    alternate_http_port: int = jfield(default=0)
    cname_validation: DNSChallenge | None = jfield(default=None)


IssuerNode = ACMEIssuer | InternalIssuer | ZeroSSLIssuer | Issuer


@dataclass(frozen=True, slots=True, kw_only=True)
class AutomationPolicy(Node):
    """`automation.policies[]`: how certificates for some subjects are obtained."""

    subjects: tuple[str, ...] = jfield(default=())
    issuers: tuple[IssuerNode, ...] = jfield(default=())
    managers: tuple[Module, ...] = jfield("get_certificate", default=())
    key_type: str = jfield(default="")
    must_staple: bool = jfield(default=False)
    renewal_window_ratio: float = jfield(default=0.0)
    on_demand: bool = jfield(default=False)
    reuse_private_keys: bool = jfield(default=False)
    disable_ocsp_stapling: bool = jfield(default=False)
    extra: tuple[tuple[str, object], ...] = jfield(None, default=())  # flattened


@dataclass(frozen=True, slots=True, kw_only=True)
class ClientAuth(Node):
    """`client_authentication` of a connection policy (mutual TLS)."""

    ca: Module | None = jfield(default=None)  # a trust pool; type key "provider"
    trusted_ca_certs: tuple[str, ...] = jfield(default=())
    trusted_ca_certs_pem_files: tuple[str, ...] = jfield(default=())
    trusted_leaf_certs: tuple[str, ...] = jfield(default=())
    verifiers: tuple[Module, ...] = jfield(default=())
    mode: str = jfield(default="")


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionPolicy(Node):
    """`tls_connection_policies[]` of a server."""

    match_sni: tuple[str, ...] = jfield(None, default=())  # JSON: {"match": {"sni": [...]}}
    certificate_tags: tuple[str, ...] = jfield(None, default=())  # certificate_selection.any_tag
    cipher_suites: tuple[str, ...] = jfield(default=())
    curves: tuple[str, ...] = jfield(default=())
    alpn: tuple[str, ...] = jfield(default=())
    protocol_min: str = jfield(default="")
    protocol_max: str = jfield(default="")
    drop: bool = jfield(default=False)
    client_authentication: ClientAuth | None = jfield(default=None)
    default_sni: str = jfield(default="")
    fallback_sni: str = jfield(default="")
    insecure_secrets_log: str = jfield(default="")
    extra: tuple[tuple[str, object], ...] = jfield(None, default=())  # flattened

    def settings_empty(self) -> bool:
        """Caddy's `SettingsEmpty`: nothing set besides the matchers."""
        return (
            not self.certificate_tags
            and not self.cipher_suites
            and not self.curves
            and not self.alpn
            and not self.protocol_min
            and not self.protocol_max
            and self.client_authentication is None
            and not self.default_sni
            and not self.fallback_sni
            and not self.insecure_secrets_log
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TLSApp(Node):
    """`apps.tls`."""

    automate: tuple[str, ...] = jfield(None, default=())  # certificates.automate
    load_files: tuple[CertFile, ...] = jfield(None, default=())  # certificates.load_files
    load_folders: tuple[str, ...] = jfield(None, default=())  # certificates.load_folders
    load_pem: tuple[tuple[str, str, tuple[str, ...]], ...] = jfield(None, default=())
    policies: tuple[AutomationPolicy, ...] = jfield(None, default=())  # automation.policies
    on_demand: tuple[tuple[str, object], ...] = jfield(None, default=())  # automation.on_demand
    ocsp_interval: Duration | None = jfield(None, default=None)
    renew_interval: Duration | None = jfield(None, default=None)
    storage_clean_interval: Duration | None = jfield(None, default=None)
    disable_ocsp_stapling: bool = jfield(default=False)
    disable_storage_check: bool = jfield(default=False)
    disable_storage_clean: bool = jfield(default=False)
    dns: Module | None = jfield(default=None)
    resolvers: tuple[str, ...] = jfield(default=())
    encrypted_client_hello: Module | None = jfield(default=None)
    extra: tuple[tuple[str, object], ...] = jfield(None, default=())  # flattened
