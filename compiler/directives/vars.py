"""Request variables: vars and map → the `vars` and `map` handlers.

Ports of `caddyhttp/vars.go` (`VarsMiddleware.UnmarshalCaddyfile`) and
`caddyhttp/map/caddyfile.go`. Unquoted values are typed like Caddy's
`Dispenser.ScalarVal` (int, float, bool); strings keep their placeholders,
expanded at run time with ReplaceAll.
"""

from __future__ import annotations

import math
import re

from rpc.compiler import caddyjson, placeholders
from rpc.compiler.directives.helper import Helper
from rpc.compiler.directives.registry import handler_directive
from rpc.compiler.dispenser import Dispenser
from rpc.compiler.ir.base import Text
from rpc.compiler.ir.handlers import MapHandler, Mapping, ScalarValue, Vars, VarValue
from rpc.compiler.ir.routes import Handler

__all__ = ["json_scalar", "scalar_value"]

_INT64 = range(-(1 << 63), 1 << 63)
_GO_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_GO_HEX = re.compile(r"[+-]?0[xX]([0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+")
_GO_SPECIAL = re.compile(r"[+-]?(inf|infinity)|nan", re.IGNORECASE)
_GO_TRUE = ("1", "t", "T", "TRUE", "true", "True")
_GO_FALSE = ("0", "f", "F", "FALSE", "false", "False")


def _go_float(text: str) -> float | None:
    """Go's `strconv.ParseFloat(text, 64)`, or None where it fails (syntax or range)."""
    if not text.isascii():
        return None
    if _GO_SPECIAL.fullmatch(text):
        return float(text)
    if "_" in text:
        # Go allows `_` only between digits (or after a base prefix).
        hexadecimal = re.match(r"[+-]?0[xX]", text) is not None
        before = "[0-9a-fA-FxX]" if hexadecimal else "[0-9]"
        after = "[0-9a-fA-F]" if hexadecimal else "[0-9]"
        if re.search(rf"(?<!{before})_|_(?!{after})", text):
            return None
        text = text.replace("_", "")
    if _GO_DECIMAL.fullmatch(text):
        value = float(text)
    elif _GO_HEX.fullmatch(text):
        value = float.fromhex(text)
    else:
        return None
    return None if math.isinf(value) else value  # out of range is an error in Go


def scalar_value(d: Dispenser) -> ScalarValue:
    """The current token as Caddy's `ScalarVal`: int, float, bool, or text with placeholders.

    Unquoted tokens are tried as Go's Atoi, ParseFloat and ParseBool, in that
    order. NaN and infinities are refused: Caddy cannot write them as JSON
    (its adapter emits a `null` handler that Caddy then fails to load).
    """
    tok = d.token
    text = tok.text if tok is not None else ""
    if tok is not None and not tok.quoted:
        if re.fullmatch(r"[+-]?[0-9]+", text) and int(text) in _INT64:
            return int(text)
        number = _go_float(text)
        if number is not None:
            if math.isnan(number) or math.isinf(number):
                raise d.error(
                    f"json: unsupported value: {text}",
                    hint=f'quote it to keep it as text: "{text}"',
                )
            return number
        if text in _GO_TRUE or text in _GO_FALSE:
            return text in _GO_TRUE
    return placeholders.parse(text, keep_unknown=False)


def json_scalar(value: object) -> object:
    """A typed value as Go's encoding/json writes it (a whole float prints as an integer)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    return caddyjson.value(value)


@handler_directive("vars")
def parse_vars(h: Helper) -> Handler:
    """
    vars [<matcher>] [<name> <value>] {
        <name> <value>
        ...
    }
    """
    d = h.d
    d.next()
    span = d.span
    values: dict[str, VarValue] = {}

    def next_var(header_line: bool) -> None:
        if header_line and not d.next_arg():
            return
        name = d.val
        if not d.next_arg():
            raise d.arg_err("each variable needs a name and a value: `<name> <value>`")
        values[name] = scalar_value(d)
        if d.next_arg():
            raise d.arg_err("quote a value that contains spaces")

    next_var(True)
    while d.next_block(0):
        next_var(False)
    return Vars(values=tuple(values.items()), span=span)


def _shorthand_for(dest: str) -> str | None:
    """Caddy's `WasReplacedPlaceholderShorthand`: the shorthand whose expansion `dest` is."""
    bare = dest.strip("{}")
    for shorthand, expansion in placeholders._SIMPLE:
        if bare == expansion.strip("{}"):
            return shorthand
    return None


@handler_directive("map")
def parse_map(h: Helper) -> Handler:
    """
    map [<matcher>] <source> <destinations...> {
        [~]<input> <outputs...>
        default    <defaults...>
    }

    `~` makes the input a regular expression; an output `-` is null (the
    default applies); missing outputs are null.
    """
    d = h.d
    d.next()
    span = d.span
    if not d.next_arg():
        raise d.arg_err("write `map <source> <destinations...> { <input> <outputs...> }`")
    source = d.val
    destinations = d.remaining_args()
    if not destinations:
        raise d.error(
            "missing destination argument(s)",
            code="RPC302",
            hint="name the placeholders to set after the source, e.g. `map {host} {backend}`",
        )
    for dest in destinations:
        shorthand = _shorthand_for(dest)
        if shorthand is not None:
            raise d.error(
                f"destination {shorthand} conflicts with a Caddyfile placeholder shorthand",
                hint="choose another name for the destination placeholder",
            )
    mappings: list[Mapping] = []
    defaults: list[str] = []
    while d.next_block(0):
        if d.val == "default":
            if defaults:
                raise d.error(
                    "defaults already defined", code="RPC307", hint="write one `default` line"
                )
            defaults = d.remaining_args()
            defaults += [""] * (len(destinations) - len(defaults))
            continue
        key = d.val
        outputs: list[ScalarValue] = []
        while d.next_arg():
            value = scalar_value(d)
            outputs.append(None if isinstance(value, Text) and value.raw == "-" else value)
        if len(outputs) > len(destinations):
            raise d.error(
                "too many outputs",
                code="RPC302",
                hint=f"this map has {len(destinations)} destination(s), one output each",
            )
        outputs += [None] * (len(destinations) - len(outputs))
        if key.startswith("~"):
            mappings.append(Mapping(input_regexp=key[1:], outputs=tuple(outputs), span=d.span))
        else:
            mappings.append(Mapping(input=key, outputs=tuple(outputs), span=d.span))
    return MapHandler(
        source=placeholders.parse(source, keep_unknown=False) if source else None,
        destinations=tuple(destinations),
        mappings=tuple(mappings),
        defaults=tuple(defaults),
        span=span,
    )


@caddyjson.register(Vars)
def _vars_json(n: Vars) -> dict[str, object]:
    out: dict[str, object] = {name: json_scalar(v) for name, v in n.values}
    out["handler"] = "vars"  # set last, as Caddy's JSONModuleObject does
    return out


@caddyjson.register(Mapping)
def _mapping_json(n: Mapping) -> dict[str, object]:
    out = caddyjson.fields(n)
    if n.outputs:
        out["outputs"] = [json_scalar(v) for v in n.outputs]
    return out
