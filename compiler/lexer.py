"""Caddyfile text → raw tokens, exactly as Caddy's lexer splits them.

A port of the state machine in `caddyconfig/caddyfile/lexer.go` (Caddy 2.11):
words separated by Unicode whitespace; `"..."` strings whose only escape is
`\\"`; raw backtick strings; heredocs `<<MARKER` with Caddy's indentation rule;
`#` comments that start a token; `\\` + newline continuation, including the
quirk that a backslash inside a comment continues the line.

Besides Caddy's *logical* line number (which continuation does not advance and
which decides whether two tokens are "on the same line"), every token records
its offsets so diagnostics can point at the physical text.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

__all__ = ["LexError", "RawToken", "TokenKind", "tokenize"]

_HEREDOC_MARKER = re.compile(r"[A-Za-z0-9_-]+")


class TokenKind(enum.Enum):
    """How a token was written; quoting changes its meaning in a few places."""

    WORD = "word"  # bare
    QUOTED = "quoted"  # "..."
    BACKTICK = "backtick"  # `...`
    HEREDOC = "heredoc"  # <<MARKER ... MARKER

    @property
    def quoted(self) -> bool:
        return self is not TokenKind.WORD


@dataclass(frozen=True, slots=True)
class RawToken:
    """A token with its offsets in the lexed text and Caddy's logical line."""

    kind: TokenKind
    text: str
    start: int
    end: int
    line: int
    heredoc_marker: str = ""
    unterminated: bool = False  # a quote still open at end of input

    @property
    def line_breaks(self) -> int:
        """Caddy's `NumLineBreaks`: how far the token stretches over lines."""
        n = self.text.count("\n")
        if self.kind is TokenKind.HEREDOC:
            # The opening `<<MARK` line and the closing marker line are not part
            # of the text, so a heredoc spans two more lines than it contains.
            n += 2
        return n


class LexError(Exception):
    """A lexical error at `start`..`end` (offsets into the lexed text)."""

    def __init__(self, code: str, message: str, start: int, end: int, hint: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.start = start
        self.end = end
        self.hint = hint


def tokenize(text: str) -> list[RawToken]:
    """Split `text` into Caddy's tokens; raise `LexError` on malformed heredocs."""
    return _Lexer(text).run()


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 1 if text.startswith("\ufeff") else 0  # drop a byte order mark
        self.line = 1
        self.skipped = 0  # newlines swallowed by continuation, heredocs

    def run(self) -> list[RawToken]:
        out: list[RawToken] = []
        while (tok := self.next()) is not None:
            out.append(tok)
        return out

    def next(self) -> RawToken | None:
        text = self.text
        n = len(text)
        val: list[str] = []
        comment = quoted = bt_quoted = in_heredoc = heredoc_escaped = escaped = False
        marker = ""
        start = -1
        tok_line = self.line
        heredoc_start = -1

        def make(kind: TokenKind, end: int, *, unterminated: bool = False) -> RawToken:
            return RawToken(kind, "".join(val), start, end, tok_line, marker, unterminated)

        while True:
            if self.pos >= n:
                if in_heredoc:
                    raise LexError(
                        "RPC104",
                        f"incomplete heredoc <<{marker}: expected the ending marker {marker}",
                        heredoc_start,
                        heredoc_start + 2 + len(marker),
                        f"end the heredoc with a line containing only `{marker}`",
                    )
                if quoted or bt_quoted:
                    kind = TokenKind.QUOTED if quoted else TokenKind.BACKTICK
                    return make(kind, n, unterminated=True)
                if val:
                    return make(TokenKind.WORD, n)
                return None
            ch = text[self.pos]
            self.pos += 1

            # The start of a heredoc: a bare word beginning with `<<`.
            if (
                not (in_heredoc or heredoc_escaped or quoted or bt_quoted)
                and len(val) > 1
                and val[0] == "<" == val[1]
            ):
                if ch == " ":
                    # `<<` or `<<MARK` followed by a space is an ordinary word.
                    self.pos -= 1
                    return make(TokenKind.WORD, self.pos)
                if ch == "\r":
                    continue
                if ch == "\n":
                    marker = "".join(val[2:])
                    self._check_marker(marker, start)
                    in_heredoc = True
                    heredoc_start = start
                    self.skipped += 1
                    val = []
                    continue
                val.append(ch)
                continue

            if in_heredoc:
                val.append(ch)
                if ch == "\n":
                    self.skipped += 1
                if len(val) >= len(marker) and "".join(val[-len(marker) :]) == marker:
                    body = self._finish_heredoc("".join(val), marker, start)
                    val = list(body)
                    self.line += self.skipped
                    self.skipped = 0
                    return make(TokenKind.HEREDOC, self.pos)
                continue

            # A backslash changes the meaning of the next character; note that
            # this runs before the comment check (Caddy's continuation quirk).
            if not escaped and not bt_quoted and ch == "\\":
                escaped = True
                continue

            if quoted or bt_quoted:
                if quoted and escaped:
                    # Inside "...", only \" is an escape; other pairs stay as written.
                    if ch != '"':
                        val.append("\\")
                    escaped = False
                elif (quoted and ch == '"') or (bt_quoted and ch == "`"):
                    return make(TokenKind.QUOTED if quoted else TokenKind.BACKTICK, self.pos)
                if ch == "\n":
                    self.line += 1 + self.skipped
                    self.skipped = 0
                val.append(ch)
                continue

            if ch.isspace():
                if ch == "\r":
                    continue
                if ch == "\n":
                    if escaped:
                        self.skipped += 1
                        escaped = False
                    else:
                        self.line += 1 + self.skipped
                        self.skipped = 0
                    comment = False
                if val:
                    return make(TokenKind.WORD, self.pos - 1)
                continue

            if ch == "#" and not val:
                comment = True
            if comment:
                continue

            if not val:
                start = self.pos - 1
                tok_line = self.line
                if ch == '"':
                    quoted = True
                    continue
                if ch == "`":
                    bt_quoted = True
                    continue

            if escaped:
                if ch == "<":
                    heredoc_escaped = True  # `\<<` is a literal `<<`
                else:
                    val.append("\\")
                escaped = False

            val.append(ch)

    def _check_marker(self, marker: str, start: int) -> None:
        end = start + 2 + len(marker)
        if not marker:
            raise LexError(
                "RPC102",
                "missing heredoc marker after `<<`",
                start,
                end,
                "name the heredoc, for example `<<END`, and close it with `END`",
            )
        if marker.startswith("<"):
            raise LexError(
                "RPC102",
                "too many '<' for heredoc",
                start,
                end,
                "use exactly two, for example `<<END`",
            )
        if not _HEREDOC_MARKER.fullmatch(marker):
            raise LexError(
                "RPC102",
                f"heredoc marker {marker!r} must contain only alphanumeric characters, dashes and "
                "underscores",
                start,
                end,
            )

    def _finish_heredoc(self, raw: str, marker: str, start: int) -> str:
        """Strip the closing marker's indentation from every line of the body."""
        last_nl = raw.rfind("\n")
        padding = raw[last_nl + 1 : len(raw) - len(marker)]
        lines = raw[: last_nl + 1].split("\n")[:-1]
        out: list[str] = []
        for number, line in enumerate(lines):
            if line in ("", "\r"):
                out.append("\n")
                continue
            if not line.startswith(padding):
                # Offset of the bad line: after the opening line, `number` lines in.
                line_start = self.text.find("\n", start) + 1
                for _ in range(number):
                    line_start = self.text.find("\n", line_start) + 1
                shown = line.rstrip("\r\n")
                raise LexError(
                    "RPC103",
                    f"mismatched leading whitespace in heredoc <<{marker}: line {shown!r} must "
                    f"start with the closing marker's indentation {padding!r}",
                    line_start,
                    line_start + max(1, len(shown)),
                    "indent every line of a heredoc at least as much as its closing marker, "
                    "with the same characters (tabs and spaces differ)",
                )
            out.append((line[len(padding) :] + "\n").replace("\r", ""))
        body = "".join(out)
        return body.removesuffix("\n")
