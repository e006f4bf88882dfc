"""CEL expression text → `CelExpr` tree (the subset rpc runs), or a reason it is not.

Parsed with lark from `grammars/cel.lark`. Caddy's matcher functions
(`path('/a*')`, `header({'X': 'y'})`, `path_regexp('name', '^/x')`, ...) become
the same matcher IR nodes the Caddyfile matchers produce, so the runtime has
one implementation of each.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedInput, v_args
from lark.exceptions import VisitError

from rpc.compiler import placeholders
from rpc.compiler.ir.base import Text
from rpc.compiler.ir.cel import (
    CelBool,
    CelCall,
    CelCompare,
    CelExpr,
    CelList,
    CelLit,
    CelMap,
    CelMatcher,
    CelMethod,
    CelNeg,
    CelNot,
    CelPh,
)
from rpc.compiler.ir.matchers import (
    MatchClientIP,
    MatchFile,
    MatchHeader,
    MatchHeaderRE,
    MatchHost,
    MatchMethod,
    MatchPath,
    MatchPathRE,
    MatchProtocol,
    MatchQuery,
    MatchRemoteIP,
    MatchVars,
    MatchVarsRE,
    Regexp,
)
from rpc.compiler.ir.routes import Matcher

__all__ = ["Unsupported", "parse_expression"]

# Member functions and global functions the runtime implements.
METHODS = frozenset(
    {"startsWith", "endsWith", "contains", "matches", "size", "lowerAscii", "upperAscii"}
)
FUNCTIONS = frozenset({"size", "int", "string", "double", "bool"})


class Unsupported(Exception):
    """The expression is valid CEL (perhaps) but outside what rpc can run."""


@functools.cache
def _parser() -> Lark:
    return Lark.open_from_package("rpc.grammars", "cel.lark", parser="lalr")


def _unquote(s: str) -> str:
    body = s[1:-1]
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            n = body[i + 1]
            simple = {
                "n": "\n",
                "t": "\t",
                "r": "\r",
                "\\": "\\",
                "'": "'",
                '"': '"',
                "`": "`",
                "?": "?",
                "a": "\a",
                "b": "\b",
                "f": "\f",
                "v": "\v",
            }
            if n in simple:
                out.append(simple[n])
                i += 2
                continue
            if n in "xuU":
                width = {"x": 2, "u": 4, "U": 8}[n]
                out.append(chr(int(body[i + 2 : i + 2 + width], 16)))
                i += 2 + width
                continue
        out.append(c)
        i += 1
    return "".join(out)


@v_args(inline=True)
class _Build(Transformer[Token, Any]):
    def or_(self, left: CelExpr, right: CelExpr) -> CelExpr:
        return _flat("||", left, right)

    def and_(self, left: CelExpr, right: CelExpr) -> CelExpr:
        return _flat("&&", left, right)

    def rel(self, left: CelExpr, op: Token, right: CelExpr) -> CelExpr:
        return CelCompare(op=str(op), left=left, right=right)

    def not_(self, operand: CelExpr) -> CelExpr:
        return CelNot(operand=operand)

    def neg(self, operand: CelExpr) -> CelExpr:
        if isinstance(operand, CelLit) and isinstance(operand.value, (int, float)):
            return CelLit(value=-operand.value)
        return CelNeg(operand=operand)

    def args(self, *items: CelExpr) -> tuple[CelExpr, ...]:
        return items

    def entries(self, *items: tuple[CelExpr, CelExpr]) -> tuple[tuple[CelExpr, CelExpr], ...]:
        return items

    def entry(self, key: CelExpr, value: CelExpr) -> tuple[CelExpr, CelExpr]:
        return (key, value)

    def list(self, args: tuple[CelExpr, ...] | None) -> CelExpr:
        return CelList(items=args or ())

    def map(self, entries: tuple[tuple[CelExpr, CelExpr], ...] | None) -> CelExpr:
        return CelMap(entries=entries or ())

    def placeholder(self, tok: Token) -> CelExpr:
        return CelPh(key=str(tok)[1:-1])

    def ident(self, tok: Token) -> CelExpr:
        name = str(tok)
        if name in ("true", "false"):
            return CelLit(value=name == "true")
        if name == "null":
            return CelLit(value=None)
        raise Unsupported(f"unknown identifier {name!r}")

    def int_(self, tok: Token) -> CelExpr:
        return CelLit(value=int(tok))

    def float_(self, tok: Token) -> CelExpr:
        return CelLit(value=float(tok))

    def string(self, tok: Token) -> CelExpr:
        return CelLit(value=_unquote(str(tok)))

    def method(self, target: CelExpr, name: Token, args: tuple[CelExpr, ...] | None) -> CelExpr:
        if str(name) not in METHODS:
            raise Unsupported(f"CEL method {name}() is not supported by rpc")
        return CelMethod(target=target, name=str(name), args=args or ())

    def call(self, name: Token, args: tuple[CelExpr, ...] | None) -> CelExpr:
        fn = str(name)
        args = args or ()
        builder = MATCHER_FUNCTIONS.get(fn)
        if builder is not None:
            return CelMatcher(matcher=builder([_literal(a) for a in args]))
        if fn in FUNCTIONS:
            return CelCall(name=fn, args=args)
        raise Unsupported(f"CEL function {fn}() is not supported by rpc")


def _flat(op: str, left: CelExpr, right: CelExpr) -> CelExpr:
    """`a || b || c` as one node with three operands (the grammar nests to the left)."""
    if isinstance(left, CelBool) and left.op == op:
        return CelBool(op=op, operands=(*left.operands, right))
    return CelBool(op=op, operands=(left, right))


def _literal(e: CelExpr) -> Any:
    """The Python value of a literal argument of a matcher function."""
    if isinstance(e, CelLit):
        return e.value
    if isinstance(e, CelList):
        return [_literal(x) for x in e.items]
    if isinstance(e, CelMap):
        return {_literal(k): _literal(v) for k, v in e.entries}
    raise Unsupported("matcher function arguments must be literals")


def _strings(args: list[Any]) -> list[str]:
    out: list[str] = []
    for a in args:
        items = a if isinstance(a, list) else [a]
        for x in items:
            if not isinstance(x, str):
                raise Unsupported("expected string arguments")
            out.append(x)
    return out


def _text(raw: str) -> Text:
    return placeholders.parse(raw, keep_unknown=False)


def _string_map(arg: Any) -> list[tuple[str, list[str]]]:
    if not isinstance(arg, dict):
        raise Unsupported("expected a map argument, e.g. {'Field': ['value']}")
    out = []
    for k, v in arg.items():
        out.append((str(k), _strings([v])))
    return out


def _regexp_args(args: list[Any], count: int) -> list[str]:
    values = _strings(args)
    if len(values) not in (count, count + 1):
        raise Unsupported("wrong number of arguments")
    return values


def _path_re(args: list[Any]) -> Matcher:
    values = _regexp_args(args, 1)
    name, pattern = (values[0], values[1]) if len(values) == 2 else ("", values[0])
    return MatchPathRE(regexp=Regexp(pattern=pattern, name=name))


def _header_re(args: list[Any]) -> Matcher:
    values = _regexp_args(args, 2)
    name, field, pattern = values if len(values) == 3 else ("", *values)
    return MatchHeaderRE(fields=((field, Regexp(pattern=pattern, name=name)),))


def _vars_re(args: list[Any]) -> Matcher:
    values = _regexp_args(args, 2)
    name, var, pattern = values if len(values) == 3 else ("", *values)
    return MatchVarsRE(vars=((var, Regexp(pattern=pattern, name=name)),))


def _file(args: list[Any]) -> Matcher:
    if not args:
        return MatchFile()
    if len(args) == 1 and isinstance(args[0], dict):
        cfg = args[0]
        root = cfg.get("root")
        return MatchFile(
            root=_text(root) if isinstance(root, str) else None,
            try_files=tuple(_text(x) for x in _strings([cfg.get("try_files", [])])),
            try_policy=str(cfg.get("try_policy", "")),
            split_path=tuple(_strings([cfg.get("split_path", [])])),
        )
    return MatchFile(try_files=tuple(_text(x) for x in _strings(args)))


MATCHER_FUNCTIONS: dict[str, Any] = {
    "path": lambda a: MatchPath(patterns=tuple(_text(x) for x in _strings(a))),
    "host": lambda a: MatchHost(hosts=tuple(_text(x) for x in _strings(a))),
    "method": lambda a: MatchMethod(methods=tuple(_strings(a))),
    "protocol": lambda a: MatchProtocol(protocol=_strings(a)[0]),
    "remote_ip": lambda a: MatchRemoteIP(ranges=tuple(_strings(a))),
    "client_ip": lambda a: MatchClientIP(ranges=tuple(_strings(a))),
    "header": lambda a: MatchHeader(
        fields=tuple((k, tuple(_text(x) for x in v)) for k, v in _string_map(a[0]))
    ),
    "query": lambda a: MatchQuery(
        params=tuple((k, tuple(_text(x) for x in v)) for k, v in _string_map(a[0]))
    ),
    "vars": lambda a: MatchVars(
        vars=tuple((k, tuple(_text(x) for x in v)) for k, v in _string_map(a[0]))
    ),
    "path_regexp": _path_re,
    "header_regexp": _header_re,
    "vars_regexp": _vars_re,
    "file": _file,
}

# `{placeholder}` not preceded by a backslash (Caddy's CEL placeholder rewrite).
_PLACEHOLDER = re.compile(r"(?<!\\)\{[a-zA-Z][\w.-]+\}")


def parse_expression(expr: str) -> CelExpr:
    """Parse `expr`; raise `Unsupported` with a reason if rpc cannot run it."""
    try:
        tree = _parser().parse(expr)
    except UnexpectedInput as exc:
        raise Unsupported(f"cannot parse expression at column {exc.column}") from None
    try:
        result = _Build().transform(tree)
    except VisitError as exc:  # lark wraps what the callbacks raise
        inner = exc.orig_exc
        if isinstance(inner, Unsupported):
            raise inner from None
        raise Unsupported(str(inner)) from None
    assert not isinstance(result, tuple)
    return result  # type: ignore[no-any-return]
