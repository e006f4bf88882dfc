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
from rpc.compiler.cel import Unsupported, parse_expression
from rpc.compiler.dispenser import Dispenser, DToken
from rpc.compiler.errors import did_you_mean
from rpc.compiler.httputil import canonical_header_key
from rpc.compiler.ir.base import Text
from rpc.compiler.ir.matchers import (
    MatchClientIP,
    MatchExpression,
    MatchFile,
    MatchHeader,
    MatchHeaderRE,
    MatchHost,
    MatchMethod,
    MatchNot,
    MatchPath,
    MatchPathRE,
    MatchProtocol,
    MatchQuery,
    MatchRemoteIP,
    MatchTLS,
    MatchURLPattern,
    MatchVars,
    MatchVarsRE,
    Regexp,
)
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


def text(raw: str) -> Text:
    """A matcher string: placeholders allowed, unknown ones become empty."""
    return placeholders.parse(raw, keep_unknown=False)


def path_matcher(patterns: list[str], span: Span | None) -> MatchPath:
    return MatchPath(patterns=tuple(text(p) for p in patterns), span=span)


def expression_matcher(expr: str, span: Span | None, name: str = "") -> MatchExpression:
    """An `expression` matcher, with its parsed tree when rpc can run it."""
    try:
        tree = parse_expression(expr)
    except Unsupported as exc:
        return MatchExpression(expr=expr, name=name, unsupported=str(exc), span=span)
    return MatchExpression(expr=expr, name=name, tree=tree, span=span)


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
    span = d.head_span
    while d.next():
        patterns.extend(d.remaining_args())
        if d.next_block(0):
            raise d.error("malformed path matcher: blocks are not supported", code="RPC306")
    return path_matcher(patterns, span)


def _list_matcher(kind: str) -> Callable[[Dispenser], list[str]]:
    def parse(d: Dispenser) -> list[str]:
        values: list[str] = []
        while d.next():
            values.extend(d.remaining_args())
            if d.next_block(0):
                raise d.error(f"malformed {kind} matcher: blocks are not supported", code="RPC306")
        return values

    return parse


@matcher("host")
def parse_host(d: Dispenser, ctx: MatcherContext) -> Matcher:
    """`host <hosts...>`."""
    span = d.head_span
    return MatchHost(hosts=tuple(text(h) for h in _list_matcher("host")(d)), span=span)


@matcher("method")
def parse_method(d: Dispenser, ctx: MatcherContext) -> Matcher:
    """`method <verbs...>`."""
    span = d.head_span
    return MatchMethod(methods=tuple(_list_matcher("method")(d)), span=span)


@matcher("header")
def parse_header(d: Dispenser, ctx: MatcherContext) -> Matcher:
    """`header <field> [<value>]`; `!field` = absent (lines with one field OR their values)."""
    span = d.head_span
    fields: dict[str, list[str] | None] = {}
    while d.next():
        if not d.next_arg():
            raise d.error("malformed header matcher: expected field", code="RPC306")
        field = d.val
        if field.startswith("!"):
            if len(field) == 1:
                raise d.error(
                    "malformed header matcher: must have field name following ! character",
                    code="RPC306",
                )
            fields[field[1:]] = None
            if d.next_arg():
                raise d.error(
                    "malformed header matcher: null matching headers cannot have a field value",
                    code="RPC306",
                )
        else:
            if not d.next_arg():
                raise d.error(
                    "malformed header matcher: expected both field and value", code="RPC306"
                )
            key = canonical_header_key(field)
            existing = fields.get(key)
            fields[key] = [*(existing or []), d.val]
        if d.next_block(0):
            raise d.error("malformed header matcher: blocks are not supported", code="RPC306")
    return MatchHeader(
        fields=tuple(
            (k, None if v is None else tuple(text(x) for x in v)) for k, v in sorted(fields.items())
        ),
        span=span,
    )


def _regexp_lines(
    d: Dispenser, ctx: MatcherContext, kind: str, what: str
) -> list[tuple[str, Regexp]]:
    """`<kind> [<name>] <key> <regexp>` lines, at most one per key."""
    out: dict[str, Regexp] = {}
    while d.next():
        first = d.args(2)
        if first is None:
            raise d.arg_err()
        third = d.args(1)
        if third is not None:
            name, key, pattern = first[0], first[1], third[0]
        else:
            name, key, pattern = "", first[0], first[1]
        if not name:
            name = ctx.name
        if key in out:
            raise d.error(
                f"{kind} matcher can only be used once per named matcher, per {what}: {key}",
                code="RPC306",
            )
        out[key] = Regexp(pattern=pattern, name=name)
        if d.next_block(0):
            raise d.error(f"malformed {kind} matcher: blocks are not supported", code="RPC306")
    return sorted(out.items())


@matcher("header_regexp")
def parse_header_regexp(d: Dispenser, ctx: MatcherContext) -> Matcher:
    """`header_regexp [<name>] <field> <regexp>`."""
    span = d.head_span
    return MatchHeaderRE(
        fields=tuple(_regexp_lines(d, ctx, "header_regexp", "header field")), span=span
    )


@matcher("vars_regexp")
def parse_vars_regexp(d: Dispenser, ctx: MatcherContext) -> Matcher:
    """`vars_regexp [<name>] <variable> <regexp>`."""
    span = d.head_span
    return MatchVarsRE(vars=tuple(_regexp_lines(d, ctx, "vars_regexp", "key")), span=span)


@matcher("path_regexp")
def parse_path_regexp(d: Dispenser, ctx: MatcherContext) -> Matcher:
    """`path_regexp [<name>] <regexp>` (once per definition)."""
    span = d.head_span
    found: Regexp | None = None
    while d.next():
        if found is not None:
            raise d.error(
                "regular expression can only be used once per named matcher", code="RPC306"
            )
        args = d.remaining_args()
        if len(args) == 1:
            found = Regexp(pattern=args[0], name=ctx.name)
        elif len(args) == 2:
            found = Regexp(pattern=args[1], name=args[0] or ctx.name)
        else:
            raise d.arg_err()
        if d.next_block(0):
            raise d.error("malformed path_regexp matcher: blocks are not supported", code="RPC306")
    if found is None:
        raise d.arg_err()
    return MatchPathRE(regexp=found, span=span)


@matcher("query")
def parse_query(d: Dispenser, ctx: MatcherContext) -> Matcher:
    """`query <key>=<value>...` (AND across keys, OR across a key's values)."""
    span = d.head_span
    params: dict[str, list[str]] = {}
    while d.next():
        for arg in d.remaining_args():
            if arg == "":
                continue
            key, sep, value = arg.partition("=")
            if not sep:
                raise d.error(
                    f"malformed query matcher token: {d.val}; must be in param=val format",
                    code="RPC306",
                )
            params.setdefault(key, []).append(value)
        if d.next_block(0):
            raise d.error("malformed query matcher: blocks are not supported", code="RPC306")
    return MatchQuery(
        params=tuple((k, tuple(text(x) for x in v)) for k, v in sorted(params.items())),
        span=span,
    )


# Caddy's `private_ranges` (internal/ranges.go).
PRIVATE_RANGES = ("192.168.0.0/16", "172.16.0.0/12", "10.0.0.0/8", "127.0.0.1/8", "fd00::/8", "::1")


def _ranges(d: Dispenser, kind: str) -> list[str]:
    ranges: list[str] = []
    while d.next():
        while d.next_arg():
            if d.val == "forwarded":
                raise d.error(
                    "the 'forwarded' option is no longer supported; use the 'client_ip' "
                    "matcher instead",
                    code="RPC306",
                )
            if d.val == "private_ranges":
                ranges.extend(PRIVATE_RANGES)
                continue
            ranges.append(d.val)
        if d.next_block(0):
            raise d.error(f"malformed {kind} matcher: blocks are not supported", code="RPC306")
    return ranges


@matcher("remote_ip")
def parse_remote_ip(d: Dispenser, ctx: MatcherContext) -> Matcher:
    """`remote_ip <ranges...>` (CIDRs, IPs, `private_ranges`)."""
    span = d.head_span
    return MatchRemoteIP(ranges=tuple(_ranges(d, "remote_ip")), span=span)


@matcher("client_ip")
def parse_client_ip(d: Dispenser, ctx: MatcherContext) -> Matcher:
    """`client_ip <ranges...>` (CIDRs, IPs, `private_ranges`)."""
    span = d.head_span
    return MatchClientIP(ranges=tuple(_ranges(d, "client_ip")), span=span)


@matcher("protocol")
def parse_protocol(d: Dispenser, ctx: MatcherContext) -> Matcher:
    """`protocol http|https|grpc|http/1.0|http/1.1|http/2|http/3` (and `+` forms)."""
    span = d.head_span
    proto = ""
    while d.next():
        got = d.args(1)
        if got is None:
            raise d.error("expected exactly one protocol", code="RPC306")
        proto = got[0]
    return MatchProtocol(protocol=proto, span=span)


@matcher("not")
def parse_not(d: Dispenser, ctx: MatcherContext) -> Matcher:
    """`not <matcher> <args...>` or `not { <matchers...> }` (each line: one negated set)."""
    span = d.head_span
    sets: list[MatcherSet] = []
    while d.next():
        sets.append(parse_nested_set(d, ctx))
    return MatchNot(sets=tuple(sets), span=span)


def parse_nested_set(d: Dispenser, ctx: MatcherContext) -> MatcherSet:
    """The matcher set after `not` (or in `lb_retry_match`): one line, or a block."""
    span = d.span
    if d.next_arg():
        tok = d.token
        if tok is not None and tok.quoted:
            # a quoted token is a CEL expression (as in matcher definitions)
            return _matcher_set([expression_matcher(tok.text, tok.span)], span)
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
    # Nested matchers do not inherit the definition's name (Caddy builds a fresh dispenser).
    inner = MatcherContext("", ctx.lowering)
    found = [_make(kind, Dispenser(by_type[kind]), inner) for kind in order]
    return _matcher_set(found, span)


@matcher("vars")
def parse_vars(d: Dispenser, ctx: MatcherContext) -> Matcher:
    """`vars <name|{placeholder}> <values...>`."""
    span = d.head_span
    found: dict[str, list[str]] = {}
    while d.next():
        if not d.next_arg():
            raise d.error("malformed vars matcher: expected field name", code="RPC306")
        key = d.val
        values = d.remaining_args()
        if not values:
            raise d.error(
                "malformed vars matcher: expected at least one value to match against",
                code="RPC306",
            )
        found.setdefault(key, []).extend(values)
        if d.next_block(0):
            raise d.error("malformed vars matcher: blocks are not supported", code="RPC306")
    return MatchVars(
        vars=tuple((k, tuple(text(x) for x in v)) for k, v in sorted(found.items())), span=span
    )


@matcher("expression")
def parse_expression_matcher(d: Dispenser, ctx: MatcherContext) -> Matcher:
    """`expression <cel>`: one token keeps its text; several are joined with their quotes."""
    span = d.head_span
    d.next()
    if d.count_remaining_args() > 1:
        return expression_matcher(" ".join(d.remaining_args_raw()), span)
    if not d.next_arg():
        raise d.arg_err()
    return expression_matcher(d.val, span, ctx.name)


@matcher("file")
def parse_file(d: Dispenser, ctx: MatcherContext) -> Matcher:
    """`file [<files...>] { root <path>; try_files <files...>; try_policy <p>; split_path <s...> }`."""
    span = d.head_span
    root: str | None = None
    try_files: list[str] = []
    policy = ""
    split: list[str] = []
    while d.next():
        try_files.extend(d.remaining_args())
        while d.next_block(0):
            sub = d.val
            if sub == "root":
                if not d.next_arg():
                    raise d.arg_err()
                root = d.val
            elif sub == "try_files":
                try_files.extend(d.remaining_args())
                if not try_files:
                    raise d.arg_err()
            elif sub == "try_policy":
                if not d.next_arg():
                    raise d.arg_err()
                policy = d.val
            elif sub == "split_path":
                split = d.remaining_args()
                if not split:
                    raise d.arg_err()
            else:
                raise d.error(f"unrecognized subdirective: {sub}", code="RPC301")
    return MatchFile(
        root=text(root) if root is not None else None,
        try_files=tuple(text(x) for x in try_files),
        try_policy=policy,
        split_path=tuple(split),
        span=span,
    )


@matcher("tls")
def parse_tls(d: Dispenser, ctx: MatcherContext) -> Matcher:
    """`tls [early_data]`."""
    span = d.head_span
    complete: bool | None = None
    while d.next():
        if d.next_arg() and d.val == "early_data":
            complete = False
        if d.next_arg():
            raise d.arg_err()
        if d.next_block(0):
            raise d.error("malformed tls matcher: blocks are not supported yet", code="RPC306")
    return MatchTLS(handshake_complete=complete, span=span)


@matcher("url_pattern")
def parse_url_pattern(d: Dispenser, ctx: MatcherContext) -> Matcher:
    """`url_pattern <pattern> { base_url <url>; ignore_case }`."""
    span = d.head_span
    pattern = base = ""
    ignore_case = False
    while d.next():
        if not d.next_arg():
            raise d.arg_err()
        pattern = d.val
        if d.next_arg():
            raise d.arg_err()
        while d.next_block(0):
            if d.val == "base_url":
                got = d.args(1)
                if got is None:
                    raise d.arg_err()
                base = got[0]
            elif d.val == "ignore_case":
                ignore_case = True
            else:
                raise d.error(f"unrecognized subdirective: {d.val}", code="RPC301")
    return MatchURLPattern(pattern=pattern, base_url=base, ignore_case=ignore_case, span=span)


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
