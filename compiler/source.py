"""Source texts and spans: where every token, node and diagnostic comes from.

A `Span` is a half-open range in one file (1-based line and column; the end
column is exclusive). Spans of tokens that arrived through `import` carry the
span of the import line in `via`, so errors can show the import chain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Source", "SourceMap", "Span"]


@dataclass(frozen=True, slots=True)
class Span:
    """A range of text in one file; `via` is the import that brought it in."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    via: Span | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    @property
    def origin(self) -> str:
        """`file:line`, the short form used in generated code and logs."""
        return f"{self.file}:{self.line}"

    def to(self, other: Span) -> Span:
        """The span from the start of `self` to the end of `other` (same file)."""
        if other.file != self.file:
            return self
        return Span(self.file, self.line, self.column, other.end_line, other.end_column, self.via)

    def imported_via(self, site: Span) -> Span:
        """This span, marked as reached through the import at `site`."""
        via = site if self.via is None else self.via.imported_via(site)
        return Span(self.file, self.line, self.column, self.end_line, self.end_column, via)

    def chain(self) -> tuple[Span, ...]:
        """The import lines that led here, innermost first."""
        out: list[Span] = []
        cur = self.via
        while cur is not None:
            out.append(cur)
            cur = cur.via
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Source:
    """One input text and the name diagnostics use for it."""

    name: str
    text: str

    def line_text(self, line: int) -> str:
        lines = self.text.split("\n")
        if 1 <= line <= len(lines):
            return lines[line - 1].rstrip("\r")
        return ""


class SourceMap:
    """Every text the compiler read, by name, so diagnostics can quote lines."""

    def __init__(self) -> None:
        self._sources: dict[str, Source] = {}

    def add(self, source: Source) -> Source:
        self._sources[source.name] = source
        return source

    def get(self, name: str) -> Source | None:
        return self._sources.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._sources
