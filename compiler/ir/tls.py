"""TLS: certificates to load or automate, and which connections use which (`apps.tls`).

rpc serves TLS itself only from certificate files and `tls internal` (a local
CA); the ACME parts exist so the Caddy-JSON view is faithful and `rpc check`
can say which sites would need a public certificate.
"""

from __future__ import annotations

from dataclasses import dataclass

from rpc.compiler.ir.base import Duration, Node, jfield

__all__ = [
    "AutomationPolicy",
    "CertFile",
    "ConnectionPolicy",
    "Issuer",
    "TLSApp",
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
    """A certificate issuer: `internal`, `acme` or `zerossl`, with its settings."""

    module: str = jfield()
    settings: tuple[tuple[str, object], ...] = jfield(None, default=())  # flattened


@dataclass(frozen=True, slots=True, kw_only=True)
class AutomationPolicy(Node):
    """`automation.policies[]`."""

    subjects: tuple[str, ...] = jfield(default=())
    issuers: tuple[Issuer, ...] = jfield(default=())
    key_type: str = jfield(default="")
    must_staple: bool = jfield(default=False)
    renewal_window_ratio: float = jfield(default=0.0)
    on_demand: bool = jfield(default=False)
    reuse_private_keys: bool = jfield(default=False)
    disable_ocsp_stapling: bool = jfield(default=False)
    extra: tuple[tuple[str, object], ...] = jfield(None, default=())  # flattened


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectionPolicy(Node):
    """`tls_connection_policies[]` of a server."""

    match_sni: tuple[str, ...] = jfield(None, default=())  # JSON: {"match": {"sni": [...]}}
    certificate_tags: tuple[str, ...] = jfield(None, default=())  # certificate_selection.any_tag
    protocol_min: str = jfield(default="")
    protocol_max: str = jfield(default="")
    cipher_suites: tuple[str, ...] = jfield(default=())
    curves: tuple[str, ...] = jfield(default=())
    alpn: tuple[str, ...] = jfield(default=())
    default_sni: str = jfield(default="")
    fallback_sni: str = jfield(default="")
    extra: tuple[tuple[str, object], ...] = jfield(None, default=())  # flattened


@dataclass(frozen=True, slots=True, kw_only=True)
class TLSApp(Node):
    """`apps.tls`."""

    automate: tuple[str, ...] = jfield(None, default=())  # certificates.automate
    load_files: tuple[CertFile, ...] = jfield(None, default=())  # certificates.load_files
    load_pem: tuple[tuple[str, str, tuple[str, ...]], ...] = jfield(None, default=())
    policies: tuple[AutomationPolicy, ...] = jfield(None, default=())  # automation.policies
    on_demand: tuple[tuple[str, object], ...] = jfield(None, default=())  # automation.on_demand
    ocsp_interval: Duration | None = jfield(None, default=None)
    renew_interval: Duration | None = jfield(None, default=None)
    disable_ocsp_stapling: bool = jfield(default=False)
    disable_storage_check: bool = jfield(default=False)
    disable_storage_clean: bool = jfield(default=False)
    extra: tuple[tuple[str, object], ...] = jfield(None, default=())  # flattened
