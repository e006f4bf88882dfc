"""The `tls` site directive (files, internal, email, options block) and the TLS app it
builds with the global options: Caddy's JSON checked against the real caddy."""

from __future__ import annotations

import pytest

from rpctest.lowering import adapt_error
from rpctest.oracle import assert_same_as_caddy


def site(*lines: str, addr: str = "example.com") -> str:
    return addr + " {\n" + "\n".join("\t" + ln.replace("\n", "\n\t") for ln in lines) + "\n}\n"


def tls_block(*lines: str, head: str = "tls", addr: str = "example.com") -> str:
    body = "\n".join("\t" + ln.replace("\n", "\n\t") for ln in lines)
    return site(f"{head} {{\n{body}\n}}", addr=addr)


FORMS = [
    site("tls cert.pem key.pem"),
    site("tls cert.pem key.pem", addr="a.example.com, b.example.com"),
    site("tls internal"),
    site("tls internal", addr="localhost"),
    site("tls admin@example.com"),
    site("tls force_automate"),
    site("tls bogus"),
    site("tls a b c"),
    site("tls"),
    site("tls off"),
    site("tls internal", addr=":8443"),
    site("tls cert.pem key.pem", addr=":443"),
    site("tls internal", addr="http://example.com"),
    site("tls cert.pem key.pem") + site("tls cert.pem key.pem", addr="other.example.com"),
    site("tls a.pem a.key") + site("tls b.pem b.key", addr="other.example.com"),
    site("tls internal") + site("respond hi", addr="public.example.com"),
    site("tls internal") + site("tls internal", addr="b.example.com"),
    site("respond hi", addr="example.com, localhost, 127.0.0.1"),
    site("respond hi", addr="*.example.com"),
    site("respond hi", addr="*.*.example.com"),
    site("respond hi", addr=":443, example.com"),
    site("respond hi", addr=":443, localhost"),
]

OPTIONS = [
    tls_block("protocols tls1.2"),
    tls_block("protocols tls1.2 tls1.3"),
    tls_block("protocols tls1.1"),
    tls_block("protocols"),
    tls_block("ciphers TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 TLS_AES_128_GCM_SHA256"),
    tls_block("ciphers BOGUS"),
    tls_block("curves x25519 secp256r1"),
    tls_block("curves x448"),
    tls_block("alpn h2 http/1.1"),
    tls_block("alpn"),
    tls_block("key_type p384"),
    tls_block("key_type"),
    tls_block("ca https://ca.example/dir"),
    tls_block("ca https://ca.example/dir", "ca_root /root.pem"),
    tls_block("eab KID MAC"),
    tls_block("eab KID"),
    tls_block("on_demand"),
    tls_block("on_demand x"),
    tls_block("reuse_private_keys"),
    tls_block("renewal_window_ratio 0.3"),
    tls_block("renewal_window_ratio 1.5"),
    tls_block("insecure_secrets_log /tmp/keys"),
    tls_block("load /certs"),
    tls_block("bogus"),
    tls_block("issuer internal"),
    tls_block("issuer internal {\n\tca custom\n\tsign_with_root\n}"),
    tls_block("issuer acme {\n\temail me@example.com\n\tdisable_tlsalpn_challenge\n}"),
    tls_block("issuer acme https://ca.example/dir"),
    tls_block("issuer acme {\n\tdir a\n\tdir b\n}"),
    tls_block("issuer acme {\n\tpreferred_chains smallest\n}"),
    tls_block("issuer acme {\n\tbogus\n}"),
    tls_block("issuer zerossl KEY"),
    tls_block("issuer internal", "issuer acme"),
    tls_block("issuer bogus"),
    tls_block("issuer internal", "ca https://ca.example/dir"),
    tls_block("get_certificate http http://localhost:9000/cert"),
    tls_block("get_certificate tailscale"),
    tls_block("get_certificate bogus"),
    tls_block("dns cloudflare tok"),
    tls_block("resolvers 1.1.1.1"),
    tls_block("propagation_delay 2m"),
    tls_block(
        "client_auth {\n\tmode require_and_verify\n\ttrust_pool file {\n\t\tpem_file /ca.pem\n\t}\n}"
    ),
    tls_block("client_auth {\n\tmode request\n}"),
    tls_block("client_auth {\n\ttrust_pool inline {\n\t\ttrust_der MIIB\n\t}\n}"),
    tls_block("client_auth {\n\ttrust_pool pki_root {\n\t\tauthority local\n\t}\n}"),
    tls_block("client_auth {\n\tbogus\n}"),
    tls_block("client_auth {\n\tverifier leaf {\n\t\tfile /leaf.pem\n\t}\n}"),
    tls_block("protocols tls1.3", head="tls cert.pem key.pem"),
    tls_block("on_demand", head="tls internal"),
    tls_block("ca https://x/", head="tls internal"),
    tls_block("protocols tls1.3", addr=":443"),
    tls_block("protocols tls1.3", addr="http://example.com"),
]

WILD = tls_block("protocols tls1.3", "client_auth {\n\tmode request\n}", addr="*.example.com")

# A wildcard site's client authentication must not reach more specific sites.
SHIELDS = [
    WILD + site("tls internal", addr="public.example.com"),
    WILD + tls_block("protocols tls1.2", addr="public.example.com"),
    WILD + site("respond b", addr="b.example.com") + site("respond a", addr="a.example.com"),
    WILD + site("respond hi", addr="a.b.example.com"),
    WILD + site("respond hi", addr="x.example.com, y.other.com"),
    WILD + site("respond hi", addr="http://h.example.com"),
    WILD + site("respond hi", addr="localhost, z.example.com"),
    WILD + site("respond hi", addr="c.example.com:8443"),
    tls_block("alpn h2", addr="*.example.com") + site("respond hi", addr="p.example.com"),
    tls_block("protocols tls1.2") + tls_block("protocols tls1.3", addr="example.com:443"),
    site("tls a.pem a.key", "tls b.pem b.key"),
    tls_block("alpn h2") + tls_block("alpn http/1.1", addr="other.example.com"),
]

WITH_OPTIONS = [
    "{\n\temail me@example.com\n}\n" + site("tls internal"),
    "{\n\temail me@example.com\n}\n" + site("tls cert.pem key.pem"),
    "{\n\temail me@example.com\n}\n" + tls_block("issuer acme"),
    "{\n\tacme_ca https://ca.example/dir\n}\n" + site("respond hi"),
    "{\n\tacme_ca https://ca.example/dir\n}\n" + site("respond hi", addr="localhost"),
    "{\n\tlocal_certs\n}\n" + tls_block("issuer acme"),
    "{\n\tlocal_certs\n}\n" + site("respond hi", addr=":443"),
    "{\n\tcert_issuer internal\n}\n" + tls_block("issuer acme", addr=":443"),
    "{\n\tkey_type p256\n}\n" + tls_block("key_type rsa4096"),
    "{\n\ton_demand_tls {\n\t\task http://x/\n\t}\n}\n" + tls_block("on_demand", addr=":443"),
    "{\n\tacme_eab {\n\t\tkey_id K\n\t\tmac_key M\n\t}\n}\n" + tls_block("eab A B"),
    "{\n\thttp_port 8080\n\temail a@b.c\n}\n" + site("bind 10.0.0.1"),
    "{\n\tdefault_sni example.com\n}\n" + tls_block("protocols tls1.3"),
    "{\n\tskip_install_trust\n}\n" + site("tls internal"),
    "{\n\tauto_https disable_certs\n}\n" + site("respond hi", addr=":443, a.example.com"),
    "{\n\tauto_https off\n}\n" + site("respond hi", addr=":443, a.example.com"),
]


# Global issuers and ACME defaults meeting a site's own settings.
MERGES = [
    "{\n\tcert_issuer acme {\n\t\temail g@x.com\n\t}\n}\n" + tls_block("ca https://ca/dir"),
    "{\n\tcert_issuer zerossl KEY\n}\n" + tls_block("ca https://ca/dir"),
    "{\n\temail g@x.com\n}\n" + site("tls me@x.com"),
    tls_block("ca https://ca/dir", head="tls me@x.com"),
    tls_block("ca_root /r.pem"),
    "{\n\tacme_ca_root /g.pem\n}\n" + tls_block("ca_root /r.pem"),
    "{\n\tpreferred_chains smallest\n}\n" + site("respond hi"),
    "{\n\tcert_lifetime 1d\n\tcert_issuer acme\n}\n" + site("respond hi"),
    "{\n\thttps_port 8443\n\tcert_issuer acme\n}\n" + site("respond hi"),
    "{\n\tdefault_bind 10.0.0.1\n\tcert_issuer acme\n}\n" + site("respond hi"),
    "{\n\tcert_issuer acme\n}\n" + site("bind 10.1.1.1"),
    site("bind 127.0.0.1", addr=":443") + tls_block("issuer acme", addr=":443 "),
    "{\n\tacme_eab {\n\t\tkey_id K\n\t}\n}\n" + site("respond hi"),
    "{\n\tech ech.example.com\n}\n" + site("tls internal", addr="ech.example.com"),
    tls_block("on_demand") + site("respond hi", addr="*.*.example.com"),
    tls_block("on_demand", addr="*.*.example.com"),
    tls_block("key_type p384", addr="b.example.com")
    + tls_block("key_type p384", addr="*.example.com")
    + site("respond hi", addr="a.example.com"),
    tls_block("get_certificate http http://x")
    + tls_block("get_certificate http http://x", addr="*.example.com"),
    "{\n\tauto_https ignore_loaded_certs\n}\n" + site("tls cert.pem key.pem"),
]


# Argument counts, bad values and less common forms.
EDGES = [
    "example.com {\n\ttls {\n\t\tca\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tca a b\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tprotocols tls1.3 tls1.2\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tprotocols tls1.2 tls1.3 x\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tcurves\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tciphers\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tclient_auth\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tclient_auth {\n\t\t\tmode\n\t\t}\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tclient_auth {\n\t\t\tmode x\n\t\t}\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tclient_auth {\n\t\t\ttrust_pool\n\t\t}\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tclient_auth {\n\t\t\ttrust_pool file\n\t\t}\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tclient_auth {\n\t\t\ttrust_pool system\n\t\t}\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tclient_auth {\n\t\t\ttrust_pool combined {\n\t\t\t\tsource system\n\t\t\t\tsource file a.pem\n\t\t\t}\n\t\t}\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tclient_auth {\n\t\t\ttrust_pool http {\n\t\t\t\tendpoints https://x/ca\n\t\t\t\ttls {\n\t\t\t\t\tinsecure_skip_verify\n\t\t\t\t}\n\t\t\t}\n\t\t}\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tclient_auth {\n\t\t\ttrusted_ca_cert MIIB\n\t\t\ttrusted_leaf_cert MIIC\n\t\t}\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tclient_auth {\n\t\t\ttrusted_ca_cert MIIB\n\t\t\ttrust_pool system\n\t\t}\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tload\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tload a b\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tkey_type a b\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tinsecure_secrets_log\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\treuse_private_keys x\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tdns_ttl 1m\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tdns_challenge_override_domain x.com\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tpropagation_timeout -1\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tresolvers\n\t}\n}\n",
    "example.com {\n\ttls internal {\n\t\tprotocols tls1.3\n\t}\n}\n",
    "example.com {\n\ttls a@b.c {\n\t\tissuer internal\n\t}\n}\n",
    "example.com {\n\ttls cert key {\n\t\tissuer internal\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tissuer acme {\n\t\t\tpreferred_chains {\n\t\t\t\tany_common_name X\n\t\t\t}\n\t\t}\n\t}\n}\n",
    "example.com {\n\ttls {\n\t\tissuer acme {\n\t\t\tpreferred_chains {\n\t\t\t\tany_common_name X\n\t\t\t\troot_common_name Y\n\t\t\t}\n\t\t}\n\t}\n}\n",
]


@pytest.mark.parametrize("text", FORMS + OPTIONS + SHIELDS + WITH_OPTIONS + MERGES + EDGES)
def test_same_json_as_caddy(text: str, caddy: str) -> None:
    assert_same_as_caddy(text)


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        (site("tls bogus"), "RPC303", "single argument must either be"),
        (tls_block("protocols tls1.1"), "RPC303", "wrong protocol name"),
        (tls_block("bogus"), "RPC301", "unknown subdirective: bogus"),
        (tls_block("issuer bogus"), "RPC303", "module not registered: tls.issuance.bogus"),
        (tls_block("issuer internal", "ca https://x/"), "RPC311", "cannot mix issuer"),
    ],
)
def test_errors_name_the_problem(text: str, code: str, fragment: str) -> None:
    diag = adapt_error(text)
    assert (diag.code, fragment in diag.message) == (code, True), diag.message
    assert diag.span is not None and diag.span.line > 0
    assert diag.hint


def test_tls_off_hint_points_to_http_addresses() -> None:
    diag = adapt_error(site("tls off"))
    assert diag.hint is not None and "http://" in diag.hint


def _app(text: str) -> object:
    """The `APP` spec of the module rpc generates for `text` (the module is not run)."""
    from rpc.compiler.pipeline import Stage, compile_caddyfile
    from rpc.compiler.source import SourceMap

    result = compile_caddyfile(text, "Caddyfile", stop_after=Stage.PYTHON, sources=SourceMap())
    assert result.python is not None
    namespace: dict[str, object] = {"__name__": "generated"}
    exec(compile(result.python, "generated.py", "exec"), namespace)  # noqa: S102 - rpc's own generated module
    return namespace["APP"]


def test_certificate_files_are_served_for_the_names_of_their_site() -> None:
    app = _app(
        site("tls a.pem a.key", addr="a.example.com, b.example.com")
        + site("tls c.pem c.key", addr=":8443")
    )
    certs = {(c.cert_file, c.hosts) for c in app.tls.certificates}  # type: ignore[attr-defined]
    assert certs == {("a.pem", ("a.example.com", "b.example.com")), ("c.pem", ())}
    assert app.tls.acme == () and app.tls.internal == ()  # type: ignore[attr-defined]


def test_internal_issuer_decides_even_for_public_names() -> None:
    app = _app(site("tls internal", addr="secure.example.com") + site("respond hi"))
    assert app.tls.internal == ("secure.example.com",)  # type: ignore[attr-defined]
    assert app.tls.acme == ("example.com",)  # type: ignore[attr-defined]


def test_local_certs_makes_every_name_internal() -> None:
    app = _app("{\n\tlocal_certs\n}\n" + site("respond hi"))
    assert app.tls.internal == ("example.com",) and app.tls.acme == ()  # type: ignore[attr-defined]


def test_metrics_option_reaches_the_runtime() -> None:
    app = _app("{\n\tmetrics {\n\t\tper_host\n\t}\n}\n" + site("respond hi", addr=":80"))
    assert app.metrics is not None and app.metrics.per_host  # type: ignore[attr-defined]
    assert _app(site("respond hi", addr=":80")).metrics is None  # type: ignore[attr-defined]
