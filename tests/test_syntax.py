"""Text → line tree: the grammar's structure, and every syntax error with its position."""

from __future__ import annotations

import pytest

from rpc.compiler.syntax import parse_text
from rpctest.caddyfiles import assert_syntax_error, dedent, shapes


def w(text: str) -> tuple[str, str]:
    return ("word", text)


def test_site_with_nested_blocks() -> None:
    text = dedent(
        """
        example.com {
        \treverse_proxy /api/* localhost:8080 {
        \t\theader_up X-A b
        \t}
        \trespond "hi there" 200
        }
        """
    )
    assert shapes(text) == [
        (
            (w("example.com"),),
            (
                (
                    (
                        (w("reverse_proxy"), w("/api/*"), w("localhost:8080")),
                        ((((w("header_up"), w("X-A"), w("b")), None),), False),
                    ),
                    ((w("respond"), ("quoted", "hi there"), w("200")), None),
                ),
                False,
            ),
        )
    ]


def test_global_options_block_is_a_keyless_line() -> None:
    tree = parse_text("{\n\tdebug\n}\n:80\nrespond hi\n")
    first = tree.lines[0]
    assert first.tokens == () and first.block is not None
    assert [t.text for t in first.block.lines[0].tokens] == ["debug"]


def test_spans_point_at_physical_positions() -> None:
    tree = parse_text(":80 {\n\trespond \\\n\t\thello 201\n}\n")
    respond = tree.lines[0].block.lines[0]  # type: ignore[union-attr]
    hello = respond.tokens[1]
    assert (hello.text, hello.span.line, hello.span.column) == ("hello", 3, 3)
    assert [t.text for t in respond.tokens] == ["respond", "hello", "201"]


def test_env_substitution_changes_tokens_but_spans_stay_in_the_users_text() -> None:
    tree = parse_text('respond {$BODY} "{$BODY}"\n', environ={"BODY": "a b"})
    toks = tree.lines[0].tokens
    assert [t.text for t in toks] == ["respond", "a", "b", "a b"]
    # both words came from `{$BODY}` at column 9
    assert [t.span.column for t in toks] == [1, 9, 9, 17]


def test_env_defaults_and_set_but_empty() -> None:
    assert [
        t.text for t in parse_text("a {$X:d:e} {$Y:z}\n", environ={"Y": ""}).lines[0].tokens
    ] == [
        "a",
        "d:e",
    ]


def test_trailing_close_brace_inside_a_directive_block() -> None:
    # Caddy accepts `respond hi }` inside a block and gives the `}` to respond too.
    tree = parse_text(":80 {\n\thandle {\n\t\trespond hi }\n}\n")
    handle = tree.lines[0].block.lines[0]  # type: ignore[union-attr]
    assert handle.block is not None and handle.block.inline_close is not None


def test_quoted_braces_are_plain_arguments() -> None:
    tree = parse_text(':80 {\n\trespond "{" hi\n}\n')
    respond = tree.lines[0].block.lines[0]  # type: ignore[union-attr]
    assert [t.text for t in respond.tokens] == ["respond", "{", "hi"]
    assert respond.block is None


@pytest.mark.parametrize(
    ("text", "code", "line", "column"),
    [
        (":80 {\n\thandle { respond hi }\n}\n", "RPC111", 2, 11),
        (":80 {\n\trespond hi\n", "RPC113", 1, 5),
        (":80 {\n\trespond hi\n}\n}\n", "RPC112", 4, 1),
        ("respond hi }\n", "RPC112", 1, 12),
        (":80 {\n\trespond <<X$\n\thi\n\tX\n}\n", "RPC102", 2, 10),
        (":80 {\n\trespond <<X\n\thi\n  X\n}\n", "RPC103", 3, 1),
        (":80 {\n respond <<X\n hi\n", "RPC104", 2, 10),
        ("a { b\n}\n", "RPC111", 1, 5),
        (":80 {\n}\n}\n", "RPC112", 3, 1),
        ("a {\n} {\n}\n", "RPC111", 2, 3),
    ],
)
def test_syntax_errors_have_codes_and_positions(
    text: str, code: str, line: int, column: int
) -> None:
    assert_syntax_error(text, code, line, column)


def test_syntax_error_hint_explains_one_line_blocks() -> None:
    diag = assert_syntax_error(":80 {\n\thandle { respond hi }\n}\n", "RPC111", 2, 11)
    assert diag.hint is not None and "one-line blocks" in diag.hint


def test_unterminated_quote_is_a_warning_not_an_error() -> None:
    tree = parse_text(':80\nrespond "abc\n')
    assert [d.code for d in tree.warnings] == ["RPC101"]
