"""The compiler's stages chained: text → line tree → expanded → Document (→ IR → Python).

Each stage is a plain function with typed input and output (syntax.parse_text,
expand.expand, structure.build_document, ...); `compile_caddyfile` runs them in
order and can stop after any one, which is what `rpc check` and the CLI's
dump commands use. Warnings are collected into one `Diagnostics`; errors raise
`RpcError` at the end of the stage that found them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rpc.compiler.cst import Document
from rpc.compiler.errors import Diagnostics
from rpc.compiler.expand import Expanded, expand
from rpc.compiler.source import SourceMap
from rpc.compiler.structure import build_document
from rpc.compiler.syntax import FileTree, parse_text

__all__ = ["Compilation", "Stage", "compile_caddyfile", "parse_document"]


class Stage(enum.IntEnum):
    """Where `compile_caddyfile` may stop, in pipeline order."""

    SYNTAX = 1
    EXPAND = 2
    STRUCTURE = 3
    IR = 4
    CHECK = 5
    OPTIMIZE = 6
    PYTHON = 7


@dataclass
class Compilation:
    """Everything one run of the pipeline produced, up to where it stopped."""

    name: str
    sources: SourceMap
    diagnostics: Diagnostics
    tree: FileTree | None = None
    expanded: Expanded | None = None
    document: Document | None = None
    ir: Any = None
    optimized: Any = None
    python: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)


def _directive_names() -> frozenset[str]:
    try:
        from rpc.compiler.directives import registry
    except ImportError:  # the directive layer is optional for the front end
        return frozenset()
    return frozenset(registry.known_names())


def compile_caddyfile(
    text: str,
    name: str = "Caddyfile",
    *,
    stop_after: Stage = Stage.PYTHON,
    environ: Mapping[str, str] | None = None,
    sources: SourceMap | None = None,
    diagnostics: Diagnostics | None = None,
) -> Compilation:
    """Run the pipeline on `text` up to and including `stop_after`."""
    result = Compilation(
        name,
        sources if sources is not None else SourceMap(),
        diagnostics if diagnostics is not None else Diagnostics(),
    )
    diags = result.diagnostics
    result.tree = parse_text(text, name, environ=environ, sources=result.sources)
    if stop_after <= Stage.SYNTAX:
        diags.extend(result.tree.warnings)
        return result
    result.expanded = expand(result.tree, sources=result.sources, environ=environ, diags=diags)
    if stop_after <= Stage.EXPAND:
        return result
    result.document = build_document(result.expanded, diags, directive_names=_directive_names())
    diags.check()
    if stop_after <= Stage.STRUCTURE:
        return result
    from rpc.compiler import placeholders

    # `map` destinations are placeholders the config defines: known from here on.
    with placeholders.custom_keys(_map_destinations(result.expanded)):
        return _lower_and_generate(result, text, name, stop_after)


def _map_destinations(expanded: Expanded | None) -> set[str]:
    from rpc.compiler import placeholders

    if expanded is None:
        return set()
    found = placeholders.map_destinations(expanded.lines)
    for snippet in expanded.snippets:
        found |= placeholders.map_destinations(snippet.lines)
    return found


def _lower_and_generate(
    result: Compilation, text: str, name: str, stop_after: Stage
) -> Compilation:
    diags = result.diagnostics
    assert result.document is not None
    from rpc.compiler.lower import lower

    result.ir = lower(result.document, diags)
    if stop_after <= Stage.IR:
        return result
    from rpc.compiler.lint import lint
    from rpc.compiler.validate import validate

    validate(result.ir, diags)
    lint(result.ir, diags)
    diags.check()
    if stop_after <= Stage.CHECK:
        return result
    # No IR-level optimisation pass is needed yet: routing is optimised while
    # route lists are compiled (dispatch dicts, prefix tables, inline checks).
    result.optimized = result.ir
    if stop_after <= Stage.OPTIMIZE:
        return result
    from rpc.compiler.backend.module import generate

    generated = generate(result.ir, source_name=name, source_text=text, diags=diags)
    diags.check()
    assert generated is not None
    result.python = generated.source
    return result


def parse_document(
    text: str,
    name: str = "Caddyfile",
    *,
    environ: Mapping[str, str] | None = None,
    sources: SourceMap | None = None,
    diagnostics: Diagnostics | None = None,
) -> Document:
    """The front end alone: text → expanded `Document`."""
    result = compile_caddyfile(
        text,
        name,
        stop_after=Stage.STRUCTURE,
        environ=environ,
        sources=sources,
        diagnostics=diagnostics,
    )
    assert result.document is not None
    return result.document
