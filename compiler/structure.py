"""Expanded top-level lines → `Document`: global options, named routes and site blocks.

Caddy reads a file as a sequence of *server blocks* (`parse.go` `parseAll`,
`addresses`, `blockContents`): keys up to the end of the line (a trailing
comma continues the list on the next line), then a `{` block — on the same or
the next line — or, without braces, every remaining line. A key-less block is
the global options block and must come first; `&(name)` keys name a route.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from rpc.compiler.addresses import AddressError, parse_address
from rpc.compiler.cst import Block, Document, GlobalOptions, Line, NamedRoute, SiteBlock, Token
from rpc.compiler.errors import Diagnostics
from rpc.compiler.expand import Expanded

__all__ = ["build_document"]


def build_document(
    expanded: Expanded,
    diags: Diagnostics,
    *,
    directive_names: Collection[str] = (),
) -> Document:
    """Group top-level lines into blocks; report misplaced blocks and bad key lists."""
    lines = expanded.lines
    global_options: GlobalOptions | None = None
    routes: list[NamedRoute] = []
    sites: list[SiteBlock] = []
    seen_block = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.tokens:  # a block without keys
            assert line.block is not None
            if not seen_block:
                global_options = GlobalOptions(line.block.lines, line.span)
            elif line.block.lines:
                diags.error(
                    "RPC121",
                    "server block without any key is global configuration, and if used, "
                    "it must be first",
                    line.span,
                    "move the global options block to the top of the file",
                )
            seen_block = True
            i += 1
            continue
        seen_block = True
        keys, last = _addresses(lines, i, diags)
        head = lines[last]
        block: Block | None = head.block
        i = last + 1
        if block is None and i < len(lines) and not lines[i].tokens:
            block = lines[i].block  # `{` on the line after the addresses
            i += 1
        if block is not None:
            _check_site_block(block, diags)
            body: Sequence[Line] = block.lines
            span = line.span.to(block.span)
            braced = True
        else:
            body = lines[i:]
            span = line.span.to(body[-1].span) if body else line.span
            braced = False
            i = len(lines)
        if not keys:
            continue
        route = _named_route(keys, block, diags)
        if route is not None:
            routes.append(NamedRoute(route, tuple(body), span))
            continue
        addresses = []
        for key in keys:
            if _check_key(key, directive_names, diags):
                try:
                    addresses.append(parse_address(key.text, key.span))
                except AddressError as exc:
                    diags.error("RPC124", str(exc), key.span)
        sites.append(SiteBlock(tuple(keys), tuple(addresses), tuple(body), span, braced))
    _check_route_names(routes, diags)
    if global_options is not None:
        _check_body(global_options.lines, diags)
    for body in [r.lines for r in routes] + [s.lines for s in sites]:
        _check_body(body, diags)
    return Document(global_options, tuple(routes), tuple(sites), expanded.snippets)


def _check_body(lines: Sequence[Line], diags: Diagnostics) -> None:
    """Rules Caddy applies to every directive line (`parse.go` `directive`)."""
    for line in lines:
        if not line.tokens:
            diags.error(
                "RPC110",
                "Unexpected '{' on a new line; did you mean to place the '{' on the previous line?",
                line.span,
                "a directive's `{` must be on the same line as the directive",
            )
        elif line.block is None and line.tokens[-1].text == "{}" and not line.tokens[-1].quoted:
            diags.error(
                "RPC114",
                "Unexpected '{}' at end of line",
                line.tokens[-1].span,
                'write an empty block as `{` and `}` on separate lines, or quote it as `"{}"`',
            )
        if line.block is not None:
            _check_body(line.block.lines, diags)


def _addresses(lines: Sequence[Line], i: int, diags: Diagnostics) -> tuple[list[Token], int]:
    """The keys starting at line `i`, and the index of the line holding the last key."""
    keys: list[Token] = []
    expecting = False
    while True:
        line = lines[i]
        for tok in line.tokens:
            text = tok.text
            if text == "":
                continue  # Caddy ignores empty keys ("")
            expecting = text.endswith(",")
            if expecting:
                text = text[:-1]
            if "," in text:
                diags.error(
                    "RPC120",
                    f"Site addresses cannot contain a comma ',': '{tok.text}'",
                    tok.span,
                    "put a space after the comma to separate site addresses",
                )
            keys.append(tok.with_text(text))
        if not expecting:
            return keys, i
        if line.block is not None:
            diags.error(
                "RPC120",
                "Expected another address but had '{' - check for extra comma",
                line.block.span,
                "remove the trailing comma, or add the next address",
            )
            return keys, i
        if i + 1 >= len(lines) or not lines[i + 1].tokens:
            diags.error(
                "RPC120",
                "expected another address after the trailing comma",
                line.tokens[-1].span,
                "remove the trailing comma, or add the next address",
            )
            return keys, i
        i += 1


def _check_site_block(block: Block, diags: Diagnostics) -> None:
    if block.inline_close is not None:
        diags.error(
            "RPC112",
            "Unexpected '}' because no matching opening brace",
            block.inline_close.span,
            "a site block's `}` must be on its own line",
        )


def _named_route(keys: list[Token], block: Block | None, diags: Diagnostics) -> str | None:
    if not any(k.text.startswith("&(") for k in keys):
        return None
    key = next(k for k in keys if k.text.startswith("&("))
    if len(keys) != 1 or not key.text.endswith(")") or len(key.text) < 4:
        diags.error(
            "RPC125",
            f"invalid named route definition {key.text!r}",
            key.span,
            "a named route is a block whose only key is `&(name)`",
        )
        return None
    if block is None:
        diags.error("RPC125", f"named route {key.text} has no block", key.span)
        return None
    return key.text[2:-1]


def _check_key(key: Token, directive_names: Collection[str], diags: Diagnostics) -> bool:
    """False (with an error) when `key` cannot be a site address at all."""
    if key.text.startswith("@"):
        diags.error(
            "RPC122",
            "request matchers may not be defined globally, they must be in a site block; "
            f"found {key.text}",
            key.span,
            "define named matchers inside the site block that uses them",
        )
    elif key.text in directive_names:
        diags.error(
            "RPC123",
            f"parsed '{key.text}' as a site address, but it is a known directive; "
            "directives must appear in a site block",
            key.span,
            "put the directive inside a site block: `example.com { ... }`",
        )
    elif key.text.startswith("(") and key.text.endswith(")"):
        diags.error(
            "RPC125",
            f"snippet {key.text} must be the only key of its block and have a block",
            key.span,
        )
    else:
        return True
    return False


def _check_route_names(routes: list[NamedRoute], diags: Diagnostics) -> None:
    seen: dict[str, NamedRoute] = {}
    for route in routes:
        if route.name in seen:
            diags.error(
                "RPC203",
                f"cannot have duplicate named_routes: {route.name}",
                route.span,
                f"&({route.name}) is first defined at {seen[route.name].span}",
            )
        else:
            seen[route.name] = route
