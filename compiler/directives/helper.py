"""What a directive parser works with: the token cursor plus its surroundings.

A port of Caddy's `httpcaddyfile.Helper` and the subroute machinery of
`httptype.go` / `directives.go`: the optional matcher token
(`*`, `/path`, `@name`) in front of a handler directive, routes built from
handlers, and nested blocks (`handle`, `route`, ...) parsed as directive lists
that are sorted by the directive order, grouped (only the first matching
`handle`, `rewrite` or `root` runs) and consolidated.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from rpc.compiler.directives import registry
from rpc.compiler.dispenser import DirectiveError, Dispenser, DToken
from rpc.compiler.errors import Diagnostic, Diagnostics, did_you_mean
from rpc.compiler.gosort import slice_stable
from rpc.compiler.ir.routes import Handler, MatcherSet, Route, Subroute
from rpc.compiler.source import Span

if TYPE_CHECKING:
    from rpc.compiler.addresses import Address

__all__ = [
    "ConfigValue",
    "Helper",
    "Lowering",
    "build_subroute",
    "consolidate_routes",
    "parse_directives",
    "parse_segment_as_config",
]

MATCHER_PREFIX = "@"


@dataclass(slots=True)
class ConfigValue:
    """One result of a directive: a value and the part of the config it is for.

    Classes (Caddy's): `route`, `error_route`, `bind`, `tls.connection_policy`,
    `tls.cert_loader`, `tls.cert_issuer`, `tls.force_automate`, `custom_log`,
    `named_route`, `listener_wrapper`.
    """

    cls: str
    value: Any
    directive: str = ""
    span: Span | None = None


@dataclass
class Lowering:
    """State shared by all directives of one compilation."""

    diags: Diagnostics
    options: dict[str, Any] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    groups: int = 0
    state: dict[str, Any] = field(default_factory=dict)

    def next_group(self) -> str:
        name = f"group{self.groups}"
        self.groups += 1
        return name

    def warn(self, code: str, message: str, span: Span | None, hint: str | None = None) -> None:
        self.diags.warn(code, message, span, hint)


@dataclass
class Helper:
    """The context of one directive being parsed (Caddy's `httpcaddyfile.Helper`)."""

    d: Dispenser
    lowering: Lowering
    matcher_defs: dict[str, MatcherSet] = field(default_factory=dict)
    # The site block being parsed: its keys and parsed addresses (empty for named routes).
    site_keys: tuple[str, ...] = ()
    site_addresses: tuple[Address, ...] = ()

    def with_dispenser(
        self, d: Dispenser, matcher_defs: dict[str, MatcherSet] | None = None
    ) -> Helper:
        return replace(
            self, d=d, matcher_defs=self.matcher_defs if matcher_defs is None else matcher_defs
        )

    @property
    def options(self) -> dict[str, Any]:
        return self.lowering.options

    def warn(self, message: str, *, code: str = "RPC410", hint: str | None = None) -> None:
        self.lowering.warn(code, message, self.d.span, hint)

    # ------------------------------------------------------------ matchers

    def matcher_token(self) -> tuple[MatcherSet | None, bool]:
        """Read the next argument as a matcher token if it is one."""
        if not self.d.next_arg():
            return None, False
        tok = self.d.token
        assert tok is not None
        return matcher_set_from_token(tok.text, tok.span, self.matcher_defs)

    def extract_matcher_set(self) -> MatcherSet | None:
        """Take the matcher token off the line (if any) and rewind the cursor."""
        matcher_set, has_matcher = self.matcher_token()
        if has_matcher:
            self.d.delete()
        self.d.reset()
        return matcher_set

    # ------------------------------------------------------------ results

    def new_route(self, matcher_set: MatcherSet | None, handler: Handler) -> list[ConfigValue]:
        """One route running `handler` under `matcher_set` (Caddy's `NewRoute`)."""
        match = (matcher_set,) if matcher_set is not None else ()
        route = Route(match=match, handle=(handler,), span=handler.span)
        return [ConfigValue("route", route, span=handler.span)]

    def group_routes(self, values: list[ConfigValue]) -> None:
        """Put all routes of `values` into one new group (only the first match runs)."""
        if len(values) < 2:
            return
        group = self.lowering.next_group()
        for v in values:
            if isinstance(v.value, Route):
                v.value = replace(v.value, group=group)

    # ------------------------------------------------------------ nesting

    def parse_block_as_subroute(self, *, sort: bool = True) -> Subroute:
        """The block of the current directive as a subroute (`handle`, `route`, ...)."""
        values = parse_segment_as_config(self)
        return build_subroute(values, self.lowering, sort=sort, span=self.d.head_span)


def matcher_set_from_token(
    text: str, span: Span | None, defs: dict[str, MatcherSet]
) -> tuple[MatcherSet | None, bool]:
    """`*` (match all), `/path`, or `@name`; anything else is not a matcher token."""
    from rpc.compiler.directives import matchers

    if text == "*":
        return None, True
    if text.startswith("/"):
        return MatcherSet(matchers=(matchers.path_matcher([text], span),), span=span), True
    if text.startswith(MATCHER_PREFIX):
        found = defs.get(text)
        if found is None:
            hint = did_you_mean(text, defs)
            raise DirectiveError(
                Diagnostic.error("RPC305", f"unrecognized matcher name: {text}", span, hint)
            )
        return found, True
    return None, False


def parse_segment_as_config(h: Helper) -> list[ConfigValue]:
    """The directives inside the current directive's block (Caddy's `parseSegmentAsConfig`)."""
    values: list[ConfigValue] = []
    d = h.d
    while d.next():
        if d.next_arg():  # only a matcher token may follow, and it was taken off already
            raise d.arg_err()
        segments: list[list[DToken]] = []
        nesting = d.nesting
        while d.next_block(nesting):
            segments.append(d.next_segment())
        values.extend(parse_directives(h, segments))
    return values


def parse_directives(h: Helper, segments: list[list[DToken]]) -> list[ConfigValue]:
    """Matcher definitions, then every directive of one block, in written order."""
    from rpc.compiler.directives import matchers

    defs = dict(h.matcher_defs)
    rest = []
    for seg in segments:
        if seg and seg[0].text.startswith(MATCHER_PREFIX):
            try:
                matchers.parse_matcher_definition(Dispenser(seg), defs, h.lowering)
            except DirectiveError as exc:
                h.lowering.diags.add(exc.diag)
        else:
            rest.append(seg)
    out: list[ConfigValue] = []
    for seg in rest:
        out.extend(run_directive(h.with_dispenser(Dispenser(seg), defs), seg))
    return out


def run_directive(
    h: Helper, seg: list[DToken], *, braceless_site: bool = False
) -> list[ConfigValue]:
    """Parse one directive segment; errors are reported and yield no values."""
    name = seg[0].text
    span = seg[0].token.span
    entry = registry.lookup(name)
    if entry is None:
        h.lowering.diags.add(_unknown_directive(name, span, braceless_site))
        return []
    try:
        results = entry.parse(h)
    except DirectiveError as exc:
        h.lowering.diags.add(exc.diag)
        return []
    directive = "handle" if name == "handle_path" else name  # they share one group and order
    for value in results:
        value.directive = directive
        if value.span is None:
            value.span = span
        if isinstance(value.value, Route) and not value.value.directive:
            value.value = replace(value.value, directive=directive)
    return results


def _unknown_directive(name: str, span: Span | None, braceless_site: bool) -> Diagnostic:
    if name in registry.known_names():
        return Diagnostic.error(
            "RPC304",
            f"directive '{name}' is not supported by rpc yet",
            span,
            "see docs/directives.md for what rpc supports",
        )
    hint = did_you_mean(name, registry.known_names())
    if braceless_site:
        hint = (
            "did you mean to define a second site? If so, you must use curly braces around "
            "each site to separate their configurations"
        )
    elif hint is None:
        hint = "are you sure your Caddyfile structure (nesting and braces) is correct?"
    return Diagnostic.error("RPC300", f"unrecognized directive: {name}", span, hint)


# ---------------------------------------------------------------- sorting and grouping

# Directives whose routes are mutually exclusive within one block: only the
# first matching one runs. `rewrite` always gets a group (even alone) so that
# it is never consolidated with a neighbour that happens to share its matcher.
_EXCLUSIVE = ("handle", "rewrite", "root")


def build_subroute(
    values: list[ConfigValue], lowering: Lowering, *, sort: bool, span: Span | None = None
) -> Subroute:
    """Sort, group and consolidate a block's routes (Caddy's `buildSubroute`)."""
    routes = [v for v in values if v.cls == "route"]
    if sort:
        for v in routes:
            if v.directive not in lowering.order:
                lowering.diags.error(
                    "RPC312",
                    f"directive '{v.directive}' is not an ordered HTTP handler, so it cannot be "
                    "used here",
                    v.span,
                    "place it within a `route` block, or give it a position with the "
                    "`order` global option",
                )
        sort_routes(routes, lowering.order)
    groups: dict[str, str] = {}
    for name in sorted(_EXCLUSIVE):
        count = sum(1 for v in routes if v.directive == name)
        if count > 1 or name == "rewrite":
            groups[name] = lowering.next_group()
    out: list[Route] = []
    for v in routes:
        route = v.value
        if isinstance(route, Subroute):
            # A directive's literal subroute (php_fastcgi): routes kept together
            # and in order through the sorting above, inlined here.
            out.extend(route.routes)
            continue
        assert isinstance(route, Route)
        if v.directive in groups:
            route = replace(route, group=groups[v.directive])
        out.append(route)
    return Subroute(routes=tuple(consolidate_routes(out)), span=span)


def _single_path(route: Route) -> str | None:
    """The path pattern of a route matched by exactly one set with one path, else None."""
    if len(route.match) != 1:
        return None
    from rpc.compiler.directives import matchers

    return matchers.single_path(route.match[0])


def sort_routes(values: list[ConfigValue], order: list[str]) -> None:
    """Caddy's `sortRoutes`: directive order, then path specificity."""
    position = {name: i for i, name in enumerate(order)}

    def less(a: ConfigValue, b: ConfigValue) -> bool:
        if a.directive != b.directive:
            return position.get(a.directive, 0) < position.get(b.directive, 0)
        ra, rb = a.value, b.value
        if not isinstance(ra, Route) or not isinstance(rb, Route):
            return False
        pa, pb = _single_path(ra), _single_path(rb)

        def by_path() -> bool:
            if pa and pb:
                ta, tb = pa.removesuffix("*"), pb.removesuffix("*")
                if ta == tb:
                    return len(pa) < len(pb)
                if len(ta) == len(tb):
                    return ta < tb
                return len(ta) > len(tb)
            return bool(ra.match) and not rb.match

        # `vars` is least specific first, so the most specific assignment runs last and wins.
        return not by_path() if a.directive == "vars" else by_path()

    slice_stable(values, less)


def consolidate_routes(routes: list[Route]) -> list[Route]:
    """Merge neighbours with equal matchers, terminal flag and group (cosmetic)."""
    out: list[Route] = []
    for route in routes:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.match == route.match
            and prev.terminal == route.terminal
            and prev.group == route.group
        ):
            out[-1] = replace(prev, handle=prev.handle + route.handle)
        else:
            out.append(route)
    return out
