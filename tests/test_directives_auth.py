"""basic_auth, basicauth, forward_auth: Caddy's JSON for every form, checked against caddy."""

from __future__ import annotations

import pytest

from rpc.compiler.ir.proxy import ReverseProxy
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpctest.lowering import adapt_error, handlers
from rpctest.oracle import assert_same_as_caddy

HASH = "$2a$14$Zkx19XLiW6VYouLHR5NmfOFU0z2GTNmpkT/5qqR7hx4IjWJPDhjvG"
ARGON = "$argon2id$v=19$m=47104,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"


def site(*lines: str) -> str:
    return ":80\n" + "\n".join(lines) + "\n"


CASES = [
    # basic_auth
    site(f"basic_auth {{\n\tbob {HASH}\n}}"),
    site(f"basic_auth /admin* bcrypt MyRealm {{\n\tbob {HASH}\n\talice {HASH}\n}}"),
    site(f"basicauth {{\n\tbob {HASH}\n}}"),
    site(f"basic_auth argon2id {{\n\tbob {ARGON}\n}}"),
    site("basic_auth"),
    site("basic_auth bcrypt"),
    site("basic_auth sha256 {\n\tbob xyz\n}"),
    site("basic_auth scrypt"),
    site("basic_auth {\n\tbob\n}"),
    site("basic_auth {\n\tbob a b\n}"),
    site('basic_auth {\n\t"" pw\n}'),
    site('basic_auth {\n\tbob ""\n}'),
    site("basic_auth bcrypt r extra"),
    site(f"basic_auth bcrypt {{\n\tbob {HASH} {{\n\t\tx\n\t}}\n}}"),
    site("@m path /x", f"basic_auth @m {{\n\tbob {HASH}\n}}"),
    site("basic_auth {\n\t{env.USER} {env.HASH}\n}"),
    # forward_auth
    site(
        "forward_auth authelia:9091 {\n\turi /api/authz/forward-auth\n\tcopy_headers Remote-User Remote-Groups\n}"
    ),
    site("forward_auth 127.0.0.1:9091 {\n\turi /\n\tcopy_headers X-User-Id X-User-Role\n}"),
    site(
        "forward_auth localhost:9000 {\n\turi /auth\n\tcopy_headers A>1 B C>3 {\n\t\tD\n\t\tE>5\n\t}\n}"
    ),
    site("forward_auth localhost:9000 {\n\turi /auth\n\tcopy_headers {\n\t\tx-lower\n\t}\n}"),
    site("forward_auth :9091 {\n\turi /auth\n}"),
    site("forward_auth /api* :9091 {\n\turi /auth\n}"),
    site("@m host a.example.com", "forward_auth @m :9091 {\n\turi /auth\n}"),
    site("forward_auth :9091 {\n\turi /first\n\turi /second\n}"),
    site("forward_auth :9091 {\n}"),
    site("forward_auth :9091"),
    site("forward_auth :9091 {\n\turi\n}"),
    site("forward_auth /x :9091 {\n\turi /a\n\tcopy_headers\n}"),
    site("forward_auth :9091 {\n\turi /a?b={query}\n\theader_up Foo bar\n\tmethod POST\n}"),
    site("forward_auth :9091 {\n\turi /a\n\theader_up X-Forwarded-Uri /override\n}"),
    site("forward_auth :9091 {\n\turi /a\n\trewrite /other\n}"),
    site("forward_auth :9091 {\n\turi /a\n\ttransport http {\n\t\turi /zzz\n\t}\n}"),
    site("forward_auth :9091 {\n\turi /a\n\ttransport http {\n\t\ttls\n\t}\n}"),
    site("forward_auth :9091 a:1 {\n\turi /a\n\tlb_policy first\n\thealth_uri /h\n}"),
    site(
        "forward_auth :9091 {\n\turi /a\n\t@bad status 401\n\thandle_response @bad {\n"
        "\t\trespond denied 403\n\t}\n}"
    ),
    site("forward_auth :9091 {\n\turi /a\n\treplace_status 401\n}"),
    site("forward_auth :9091 {\n\turi /a\n\tbogus\n}"),
    site("forward_auth https://auth.example.com {\n\turi /a\n}"),
    site("forward_auth {\n\tto :9091\n\turi /a\n}"),
    site("forward_auth :9091 {\n\tcopy_headers A\n\turi /a\n\tcopy_headers B>A\n}"),
    site("forward_auth :9091 {\n\turi /a\n}", "reverse_proxy backend:8080"),
]


@pytest.mark.parametrize("text", CASES)
def test_same_json_as_caddy(text: str, caddy: str) -> None:
    assert_same_as_caddy(text)


def test_basic_auth_is_an_authentication_handler() -> None:
    (h,) = handlers(f"\tbasic_auth {{\n\t\tbob {HASH}\n\t}}")
    assert h == {
        "handler": "authentication",
        "providers": {
            "http_basic": {
                "accounts": [{"username": "bob", "password": HASH}],
                "hash": {"algorithm": "bcrypt"},
                "hash_cache": {},
            }
        },
    }


def test_basicauth_is_deprecated_with_a_warning() -> None:
    result = compile_caddyfile(
        site(f"basicauth {{\n\tbob {HASH}\n}}"), "Caddyfile", stop_after=Stage.IR, environ={}
    )
    (warning,) = [w for w in result.diagnostics if "deprecated" in w.message]
    assert warning.span is not None and warning.span.line == 2


def test_forward_auth_gets_and_copies_headers_only_when_present() -> None:
    result = compile_caddyfile(
        site("forward_auth :9091 {\n\turi /auth\n\tcopy_headers Remote-User>X-User\n}"),
        "Caddyfile",
        stop_after=Stage.IR,
        environ={},
    )
    assert result.ir.http is not None
    (server,) = result.ir.http.servers
    (proxy,) = server.routes[0].handle
    assert isinstance(proxy, ReverseProxy)
    assert proxy.rewrite_method is not None and proxy.rewrite_method.raw == "GET"
    (good,) = proxy.handle_response
    assert good.match is not None and good.match.status_code == (2,)
    _noop, delete, copy = good.routes
    assert not delete.match and copy.match  # delete the client's value, set only if present


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        ("basic_auth sha256", "RPC303", "unrecognized hash algorithm: sha256"),
        ("basic_auth {\n\tbob\n}", "RPC303", "username and password cannot be empty or missing"),
        ("forward_auth :9091", "RPC302", "the 'uri' subdirective is required"),
        ("forward_auth :9091 {\n\turi /a\n\turi /b\n}", "RPC307", "cannot re-declare uri: /b"),
        ("forward_auth :9091 {\n\turi /a\n\tcopy_headers\n}", "RPC302", "expecting argument"),
    ],
)
def test_errors_name_the_problem(body: str, code: str, fragment: str) -> None:
    diag = adapt_error(site(body))
    assert (diag.code, fragment in diag.message) == (code, True)
    assert diag.hint
