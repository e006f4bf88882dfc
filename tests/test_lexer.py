"""The lexer splits text exactly as Caddy's: tokens, quoting and logical lines.

The first table transcribes Caddy's own `TestLexer` cases
(`caddyconfig/caddyfile/lexer_test.go`); the rest pin behaviour read off the
caddy 2.11.7 binary (heredocs, comments, escapes).
"""

from __future__ import annotations

import pytest

from rpc.compiler.lexer import LexError, TokenKind, tokenize

W, Q, B, H = TokenKind.WORD, TokenKind.QUOTED, TokenKind.BACKTICK, TokenKind.HEREDOC

CADDY_CASES: list[tuple[str, list[tuple[int, str]]]] = [
    ("host:123", [(1, "host:123")]),
    ("host:123\n\n\t\t\t\t\tdirective", [(1, "host:123"), (3, "directive")]),
    (
        "host:123 {\n\t\t\t\t\t\tdirective\n\t\t\t\t\t}",
        [(1, "host:123"), (1, "{"), (2, "directive"), (3, "}")],
    ),
    ("host:123 { directive }", [(1, "host:123"), (1, "{"), (1, "directive"), (1, "}")]),
    (
        "host:123 {\n\t#comment\n\tdirective\n\t# comment\n\tfoobar # another comment\n}",
        [(1, "host:123"), (1, "{"), (3, "directive"), (5, "foobar"), (6, "}")],
    ),
    (
        "host:123 {\n\t# hash inside string is not a comment\n\tredir / /some/#/path\n}",
        [(1, "host:123"), (1, "{"), (3, "redir"), (3, "/"), (3, "/some/#/path"), (4, "}")],
    ),
    ("# comment at beginning of file\n# comment at beginning of line\nhost:123", [(3, "host:123")]),
    ('a "quoted value" b\n\tfoobar', [(1, "a"), (1, "quoted value"), (1, "b"), (2, "foobar")]),
    ('A "quoted \\"value\\" inside" B', [(1, "A"), (1, 'quoted "value" inside'), (1, "B")]),
    (
        'An escaped "newline\\\ninside" quotes',
        [(1, "An"), (1, "escaped"), (1, "newline\\\ninside"), (2, "quotes")],
    ),
    (
        "An escaped newline\\\noutside quotes",
        [(1, "An"), (1, "escaped"), (1, "newline"), (1, "outside"), (1, "quotes")],
    ),
    ("line1\\\nescaped\nline2\nline3", [(1, "line1"), (1, "escaped"), (3, "line2"), (4, "line3")]),
    (
        "line1\\\nescaped1\\\nescaped2\nline4\nline5",
        [(1, "line1"), (1, "escaped1"), (1, "escaped2"), (4, "line4"), (5, "line5")],
    ),
    ('"unescapable\\ in quotes"', [(1, "unescapable\\ in quotes")]),
    ('"don\'t\\escape"', [(1, "don't\\escape")]),
    ('"don\'t\\\\escape"', [(1, "don't\\\\escape")]),
    ("un\\escapable", [(1, "un\\escapable")]),
    (
        'A "quoted value with line\n\t\t\t\t\tbreak inside" {\n\tfoobar\n}',
        [
            (1, "A"),
            (1, "quoted value with line\n\t\t\t\t\tbreak inside"),
            (2, "{"),
            (3, "foobar"),
            (4, "}"),
        ],
    ),
    ('"C:\\php\\php-cgi.exe"', [(1, "C:\\php\\php-cgi.exe")]),
    ('empty "" string', [(1, "empty"), (1, ""), (1, "string")]),
    ("skip those\r\nCR characters", [(1, "skip"), (1, "those"), (2, "CR"), (2, "characters")]),
    ("\ufeff:8080", [(1, ":8080")]),
]


@pytest.mark.parametrize(("text", "expected"), CADDY_CASES)
def test_caddy_lexer_table(text: str, expected: list[tuple[int, str]]) -> None:
    assert [(t.line, t.text) for t in tokenize(text)] == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Quoting rules (checked on caddy 2.11.7 through `respond` bodies).
        ('foo"bar"', [(W, 'foo"bar"')]),
        ('"a"b', [(Q, "a"), (W, "b")]),
        ('"a\\"b\\\\c\\d"', [(Q, 'a"b\\\\c\\d')]),
        ('`a\\"b`', [(B, 'a\\"b')]),
        ("a#b #c", [(W, "a#b")]),
        ("a\\ b", [(W, "a"), (W, "b")]),
        ("respond \\ x", [(W, "respond"), (W, "\\x")]),
        ("\\<<X y", [(W, "<<X"), (W, "y")]),
        ("<< x", [(W, "<<"), (W, "x")]),
        ("<<X x", [(W, "<<X"), (W, "x")]),
        ("<<<X content", [(W, "<<<X"), (W, "content")]),
        ('"<<A\nfoo\nA"', [(Q, "<<A\nfoo\nA")]),
        ("{$X} {}", [(W, "{$X}"), (W, "{}")]),
    ],
)
def test_token_kinds_and_text(text: str, expected: list[tuple[TokenKind, str]]) -> None:
    assert [(t.kind, t.text) for t in tokenize(text)] == expected


def test_backslash_in_comment_continues_the_line() -> None:
    # Caddy checks for `\` before it checks for comments: `201` joins line 1.
    toks = tokenize("respond hi # see C:\\path\n201\nnext")
    assert [(t.text, t.line) for t in toks] == [("respond", 1), ("hi", 1), ("201", 1), ("next", 3)]


@pytest.mark.parametrize(
    ("text", "body"),
    [
        ("respond <<X\nab\nX", "ab"),
        ("respond <<X\n\tab\n\n\tX", "ab\n"),
        ("respond <<X\r\n  a\r\n  X", "a"),
        ("respond <<X\n  a\n\n  X", "a\n"),
        # the first occurrence of the marker ends the heredoc, even mid-line
        ("respond <<X\nX", ""),
    ],
)
def test_heredoc_bodies(text: str, body: str) -> None:
    toks = tokenize(text)
    assert toks[-1].kind is H
    assert toks[-1].text == body


def test_words_after_closing_marker_stay_on_the_directive_line() -> None:
    toks = tokenize("respond <<HTML\n    <b>hi</b>\n    HTML 201\nnext")
    heredoc, status, nxt = toks[1], toks[2], toks[3]
    assert heredoc.text == "<b>hi</b>"
    assert heredoc.line + heredoc.line_breaks >= status.line  # same logical line
    assert heredoc.line + heredoc.line_breaks < nxt.line


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("respond <<\nhi\n", "RPC102"),
        ("respond <<<X\nhi\nX\n", "RPC102"),
        ("respond <<X$\nhi\nX\n", "RPC102"),
        ("respond <<X\tfoo\n", "RPC102"),
        ("respond <<X\n\tab\n  \n\tX 201\n", "RPC103"),
        ("respond <<X\n  a\n \n  X\n", "RPC103"),
        ("respond <<X\nhi\n", "RPC104"),
    ],
)
def test_heredoc_errors(text: str, code: str) -> None:
    with pytest.raises(LexError) as info:
        tokenize(text)
    assert info.value.code == code


def test_unterminated_quote_runs_to_the_end() -> None:
    (head, tok) = tokenize('respond "abc\n')
    assert tok.text == "abc\n"
    assert tok.unterminated
    assert head.text == "respond"
