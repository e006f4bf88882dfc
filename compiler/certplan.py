"""Which certificate each TLS host gets, as Caddy's automatic HTTPS would decide.

Hosts covered by loaded certificate files use them; the rest get a locally
issued certificate (`tls internal`, localhost, IPs, internal names) or would
need a public one through ACME, which rpc cannot obtain: the compiled app
refuses to start for those, and `rpc check` warns (RPC411) before that.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from rpc.compiler.certnames import match_wildcard
from rpc.compiler.ir.config import Config, Server
from rpc.compiler.ir.matchers import MatchHost

__all__ = [
    "CertFile",
    "CertPlan",
    "certificate_plan",
    "needs_public_cert",
    "serves_tls",
    "uses_tls",
]

DEFAULT_HTTP_PORT = 80

# (certificate file, key file, the host names it serves; () = any)
CertFile = tuple[str, str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class CertPlan:
    files: tuple[CertFile, ...]
    internal: tuple[str, ...]  # hosts with a locally issued certificate
    acme: tuple[str, ...]  # hosts that would need a public CA (ACME)


def certificate_plan(config: Config) -> CertPlan:
    """The certificate source of every host served over TLS."""
    files = tuple(_certificate_hosts(config))
    internal: list[str] = []
    acme: list[str] = []
    servers = config.http.servers if config.http is not None else ()
    for server in servers:
        if not server.listen or not uses_tls(server, config):
            continue
        for host in server_hosts(server):
            if any(_covers(c, host) for c in files):
                continue
            target = acme if _issuer_kind(host, config) == "acme" else internal
            if host not in target:
                target.append(host)
    return CertPlan(files, tuple(internal), tuple(acme))


def needs_public_cert(host: str) -> bool:
    """Caddy's `SubjectQualifiesForPublicCert`: a name a public CA could certify."""
    h = host.lower()
    if not h or "{" in h or (h.startswith("*.") and h.count(".") < 2):
        return False
    try:
        ipaddress.ip_address(h.strip("[]"))
        return False
    except ValueError:
        pass
    internal = (
        ".localhost",
        ".local",
        ".internal",
        ".home.arpa",
        ".test",
        ".invalid",
        ".example",
        ".lan",
    )
    return (
        h != "localhost" and "." in h.strip(".") and not h.endswith(internal) and "*" not in h[1:]
    )


def server_hosts(server: Server) -> list[str]:
    """The constant host names the server's top-level routes match."""
    hosts: list[str] = []
    for route in server.routes:
        for ms in route.match:
            m = ms.get("host")
            if isinstance(m, MatchHost):
                for h in m.hosts:
                    if h.is_constant and h.constant not in hosts:
                        hosts.append(h.constant)
    return hosts


def _port(listen: str) -> str:
    return listen.rsplit(":", 1)[-1] if ":" in listen else ""


def uses_tls(server: Server, config: Config) -> bool:
    """Whether Caddy would serve TLS on this server's listeners."""
    if server.tls_connection_policies:
        return True
    http_port = str(config.http.http_port or DEFAULT_HTTP_PORT) if config.http else "80"
    auto = server.automatic_https
    if auto is not None and auto.disable:
        return False
    skip = set(auto.skip) if auto is not None else set()
    hosts = [h for h in server_hosts(server) if h not in skip]
    return bool(hosts) and any(_port(ln) != http_port for ln in server.listen)


def serves_tls(config: Config) -> bool:
    """Whether any server of the config serves TLS (certificates need `cryptography`)."""
    return config.http is not None and any(uses_tls(s, config) for s in config.http.servers)


def _certificate_hosts(config: Config) -> list[CertFile]:
    """Loaded certificate files and the names they serve (from the policies' tags)."""
    if config.tls is None or config.http is None:
        return []
    out = []
    for cf in config.tls.load_files:
        hosts: list[str] = []
        anywhere = False
        for server in config.http.servers:
            for cp in server.tls_connection_policies:
                if not set(cf.tags) & set(cp.certificate_tags):
                    continue
                names = [h for h in cp.match_sni if h]
                anywhere = anywhere or not names
                hosts.extend(h for h in names if h not in hosts)
        out.append((cf.certificate, cf.key, () if anywhere else tuple(hosts)))
    return out


def _covers(cert: CertFile, host: str) -> bool:
    hosts = cert[2]
    return not hosts or any(match_wildcard(host, h) for h in hosts)


def _issuer_kind(host: str, config: Config) -> str:
    """`internal` or `acme`: who Caddy would ask for this host's certificate."""
    policies = config.tls.policies if config.tls is not None else ()
    for ap in policies:
        if ap.subjects and not any(match_wildcard(host, s) for s in ap.subjects):
            continue
        modules = [type(i).__name__ for i in ap.issuers]
        modules += [
            str(dict(x).get("module")) for k, v in ap.extra if k == "issuers" for x in _dicts(v)
        ]
        if not modules:
            break
        internal = all(m in ("InternalIssuer", "internal") for m in modules)
        return "internal" if internal else "acme"
    return "acme" if needs_public_cert(host) else "internal"


def _dicts(v: object) -> list[dict[str, object]]:
    return [x for x in v if isinstance(x, dict)] if isinstance(v, tuple | list) else []
