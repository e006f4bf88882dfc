"""Caddyfile text → line tree (`cst.Line`s), with lark and Caddy's own lexer.

`{$ENV}` substitution runs first on the raw text (as in Caddy), then the
ported lexer (`rpc.compiler.lexer`) splits tokens; a custom lark lexer feeds
them to the LALR grammar in `grammars/caddyfile.lark`, inserting `_NL` between
tokens on different logical lines and typing bare braces. lark's raw parse
errors are turned into coded diagnostics with a hint.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from lark import Lark, Transformer, UnexpectedInput, v_args
from lark import Token as LarkToken
from lark.lexer import Lexer

from rpc.compiler.cst import Block, Line, Token
from rpc.compiler.envsubst import Substituted, substitute_env
from rpc.compiler.errors import Diagnostic, Diagnostics
from rpc.compiler.lexer import LexError, RawToken, TokenKind, tokenize
from rpc.compiler.source import Source, SourceMap, Span

__all__ = ["FileTree", "parse_text"]


@dataclass(frozen=True, slots=True)
class FileTree:
    """The lines of one file, and warnings found while reading it."""

    source: Source
    lines: tuple[Line, ...]
    warnings: tuple[Diagnostic, ...] = ()


class _Positions:
    """Offsets of the lexed (substituted) text → spans in the original file."""

    def __init__(self, name: str, original: str, subst: Substituted) -> None:
        self.name = name
        self.subst = subst
        self.line_starts = [0] + [i + 1 for i, c in enumerate(original) if c == "\n"]

    def _line_col(self, offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(self.line_starts, offset) - 1
        return i + 1, offset - self.line_starts[i] + 1

    def span(self, start: int, end: int) -> Span:
        s = self.subst.original_offset(start)
        e = max(s + 1, self.subst.original_offset(end, end=True))
        line, col = self._line_col(s)
        end_line, end_col = self._line_col(e)
        return Span(self.name, line, col, end_line, end_col)


# Lark sees our tokens through this lexer: `data` is the prepared token list.
class _TokenFeed(Lexer):
    def __init__(self, lexer_conf: Any) -> None:
        pass

    def lex(self, data: Any, *args: Any) -> Iterator[LarkToken]:
        yield from data


_KIND_TO_TERMINAL = {
    TokenKind.QUOTED: "QUOTED",
    TokenKind.BACKTICK: "BACKTICK",
    TokenKind.HEREDOC: "HEREDOC",
}


def _terminal(tok: RawToken, same_line: bool) -> str:
    if tok.kind is TokenKind.WORD:
        if tok.text == "{":
            return "LBRACE"
        if tok.text == "}":
            return "INLINE_RBRACE" if same_line else "RBRACE"
        return "WORD"
    return _KIND_TO_TERMINAL[tok.kind]


@v_args(inline=True)
class _ToCst(Transformer[LarkToken, Any]):
    """Builds cst nodes; pure (no validation), so lark never wraps our errors."""

    def __init__(self, tokens: list[Token]) -> None:
        super().__init__()
        self.tokens = tokens

    def _tok(self, t: LarkToken) -> Token:
        return self.tokens[t.start_pos or 0]

    def start(self, *lines: Line | None) -> tuple[Line, ...]:
        return tuple(x for x in lines if x is not None)

    def args(self, *toks: LarkToken) -> tuple[Token, ...]:
        return tuple(self._tok(t) for t in toks)

    def line(self, args: tuple[Token, ...], block: Block | None) -> Line:
        end = block.span if block is not None else args[-1].span
        return Line(args, block, args[0].span.to(end))

    def bare_block(self, block: Block) -> Line:
        return Line((), block, block.span)

    def block(self, lbrace: LarkToken, *rest: Any) -> Block:
        closer = self._tok(rest[-1])
        lines = tuple(x for x in rest[:-1] if isinstance(x, Line))
        inline = closer if rest[-1].type == "INLINE_RBRACE" else None
        return Block(lines, self._tok(lbrace).span.to(closer.span), inline)


@functools.cache
def _parser() -> Lark:
    return Lark.open_from_package(
        "rpc.grammars",
        "caddyfile.lark",
        parser="lalr",
        lexer=_TokenFeed,
        maybe_placeholders=True,
    )


def parse_text(
    text: str,
    name: str = "Caddyfile",
    *,
    environ: Mapping[str, str] | None = None,
    sources: SourceMap | None = None,
) -> FileTree:
    """Parse one file's text into its line tree; raise `RpcError` on syntax errors."""
    source = Source(name, text)
    if sources is not None:
        sources.add(source)
    subst = substitute_env(text, environ)
    pos = _Positions(name, text, subst)
    diags = Diagnostics()
    try:
        raw = tokenize(subst.text)
    except LexError as exc:
        diags.error(exc.code, exc.message, pos.span(exc.start, exc.end), exc.hint)
        diags.check()
        raise AssertionError("unreachable") from exc

    tokens: list[Token] = []
    feed: list[LarkToken] = []
    stray: Token | None = None  # the first `}` that closes nothing
    inline_close: Token | None = None  # the last `}` that closed a block from a line's end
    opened: list[Token] = []  # braces still open, innermost last
    misaligned: Token | None = None  # first `{` closed by a `}` indented unlike its line
    prev: RawToken | None = None
    for i, rt in enumerate(raw):
        tok = Token(rt.kind, rt.text, pos.span(rt.start, rt.end), rt.heredoc_marker)
        tokens.append(tok)
        if rt.unterminated:
            diags.warn(
                "RPC101",
                "quoted string is never closed; it runs to the end of the file",
                tok.span,
                "add the closing quote",
            )
        same_line = prev is not None and prev.line + prev.line_breaks >= rt.line
        if prev is not None and not same_line:
            feed.append(_lark_token("_NL", "\n", i))
        terminal = _terminal(rt, same_line)
        if terminal == "LBRACE":
            opened.append(tok)
        elif terminal in ("RBRACE", "INLINE_RBRACE"):
            if opened:
                opener = opened.pop()
                inline_close = tok if terminal == "INLINE_RBRACE" else inline_close
                if misaligned is None and tok.span.column != _indent_column(text, opener):
                    misaligned = opener
            elif stray is None:
                # A `}` trailing a line closed a block early: that one is the mistake.
                stray = inline_close or tok
        feed.append(_lark_token(terminal, rt.text, i))
        prev = rt

    try:
        tree = _parser().parse(feed)
    except UnexpectedInput as exc:
        diags.add(_friendly(exc, tokens, feed, stray, opened, misaligned))
        diags.check()
        raise AssertionError("unreachable") from exc
    lines = _ToCst(tokens).transform(tree)
    diags.check()
    return FileTree(source, lines, tuple(diags))


def _indent_column(text: str, tok: Token) -> int:
    """1-based column of the first non-blank character on `tok`'s line."""
    line = text.split("\n")[tok.span.line - 1] if tok.span.via is None else ""
    return len(line) - len(line.lstrip(" \t")) + 1


def _lark_token(kind: str, value: str, index: int) -> LarkToken:
    # start_pos carries the index of our own Token; lark only passes it through.
    return LarkToken(kind, value, start_pos=index, line=index, column=0)


def _friendly(
    exc: UnexpectedInput,
    tokens: list[Token],
    feed: list[LarkToken],
    stray: Token | None,
    opened: list[Token],
    misaligned: Token | None,
) -> Diagnostic:
    """Explain a raw LALR error in Caddyfile terms."""
    bad = getattr(exc, "token", None)
    idx = bad.start_pos if isinstance(bad, LarkToken) and bad.type != "$END" else None
    # Unbalanced braces explain the failure unless lark tripped over something earlier.
    if stray is not None and (
        idx is None or idx >= next(i for i, t in enumerate(tokens) if t is stray)
    ):
        return Diagnostic.error(
            "RPC112",
            "unexpected '}' because no matching opening brace",
            stray.span,
            "remove it, or open the block with `{` at the end of the line above",
        )
    if idx is None or not (0 <= idx < len(tokens)):
        if opened:
            culprit = misaligned or opened[-1]
            hint = "add a `}` on its own line where the block ends"
            if misaligned is not None:
                hint = (
                    f"the block opened at line {misaligned.span.line} is probably the one "
                    "missing its `}`: the `}` that closes it is indented like an outer block"
                )
            return Diagnostic.error("RPC113", "this block is never closed", culprit.span, hint)
        span = tokens[-1].span if tokens else None
        return Diagnostic.error("RPC100", "unexpected end of file", span)
    tok = tokens[idx]
    # Which lark token came right before the offending one?
    pos = next(i for i, t in enumerate(feed) if t.start_pos == idx and t.type != "_NL")
    before = feed[pos - 1] if pos > 0 else None
    if before is not None and before.type == "LBRACE":
        return Diagnostic.error(
            "RPC111",
            "unexpected token after '{' on the same line",
            tok.span,
            "a `{` must end its line: put the block's contents on the following lines "
            "(one-line blocks are not allowed)",
        )
    if bad is not None and bad.type == "LBRACE":
        return Diagnostic.error(
            "RPC111",
            "unexpected '{' after a closing '}' on the same line",
            tok.span,
            "start a new line after `}`",
        )
    return Diagnostic.error(
        "RPC100",
        f"unexpected {_describe(tok)}",
        tok.span,
        "start a new line after `}`"
        if before is not None and before.type.endswith("RBRACE")
        else None,
    )


def _describe(tok: Token) -> str:
    if tok.kind is TokenKind.WORD:
        return f"'{tok.text}'"
    return f"{tok.kind.value} string"
