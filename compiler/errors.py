"""One error model for the whole compiler: coded diagnostics with spans and hints.

Every stage reports problems as `Diagnostic`s (stable code, severity, message,
span, optional hint) into a `Diagnostics` collector and raises `RpcError` once
at the end of the stage, so several mistakes are reported together. `render`
formats one diagnostic as `file:line:col: error[RPC111]: message`, followed by
the source line, a caret under the span, the hint and the import chain.

Codes are stable: tests, `rpc check --format json` and CI annotations key on
them. `CODES` lists every code with a one-line title; docs/errors.md mirrors it.
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from rpc.compiler.source import SourceMap, Span

__all__ = [
    "CODES",
    "Diagnostic",
    "Diagnostics",
    "InternalError",
    "RpcError",
    "Severity",
    "did_you_mean",
    "render",
    "render_all",
]


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"


CODES: dict[str, str] = {
    # RPC1xx: reading the text (lexer and block structure)
    "RPC100": "unexpected token",
    "RPC101": "unterminated quoted string",
    "RPC102": "invalid heredoc marker",
    "RPC103": "heredoc indentation does not match its closing marker",
    "RPC104": "unterminated heredoc",
    "RPC110": "block opened on a new line",
    "RPC111": "tokens after '{' on the same line",
    "RPC112": "'}' without a matching '{'",
    "RPC113": "block is never closed",
    "RPC114": "'{}' at the end of a line",
    "RPC115": "unexpected block",
    "RPC120": "malformed site address list",
    "RPC121": "global options block is not first",
    "RPC122": "request matcher defined outside a site",
    "RPC123": "directive name used as a site address",
    "RPC124": "invalid site address",
    "RPC125": "invalid snippet or named route definition",
    # RPC2xx: expansion (imports, snippets, arguments)
    "RPC200": "import needs a file, glob or snippet name",
    "RPC201": "file to import not found",
    "RPC202": "import cycle",
    "RPC203": "snippet or named route declared twice",
    "RPC204": "import glob has more than one wildcard",
    "RPC205": "file could not be imported",
    "RPC206": "import block form not supported",
    "RPC250": "import glob matched no files",
    "RPC251": "import argument out of range",
    "RPC252": "imported file is empty",
    "RPC253": "deprecated import argument syntax",
    # RPC3xx: directive meaning (lowering to the IR)
    "RPC300": "unknown directive",
    "RPC301": "unknown subdirective",
    "RPC302": "wrong argument count",
    "RPC303": "invalid argument value",
    "RPC304": "directive not supported yet",
    "RPC305": "unknown matcher",
    "RPC306": "invalid matcher",
    "RPC307": "duplicate definition",
    "RPC308": "invalid global option",
    "RPC309": "invalid placeholder",
    "RPC310": "invalid regular expression",
    "RPC311": "conflicting settings",
    "RPC312": "directive not allowed here",
    "RPC313": "invalid upstream address",
    # RPC4xx: warnings a careful reviewer would raise (rpc check)
    "RPC400": "input is not formatted",
    "RPC401": "unknown placeholder",
    "RPC402": "unreachable route",
    "RPC403": "exact path matcher where a prefix was likely meant",
    "RPC404": "active health checks never run for these upstreams",
    "RPC405": "lb_try_interval 0 with lb_try_duration busy-loops",
    "RPC406": "lb_policy cookie without a secret",
    "RPC407": "TLS verification of upstreams disabled",
    "RPC408": "retries can never apply",
    "RPC409": "rpc differs from Caddy here",
    "RPC410": "deprecated syntax",
    "RPC411": "site needs a certificate rpc cannot obtain",
    "RPC412": "duplicate site address",
    "RPC413": "shadowed route",
    "RPC414": "config Caddy ignores",
    # RPC9xx: the compiler itself
    "RPC900": "internal compiler error",
}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem found in the input, with where it is and how to fix it."""

    code: str
    severity: Severity
    message: str
    span: Span | None = None
    hint: str | None = None

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unregistered diagnostic code {self.code}")
        if not isinstance(self.severity, Severity):
            raise TypeError("severity must be a Severity")

    @classmethod
    def error(
        cls, code: str, message: str, span: Span | None, hint: str | None = None
    ) -> Diagnostic:
        return cls(code, Severity.ERROR, message, span, hint)

    @classmethod
    def warning(
        cls, code: str, message: str, span: Span | None, hint: str | None = None
    ) -> Diagnostic:
        return cls(code, Severity.WARNING, message, span, hint)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def as_dict(self) -> dict[str, object]:
        """The JSON shape of `rpc check --format json`."""
        s = self.span
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "file": s.file if s else None,
            "line": s.line if s else None,
            "column": s.column if s else None,
            "end_line": s.end_line if s else None,
            "end_column": s.end_column if s else None,
            "hint": self.hint,
            "import_chain": [str(v) for v in s.chain()] if s else [],
        }


class RpcError(Exception):
    """Raised by a stage that found errors; carries every diagnostic it collected."""

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics = tuple(diagnostics)
        first = next((d for d in self.diagnostics if d.is_error), None)
        super().__init__(first.message if first else "error")

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.is_error)

    def __str__(self) -> str:
        return "; ".join(f"{d.span}: {d.message}" if d.span else d.message for d in self.errors)


class InternalError(Exception):
    """A bug in rpc, not in the user's input (exit code 70)."""


class Diagnostics:
    """Collects diagnostics of one compilation; stages raise once via `check()`."""

    def __init__(self) -> None:
        self._items: list[Diagnostic] = []

    def add(self, diag: Diagnostic) -> Diagnostic:
        self._items.append(diag)
        return diag

    def error(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        self.add(Diagnostic.error(code, message, span, hint))

    def warn(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        self.add(Diagnostic.warning(code, message, span, hint))

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        self._items.extend(diags)

    @property
    def has_errors(self) -> bool:
        return any(d.is_error for d in self._items)

    def check(self) -> None:
        """Raise `RpcError` with everything collected if any error is among it."""
        if self.has_errors:
            raise RpcError(self._items)

    def __iter__(self) -> Iterator[Diagnostic]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A "did you mean `x`?" hint for a misspelt name, or None."""
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.7)
    return f"did you mean `{close[0]}`?" if close else None


def render(diag: Diagnostic, sources: SourceMap | None = None, *, color: bool = False) -> str:
    """Format one diagnostic for a terminal: location, message, source line, caret, hint."""
    sev = diag.severity.value
    if color:
        tint = "\x1b[1;31m" if diag.is_error else "\x1b[1;33m"
        sev = f"{tint}{sev}\x1b[0m"
    span = diag.span
    head = f"{span}: " if span else ""
    out = [f"{head}{sev}[{diag.code}]: {diag.message}"]
    if span is not None and sources is not None:
        src = sources.get(span.file)
        if src is not None:
            text = src.line_text(span.line)
            gutter = str(span.line)
            pad = " " * len(gutter)
            width = (
                span.end_column - span.column
                if span.end_line == span.line and span.end_column > span.column
                else 1
            )
            # Tabs keep their width under the caret so it lines up in any terminal.
            lead = "".join(c if c == "\t" else " " for c in text[: span.column - 1])
            width = max(1, min(width, max(1, len(text) - span.column + 1)))
            out.append(f" {gutter} | {text}")
            out.append(f" {pad} | {lead}{'^' * width}")
    if diag.hint:
        out.append(f"   = hint: {diag.hint}")
    if span is not None:
        for site in span.chain():
            out.append(f"   = note: imported at {site}")
    return "\n".join(out)


def render_all(diags: Iterable[Diagnostic], sources: SourceMap | None = None) -> str:
    """Render several diagnostics separated by blank lines, with a summary line."""
    items = list(diags)
    parts = [render(d, sources) for d in items]
    n_err = sum(1 for d in items if d.is_error)
    n_warn = len(items) - n_err
    summary = []
    if n_err:
        summary.append(f"{n_err} error{'s' if n_err != 1 else ''}")
    if n_warn:
        summary.append(f"{n_warn} warning{'s' if n_warn != 1 else ''}")
    if summary:
        parts.append(", ".join(summary))
    return "\n\n".join(parts)
