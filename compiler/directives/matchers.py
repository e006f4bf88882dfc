"""Matcher definitions (`@name ...`) and matcher tokens → `MatcherSet`s.

Caddy's `parseMatcherDefinitions` (`httptype.go`): `@name <type> <args>` on one
line, or a block of `<type> <args>` lines ANDed together; repeated types are
merged by handing all their lines to that matcher's parser at once; a quoted
first token means `expression`. Each matcher type has one parser here,
registered in `MATCHERS`, ported from that module's `UnmarshalCaddyfile`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rpc.compiler import placeholders
from rpc.compiler.dispenser import Dispenser, DToken
from rpc.compiler.errors import did_you_mean
from rpc.compiler.ir.matchers import MatchExpression, MatchPath
from rpc.compiler.ir.routes import Matcher, MatcherSet
from rpc.compiler.source import Span

__all__ = [
    "MATCHERS",
    "MatcherContext",
    "expression_matcher",
    "matcher",
    "parse_matcher_definition",
    "path_matcher",
    "single_path",
]


@dataclass(frozen=True, slots=True)
class MatcherContext:
    """What a matcher parser may need besides its tokens."""

    name: str  # the definition's name without `@` (default capture-group name)
    lowering: object  # rpc.compiler.directives.helper.Lowering (for warnings)


MatcherParser = Callable[[Dispenser, MatcherContext], Matcher]
MATCHERS: dict[str, MatcherParser] = {}


def matcher(name: str) -> Callable[[MatcherParser], MatcherParser]:
    """Register the Caddyfile parser of one matcher type."""

    def register(fn: MatcherParser) -> MatcherParser:
        MATCHERS[name] = fn
        return fn

    return register


def text(raw: str) -> placeholders.Text:
    """A matcher string: placeholders allowed, unknown ones become empty."""
    return placeholders.parse(raw, keep_unknown=False)


def path_matcher(patterns: list[str], span: Span | None) -> MatchPath:
    return MatchPath(patterns=tuple(text(p) for p in patterns), span=span)


def expression_matcher(expr: str, span: Span | None, name: str = "") -> MatchExpression:
    return MatchExpression(expr=expr, name=name, span=span)


def single_path(matcher_set: MatcherSet) -> str | None:
    """The pattern of a set's `path` matcher when it has exactly one."""
    m = matcher_set.get("path")
    if isinstance(m, MatchPath) and len(m.patterns) == 1:
        return m.patterns[0].raw
    return None


@matcher("path")
def parse_path(d: Dispenser, ctx: MatcherContext) -> Matcher:
    """`path <patterns...>` (several lines merge into one matcher)."""
    patterns: list[str] = []
    span = d.span
    while d.next():
        span = span or d.span
        patterns.extend(d.remaining_args())
        if d.next_block(0):
            raise d.error("malformed path matcher: blocks are not supported", code="RPC306")
    return path_matcher(patterns, span)


def parse_matcher_definition(d: Dispenser, defs: dict[str, MatcherSet], lowering: object) -> None:
    """Parse one `@name ...` segment into `defs`."""
    d.next()
    name = d.val
    head = d.span
    if name in defs:
        raise d.error(f"matcher is defined more than once: {name}", code="RPC307")
    ctx = MatcherContext(name[1:], lowering)
    found: list[Matcher] = []
    if d.next_arg():
        tok = d.token
        assert tok is not None
        if tok.quoted:
            # `@name "cel expr"` is shorthand for `@name expression "cel expr"`.
            expr = Dispenser([DToken(tok, 0), DToken(tok, 0)])
            found.append(_make("expression", expr, ctx))
            defs[name] = _matcher_set(found, head)
            return
        d.prev()
    by_type: dict[str, list[DToken]] = {}
    order: list[str] = []
    nesting = d.nesting
    while d.next_arg() or d.next_block(nesting):
        kind = d.val
        if kind not in by_type:
            by_type[kind] = []
            order.append(kind)
        by_type[kind].extend(d.next_segment())
    for kind in order:
        found.append(_make(kind, Dispenser(by_type[kind]), ctx))
    defs[name] = _matcher_set(found, head)


def _make(kind: str, d: Dispenser, ctx: MatcherContext) -> Matcher:
    parser = MATCHERS.get(kind)
    if parser is None:
        first = d._tokens[0].token.span if d._tokens else None
        from rpc.compiler.dispenser import DirectiveError
        from rpc.compiler.errors import Diagnostic

        raise DirectiveError(
            Diagnostic.error(
                "RPC305",
                f"getting matcher module '{kind}': module not registered: http.matchers.{kind}",
                first,
                did_you_mean(kind, MATCHERS),
            )
        )
    return parser(d, ctx)


def _matcher_set(found: list[Matcher], span: Span | None) -> MatcherSet:
    # JSON objects have sorted keys in Caddy's output; sorting here also makes
    # equal sets compare equal when routes are consolidated.
    return MatcherSet(matchers=tuple(sorted(found, key=lambda m: m.KEY)), span=span)
