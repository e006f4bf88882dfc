"""Names, literals and declarations of a generated module, injection-safe by construction.

Config text reaches generated source only through `Emitter.lit` (the `repr`
of allow-listed types: str, bytes, int, float, bool, None, and tuples and
frozensets of those) or through names the emitter allocated itself
(`h_3`, `r_12`, ...). Comments carry positions only. Anything else is a
compiler bug and fails loudly.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rpc.compiler.errors import InternalError
from rpc.compiler.ir.base import Ph, Text

__all__ = ["Decl", "Emitter", "Unsupported", "comment_text"]

_SAFE_SCALARS = (str, bytes, int, float, bool, type(None))


class Unsupported(Exception):
    """An IR node the runtime cannot execute; becomes an RPC304 diagnostic."""

    def __init__(self, message: str, span: object = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint


def comment_text(text: str) -> str:
    """`text` made safe for a comment or docstring: printable, no quotes, backslashes or newlines.

    Origins (`file:line`) come from file names the user chose; they must not be
    able to end a comment or a docstring.
    """
    return "".join(c if c.isprintable() and c not in "\\\"'`" else "?" for c in text)


@dataclass
class Decl:
    """A module-level assignment `name = expr`, with the Caddyfile line it comes from."""

    name: str
    expr: str
    origin: str = ""

    def __post_init__(self) -> None:
        self.origin = comment_text(self.origin)


@dataclass
class Emitter:
    """Collects what a generated module declares and imports."""

    decls: list[Decl] = field(default_factory=list)
    imports: set[str] = field(default_factory=set)
    stdlib: set[str] = field(default_factory=set)
    counters: dict[str, int] = field(default_factory=dict)
    cache: dict[object, str] = field(default_factory=dict)

    # ------------------------------------------------------------ names

    def name(self, prefix: str) -> str:
        """A fresh identifier `prefix_N` (prefixes are fixed strings in the compiler)."""
        n = self.counters.get(prefix, 0)
        self.counters[prefix] = n + 1
        ident = f"{prefix}_{n}"
        if not ident.isidentifier() or keyword.iskeyword(ident):
            raise InternalError(f"bad identifier {ident!r}")
        return ident

    def rt(self, name: str) -> str:
        """A runtime name (recorded for the single `from rpc.runtime import ...`)."""
        if not name.isidentifier():
            raise InternalError(f"bad runtime name {name!r}")
        self.imports.add(name)
        return name

    def std(self, module: str) -> str:
        """A standard-library module the generated code uses (`import re`)."""
        if module not in ("re", "ipaddress", "sys", "collections.abc"):
            raise InternalError(f"unexpected stdlib import {module!r}")
        self.stdlib.add(module)
        return module

    # ------------------------------------------------------------ literals

    def lit(self, value: Any) -> str:
        """The Python source of `value`, for allow-listed types only."""
        if isinstance(value, _SAFE_SCALARS):
            return repr(value)
        if isinstance(value, tuple):
            inner = ", ".join(self.lit(v) for v in value)
            return f"({inner},)" if len(value) == 1 else f"({inner})"
        if isinstance(value, frozenset):
            items = sorted(value, key=repr)
            return (
                "frozenset({" + ", ".join(self.lit(v) for v in items) + "})"
                if items
                else "frozenset()"
            )
        raise InternalError(
            f"value of type {type(value).__name__} is not allowed in generated code"
        )

    def kwargs(self, **values: str | None) -> str:
        """`a=1, b=2` from already-rendered expressions (None-valued keys skipped)."""
        return ", ".join(f"{k}={v}" for k, v in values.items() if v is not None)

    # ------------------------------------------------------------ declarations

    def declare(self, prefix: str, expr: str, origin: str = "", *, key: object = None) -> str:
        """Declare `expr` at module level under a new name; identical keys share one name."""
        if key is not None and key in self.cache:
            return self.cache[key]
        name = self.name(prefix)
        self.decls.append(Decl(name, expr, origin))
        if key is not None:
            self.cache[key] = name
        return name

    def text(self, t: Text | None, *, keep_unknown: bool) -> str:
        """A constant `str` when `t` has no placeholders, else a runtime `Template`."""
        if t is None:
            return "None"
        if t.is_constant:
            return self.lit(t.constant)
        parts = []
        for part in t.parts:
            if isinstance(part, Ph):
                parts.append(f"{self.rt('Placeholder')}({self.lit(part.key)})")
            else:
                parts.append(self.lit(part))
        tpl = self.rt("Template")
        expr = f"{tpl}(({', '.join(parts)},), keep_unknown={keep_unknown!r})"
        return self.declare("t", expr, key=("text", t.raw, keep_unknown))

    def template(self, t: Text | None, *, keep_unknown: bool) -> str:
        """Always a `Template` (for runtime fields that render per request)."""
        if t is None:
            return "None"
        if t.is_constant:
            tpl = self.rt("Template")
            return self.declare("t", f"{tpl}(({self.lit(t.constant)},))", key=("const", t.constant))
        return self.text(t, keep_unknown=keep_unknown)


# An emitter function turns one IR node into a runtime expression.
EmitFn = Callable[[Emitter, Any], str]
