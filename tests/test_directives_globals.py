"""Global options (servers, ports, admin, storage, TLS and ACME defaults, pki, metrics):
Caddy's JSON checked against the real caddy, and rpc's own error codes."""

from __future__ import annotations

import pytest

from rpctest.lowering import adapt_error
from rpctest.oracle import assert_same_as_caddy


def opts(*lines: str, sites: str = "example.com {\n}\n") -> str:
    return "{\n" + "\n".join("\t" + ln.replace("\n", "\n\t") for ln in lines) + "\n}\n" + sites


def servers(*lines: str, addr: str = "", sites: str = ":80 {\n}\n") -> str:
    body = "\n".join("\t" + ln.replace("\n", "\n\t") for ln in lines)
    head = f"servers {addr}".rstrip()
    return opts(f"{head} {{\n{body}\n}}", sites=sites)


SERVERS = [
    servers("timeouts {\n\tread_body 10s\n\tread_header 5s\n\twrite 30s\n\tidle 2m\n}"),
    servers("timeouts {\n\tread_body x\n}"),
    servers("timeouts {\n\tbogus 1s\n}"),
    servers("timeouts {\n\tidle\n}"),
    servers("trusted_proxies static private_ranges"),
    servers("trusted_proxies static 10.0.0.0/8 192.168.1.1"),
    servers("trusted_proxies static"),
    servers("trusted_proxies"),
    servers("trusted_proxies cloudflare"),
    servers("trusted_proxies static private_ranges", "trusted_proxies_strict"),
    servers("trusted_proxies_strict x"),
    servers("trusted_proxies_unix"),
    servers("client_ip_headers X-Real-IP X-Forwarded-For"),
    servers("client_ip_headers A A"),
    servers("max_header_size 5MB"),
    servers("max_header_size 1.5kb"),
    servers("max_header_size huge"),
    servers("max_header_size"),
    servers("keepalive_interval 30s"),
    servers("keepalive_interval nope"),
    servers("keepalive_idle 1m", "keepalive_count 5"),
    servers("keepalive_count x"),
    servers("protocols h1 h2"),
    servers("protocols h1 h2c h3"),
    servers("protocols h4"),
    servers("protocols h1 h1"),
    servers("protocols"),
    servers("strict_sni_host"),
    servers("strict_sni_host on"),
    servers("strict_sni_host insecure_off"),
    servers("strict_sni_host maybe"),
    servers("log_credentials"),
    servers("log_credentials x"),
    servers("enable_full_duplex"),
    servers("trace"),
    servers("0rtt off"),
    servers("0rtt on"),
    servers("metrics"),
    servers("metrics {\n\tper_host\n}"),
    servers("name web", addr=":80"),
    servers("name web"),
    servers("bogus"),
    servers("listener_wrappers {\n\thttp_redirect\n\ttls\n}"),
    servers(
        "listener_wrappers {\n\tproxy_protocol {\n\t\ttimeout 2s\n\t\tallow 10.0.0.0/8\n\t}\n\ttls\n}"
    ),
    servers("listener_wrappers {\n\tproxy_protocol {\n\t\tfallback_policy use\n\t}\n}"),
    servers("listener_wrappers {\n\tproxy_protocol {\n\t\tfallback_policy maybe\n\t}\n}"),
    servers("listener_wrappers {\n\tnope\n}"),
    servers("idle 5s", addr=":81"),
    opts(
        "servers :80 {\n\tname plain\n}",
        "servers :443 {\n\tname secure\n\tstrict_sni_host\n}",
        sites="example.com {\n}\nhttp://example.com {\n}\n",
    ),
    opts("servers :80 {\n\tname a\n}", "servers :81 {\n\tname a\n}", sites=":80 {\n}\n:81 {\n}\n"),
    opts("servers :80 {\n}", "servers :80 {\n}", sites=":80 {\n}\n"),
    opts(
        "servers {\n\tprotocols h1\n}",
        "servers :81 {\n\tprotocols h2c\n}",
        sites=":80 {\n}\n:81 {\n}\n",
    ),
]

BIND = [
    "localhost {\n\tbind\n}\n",
    ":80 {\n\tbind 127.0.0.1 {\n\t\tprotocols h1 h2c\n\t}\n}\n",
    ":80 {\n\tbind unix//run/c.sock\n}\n",
    ":80 {\n\tbind 127.0.0.1 {\n\t\tbogus\n\t}\n}\n",
    ":80 {\n\tbind 127.0.0.1 {\n\t\tprotocols\n\t}\n}\n",
    ":80 {\n\tbind 127.0.0.1\n\tbind ::1\n}\n",
    ":80 {\n\tbind tcp6/[::1]\n}\n",
    ":80 {\n\tbind fd/3\n}\n",
    "example.com {\n\tbind 10.0.0.1 10.0.0.2\n}\n",
]

SERVER_NAMES_AND_BINDS = [
    "{\n\tservers {\n\t\tlog_credentials\n\t}\n}\na.com {\n\tlog\n}\n",
    "{\n\tservers :443 {\n\t\tname main\n\t}\n}\na.com {\n}\nhttp://b.com {\n}\n",
    "{\n\tservers :443 {\n\t\tname srv1\n\t}\n}\na.com {\n}\nhttp://b.com {\n}\n",
    "{\n\tservers {\n\t\tprotocols h1 h2\n\t}\n}\na.com {\n\tbind 127.0.0.1 {\n\t\tprotocols h3\n\t}\n}\n",
    "{\n\tservers 127.0.0.1:443 {\n\t\tname loop\n\t}\n}\na.com {\n\tbind 127.0.0.1\n}\n",
    "{\n\tservers :443 {\n\t\ttimeouts {\n\t\t\tidle 5s\n\t\t}\n\t}\n\tservers {\n\t\tmax_header_size 1kb\n\t}\n}\na.com {\n}\nhttp://b.com {\n}\n",
    "{\n\thttp_port 8080\n}\na.com {\n}\nhttp://b.com {\n}\n",
    "{\n\tdefault_bind 127.0.0.1 {\n\t\tprotocols h1\n\t}\n}\na.com {\n}\n",
    "{\n\tdefault_bind 127.0.0.1\n\tdefault_bind ::1\n}\na.com {\n}\n",
]

PORTS_AND_MISC = [
    opts("http_port 8080", "https_port 8443"),
    opts("http_port x"),
    opts("http_port"),
    opts("https_port 1 2"),
    opts("debug"),
    opts("grace_period 10s", "shutdown_delay 5s"),
    opts("grace_period nope"),
    opts("admin off"),
    opts("admin localhost:2020"),
    opts("admin {\n\torigins a.com b.com\n\tenforce_origin\n}"),
    opts("admin off {\n\torigins x\n}"),
    opts("admin {\n\tbogus\n}"),
    opts("persist_config off"),
    opts("persist_config on"),
    opts("admin localhost:2020", "persist_config off"),
    opts("storage file_system /var/lib/caddy"),
    opts("storage file_system {\n\troot /data\n}"),
    opts("storage file_system"),
    opts("storage redis"),
    opts("storage"),
    opts("storage_check off"),
    opts("storage_clean_interval 24h"),
    opts("storage_clean_interval off"),
    opts("storage_clean_interval x"),
    opts("metrics"),
    opts("metrics {\n\tper_host\n}"),
    opts("metrics {\n\tper_host x\n}"),
    opts("metrics {\n\totlp\n\tobserve_catchall_hosts\n}"),
    opts("auto_https off"),
    opts("auto_https disable_redirects"),
    opts("auto_https disable_certs"),
    opts("auto_https ignore_loaded_certs"),
    opts("auto_https prefer_wildcard"),
    opts("auto_https bogus"),
    opts("default_sni example.com"),
    opts("fallback_sni example.com"),
    opts("default_bind 127.0.0.1"),
    opts("default_bind 127.0.0.1 ::1"),
    opts("default_bind tcp6/[::]"),
    opts("default_bind {\n\tprotocols h1\n}"),
    opts("bogus_option"),
    opts("order bogus first"),
]

TLS_OPTIONS = [
    opts("email admin@example.com"),
    opts("email"),
    opts("email a b"),
    opts("acme_ca https://acme-staging-v02.api.letsencrypt.org/directory"),
    opts("acme_ca https://ca.example/dir", "email me@example.com"),
    opts("acme_ca_root /etc/ca.pem"),
    opts("acme_eab {\n\tkey_id abc\n\tmac_key def\n}"),
    opts("acme_eab {\n\tbogus x\n}"),
    opts("acme_dns"),
    opts("acme_dns cloudflare token"),
    opts("dns cloudflare token"),
    opts("local_certs"),
    opts("local_certs", sites="example.com {\n}\nlocalhost {\n}\n"),
    opts("skip_install_trust"),
    opts("skip_install_trust", "local_certs"),
    opts("key_type p256"),
    opts("key_type rsa2048", "email a@b.c"),
    opts("cert_issuer internal"),
    opts("cert_issuer acme"),
    opts("cert_issuer acme https://ca.example/dir {\n\temail me@example.com\n}"),
    opts("cert_issuer acme {\n\tdisable_http_challenge\n\talt_tlsalpn_port 8443\n}"),
    opts("cert_issuer zerossl KEY"),
    opts("cert_issuer internal", "cert_issuer acme"),
    opts("cert_issuer internal {\n\tca other\n\tlifetime 1d\n}"),
    opts("cert_issuer bogus"),
    opts("cert_issuer internal", "local_certs"),
    opts("ocsp_stapling off"),
    opts("ocsp_stapling on"),
    opts("ocsp_interval 1h"),
    opts("renew_interval 30m"),
    opts("cert_lifetime 7d", "email a@b.c"),
    opts("renewal_window_ratio 0.5"),
    opts("renewal_window_ratio 2"),
    opts("preferred_chains smallest"),
    opts("preferred_chains {\n\troot_common_name ISRG\n}"),
    opts("preferred_chains"),
    opts("on_demand_tls {\n\task http://localhost:9000/check\n}"),
    opts("on_demand_tls {\n\tpermission http {\n\t\tendpoint http://x/\n\t}\n}"),
    opts("on_demand_tls {\n\tpermission http http://x/\n}"),
    opts("on_demand_tls {\n\tinterval 2m\n}"),
    opts("on_demand_tls {\n}"),
    opts("on_demand_tls {\n\task a\n\task b\n}"),
    opts("tls_resolvers 1.1.1.1 8.8.8.8"),
    opts("tls_automate_names a.example.com localhost"),
    opts("http_port 8080", "email a@b.c"),
    opts("default_bind 10.0.0.1", "email a@b.c"),
    opts("ech ech.example.com"),
    opts("pki {\n\tca {\n\t\tname My CA\n\t\troot_cn Root\n\t\tintermediate_cn Inter\n\t}\n}"),
    opts(
        "pki {\n\tca custom {\n\t\tintermediate_lifetime 7d\n\t\troot {\n\t\t\tcert /r.pem\n\t\t\tkey /r.key\n\t\t}\n\t}\n}"
    ),
    opts("pki {\n\tca {\n\t\tbogus\n\t}\n}"),
    opts("pki {\n\tca local\n}", "skip_install_trust"),
]


# Argument counts, bad values and less common forms.
EDGES = [
    "{\n\tdebug x\n}\nexample.com {\n}\n",
    "{\n\thttp_port 80 81\n}\nexample.com {\n}\n",
    "{\n\thttp_port -1\n}\nexample.com {\n}\n",
    "{\n\thttp_port 99999\n}\nexample.com {\n}\n",
    "{\n\tadmin localhost:2019 extra\n}\nexample.com {\n}\n",
    "{\n\tadmin unix//run/admin.sock\n}\nexample.com {\n}\n",
    "{\n\tadmin {\n\t\torigins\n\t}\n}\nexample.com {\n}\n",
    "{\n\tgrace_period 1s 2s\n}\nexample.com {\n}\n",
    "{\n\tshutdown_delay\n}\nexample.com {\n}\n",
    "{\n\temail a@b.c {\n\t}\n}\nexample.com {\n}\n",
    "{\n\tacme_ca\n}\nexample.com {\n}\n",
    "{\n\tlocal_certs x\n}\nexample.com {\n}\n",
    "{\n\tskip_install_trust x\n}\nexample.com {\n}\n",
    "{\n\tkey_type\n}\nexample.com {\n}\n",
    "{\n\tstorage file_system a b\n}\nexample.com {\n}\n",
    "{\n\tstorage file_system a {\n\t\troot b\n\t}\n}\nexample.com {\n}\n",
    "{\n\tstorage file_system {\n\t\tbogus x\n\t}\n}\nexample.com {\n}\n",
    "{\n\tstorage_check on\n}\nexample.com {\n}\n",
    "{\n\tocsp_stapling\n}\nexample.com {\n}\n",
    "{\n\tocsp_interval\n}\nexample.com {\n}\n",
    "{\n\trenew_interval x\n}\nexample.com {\n}\n",
    "{\n\ton_demand_tls {\n\t\task\n\t}\n}\nexample.com {\n}\n",
    "{\n\ton_demand_tls x\n}\nexample.com {\n}\n",
    "{\n\ton_demand_tls {\n\t\tbogus\n\t}\n}\nexample.com {\n}\n",
    "{\n\tpki {\n\t\tbogus\n\t}\n}\nexample.com {\n}\n",
    "{\n\tpki {\n\t\tca a b\n\t}\n}\nexample.com {\n}\n",
    "{\n\tpki {\n\t\tca {\n\t\t\tintermediate_lifetime x\n\t\t}\n\t}\n}\nexample.com {\n}\n",
    "{\n\tpki {\n\t\tca {\n\t\t\troot {\n\t\t\t\tbogus x\n\t\t\t}\n\t\t}\n\t}\n}\nexample.com {\n}\n",
    "{\n\tpki {\n\t\tca {\n\t\t\tmaintenance_interval 1h\n\t\t\trenewal_window_ratio 0.3\n\t\t}\n\t}\n}\nexample.com {\n}\n",
    "{\n\tcert_issuer\n}\nexample.com {\n}\n",
    "{\n\tcert_issuer acme {\n\t\teab K\n\t}\n}\nexample.com {\n}\n",
    "{\n\tcert_issuer acme {\n\t\ttimeout 30s\n\t\tprofile shortlived\n\t}\n}\nexample.com {\n}\n",
    "{\n\tcert_issuer acme {\n\t\tdistributed true\n\t}\n}\nexample.com {\n}\n",
    "{\n\tcert_issuer acme {\n\t\tdistributed false\n\t}\n}\nexample.com {\n}\n",
    "{\n\tcert_issuer acme {\n\t\tlifetime -1h\n\t}\n}\nexample.com {\n}\n",
    "{\n\tcert_issuer acme {\n\t\ttrusted_roots a.pem b.pem\n\t}\n}\nexample.com {\n}\n",
    "{\n\tcert_issuer zerossl\n}\nexample.com {\n}\n",
    "{\n\tcert_issuer zerossl K {\n\t\tvalidity_days 30\n\t}\n}\nexample.com {\n}\n",
    "{\n\tcert_issuer zerossl K {\n\t\talt_http_port 8080\n\t}\n}\nexample.com {\n}\n",
    "{\n\tcert_issuer internal {\n\t\tlifetime x\n\t}\n}\nexample.com {\n}\n",
    "{\n\tcert_issuer internal {\n\t\tbogus\n\t}\n}\nexample.com {\n}\n",
    "{\n\tservers {\n\t\tprotocols h1\n\t\tprotocols h2\n\t}\n}\nexample.com {\n}\n",
    "{\n\tservers a b {\n\t}\n}\nexample.com {\n}\n",
    "{\n\tservers {\n\t\ttimeouts 5s\n\t}\n}\nexample.com {\n}\n",
    "{\n\tservers {\n\t\ttrusted_proxies static private_ranges 1.2.3.4\n\t\tclient_ip_headers\n\t}\n}\nexample.com {\n}\n",
    "example.com {\n\tbind 127.0.0.1 {\n\t\tprotocols h4\n\t}\n}\n",
    "example.com {\n\tbind :8080\n}\n",
    "example.com {\n\tbind 127.0.0.1:8080\n}\n",
    "example.com {\n\tbind [::1]:8080\n}\n",
    "example.com {\n\tbind ::1\n}\n",
    "example.com {\n\tbind localhost:\n}\n",
    "example.com {\n\tbind 127.0.0.1:abc\n}\n",
]


@pytest.mark.parametrize(
    "text", SERVERS + SERVER_NAMES_AND_BINDS + BIND + PORTS_AND_MISC + TLS_OPTIONS + EDGES
)
def test_same_json_as_caddy(text: str, caddy: str) -> None:
    assert_same_as_caddy(text)


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        (servers("bogus"), "RPC301", "unrecognized servers option 'bogus'"),
        (servers("protocols h4"), "RPC308", "unknown protocol 'h4'"),
        (servers("name web"), "RPC308", "without a listener address"),
        (opts("servers :80 {\n}", "servers :80 {\n}"), "RPC307", "duplicate listener addresses"),
        (opts("auto_https bogus"), "RPC308", "auto_https must be one of"),
        (opts("persist_config on"), "RPC308", "persist_config must be 'off'"),
        (opts("storage redis"), "RPC303", "module not registered: caddy.storage.redis"),
        (opts("cert_issuer internal", "local_certs"), "RPC311", "local_certs is confusing"),
    ],
)
def test_errors_name_the_problem(text: str, code: str, fragment: str) -> None:
    diag = adapt_error(text)
    assert (diag.code, fragment in diag.message) == (code, True), diag.message
    assert diag.span is not None and diag.span.line > 0
    assert diag.hint


def test_proxy_protocol_is_refused_when_compiling() -> None:
    from rpc.compiler.errors import RpcError
    from rpc.compiler.pipeline import Stage, compile_caddyfile
    from rpc.compiler.source import SourceMap

    text = servers("listener_wrappers {\n\tproxy_protocol\n\ttls\n}")
    with pytest.raises(RpcError) as info:
        compile_caddyfile(text, "Caddyfile", stop_after=Stage.PYTHON, sources=SourceMap())
    diag = info.value.errors[0]
    assert diag.code == "RPC304" and "proxy_protocol" in diag.message and diag.hint
