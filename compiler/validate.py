"""Errors Caddy would only find when loading the config, and what rpc cannot run.

`caddy adapt` accepts some configs that `caddy run` then refuses (an invalid
CIDR, a bad regexp); `rpc adapt` mirrors adapt, and this pass mirrors
provisioning, so `rpc check` and `rpc compile` fail early with a location.
It also rejects the few things rpc's runtime does not implement (named, with
a hint), instead of silently ignoring them.
"""

from __future__ import annotations

import ipaddress

from rpc.compiler.errors import Diagnostics
from rpc.compiler.ir.base import Node
from rpc.compiler.ir.config import Config
from rpc.compiler.ir.handlers import Intercept
from rpc.compiler.ir.matchers import MatchClientIP, MatchExpression, MatchRemoteIP, MatchURLPattern
from rpc.compiler.ir.proxy import FastCGITransport, ReverseProxy
from rpc.compiler.walk import nodes

__all__ = [
    "FASTCGI_HINT",
    "FASTCGI_REFUSAL",
    "INTERCEPT_HINT",
    "INTERCEPT_REFUSAL",
    "validate",
]

# Read as Caddy reads them (`rpc adapt` shows their JSON), but the runtime cannot run them.
FASTCGI_REFUSAL = (
    "FastCGI (php_fastcgi, transport fastcgi) cannot run in a compiled proxy: "
    "the runtime has no FastCGI client"
)
FASTCGI_HINT = (
    "put an HTTP server in front of PHP-FPM (Caddy, nginx) and reverse_proxy to it over HTTP; "
    "`rpc adapt` still shows the Caddy JSON (see docs/directives.md)"
)
INTERCEPT_REFUSAL = (
    "intercept cannot run in a compiled proxy: the runtime has no response interception"
)
INTERCEPT_HINT = (
    "for proxied responses use reverse_proxy's own `handle_response` / `replace_status`; "
    "`rpc adapt` still shows the Caddy JSON (see docs/directives.md)"
)


def _bad_range(text: str) -> str | None:
    candidate = text.split("%", 1)[0] if "/" not in text else text
    try:
        if "/" in candidate:
            ipaddress.ip_network(candidate, strict=False)
        else:
            ipaddress.ip_address(candidate)
    except ValueError as exc:
        return str(exc)
    return None


def _check_ranges(owner: Node, ranges: tuple[str, ...], what: str, diags: Diagnostics) -> None:
    for r in ranges:
        problem = _bad_range(r)
        if problem is not None:
            diags.error(
                "RPC303",
                f"invalid {what} range {r!r}: {problem}",
                owner.span,
                "use an IP address or a CIDR like 10.0.0.0/8, or `private_ranges`",
            )


def validate(config: Config, diags: Diagnostics) -> None:
    """Report what would fail when the config is loaded or cannot run on rpc."""
    if config.http is None:
        return
    for server in config.http.servers:
        if server.trusted_proxies is not None:
            _check_ranges(server, server.trusted_proxies.ranges, "trusted_proxies", diags)
        for n in nodes(server):
            if isinstance(n, (MatchRemoteIP, MatchClientIP)):
                _check_ranges(n, n.ranges, n.KEY, diags)
            elif isinstance(n, ReverseProxy):
                _check_ranges(n, n.trusted_proxies, "trusted_proxies", diags)
                if isinstance(n.transport, FastCGITransport):
                    diags.error("RPC304", FASTCGI_REFUSAL, n.transport.span or n.span, FASTCGI_HINT)
            elif isinstance(n, Intercept):
                diags.error("RPC304", INTERCEPT_REFUSAL, n.span, INTERCEPT_HINT)
            elif isinstance(n, MatchExpression) and n.tree is None:
                diags.error(
                    "RPC306",
                    f"rpc cannot run this expression: {n.unsupported}",
                    n.span,
                    "rpc supports boolean logic, comparisons, `in`, literals, placeholders, "
                    "string methods and Caddy's matcher functions; see docs/matchers.md",
                )
            elif isinstance(n, MatchURLPattern):
                diags.error(
                    "RPC304",
                    "the url_pattern matcher is not supported by rpc yet",
                    n.span,
                    "use path or path_regexp matchers",
                )
