"""Caddy's own adapt test cases: `rpc adapt` must produce the JSON Caddy 2.11 produces.

Tier 1 (tests/conformance/caddy-adapt/TIER1.txt) must pass whole: the same
JSON compared as data, or for an error case an error of the same meaning.
The rest of the corpus runs too; the cases rpc knowingly does not handle are
listed below with the reason, as strict expected failures, so a case that
starts passing (or a new one that fails) shows up in the suite.
`tests/adapt_report.py` prints the same results as a table.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rpctest.adapt import run_case
from rpctest.corpus import Case, cases, layout, tier1

_DNS = "DNS providers are plugins (dns.providers.*); rpc has none, as plain caddy"
_ACME_SERVER = "acme_server is not supported (docs/directives.md)"

KNOWN = {
    "acme_dns_configured": _DNS,
    "acme_dns_naked_use_dns_defaults": _DNS,
    "tls_acme_dns_override_global_dns": _DNS,
    "tls_dns_override_acme_dns": _DNS,
    "tls_dns_override_global_dns": _DNS,
    "tls_dns_resolvers_with_global_provider": _DNS,
    "tls_dns_ttl": _DNS,
    "tls_propagation_options": _DNS,
    "wildcard_pattern": _DNS,
    "acme_server_custom_challenges": _ACME_SERVER,
    "acme_server_default_challenges": _ACME_SERVER,
    "acme_server_lifetime": _ACME_SERVER,
    "acme_server_multi_custom_challenges": _ACME_SERVER,
    "acme_server_policy-allow": _ACME_SERVER,
    "acme_server_policy-both": _ACME_SERVER,
    "acme_server_policy-deny": _ACME_SERVER,
    "acme_server_sign_with_root": _ACME_SERVER,
    "global_options_resolvers": _DNS,
    "global_options_resolvers_local_dns_inherit": _DNS,
    "global_options_resolvers_local_override": _DNS,
    "global_options_resolvers_mixed": _DNS,
    "global_options_skip_install_trust": _ACME_SERVER,
    "push": "push (HTTP/2 server push) is not supported",
    "tracing": "tracing (OpenTelemetry) is not supported",
    "tls_client_auth_cert_file-legacy-with-verifier": "uses a test-only verifier plugin "
    "(tls.client_auth.verifier.dummy), unknown to plain caddy as to rpc",
}

CASES = cases()
TIER1 = tier1()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield layout(tmp_path_factory.mktemp("corpus"))


def _param(case: Case) -> object:
    name = case.name.removesuffix(".caddyfiletest")
    if name in KNOWN:
        return pytest.param(case, id=name, marks=pytest.mark.xfail(reason=KNOWN[name], strict=True))
    return pytest.param(case, id=name)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_adapt_case(case: Case, workdir: Path) -> None:
    status, details = run_case(case, workdir)
    assert status in ("PASS", "PASS-ERR"), "\n".join([status, *details])


def test_tier1_has_no_known_failure() -> None:
    names = {c.name.removesuffix(".caddyfiletest") for c in CASES if c.name in TIER1}
    assert len(names) == 121
    assert names.isdisjoint(KNOWN)
