"""certmagic's checks on certificate subjects (host names, wildcards, IPs).

Input: a subject name; output: whether it qualifies for a certificate, a
public one, or is covered by a wildcard. Ports of certmagic's
`SubjectQualifiesForCert`, `SubjectQualifiesForPublicCert`,
`SubjectIsInternal`, `SubjectIsIP` and `MatchWildcard`, used by the TLS app
and the connection policies of servers.
"""

from __future__ import annotations

import ipaddress

from rpc.compiler.addresses import split_host_port

__all__ = [
    "match_wildcard",
    "subject_is_internal",
    "subject_is_ip",
    "subject_qualifies_for_cert",
    "subject_qualifies_for_public_cert",
]


def subject_qualifies_for_cert(subj: str) -> bool:
    """certmagic `SubjectQualifiesForCert`: a name any CA could put in a certificate."""
    return (
        subj.strip() != ""
        and not subj.startswith(".")
        and not subj.endswith(".")
        and ("*" not in subj or subj.startswith("*.") or subj == "*")
        and not any(c in subj for c in "()[]{}<> \t\n\"\\!@#$%^&|;'+=")
    )


def subject_is_ip(subj: str) -> bool:
    """certmagic `SubjectIsIP`."""
    try:
        ipaddress.ip_address(subj)
    except ValueError:
        return False
    return True


def _host_only(hostport: str) -> str:
    try:
        return split_host_port(hostport)[0]
    except ValueError:
        return hostport


_INTERNAL_NETS = tuple(
    ipaddress.ip_network(n, strict=False)
    for n in (
        "127.0.0.0/8",
        "0.0.0.0/16",
        "10.0.0.0/8",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "169.254.0.0/16",
        "::1/7",
        "fe80::/10",
        "fc00::/7",
    )
)


def subject_is_internal(subj: str) -> bool:
    """certmagic `SubjectIsInternal`: localhost, internal TLDs, private IPs."""
    s = _host_only(subj).removesuffix(".").lower()
    if s == "localhost" or s.endswith((".localhost", ".local", ".internal", ".home.arpa")):
        return True
    try:
        ip = ipaddress.ip_address(_host_only(s))
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in _INTERNAL_NETS)


def subject_qualifies_for_public_cert(subj: str) -> bool:
    """certmagic `SubjectQualifiesForPublicCert`."""
    return (
        subject_qualifies_for_cert(subj)
        and not subject_is_internal(subj)
        and (
            "*" not in subj
            or (
                subj.count("*") == 1
                and subj.count(".") > 1
                and len(subj) > 2
                and subj.startswith("*.")
            )
        )
    )


def match_wildcard(subject: str, wildcard: str) -> bool:
    """certmagic `MatchWildcard`: `subject` is `wildcard` or covered by it."""
    subject, wildcard = subject.lower(), wildcard.lower()
    if subject == wildcard:
        return True
    if "*" not in wildcard:
        return False
    labels = subject.split(".")
    for i, label in enumerate(labels):
        if label == "":
            continue
        labels[i] = "*"
        if ".".join(labels) == wildcard:
            return True
    return False
