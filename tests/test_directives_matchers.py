"""Named matchers and matcher tokens: Caddy's JSON for every matcher type and error path."""

from __future__ import annotations

import pytest

from rpc.compiler.cel import Unsupported, parse_expression
from rpc.compiler.ir.cel import CelBool, CelCompare, CelLit, CelMatcher, CelPh
from rpc.compiler.ir.matchers import MatchPath
from rpctest.lowering import adapt_error
from rpctest.oracle import assert_same_as_caddy


def site(*lines: str) -> str:
    return ":80\n" + "\n".join(lines) + "\nrespond @m hi\n"


CASES = [
    site("@m path /a /b*"),
    site("@m {\n\tpath /a\n\tpath /b\n}"),
    site("@m path_regexp ^/x/(.*)"),
    site("@m path_regexp cap ^/x/(.*)"),
    site("@m {\n\tpath_regexp ^/x\n\tpath_regexp ^/y\n}"),
    site("@m host a.example.com *.example.com {host}"),
    site("@m method GET post"),
    site("@m header X-Foo bar"),
    site("@m header x-foo-bar baz qux"),
    site('@m header "x foo" baz'),
    site("@m {\n\theader Foo bar\n\theader foo baz\n\theader !Gone\n}"),
    site("@m header !"),
    site("@m header Foo"),
    site("@m header_regexp X-A ^v(\\d+)$"),
    site("@m header_regexp n X-A ^v(\\d+)$"),
    site("@m {\n\theader_regexp X-A ^a\n\theader_regexp X-A ^b\n}"),
    site("@m query a=1 a=2 b=*"),
    site("@m query"),
    site("@m query nokey"),
    site("@m remote_ip 10.0.0.0/8 private_ranges ::1"),
    site("@m remote_ip forwarded 1.2.3.4"),
    site("@m client_ip 192.168.1.1"),
    site("@m protocol https"),
    site("@m protocol"),
    site("@m not path /a"),
    site("@m not {\n\tpath /a\n\tmethod GET\n}"),
    site("@m {\n\tnot path /a\n\tnot method POST\n}"),
    site("@m not path_regexp ^/x"),
    site("@m vars {http.request.uri} /x /y"),
    site("@m vars"),
    site("@m vars_regexp v {path} ^/a"),
    site("@m expression {method} == 'GET'"),
    site('@m expression `{method} == "GET"`'),
    site("@m `path('/a*') || header({'X-A': 'b'})`"),
    site('@m "{http.error.status_code} >= 500"'),
    site("@m file"),
    site(
        "@m file index.html {path}/ {\n\troot /srv\n\ttry_policy smallest_size\n\tsplit_path .php\n}"
    ),
    site("@m file {\n\tbogus x\n}"),
    site("@m tls early_data"),
    site("@m url_pattern /books/:id"),
    site("@m nonsense x"),
    site("@m {\n\tpath /a\n}\n@m path /b"),
    ":80\nrespond /exact 404\n",
    ":80\nrespond * 404\n",
    ":80\nrespond @undefined 404\n",
    ":80\nhandle {\n\t@inner path /i\n\trespond @inner hi\n}\nrespond @inner 404\n",
]


@pytest.mark.parametrize("text", CASES)
def test_same_json_as_caddy(text: str, caddy: str) -> None:
    assert_same_as_caddy(text)


def test_unknown_matcher_name_suggests_the_closest() -> None:
    diag = adapt_error(":80\n@api path /api/*\nrespond @apu hi\n")
    assert diag.code == "RPC305"
    assert diag.hint == "did you mean `@api`?"


def test_matchers_scope_to_their_block() -> None:
    diag = adapt_error(":80\nhandle {\n\t@inner path /i\n}\nrespond @inner 404\n")
    assert (diag.code, diag.span and diag.span.line) == ("RPC305", 5)


def test_cel_subset_tree() -> None:
    tree = parse_expression("{http.error.status_code} in [404, 500] && path('/a*')")
    assert isinstance(tree, CelBool) and tree.op == "&&"
    left, right = tree.operands
    assert left == CelCompare(
        op="in",
        left=CelPh(key="http.error.status_code"),
        right=parse_expression("[404, 500]"),  # type: ignore[arg-type]
    )
    assert isinstance(right, CelMatcher) and isinstance(right.matcher, MatchPath)
    assert parse_expression("-1") == CelLit(value=-1)


@pytest.mark.parametrize("expr", ["a.b", "foo(1)", "{x}.weird()", "1 +", "`402` == 1"])
def test_cel_outside_the_subset_is_reported(expr: str) -> None:
    with pytest.raises(Unsupported):
        parse_expression(expr)
