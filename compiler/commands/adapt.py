"""`rpc adapt FILE`: the config as Caddy's JSON, or as rpc's IR (with spans).

`--format caddy-json` prints what `caddy adapt --adapter caddyfile` prints for
the same Caddyfile (the conformance suite compares the two as data);
`--format ir` prints rpc's typed IR, documented in docs/ir.md.
"""

from __future__ import annotations

import argparse
import json
import sys

from rpc.compiler.caddyjson import dump_ir, to_caddy_json
from rpc.compiler.commands.inputs import read_input
from rpc.compiler.errors import render_all
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpc.compiler.source import SourceMap

HELP = "print the config as Caddy JSON or as rpc's IR"

__all__ = ["HELP", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the Caddyfile (`-` for stdin)")
    parser.add_argument("--format", choices=("caddy-json", "ir"), default="caddy-json")
    parser.add_argument("--pretty", action="store_true", help="indent the JSON")


def run(args: argparse.Namespace, sources: SourceMap) -> int:
    name, text = read_input(args.file)
    result = compile_caddyfile(text, name, stop_after=Stage.IR, sources=sources)
    warnings = list(result.diagnostics)
    if warnings:
        print(render_all(warnings, sources), file=sys.stderr)
    data = to_caddy_json(result.ir) if args.format == "caddy-json" else dump_ir(result.ir)
    json.dump(data, sys.stdout, indent="\t" if args.pretty else None, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0
