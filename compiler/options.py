"""The global options block → `Lowering.options` (and the directive order).

One parser per option, registered with `@option(name)`; each receives a
dispenser over its segment, as Caddy's `httpcaddyfile/options.go` parsers
do. Options that appear several times either accumulate (`servers`, `log`,
`default_bind`) or overwrite, as in Caddy. Unknown options are errors.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from rpc.compiler.cst import GlobalOptions
from rpc.compiler.directives import registry
from rpc.compiler.directives.helper import Lowering
from rpc.compiler.directives.order import DEFAULT_ORDER
from rpc.compiler.dispenser import DirectiveError, Dispenser, flatten
from rpc.compiler.errors import did_you_mean
from rpc.compiler.values import parse_duration

__all__ = ["OPTIONS", "OPTION_SPANS_STATE", "evaluate", "option"]

# Lowering state: option name → span of its (last) line, for errors found later.
OPTION_SPANS_STATE = "optionSpans"
OPTIONS_DOCS = "https://caddyserver.com/docs/caddyfile/options"
OptionParser = Callable[[Dispenser, Lowering], Any]
OPTIONS: dict[str, OptionParser] = {}
# Options whose values accumulate in a list instead of overwriting.
ACCUMULATE = frozenset({"servers", "log", "default_bind", "cert_issuer", "tls_automate_names"})


def option(name: str) -> Callable[[OptionParser], OptionParser]:
    """Register the parser of one global option."""

    def register(fn: OptionParser) -> OptionParser:
        OPTIONS[name] = fn
        return fn

    return register


_NO_ACME = "rpc has no ACME client"
_NO_CERT_MAINTENANCE = "rpc does not manage certificates"

# Options Caddy uses that the compiled proxy parses (so adapt shows them) but
# cannot honour; `rpc check` says so rather than dropping them silently.
NO_EFFECT: dict[str, str] = {
    "acme_ca": _NO_ACME,
    "acme_ca_root": _NO_ACME,
    "acme_dns": _NO_ACME,
    "acme_eab": _NO_ACME,
    "dns": _NO_ACME,
    "email": _NO_ACME,
    "preferred_chains": _NO_ACME,
    "tls_automate_names": _NO_ACME,
    "tls_resolvers": _NO_ACME,
    "cert_lifetime": _NO_CERT_MAINTENANCE,
    "key_type": _NO_CERT_MAINTENANCE,
    "renew_interval": _NO_CERT_MAINTENANCE,
    "renewal_window_ratio": _NO_CERT_MAINTENANCE,
    "ocsp_interval": "no OCSP stapling",
    "ocsp_stapling": "no OCSP stapling",
    "on_demand_tls": "no on-demand certificates",
    "default_sni": "the certificate is chosen by SNI only",
    "fallback_sni": "the certificate is chosen by SNI only",
    "ech": "no Encrypted ClientHello",
    "debug": "use --log-level debug on the generated program",
    "persist_config": "the config is the generated module",
    "pki": "`tls internal` uses rpc's own CA in --data-dir",
    "skip_install_trust": "rpc never installs its CA into the system trust store",
    "storage": "use --data-dir on the generated program",
    "storage_check": _NO_CERT_MAINTENANCE,
    "storage_clean_interval": _NO_CERT_MAINTENANCE,
}


def evaluate(block: GlobalOptions | None, lowering: Lowering) -> None:
    """Parse every option into `lowering.options`; start from Caddy's directive order."""
    lowering.order = list(DEFAULT_ORDER)
    registry.known_names()  # loads rpc's own directives and their default places
    for name, before in registry.RPC_DIRECTIVES.items():
        lowering.order.insert(lowering.order.index(before), name)
    if block is None:
        return
    _load()
    next_id = 0
    for line in block.lines:
        seg = flatten([line], next_id)
        if not seg:
            continue
        next_id = seg[-1].line_id + 1
        name = seg[0].text
        lowering.state.setdefault(OPTION_SPANS_STATE, {})[name] = seg[0].token.span
        parser = OPTIONS.get(name)
        if parser is None:
            lowering.diags.error(
                "RPC308",
                f"unrecognized global option: {name}",
                seg[0].token.span,
                did_you_mean(name, OPTIONS),
            )
            continue
        try:
            value = parser(Dispenser(seg), lowering)
        except DirectiveError as exc:
            diag = exc.diag
            if diag.hint is None:
                diag = replace(diag, hint=f"see {OPTIONS_DOCS}#{name.replace('_', '-')}")
            lowering.diags.add(diag)
            continue
        if name in NO_EFFECT:
            lowering.diags.warn(
                "RPC409",
                f"global option {name} has no effect in a compiled proxy: {NO_EFFECT[name]}",
                seg[0].token.span,
                "see docs/directives.md#global-options",
            )
        if name in ACCUMULATE:
            lowering.options.setdefault(name, []).extend(value)
        else:
            lowering.options[name] = value
    finish = _FINISH.get("servers")
    if finish is not None and "servers" in lowering.options:
        finish(lowering)


# Checks run once all options are read (the `servers` option sorts and checks its list).
_FINISH: dict[str, Callable[[Lowering], None]] = {}


def finish_option(name: str) -> Callable[[Callable[[Lowering], None]], Callable[[Lowering], None]]:
    """Register a step that runs on an option's accumulated value after the block is read."""

    def register(fn: Callable[[Lowering], None]) -> Callable[[Lowering], None]:
        _FINISH[name] = fn
        return fn

    return register


_MODULES = (
    "rpc.compiler.directives.globals",
    "rpc.compiler.directives.tlsoptions",
    "rpc.compiler.directives.serveroptions",
)
_loaded = False


def _load() -> None:
    global _loaded
    if not _loaded:
        import importlib

        _loaded = True
        for module in _MODULES:
            importlib.import_module(module)


# ---------------------------------------------------------------- the core options


def single_arg(d: Dispenser) -> str:
    """Caddy's `parseOptSingleString`: exactly one token after the option's name."""
    d.next()
    if not d.next():
        raise d.arg_err()
    value = d.val
    if d.next():
        raise d.arg_err()
    return value


@option("order")
def parse_order(d: Dispenser, lowering: Lowering) -> None:
    """`order <directive> first|last|before <other>|after <other>`: move a directive."""
    d.next()
    if not d.next_arg():
        raise d.arg_err()
    name = d.val
    span = d.span
    order = lowering.order
    if not d.next_arg():
        raise d.arg_err("write `order <directive> before|after <other>` or `first`/`last`")
    pos = d.val
    if name not in registry.known_names():
        raise d.error(f"{name} is not a registered directive", code="RPC308")
    if pos not in ("first", "last", "before", "after"):
        raise d.error(
            f"unknown positional '{pos}'", code="RPC308", hint="use first, last, before or after"
        )
    if name in order:
        order.remove(name)
    if pos == "first":
        order.insert(0, name)
    elif pos == "last":
        order.append(name)
    elif pos in ("before", "after"):
        if not d.next_arg():
            raise d.arg_err()
        other = d.val
        if other not in order:
            raise d.error(
                f"directive '{other}' not found", code="RPC308", hint=did_you_mean(other, order)
            )
        idx = order.index(other)
        order.insert(idx if pos == "before" else idx + 1, name)
    if d.next_arg():
        raise d.arg_err()
    del span  # the order list has no JSON form


def _port(d: Dispenser, name: str) -> int:
    d.next()
    got = d.all_args(1)
    if got is None:
        raise d.arg_err()
    text = got[0]
    if not re.fullmatch(r"[+-]?\d+", text):
        raise d.error(
            f"converting port '{text}' to integer value: strconv.Atoi: parsing \"{text}\": "
            "invalid syntax",
            code="RPC308",
        )
    return int(text)


@option("http_port")
def parse_http_port(d: Dispenser, lowering: Lowering) -> int:
    """`http_port <port>`: the port of plain-HTTP sites (default 80)."""
    return _port(d, "http_port")


@option("https_port")
def parse_https_port(d: Dispenser, lowering: Lowering) -> int:
    """`https_port <port>`: the port of HTTPS sites (default 443)."""
    return _port(d, "https_port")


def duration_option(d: Dispenser) -> object:
    """Caddy's `parseOptDuration`: the token after the option's name as a duration."""
    d.next()
    if not d.next():
        raise d.arg_err()
    try:
        return parse_duration(d.val)
    except ValueError as exc:
        raise d.error(f"time: {exc}", code="RPC303") from None
