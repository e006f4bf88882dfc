"""`rpc build FILE -o proxy.pyz [--requirements FILE] [--dockerfile FILE]`: a shippable artifact.

The zipapp holds the generated module and `rpc.runtime`, so the machine
running it needs only Python and the packages `--requirements` lists
(aiohttp, plus redis/pyjwt/... when the Caddyfile uses them) — never the
compiler's lark, jinja2 or black. `python proxy.pyz --version` shows the rpc
version and the SHA-256 of the Caddyfile it was built from.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rpc.compiler.artifact import build_zipapp, dockerfile, requirements
from rpc.compiler.commands.inputs import read_input
from rpc.compiler.errors import render_all
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpc.compiler.source import SourceMap

HELP = "build a single-file zipapp (generated app + runtime) to ship"

__all__ = ["HELP", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the Caddyfile (`-` for stdin)")
    parser.add_argument("-o", "--output", default="proxy.pyz", help="the artifact (proxy.pyz)")
    parser.add_argument(
        "--requirements", metavar="FILE", help="write the pinned runtime requirements here"
    )
    parser.add_argument(
        "--dockerfile",
        metavar="FILE",
        help="write a minimal Dockerfile here (implies --requirements requirements.txt)",
    )


def run(args: argparse.Namespace, sources: SourceMap) -> int:
    name, text = read_input(args.file)
    result = compile_caddyfile(text, name, stop_after=Stage.PYTHON, sources=sources)
    if result.diagnostics:
        print(render_all(list(result.diagnostics), sources), file=sys.stderr)
    assert result.python is not None and result.ir is not None
    target = Path(args.output)
    build_zipapp(target, result.python)
    req_file = args.requirements or ("requirements.txt" if args.dockerfile else None)
    if req_file:
        req_path = (
            target.parent / req_file
            if args.dockerfile and not args.requirements
            else Path(req_file)
        )
        req_path.write_text("\n".join(requirements(result.ir)) + "\n", encoding="utf-8")
    if args.dockerfile:
        Path(args.dockerfile).write_text(
            dockerfile(target.name, Path(req_file or "requirements.txt").name), encoding="utf-8"
        )
    print(f"wrote {target}", file=sys.stderr)
    return 0
