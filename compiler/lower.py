"""Document → IR `Config`: what every directive means, assembled like Caddy does.

A port of `httpcaddyfile/httptype.go` `Setup`: evaluate the global options;
compile named routes; expand placeholder shorthands in every site; parse each
site's matcher definitions and directives into a *pile* of config values by
class; map site addresses to listeners (`servers.pair_sites`); build one
server per pairing (`servers.build_servers`); then the apps (`apps.build`).
Directive errors are collected (each directive is independent), so one run
reports every mistake it can find.
"""

from __future__ import annotations

from dataclasses import replace

from rpc.compiler import apps, options, servers
from rpc.compiler.cst import Document, Line, Token
from rpc.compiler.directives.helper import (
    ConfigValue,
    Helper,
    Lowering,
    build_subroute,
    parse_directives,
    run_directive,
)
from rpc.compiler.directives.matchers import parse_matcher_definition
from rpc.compiler.directives.routing import NAMED_ROUTES_STATE
from rpc.compiler.directives.serveroptions import apply_server_options
from rpc.compiler.dispenser import DirectiveError, Dispenser, DToken, flatten
from rpc.compiler.errors import Diagnostics
from rpc.compiler.ir.config import Config
from rpc.compiler.ir.routes import Handler, MatcherSet, Route
from rpc.compiler.placeholders import expand_shorthands
from rpc.compiler.servers import SiteBlock
from rpc.compiler.source import Span

__all__ = ["lower"]


def lower(doc: Document, diags: Diagnostics) -> Config:
    """Give every directive its meaning; raise `RpcError` if any was wrong."""
    lowering = Lowering(diags)
    options.evaluate(doc.global_options, lowering)
    named = _named_routes(doc, lowering)
    sites = [_site(site, lowering) for site in doc.sites]
    diags.check()
    pairings = servers.pair_sites(sites, lowering)
    diags.check()
    built = servers.build_servers(pairings, lowering, named)
    diags.check()
    built = apply_server_options(built, lowering)
    diags.check()
    config = apps.build(built, pairings, lowering)
    diags.check()
    return config


def _shorthands(lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """Every token of a site or named route with placeholder shorthands expanded."""

    def tok(t: Token) -> Token:
        expanded = expand_shorthands(t.text)
        return t if expanded == t.text else t.with_text(expanded)

    def line(ln: Line) -> Line:
        block = ln.block
        if block is not None:
            block = replace(
                block,
                lines=tuple(line(inner) for inner in block.lines),
                inline_close=tok(block.inline_close) if block.inline_close else None,
            )
        return replace(ln, tokens=tuple(tok(t) for t in ln.tokens), block=block)

    return tuple(line(ln) for ln in lines)


def _segments(lines: tuple[Line, ...]) -> list[list[DToken]]:
    """Each top-level directive line of a body as a dispenser segment."""
    out = []
    next_id = 0
    for ln in lines:
        seg = flatten([ln], next_id)
        if seg:
            next_id = seg[-1].line_id + 1
            out.append(seg)
    return out


def _named_routes(doc: Document, lowering: Lowering) -> dict[str, Route]:
    """`&(name)` blocks compiled once, with their own group numbering (as Caddy)."""
    routes: dict[str, Route] = {}
    outer_groups = lowering.groups
    lowering.groups = 0
    for named in doc.named_routes:
        if not named.lines:
            continue
        helper = Helper(Dispenser([]), lowering)
        values = parse_directives(helper, _segments(_shorthands(named.lines)))
        subroute = build_subroute(values, lowering, sort=True, span=named.span)
        if len(subroute.routes) == 1 and not subroute.routes[0].match:
            # Caddy 2.11 inlines a single unconditional route but keeps only its
            # first handler (its own adapt tests expect this); rpc does the same,
            # so a Caddyfile means what it means to Caddy, and says so loudly.
            first, *dropped = subroute.routes[0].handle
            if dropped:
                _warn_dropped(named.name, dropped, named.span, lowering)
            route = Route(handle=(first,), span=named.span)
        else:
            route = Route(handle=(subroute,), span=named.span)
        routes[named.name] = route
    lowering.groups = outer_groups
    lowering.state.pop(NAMED_ROUTES_STATE, None)
    return routes


def _warn_dropped(name: str, dropped: list[Handler], span: Span | None, lowering: Lowering) -> None:
    what = ", ".join(
        f"{h.CADDY_TAG[1] if h.CADDY_TAG else type(h).__name__} ({h.origin or 'here'})"
        for h in dropped
    )
    lowering.diags.warn(
        "RPC414",
        f"named route '{name}' keeps only its first handler; Caddy 2.11 drops the rest: {what}",
        span,
        "wrap the body in `route { ... }` so every directive runs (Caddy and rpc alike)",
    )


def _site(site: object, lowering: Lowering) -> SiteBlock:
    from rpc.compiler.cst import SiteBlock as CstSite

    assert isinstance(site, CstSite)
    body = _shorthands(site.lines)
    segments = _segments(body)
    defs: dict[str, MatcherSet] = {}
    for seg in segments:
        if seg[0].text.startswith("@"):
            try:
                parse_matcher_definition(Dispenser(seg), defs, lowering)
            except DirectiveError as exc:
                lowering.diags.add(exc.diag)
    state = SiteBlock(
        keys=tuple(k.text for k in site.keys),
        addresses=site.addresses,
        span=site.span,
        braced=site.braced,
    )
    helper = Helper(
        Dispenser([]),
        lowering,
        defs,
        site_keys=state.keys,
        site_addresses=site.addresses,
    )
    for seg in segments:
        if seg[0].text.startswith("@"):
            continue
        values: list[ConfigValue] = run_directive(
            helper.with_dispenser(Dispenser(seg)), seg, braceless_site=not site.braced
        )
        for value in values:
            state.pile.setdefault(value.cls, []).append(value)
        invoked = lowering.state.pop(NAMED_ROUTES_STATE, None)
        if invoked:
            for name, span in invoked.items():
                state.pile.setdefault("named_route", []).append(
                    ConfigValue("named_route", name, span=span)
                )
    return state
