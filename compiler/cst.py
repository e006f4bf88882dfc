"""The directive-agnostic concrete syntax tree of a Caddyfile.

Two layers. The *line tree* (`Token`, `Line`, `Block`) is what the grammar
produces for any file: logical lines of tokens, each optionally opening a
block. After expansion, `rpc.compiler.structure` reads the top-level lines as
a `Document`: the global options block, named routes and site blocks (snippets
have been consumed by expansion and are kept for tooling).

Nothing here knows what a directive means; `Line.name` is just its first token.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from rpc.compiler.addresses import Address
from rpc.compiler.lexer import TokenKind
from rpc.compiler.source import Span

__all__ = [
    "Block",
    "Document",
    "GlobalOptions",
    "Line",
    "NamedRoute",
    "SiteBlock",
    "Snippet",
    "Token",
    "TokenKind",
]


@dataclass(frozen=True, slots=True)
class Token:
    """One word of the Caddyfile: its text after unquoting, and how it was written."""

    kind: TokenKind
    text: str
    span: Span
    heredoc_marker: str = ""

    @property
    def quoted(self) -> bool:
        return self.kind.quoted

    @property
    def is_open_brace(self) -> bool:
        return self.kind is TokenKind.WORD and self.text == "{"

    def with_text(self, text: str) -> Token:
        return replace(self, text=text)

    def imported_via(self, site: Span) -> Token:
        return replace(self, span=self.span.imported_via(site))

    def shape(self) -> tuple[str, str]:
        """Kind and text: the token without its position (for structural equality)."""
        return (self.kind.value, self.text)


@dataclass(frozen=True, slots=True)
class Block:
    """`{ ... }`: the lines between a pair of braces."""

    lines: tuple[Line, ...]
    span: Span
    # Caddy lets a directive block close with a `}` that trails its last line
    # (`respond hi }`); the directive then also sees that `}` as an argument.
    inline_close: Token | None = None

    def shape(self) -> tuple[object, ...]:
        return (tuple(line.shape() for line in self.lines), self.inline_close is not None)


@dataclass(frozen=True, slots=True)
class Line:
    """One logical line: its tokens, and the block it opens, if any.

    A line with no tokens is a block standing alone (the global options block,
    or a site body whose `{` is on the line after the addresses).
    """

    tokens: tuple[Token, ...]
    block: Block | None
    span: Span

    @property
    def name(self) -> Token | None:
        return self.tokens[0] if self.tokens else None

    @property
    def args(self) -> tuple[Token, ...]:
        return self.tokens[1:]

    def shape(self) -> tuple[object, ...]:
        """The line without positions, for comparing trees structurally."""
        return (
            tuple(t.shape() for t in self.tokens),
            self.block.shape() if self.block is not None else None,
        )

    def imported_via(self, site: Span) -> Line:
        """A copy whose every span records that it came through the import at `site`."""
        block = self.block
        if block is not None:
            block = Block(
                tuple(line.imported_via(site) for line in block.lines),
                block.span.imported_via(site),
                block.inline_close.imported_via(site) if block.inline_close else None,
            )
        return Line(
            tuple(t.imported_via(site) for t in self.tokens), block, self.span.imported_via(site)
        )


@dataclass(frozen=True, slots=True)
class GlobalOptions:
    """The key-less block at the top of a Caddyfile."""

    lines: tuple[Line, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Snippet:
    """`(name) { ... }`: tokens replayed by `import name`."""

    name: str
    lines: tuple[Line, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class NamedRoute:
    """`&(name) { ... }`: a route compiled once and run by `invoke name`."""

    name: str
    lines: tuple[Line, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class SiteBlock:
    """Site addresses and the directives that serve them."""

    keys: tuple[Token, ...]  # the addresses as written (trailing commas removed)
    addresses: tuple[Address, ...]  # the same, parsed and normalised
    lines: tuple[Line, ...]
    span: Span
    braced: bool = True


@dataclass(frozen=True, slots=True)
class Document:
    """A whole Caddyfile after expansion: what the directive layer reads."""

    global_options: GlobalOptions | None
    named_routes: tuple[NamedRoute, ...]
    sites: tuple[SiteBlock, ...]
    snippets: tuple[Snippet, ...] = ()
