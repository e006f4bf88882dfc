"""rewrite, uri, method: Caddy's JSON for every form, checked against the real caddy."""

from __future__ import annotations

import pytest

from rpc.compiler.ir.base import Ph
from rpc.compiler.ir.handlers import Rewrite
from rpctest.lowering import adapt_error, handlers, routes
from rpctest.oracle import assert_same_as_caddy


def site(*lines: str) -> str:
    return ":80\n" + "\n".join(lines) + "\n"


CASES = [
    # rewrite: one argument is always the URI, two are a matcher and the URI
    site("rewrite /index.html"),
    site("rewrite * /a"),
    site("rewrite /old /new"),
    site("rewrite foo /bar"),
    site("@m method GET", "rewrite @m /c"),
    site("rewrite @nope /x"),
    site("rewrite * /a?{query}&x=1"),
    site("rewrite * ?a=b"),
    site("rewrite * /p#frag"),
    site("rewrite /a {\n\tbogus\n}"),
    site("rewrite /a /b {\n\tforce_modify_query\n}"),
    site("rewrite"),
    site("rewrite /a /b /c"),
    site("rewrite /a", "rewrite /b /c", "rewrite /d* /e"),
    site("route {\n\trewrite /a\n\trewrite /b /c\n}"),
    site("handle /x* {\n\trewrite * /y\n}", "rewrite * /z"),
    site("rewrite * {unknown}/x"),
    # method
    site("method FOO"),
    site("method /x get"),
    site("method {method}"),
    site("method"),
    site("method A B"),
    site("method {\n}"),
    site("@post method POST", "method @post PUT"),
    # uri: strip_prefix, strip_suffix
    site("uri strip_prefix /api"),
    site("uri /x strip_suffix .html"),
    site("uri strip_prefix {path}"),
    site("uri strip_prefix"),
    site("uri strip_prefix a b"),
    site("uri strip_suffix"),
    # uri replace
    site("uri replace a b"),
    site("uri replace a b 3"),
    site("uri replace a b -1"),
    site("uri replace a b +2"),
    site("uri replace a b x"),
    site("uri replace a"),
    site("uri replace a b 1 2"),
    site('uri replace "\\}" %7D', 'uri replace "\\{" %7B'),
    site("uri replace {path} {query}"),
    site('uri replace "" x'),
    # uri path_regexp
    site("uri path_regexp ^/(.*) /$1"),
    site("uri path_regexp a"),
    site("uri path_regexp a b c"),
    # uri query: arguments
    site("uri query +foo bar"),
    site("uri query -baz"),
    site("uri query --baz"),
    site("uri query ++a x"),
    site("uri query taz test"),
    site("uri query key=value example"),
    site("uri query a>b"),
    site("uri query a>"),
    site("uri query >b"),
    site("uri query a>b>c"),
    site("uri query findme value replacement"),
    site("uri query"),
    site("uri query {\n}"),
    site("uri query +a b c"),
    site("uri query -a b"),
    site("uri query a"),
    site("uri query a>b c"),
    site("uri query a b c d"),
    site("uri query a {path} {query}"),
    # uri query: block
    site("uri query {\n\t+a b\n\t-c\n\td>e\n\tf g\n\th i j\n}"),
    site("uri query {\n\ta>b c\n}"),
    site("uri query {\n\t-a b\n}"),
    site("uri query -a {\n\tb c\n}"),
    site("uri query {\n\tfindme value replacement\n\t+foo1 baz\n}"),
    # uri: other errors
    site("uri bogus"),
    site("uri"),
    site("uri /x"),
    site("uri @nope strip_prefix /a"),
]


@pytest.mark.parametrize("text", CASES)
def test_same_json_as_caddy(text: str, caddy: str) -> None:
    assert_same_as_caddy(text)


def test_rewrite_routes_are_grouped_even_alone() -> None:
    (route,) = routes("\trewrite /x")
    assert route["group"] and route["handle"] == [{"handler": "rewrite", "uri": "/x"}]


def test_rewrite_uri_placeholders_are_typed_and_unknown_ones_dropped() -> None:
    from rpc.compiler.pipeline import Stage, compile_caddyfile

    result = compile_caddyfile(
        ":80\nrewrite * /{path}/{nope}\n", "Caddyfile", stop_after=Stage.IR, environ={}
    )
    assert result.ir.http is not None
    (server,) = result.ir.http.servers
    (handler,) = server.routes[0].handle
    assert isinstance(handler, Rewrite) and handler.uri is not None
    assert handler.uri.raw == "/{http.request.uri.path}/{nope}"
    assert handler.uri.parts == ("/", Ph("http.request.uri.path"), "/")


def test_query_ops_keep_empty_object() -> None:
    assert handlers("\turi query") == [{"handler": "rewrite", "query": {}}]


@pytest.mark.parametrize(
    ("body", "code", "line", "fragment"),
    [
        ("rewrite", "RPC302", 2, "too few arguments; must have at least a rewrite URI"),
        ("rewrite /a /b /c", "RPC302", 2, "too many arguments; should only be a matcher and a URI"),
        ("uri bogus", "RPC301", 2, "unrecognized URI manipulation 'bogus'"),
        ("uri replace a b x", "RPC303", 2, "limit must be an integer"),
        ("uri query -a {\n\tb c\n}", "RPC303", 3, "Cannot specify uri query rewrites in both"),
        (
            "uri query +a b c",
            "RPC302",
            2,
            "wrong argument count or unexpected line ending after 'c'",
        ),
        ("method A B", "RPC302", 2, "wrong argument count or unexpected line ending after 'B'"),
    ],
)
def test_errors_name_the_problem(body: str, code: str, line: int, fragment: str) -> None:
    diag = adapt_error(f":80\n{body}\n")
    assert diag.code == code
    assert diag.span is not None and diag.span.line == line
    assert fragment in diag.message
    assert diag.hint


def test_uri_operation_typo_gets_a_hint() -> None:
    diag = adapt_error(":80\nuri strip_prefx /a\n")
    assert diag.hint is not None and "strip_prefix" in diag.hint
