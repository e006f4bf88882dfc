"""`rpc graph FILE [--format mermaid|dot]`: the routing tree as a diagram.

Listeners → sites → routes (their matchers) → handlers → upstream pools with
their policy. Mermaid renders on code hosts; DOT renders with Graphviz
(`rpc graph Caddyfile --format dot | dot -Tpng -o routes.png`).
"""

from __future__ import annotations

import argparse
import sys

from rpc.compiler.commands.inputs import read_input
from rpc.compiler.graph import build_graph, to_dot, to_mermaid
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpc.compiler.source import SourceMap

HELP = "draw the routing tree (Mermaid or Graphviz DOT)"

__all__ = ["HELP", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the Caddyfile (`-` for stdin)")
    parser.add_argument("--format", choices=("mermaid", "dot"), default="mermaid")


def run(args: argparse.Namespace, sources: SourceMap) -> int:
    name, text = read_input(args.file)
    result = compile_caddyfile(text, name, stop_after=Stage.IR, sources=sources)
    graph = build_graph(result.ir)
    sys.stdout.write(to_mermaid(graph) if args.format == "mermaid" else to_dot(graph))
    return 0
