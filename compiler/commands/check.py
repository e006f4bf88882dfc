"""`rpc check FILE`: every diagnostic the compiler can find, for people and for CI.

Formats: `text` (rendered with source lines and carets), `json` (a list of
{code, severity, message, file, line, column, end_line, end_column, hint}),
`github` (workflow annotations) and `sarif` (SARIF 2.1.0). Exit 0 when clean
or only warnings, 1 on errors, and on warnings too with `--strict`.
"""

from __future__ import annotations

import argparse
import json
import sys

from rpc.compiler.commands.inputs import read_input
from rpc.compiler.errors import CODES, Diagnostic, Diagnostics, RpcError, render_all
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpc.compiler.source import SourceMap

HELP = "report errors and warnings in a Caddyfile (for editors and CI)"

__all__ = ["HELP", "add_arguments", "check_text", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the Caddyfile (`-` for stdin)")
    parser.add_argument("--format", choices=("text", "json", "github", "sarif"), default="text")
    parser.add_argument("--strict", action="store_true", help="fail on warnings too")


def check_text(text: str, name: str, sources: SourceMap) -> list[Diagnostic]:
    """All diagnostics for `text`, errors and warnings, in the order found."""
    diags = Diagnostics()
    try:
        compile_caddyfile(
            text, name, stop_after=_deepest_stage(), sources=sources, diagnostics=diags
        )
    except RpcError as exc:
        known = set(map(id, diags))
        return list(diags) + [d for d in exc.diagnostics if id(d) not in known]
    return list(diags)


def _deepest_stage() -> Stage:
    # Checking goes as deep as the compiler goes without generating code.
    return Stage.CHECK


def run(args: argparse.Namespace, sources: SourceMap) -> int:
    name, text = read_input(args.file)
    found = _dedupe(check_text(text, name, sources))
    out = sys.stdout
    if args.format == "text":
        if found:
            print(render_all(found, sources), file=out)
        else:
            print(f"{name}: ok", file=out)
    elif args.format == "json":
        json.dump([d.as_dict() for d in found], out, indent=2)
        out.write("\n")
    elif args.format == "github":
        for d in found:
            print(_github(d), file=out)
    else:
        json.dump(_sarif(found), out, indent=2)
        out.write("\n")
    errors = any(d.is_error for d in found)
    return 1 if errors or (args.strict and found) else 0


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[Diagnostic] = set()
    out = []
    for d in diags:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def _github(d: Diagnostic) -> str:
    kind = "error" if d.is_error else "warning"
    props = [f"title={d.code}"]
    if d.span is not None:
        props = [
            f"file={d.span.file}",
            f"line={d.span.line}",
            f"col={d.span.column}",
            f"endLine={d.span.end_line}",
            f"endColumn={d.span.end_column}",
            *props,
        ]
    message = d.message + (f" ({d.hint})" if d.hint else "")
    # Workflow commands need %, CR and LF escaped in the message.
    message = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return f"::{kind} {','.join(props)}::{message}"


def _sarif(diags: list[Diagnostic]) -> dict[str, object]:
    from rpc.compiler import __version__

    used = sorted({d.code for d in diags})
    results = []
    for d in diags:
        result: dict[str, object] = {
            "ruleId": d.code,
            "level": "error" if d.is_error else "warning",
            "message": {"text": d.message + (f"\nhint: {d.hint}" if d.hint else "")},
        }
        if d.span is not None:
            result["locations"] = [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": d.span.file},
                        "region": {
                            "startLine": d.span.line,
                            "startColumn": d.span.column,
                            "endLine": d.span.end_line,
                            "endColumn": d.span.end_column,
                        },
                    }
                }
            ]
        results.append(result)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "rpc",
                        "version": __version__,
                        "informationUri": "https://github.com/rpc-proxy/rpc",
                        "rules": [
                            {"id": code, "shortDescription": {"text": CODES[code]}} for code in used
                        ],
                    }
                },
                "results": results,
            }
        ],
    }
