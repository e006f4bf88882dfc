"""A cursor over one directive's tokens with Caddy's `Dispenser` semantics.

Directive parsers are ports of Caddy's `UnmarshalCaddyfile` methods, so they
walk tokens the way Caddy's `caddyconfig/caddyfile/dispenser.go` does:
`next`, `next_arg` (same line, not `{`), `next_line`, `next_block(nesting)`,
`remaining_args`, `new_from_next_segment`. A directive's line tree is
flattened back into that token stream, each token tagged with its logical
line. Errors come from the cursor (`arg_err`, `err`, `syntax_err`, `eof_err`)
so every directive reports locations the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rpc.compiler.cst import Block, Line, Token
from rpc.compiler.errors import Diagnostic, RpcError
from rpc.compiler.lexer import TokenKind
from rpc.compiler.source import Span

__all__ = ["DToken", "DirectiveError", "Dispenser", "flatten"]


@dataclass(frozen=True, slots=True)
class DToken:
    """A token in a dispenser: the CST token and the logical line it sits on."""

    token: Token
    line_id: int

    @property
    def text(self) -> str:
        return self.token.text


class DirectiveError(RpcError):
    """A problem in one directive; lowering reports it and moves on to the next."""

    def __init__(self, diag: Diagnostic) -> None:
        super().__init__([diag])
        self.diag = diag


def _brace(text: str, span: Span, *, at_end: bool) -> Token:
    if at_end:
        span = Span(
            span.file,
            span.end_line,
            max(1, span.end_column - 1),
            span.end_line,
            span.end_column,
            span.via,
        )
    else:
        span = Span(span.file, span.line, span.column, span.line, span.column + 1, span.via)
    return Token(TokenKind.WORD, text, span)


def flatten(lines: Iterable[Line], start_id: int = 0) -> list[DToken]:
    """The token stream Caddy's parser would have produced for `lines`."""
    out: list[DToken] = []
    counter = [start_id]

    def emit_line(line: Line) -> int:
        counter[0] += 1
        line_id = counter[0]
        for tok in line.tokens:
            out.append(DToken(tok, line_id))
        if line.block is not None:
            emit_block(line.block, line_id)
        return line_id

    def emit_block(block: Block, opener_id: int) -> None:
        out.append(DToken(_brace("{", block.span, at_end=False), opener_id))
        last_id = opener_id
        for inner in block.lines:
            last_id = emit_line(inner)
        if block.inline_close is not None:
            # `respond hi }`: the `}` shares the last line, as in Caddy's token stream.
            out.append(DToken(block.inline_close, last_id))
        else:
            counter[0] += 1
            out.append(DToken(_brace("}", block.span, at_end=True), counter[0]))

    for line in lines:
        if line.tokens:
            emit_line(line)
        elif line.block is not None:
            counter[0] += 1
            emit_block(line.block, counter[0])
    return out


class Dispenser:
    """Caddy's token cursor; see the module docstring."""

    __slots__ = ("_tokens", "cursor", "nesting")

    def __init__(self, tokens: Sequence[DToken]) -> None:
        self._tokens = list(tokens)
        self.cursor = -1
        self.nesting = 0

    @classmethod
    def for_line(cls, line: Line) -> Dispenser:
        """A dispenser over one directive line and its block."""
        return cls(flatten([line]))

    # ------------------------------------------------------------ movement

    def next(self) -> bool:
        if self.cursor < len(self._tokens) - 1:
            self.cursor += 1
            return True
        return False

    def prev(self) -> bool:
        if self.cursor > -1:
            self.cursor -= 1
            return self.cursor > -1
        return False

    def _next_on_same_line(self) -> bool:
        if self.cursor < 0:
            self.cursor += 1
            return True
        if self.cursor >= len(self._tokens) - 1:
            return False
        if self._tokens[self.cursor].line_id == self._tokens[self.cursor + 1].line_id:
            self.cursor += 1
            return True
        return False

    def next_arg(self) -> bool:
        """Load the next token if it is on the same line and not a block opening."""
        if not self._next_on_same_line():
            return False
        if self.is_open_brace():
            self.cursor -= 1  # a block opening is not an argument
            return False
        return True

    def next_line(self) -> bool:
        """Load the next token only if it starts a new line."""
        if self.cursor < 0:
            self.cursor += 1
            return True
        if self.cursor >= len(self._tokens) - 1:
            return False
        if self._tokens[self.cursor].line_id != self._tokens[self.cursor + 1].line_id:
            self.cursor += 1
            return True
        return False

    def next_block(self, initial_nesting: int) -> bool:
        """Loop condition iterating the tokens of the block opening on this line."""
        if self.nesting > initial_nesting:
            if not self.next():
                return False
            if self.is_close_brace() and not self._next_on_same_line():
                self.nesting -= 1
            elif self.is_open_brace() and not self._next_on_same_line():
                self.nesting += 1
            return self.nesting > initial_nesting
        if not self._next_on_same_line():
            return False
        if not self.is_open_brace():
            self.cursor -= 1
            return False
        self.next()
        if self.is_close_brace():
            return False  # opened and closed right away
        self.nesting += 1
        return True

    def reset(self) -> None:
        self.cursor = -1
        self.nesting = 0

    def delete(self) -> None:
        """Remove the current token; the cursor moves back to the one before it."""
        if 0 <= self.cursor < len(self._tokens):
            del self._tokens[self.cursor]
            self.cursor -= 1

    # ------------------------------------------------------------ reading

    def _current(self) -> DToken | None:
        if 0 <= self.cursor < len(self._tokens):
            return self._tokens[self.cursor]
        return None

    @property
    def val(self) -> str:
        cur = self._current()
        return cur.text if cur is not None else ""

    @property
    def token(self) -> Token | None:
        cur = self._current()
        return cur.token if cur is not None else None

    @property
    def span(self) -> Span | None:
        """Span of the current token, or of the last one when the cursor ran off the end."""
        tok = self.token
        if tok is not None:
            return tok.span
        if self._tokens:
            return self._tokens[min(max(self.cursor, 0), len(self._tokens) - 1)].token.span
        return None

    @property
    def head_span(self) -> Span | None:
        """Span of the first token: the directive's name."""
        return self._tokens[0].token.span if self._tokens else None

    def is_open_brace(self) -> bool:
        tok = self.token
        return tok is not None and tok.text == "{" and not tok.quoted

    def is_close_brace(self) -> bool:
        tok = self.token
        return tok is not None and tok.text == "}" and not tok.quoted

    def val_raw(self) -> str:
        """The current token with its quotes (heredocs without their markers)."""
        tok = self.token
        if tok is None:
            return ""
        if tok.kind is TokenKind.QUOTED:
            return f'"{tok.text}"'
        if tok.kind is TokenKind.BACKTICK:
            return f"`{tok.text}`"
        return tok.text

    def scalar_val(self) -> object:
        """The token as int, float or bool when unquoted and it parses as one."""
        tok = self.token
        if tok is None:
            return None
        if tok.quoted:
            return tok.text
        return scalar(tok.text)

    def args(self, count: int) -> list[str] | None:
        """The next `count` arguments, or None if the line has fewer."""
        out = []
        for _ in range(count):
            if not self.next_arg():
                return None
            out.append(self.val)
        return out

    def all_args(self, count: int) -> list[str] | None:
        """Exactly `count` remaining arguments, or None."""
        got = self.args(count)
        if got is None:
            return None
        if self.next_arg():
            self.prev()
            return None
        return got

    def require_arg(self) -> str:
        """The next argument on this line; an argument error when there is none."""
        if not self.next_arg():
            raise self.arg_err()
        return self.val

    def require_only_arg(self) -> str:
        """The one remaining argument on this line; an argument error for none or more."""
        got = self.all_args(1)
        if got is None:
            raise self.arg_err()
        return got[0]

    def count_remaining_args(self) -> int:
        count = 0
        while self.next_arg():
            count += 1
        for _ in range(count):
            self.prev()
        return count

    def remaining_args(self) -> list[str]:
        out = []
        while self.next_arg():
            out.append(self.val)
        return out

    def remaining_arg_tokens(self) -> list[Token]:
        out = []
        while self.next_arg():
            tok = self.token
            assert tok is not None
            out.append(tok)
        return out

    def remaining_args_raw(self) -> list[str]:
        out = []
        while self.next_arg():
            out.append(self.val_raw())
        return out

    def next_segment(self) -> list[DToken]:
        """The tokens from the current one to the end of its line or block."""
        cur = self._current()
        if cur is None:
            return []
        out = [cur]
        while self.next_arg():
            out.append(self._tokens[self.cursor])
        opened = False
        nesting = self.nesting
        while self.next_block(nesting):
            if not opened:
                self.prev()
                out.append(self._tokens[self.cursor])
                self.next()
                opened = True
            out.append(self._tokens[self.cursor])
        if opened:
            out.append(self._tokens[self.cursor])  # the closing brace
        return out

    def new_from_next_segment(self) -> Dispenser:
        return Dispenser(self.next_segment())

    def remaining_tokens(self) -> list[DToken]:
        return self._tokens[self.cursor + 1 :]

    # ------------------------------------------------------------ errors

    def error(
        self, message: str, *, code: str = "RPC303", hint: str | None = None
    ) -> DirectiveError:
        """An error at the current token (raise it)."""
        return DirectiveError(Diagnostic.error(code, message, self.span, hint))

    def arg_err(self, hint: str | None = None) -> DirectiveError:
        if self.is_open_brace():
            return self.error("Unexpected token '{', expecting argument", code="RPC302", hint=hint)
        return self.error(
            f"wrong argument count or unexpected line ending after '{self.val}'",
            code="RPC302",
            hint=hint,
        )

    def syntax_err(self, expected: str) -> DirectiveError:
        return self.error(
            f"syntax error: unexpected token '{self.val}', expecting '{expected}'", code="RPC302"
        )

    def eof_err(self) -> DirectiveError:
        return self.error("unexpected EOF", code="RPC302")


def scalar(text: str) -> object:
    """Go's `ScalarVal` conversion of an unquoted token: int, float, bool or str."""
    try:
        return int(text, 10) if text.lstrip("+-").isdigit() else _float_or_bool(text)
    except ValueError:
        return _float_or_bool(text)


def _float_or_bool(text: str) -> object:
    lowered = text.lower()
    if (
        text
        and lowered not in ("nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity")
        and not lowered.startswith(("0x", "_"))
    ):
        try:
            return float(text)
        except ValueError:
            pass
    if text in ("1", "t", "T", "TRUE", "true", "True"):
        return True
    if text in ("0", "f", "F", "FALSE", "false", "False"):
        return False
    return text
