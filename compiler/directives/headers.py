"""`header`, `request_header`, and the header-operation syntax reverse_proxy reuses.

Ports of `caddyhttp/headers/caddyfile.go` (`parseCaddyfile`,
`parseReqHdrCaddyfile`, `applyHeaderOp`) and of `ParseNamedResponseMatcher`
(`caddyhttp/responsematchers.go`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rpc.compiler import caddyjson, placeholders
from rpc.compiler.directives.helper import ConfigValue, Helper
from rpc.compiler.directives.registry import directive
from rpc.compiler.dispenser import Dispenser
from rpc.compiler.httputil import canonical_header_key
from rpc.compiler.ir.base import Text
from rpc.compiler.ir.headers import (
    HeaderOps,
    Headers,
    Replacement,
    RespHeaderOps,
    ResponseMatcher,
)

__all__ = ["OpsBuilder", "RespBuilder", "apply_header_op", "parse_response_matcher"]


def _text(raw: str) -> Text:
    return placeholders.parse(raw, keep_unknown=True)


@dataclass
class OpsBuilder:
    """A `HeaderOps` under construction (Go maps keep insertion here, sorted at the end)."""

    add: dict[str, list[str]] = field(default_factory=dict)
    set: dict[str, list[str]] = field(default_factory=dict)
    delete: list[str] = field(default_factory=list)
    replace: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def empty(self) -> bool:
        return not (self.add or self.set or self.delete or self.replace)

    def build(self) -> HeaderOps:
        return HeaderOps(
            add=tuple(
                (_text(k), tuple(_text(v) for v in vs)) for k, vs in sorted(self.add.items())
            ),
            set=tuple(
                (_text(k), tuple(_text(v) for v in vs)) for k, vs in sorted(self.set.items())
            ),
            delete=tuple(_text(x) for x in self.delete),
            replace=tuple(
                (k, tuple(Replacement(search_regexp=s, replace=_text(r)) for s, r in reps))
                for k, reps in sorted(self.replace.items())
            ),
        )


@dataclass
class RespBuilder:
    """The response side: operations, a `require` matcher, and whether they are deferred."""

    ops: OpsBuilder = field(default_factory=OpsBuilder)
    require: ResponseMatcher | None = None
    require_absent: list[str] = field(default_factory=list)
    deferred: bool = False

    def empty(self) -> bool:
        return (
            self.ops.empty()
            and self.require is None
            and not self.require_absent
            and not self.deferred
        )

    def build(self) -> RespHeaderOps:
        require = self.require
        if self.require_absent:
            fields = dict(require.headers) if require is not None else {}
            for name in self.require_absent:
                fields[name] = None
            require = ResponseMatcher(
                status_code=require.status_code if require is not None else (),
                headers=tuple(sorted(fields.items())),
            )
        return RespHeaderOps(ops=self.ops.build(), require=require, deferred=self.deferred)


def apply_header_op(
    ops: OpsBuilder,
    resp: RespBuilder | None,
    name: str,
    value: str,
    replacement: str | None,
) -> str | None:
    """Add one `[+|-|?|>]field [value [replacement]]` operation; an error message or None."""
    if name.startswith("+"):
        ops.add.setdefault(canonical_header_key(name[1:]), []).append(value)
    elif name.startswith("-"):
        ops.delete.append(name[1:])
        if resp is not None:
            resp.deferred = True
    elif name.startswith("?"):
        if resp is None:
            return (
                f"{name}: the default header modifier ('?') can only be used on response "
                "headers; for conditional manipulation of request headers, use matchers"
            )
        bare = name[1:]
        resp.require_absent.append(bare)
        ops.set[canonical_header_key(bare)] = [value]
    elif replacement is not None:
        if name.startswith(">") and resp is not None:
            resp.deferred = True
        bare = name.lstrip("+-?>")
        ops.replace.setdefault(bare, []).append((value, replacement))
    elif name.startswith(">"):
        ops.set[canonical_header_key(name[1:])] = [value]
        if resp is not None:
            resp.deferred = True
    else:
        ops.set[canonical_header_key(name)] = [value]
    return None


def parse_response_matcher(d: Dispenser, matchers: dict[str, ResponseMatcher]) -> None:
    """`@name { status <codes...>; header <field> [<value>] }` into `matchers`."""
    from rpc.compiler.directives.matchers import MatcherContext, parse_header

    d.next()
    name = d.val
    span = d.span
    if name in matchers:
        raise d.error(f"matcher is defined more than once: {name}", code="RPC307")
    status: list[int] = []
    headers: dict[str, tuple[Text, ...] | None] = {}
    nesting = d.nesting
    while d.next_arg() or d.next_block(nesting):
        kind = d.val
        if kind == "header":
            parsed = parse_header(d.new_from_next_segment(), MatcherContext("", None))
            headers.update(dict(parsed.fields))  # type: ignore[attr-defined]
        elif kind == "status":
            args = d.remaining_args()
            if not args:
                raise d.arg_err()
            for arg in args:
                text = arg[:1] if len(arg) == 3 and arg.endswith("xx") else arg
                if not text.lstrip("+-").isdigit():
                    raise d.error(f"bad status value '{arg}'", code="RPC303")
                status.append(int(text))
        else:
            raise d.error(f"unrecognized response matcher {kind}", code="RPC306")
    matchers[name] = ResponseMatcher(
        status_code=tuple(status), headers=tuple(sorted(headers.items())), span=span
    )


@directive("header")
def parse_header_directive(h: Helper) -> list[ConfigValue]:
    """
    header [<matcher>] [[+|-|?|>]<field> [<value|regexp>] [<replacement>]] {
        [+]<field> [<value|regexp> [<replacement>]]
        ?<field> <default_value>
        -<field>
        ><field> <value>
        [defer]
        [match { status <codes...>; header <field> [<value>] }]
    }
    """
    d = h.d
    d.next()
    span = d.span
    matcher_set = h.extract_matcher_set()
    d.next()
    plain, conditional = RespBuilder(), RespBuilder()
    has_args = False
    if d.next_arg():
        has_args = True
        name = d.val
        value = d.val if d.next_arg() else ""
        replacement = d.val if d.next_arg() else None
        if (err := apply_header_op(plain.ops, plain, name, value, replacement)) is not None:
            raise d.error(err)
        if plain.ops.delete:
            plain.deferred = True
    while d.next_block(0):
        name = d.val
        if name == "defer":
            plain.deferred = True
            continue
        if name == "match":
            found: dict[str, ResponseMatcher] = {}
            parse_response_matcher(d.new_from_next_segment(), found)
            plain.require = found["match"]
            continue
        if has_args:
            raise d.error("cannot specify headers in both arguments and block")
        name = name.removesuffix(":")
        value = d.val if d.next_arg() else ""
        replacement = d.val if d.next_arg() else None
        target = conditional if name.startswith("?") else plain
        if (err := apply_header_op(target.ops, target, name, value, replacement)) is not None:
            raise d.error(err)
    out: list[ConfigValue] = []
    for builder in (plain, conditional):
        if not builder.empty():
            out.extend(h.new_route(matcher_set, Headers(response=builder.build(), span=span)))
    return out


@directive("request_header")
def parse_request_header(h: Helper) -> list[ConfigValue]:
    """
    request_header [<matcher>] [+|-]<field> [<value|regexp>] [<replacement>]
    """
    d = h.d
    d.next()
    span = d.span
    matcher_set = h.extract_matcher_set()
    d.next()
    if not d.next_arg():
        raise d.arg_err()
    name = d.val.removesuffix(":")
    value = d.val if d.next_arg() else ""
    replacement = None
    if d.next_arg():
        replacement = d.val
        if d.next_arg():
            raise d.arg_err()
    ops = OpsBuilder()
    if (err := apply_header_op(ops, None, name, value, replacement)) is not None:
        raise d.error(err)
    if d.next_arg():
        raise d.arg_err()
    return h.new_route(matcher_set, Headers(request=ops.build(), span=span))


def header_ops_json(ops: HeaderOps) -> dict[str, object]:
    out: dict[str, object] = {}
    if ops.add:
        out["add"] = {k.raw: [v.raw for v in vs] for k, vs in ops.add}
    if ops.set:
        out["set"] = {k.raw: [v.raw for v in vs] for k, vs in ops.set}
    if ops.delete:
        out["delete"] = [x.raw for x in ops.delete]
    if ops.replace:
        out["replace"] = {k: [caddyjson.value(r) for r in reps] for k, reps in ops.replace}
    return out


def response_matcher_json(m: ResponseMatcher) -> dict[str, object]:
    out: dict[str, object] = {}
    if m.status_code:
        out["status_code"] = list(m.status_code)
    if m.headers:
        out["headers"] = {k: (None if v is None else [x.raw for x in v]) for k, v in m.headers}
    return out


def resp_ops_json(r: RespHeaderOps) -> dict[str, object]:
    out = header_ops_json(r.ops) if r.ops is not None else {}
    if r.require is not None:
        out["require"] = response_matcher_json(r.require)
    if r.deferred:
        out["deferred"] = True
    return out


caddyjson.register(HeaderOps)(header_ops_json)
caddyjson.register(RespHeaderOps)(resp_ops_json)
caddyjson.register(ResponseMatcher)(response_matcher_json)
