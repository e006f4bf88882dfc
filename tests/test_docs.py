"""The docs stay true: docs/directives.md against the registries and the compiler,
docs/generated-module.md against the compiler's output for its example."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest

from rpc.compiler import options
from rpc.compiler.commands.check import check_text
from rpc.compiler.directives import registry
from rpc.compiler.directives.matchers import MATCHERS
from rpc.compiler.errors import InternalError, RpcError
from rpc.compiler.options import NO_EFFECT
from rpc.compiler.pipeline import compile_caddyfile
from rpc.compiler.source import SourceMap

DOCS = Path(__file__).resolve().parent.parent / "docs"
STATUSES = ("supported", "differs from Caddy", "not yet")


@functools.cache
def table(section: str) -> dict[str, str]:
    """`name → status` from the table under `## <section>` in docs/directives.md."""
    text = (DOCS / "directives.md").read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in body.splitlines():
        m = re.match(r"\| `([^`]+)` \| ([^|]+?) \|", line)
        if m:
            assert m[2] in STATUSES, line
            assert m[1] not in rows, f"{m[1]} listed twice"
            rows[m[1]] = m[2]
    return rows


def outcome(text: str) -> str:
    """ "ok", or the sorted error codes of compiling `text` to Python."""
    try:
        compile_caddyfile(text)
    except RpcError as exc:
        return " ".join(sorted({d.code for d in exc.diagnostics if d.is_error}))
    except InternalError:
        return "internal error"
    return "ok"


def site(body: str) -> str:
    return "http://localhost:8080 {\n" + body + "\n}\n"


BCRYPT = "$2a$14$Zkx19XLiW6VYouLHR5NmfOFU0z2GTNmpkT/5qqR7hx4IjWJPDhjvG"

# The smallest Caddyfile site body using each directive.
DIRECTIVES = {
    "abort": "abort",
    "acme_server": "acme_server",
    "basic_auth": f"basic_auth {{\n\tbob {BCRYPT}\n}}\nrespond hi",
    "basicauth": f"basicauth {{\n\tbob {BCRYPT}\n}}\nrespond hi",
    "bind": "bind 127.0.0.1\nrespond hi",
    "copy_response": "reverse_proxy app:80 {\n\thandle_response {\n\t\tcopy_response 200\n\t}\n}",
    "copy_response_headers": (
        "reverse_proxy app:80 {\n\thandle_response {\n\t\tcopy_response_headers {\n"
        "\t\t\tinclude X-A\n\t\t}\n\t\trespond hi\n\t}\n}"
    ),
    "encode": "encode zstd gzip\nrespond hi",
    "error": "error 404",
    "file_server": "root * /srv\nfile_server",
    "forward_auth": "forward_auth app:80 {\n\turi /auth\n\tcopy_headers X-User\n}\nrespond hi",
    "fs": "fs x",
    "handle": "handle /a/* {\n\trespond a\n}",
    "handle_errors": "handle_errors {\n\trespond oops\n}\nrespond hi",
    "handle_path": "handle_path /a/* {\n\trespond a\n}",
    "header": "header X-A b\nrespond hi",
    "intercept": "intercept",
    "invoke": "invoke r",
    "log": "log\nrespond hi",
    "log_append": "log_append a b\nrespond hi",
    "log_name": "log_name x\nrespond hi",
    "log_skip": "log_skip\nrespond hi",
    "map": "map {path} {x} {\n\t/a 1\n\tdefault 0\n}\nrespond {x}",
    "method": "method POST\nrespond hi",
    "metrics": "metrics /metrics",
    "php_fastcgi": "php_fastcgi app:9000",
    "push": "push",
    "redir": "redir https://example.com{uri}",
    "request_body": "request_body {\n\tmax_size 1MB\n}\nrespond hi",
    "request_header": "request_header X-A b\nrespond hi",
    "respond": "respond hi",
    "reverse_proxy": "reverse_proxy app:80",
    "rewrite": "rewrite * /x\nrespond hi",
    "root": "root * /srv\nrespond hi",
    "route": "route {\n\trespond hi\n}",
    "skip_log": "skip_log\nrespond hi",
    "templates": "templates",
    "timeouts": "timeouts 10s",
    "tls": "tls internal\nrespond hi",
    "tracing": "tracing",
    "try_files": "try_files {path} /index.html\nrespond hi",
    "uri": "uri strip_prefix /a\nrespond hi",
    "vars": "vars a b\nrespond hi",
    "jwt": "jwt {\n\talg HS256\n\tkey_env JWT_SECRET\n}\nrespond hi",
    "jwt_shard_router": (
        "jwt_shard_router {\n\talg HS256\n\tkey_env JWT_SECRET\n\tmap {\n\t\tacme 10.0.0.1:80\n\t}\n"
        "\tallow 10.0.0.0/8\n}\nreverse_proxy {http.vars.shard.upstream}"
    ),
}

# The matcher used in `@m <matcher>` before `respond @m hi`.
MATCHER_USES = {
    "client_ip": "client_ip 10.0.0.0/8",
    "expression": "expression {path} == '/a'",
    "file": "file {path}",
    "header": "header X-A b",
    "header_regexp": "header_regexp X-A ^b",
    "host": "host a.example.com",
    "method": "method GET",
    "not": "not path /a",
    "path": "path /a/*",
    "path_regexp": "path_regexp ^/a",
    "protocol": "protocol https",
    "query": "query a=b",
    "remote_ip": "remote_ip 10.0.0.0/8",
    "tls": "tls",
    "url_pattern": "url_pattern /a/:id",
    "vars": "vars {x} y",
    "vars_regexp": "vars_regexp {x} ^y",
}

# The global options block for each option (None: no valid form in a standard build).
OPTION_USES: dict[str, str | None] = {
    "acme_ca": "acme_ca https://acme.example.com/directory",
    "acme_ca_root": "acme_ca_root /etc/ca.pem",
    "acme_dns": None,  # needs a DNS provider module
    "acme_eab": "acme_eab {\n\tkey_id a\n\tmac_key b\n}",
    "admin": "admin localhost:2019",
    "auto_https": "auto_https disable_redirects",
    "cert_issuer": "cert_issuer internal",
    "cert_lifetime": "cert_lifetime 24h",
    "debug": "debug",
    "default_bind": "default_bind 127.0.0.1",
    "default_sni": "default_sni a.example.com",
    "dns": None,  # needs a DNS provider module
    "ech": "ech ech.example.com",
    "email": "email ops@example.com",
    "events": "events {\n}",
    "fallback_sni": "fallback_sni a.example.com",
    "filesystem": None,  # needs a file system module
    "grace_period": "grace_period 10s",
    "http_port": "http_port 8081",
    "https_port": "https_port 8444",
    "key_type": "key_type p256",
    "local_certs": "local_certs",
    "log": "log {\n\toutput stdout\n}",
    "metrics": "metrics",
    "ocsp_interval": "ocsp_interval 1h",
    "ocsp_stapling": "ocsp_stapling off",
    "on_demand_tls": "on_demand_tls {\n\task http://localhost:9/ask\n}",
    "order": "order respond first",
    "persist_config": "persist_config off",
    "pki": "pki {\n\tca local {\n\t\tname X\n\t}\n}",
    "preferred_chains": "preferred_chains smallest",
    "renew_interval": "renew_interval 1h",
    "renewal_window_ratio": "renewal_window_ratio 0.5",
    "servers": "servers {\n\ttrusted_proxies static private_ranges\n}",
    "shutdown_delay": "shutdown_delay 5s",
    "skip_install_trust": "skip_install_trust",
    "storage": "storage file_system /tmp/rpc",
    "storage_check": "storage_check off",
    "storage_clean_interval": "storage_clean_interval 1h",
    "tls_automate_names": "tls_automate_names a.example.com",
    "tls_resolvers": "tls_resolvers 1.1.1.1",
}


# Rows whose "not yet" is a compiler bug rather than RPC304; when one is fixed,
# this test fails so that the row in docs/directives.md is updated with it.
KNOWN_BUGS: dict[str, str] = {}


def expected(status: str, name: str = "") -> str:
    if name in KNOWN_BUGS:
        return KNOWN_BUGS[name]
    return "RPC304" if status == "not yet" else "ok"


# ---------------------------------------------------------------- docs/directives.md


def test_every_directive_rpc_knows_is_listed() -> None:
    assert set(table("Directives")) == registry.known_names()
    assert set(DIRECTIVES) == registry.known_names()


def directive_site(name: str) -> str:
    """A whole Caddyfile using directive `name` (its smallest site body)."""
    text = site(DIRECTIVES[name])
    if name == "invoke":
        text = "&(r) {\n\trespond hi\n}\n" + text
    return text


def test_not_yet_is_exactly_what_compile_refuses() -> None:
    # "not yet" is about compiling: a directive may be read as Caddy reads it
    # (php_fastcgi, intercept: `rpc adapt` shows their JSON) and still be refused.
    not_yet = {n for n, s in table("Directives").items() if s == "not yet"} - set(KNOWN_BUGS)
    assert not_yet == {n for n in DIRECTIVES if outcome(directive_site(n)) == "RPC304"}
    # A name without a parser can only be "not yet".
    assert {n for n in registry.known_names() if registry.lookup(n) is None} <= not_yet


@pytest.mark.parametrize("name", sorted(DIRECTIVES))
def test_directive_status(name: str) -> None:
    status = table("Directives")[name]
    text = directive_site(name)
    assert outcome(text) == expected(status, name), f"{name} is listed as {status!r}"


def test_every_matcher_is_listed() -> None:
    assert set(table("Request matchers")) == set(MATCHERS) == set(MATCHER_USES)


@pytest.mark.parametrize("name", sorted(MATCHER_USES))
def test_matcher_status(name: str) -> None:
    status = table("Request matchers")[name]
    text = site(f"@m {MATCHER_USES[name]}\nrespond @m hi")
    assert outcome(text) == expected(status), f"{name} is listed as {status!r}"


def test_every_global_option_is_listed() -> None:
    options._load()  # the option modules register on first use
    assert set(table("Global options")) == set(options.OPTIONS) == set(OPTION_USES)


@pytest.mark.parametrize("name", sorted(k for k, v in OPTION_USES.items() if v))
def test_global_option_status(name: str) -> None:
    status = table("Global options")[name]
    text = "{\n" + str(OPTION_USES[name]) + "\n}\n" + site("respond hi")
    assert outcome(text) == expected(status), f"{name} is listed as {status!r}"


def test_rpc304_hints_point_at_the_page() -> None:
    root = Path(__file__).resolve().parent.parent
    hints = [
        p
        for p in (root / "compiler").rglob("*.py")
        if "docs/directives.md" in p.read_text(encoding="utf-8")
    ]
    assert hints, "the RPC304 hint no longer names docs/directives.md"
    assert (DOCS / "directives.md").is_file()


# ---------------------------------------------------------------- docs/generated-module.md


def test_generated_module_excerpts_are_current() -> None:
    text = (DOCS / "generated-module.md").read_text(encoding="utf-8")
    caddyfile = re.findall(r"```caddyfile\n(.*?)```", text, re.DOTALL)[0]
    excerpts = re.findall(r"```python\n(.*?)```", text, re.DOTALL)
    python = compile_caddyfile(caddyfile, "Caddyfile").python
    assert python is not None and excerpts
    for excerpt in excerpts:
        assert excerpt in python, f"not in the compiler's output any more:\n{excerpt}"


def test_options_without_effect_are_the_ones_rpc_check_warns_about() -> None:
    """An option documented as having no effect gets RPC409 from `rpc check`, and only those."""
    text = (DOCS / "directives.md").read_text(encoding="utf-8")
    body = text.split("\n## Global options\n", 1)[1].split("\n## ", 1)[0]
    documented = {
        m[1]
        for m in re.finditer(r"^\| `([^`]+)` \| [^|]+ \| ([^|]*)\|$", body, re.MULTILINE)
        if re.match(r"(no ACME: )?no effect", m[2].strip())
    }
    assert documented == set(NO_EFFECT)
    diags = check_text("{\n\tdebug\n}\n:80 {\n\trespond hi\n}\n", "Caddyfile", SourceMap())
    assert [(d.code, d.span.line if d.span else None) for d in diags] == [("RPC409", 2)]
