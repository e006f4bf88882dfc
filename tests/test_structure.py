"""Top-level lines → Document: global options, named routes, sites and their addresses."""

from __future__ import annotations

import pytest

from rpc.compiler.addresses import AddressError, parse_address
from rpc.compiler.pipeline import parse_document
from rpctest.caddyfiles import assert_syntax_error, dedent


def test_document_parts() -> None:
    doc = parse_document(
        dedent(
            """
            {
            \tdebug
            }
            &(app) {
            \treverse_proxy app:8080
            }
            a.com, b.com,
            c.com {
            \tinvoke app
            }
            """
        )
    )
    assert doc.global_options is not None
    assert [line.tokens[0].text for line in doc.global_options.lines] == ["debug"]
    assert [r.name for r in doc.named_routes] == ["app"]
    # A trailing comma continues the address list on the next line.
    assert [k.text for k in doc.sites[0].keys] == ["a.com", "b.com", "c.com"]


def test_brace_on_the_next_line_and_braceless_sites() -> None:
    doc = parse_document("a.com\n{\n\trespond a\n}\nb.com\nrespond b\nheader X y\n")
    assert [s.braced for s in doc.sites] == [True, False]
    assert [[t.text for t in line.tokens] for line in doc.sites[1].lines] == [
        ["respond", "b"],
        ["header", "X", "y"],
    ]


def test_empty_key_is_ignored() -> None:
    doc = parse_document('"" a.com {\n}\n')
    assert [a.host for a in doc.sites[0].addresses] == ["a.com"]


@pytest.mark.parametrize(
    ("text", "code", "line", "column"),
    [
        ("a.com,b.com {\n}\n", "RPC120", 1, 1),
        ("a.com, {\n}\n", "RPC120", 1, 8),
        ("a.com,\n", "RPC120", 1, 1),
        ("a.com {\n}\n{\n\tdebug\n}\n", "RPC121", 3, 1),
        ("@foo {\n}\n", "RPC122", 1, 1),
        ("handle {\n}\n", "RPC123", 1, 1),
        ("foo://example.com\n", "RPC124", 1, 1),
        ("wss://example.com\n", "RPC124", 1, 1),
        (":70000\n", "RPC124", 1, 1),
        ("&(r) {\n}\n&(r) {\n}\n", "RPC203", 3, 1),
        (":80 {\n\thandle\n\t{\n\t}\n}\n", "RPC110", 3, 2),
        (":80 {\n\trespond {}\n}\n", "RPC114", 2, 10),
        (":80 {\n\trespond hi }\n}\n", "RPC112", 2, 13),
    ],
)
def test_structure_errors(text: str, code: str, line: int, column: int) -> None:
    assert_syntax_error(text, code, line, column)


def test_caddy_wording_is_kept_for_known_errors() -> None:
    assert (
        "Site addresses cannot contain a comma"
        in assert_syntax_error("a.com,b.com {\n}\n", "RPC120", 1, 1).message
    )
    assert "parsed 'handle' as a site address, but it is a known directive" in (
        assert_syntax_error("handle {\n}\n", "RPC123", 1, 1).message
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("example.com", ("", "example.com", "", "")),
        ("HTTP://Example.COM:8080/Path", ("http", "example.com", "8080", "/Path")),
        (":8080", ("", "", "8080", "")),
        ("*.example.com", ("", "*.example.com", "", "")),
        ("[::1]:443", ("", "::1", "443", "")),
        ("[::1]", ("", "::1", "", "")),
        ("{$NOT_SUBSTITUTED}", ("", "{$NOT_SUBSTITUTED}", "", "")),
        ("Example.{LABEL}.com", ("", "example.{LABEL}.com", "", "")),
        ("localhost:0", ("", "localhost", "0", "")),
    ],
)
def test_parse_address(text: str, expected: tuple[str, str, str, str]) -> None:
    a = parse_address(text)
    assert (a.scheme, a.host, a.port, a.path) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (":70000", "port 70000 is out of range"),
        (":-1", "port -1 is out of range"),
        (":abc", "invalid port 'abc'"),
        ("foo://example.com", "unsupported URL scheme foo://"),
        (
            "wss://example.com",
            "the scheme wss:// is only supported in browsers; use https:// instead",
        ),
        ("ws://example.com", "the scheme ws:// is only supported in browsers; use http:// instead"),
        ("wss://example.com:70000", "port 70000 is out of range"),
    ],
)
def test_address_errors(text: str, message: str) -> None:
    with pytest.raises(AddressError, match="^" + message.replace("(", r"\(")):
        parse_address(text)


def test_address_string_form() -> None:
    assert str(parse_address("example.com:443")) == "https://example.com"
    assert str(parse_address("http://example.com:8080/x")) == "http://example.com:8080/x"
    assert str(parse_address(":80")) == "http://"
