"""CEL expression trees → Python expressions over `ctx` using `rpc.runtime.cel`.

Each CEL operation becomes a call that applies CEL's typing rules (so
`"1" == 1` is false and `"a" < 1` is an error, which makes the matcher not
match, as in Caddy); Caddy's matcher functions (`path('/a/*')`) become the
same inline checks as the matchers they stand for.
"""

from __future__ import annotations

from collections.abc import Callable

from rpc.compiler.backend.emit import Emitter
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
from rpc.compiler.ir.routes import Matcher

__all__ = ["expression"]


def expression(e: Emitter, node: CelExpr, matcher: Callable[[Matcher], str]) -> str:
    """The Python expression evaluating `node` (a bool for the top level)."""
    cel = e.rt("cel")

    def go(n: CelExpr) -> str:
        if isinstance(n, CelLit):
            return e.lit(n.value)
        if isinstance(n, CelList):
            return "[" + ", ".join(go(x) for x in n.items) + "]"
        if isinstance(n, CelMap):
            return "{" + ", ".join(f"{go(k)}: {go(v)}" for k, v in n.entries) + "}"
        if isinstance(n, CelPh):
            return f"{cel}.value(ctx, {e.lit(n.key)})"
        if isinstance(n, CelNot):
            return f"(not {cel}.truth({go(n.operand)}))"
        if isinstance(n, CelNeg):
            return f"(-{go(n.operand)})"
        if isinstance(n, CelBool):
            # CEL's && and || are commutative about errors: each operand is a thunk.
            fn = "land" if n.op == "&&" else "lor"
            return f"{cel}.{fn}(" + ", ".join(f"lambda: {go(x)}" for x in n.operands) + ")"
        if isinstance(n, CelCompare):
            left, right = go(n.left), go(n.right)
            if n.op == "==":
                return f"{cel}.eq({left}, {right})"
            if n.op == "!=":
                return f"(not {cel}.eq({left}, {right}))"
            if n.op == "in":
                return f"{cel}.member({left}, {right})"
            return f"{cel}.compare({e.lit(n.op)}, {left}, {right})"
        if isinstance(n, CelMethod):
            args = [go(a) for a in n.args]
            if n.name == "matches" and len(n.args) == 1 and isinstance(n.args[0], CelLit):
                pattern = n.args[0].value
                if isinstance(pattern, str):
                    args = [
                        e.declare(
                            "rx",
                            f"{e.rt('compile_regex')}({e.lit(pattern)})",
                            key=("rx", pattern),
                        )
                    ]
            rest = "".join(f", {a}" for a in args)
            return f"{cel}.method({go(n.target)}, {e.lit(n.name)}{rest})"
        if isinstance(n, CelCall):
            (arg,) = n.args
            return f"{cel}.call({e.lit(n.name)}, {go(arg)})"
        if isinstance(n, CelMatcher):
            return f"({matcher(n.matcher)})"
        raise TypeError(f"unknown CEL node {type(n).__name__}")

    return go(node)
