"""`rpc compile FILE -o app.py`: write the standalone proxy module for a Caddyfile.

The output is deterministic and black-formatted; warnings are printed to
stderr, errors stop the compilation (exit 1) without writing anything.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from rpc.compiler.commands.inputs import read_input
from rpc.compiler.errors import render_all
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpc.compiler.source import SourceMap

HELP = "compile a Caddyfile into a standalone Python proxy module"

__all__ = ["HELP", "add_arguments", "compile_file", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the Caddyfile (`-` for stdin)")
    parser.add_argument(
        "-o", "--output", default="-", help="where to write the module (default: stdout)"
    )


def compile_file(path: str, sources: SourceMap) -> str:
    """The generated module for the Caddyfile at `path` (warnings go to stderr)."""
    name, text = read_input(path)
    result = compile_caddyfile(text, name, stop_after=Stage.PYTHON, sources=sources)
    warnings = list(result.diagnostics)
    if warnings:
        print(render_all(warnings, sources), file=sys.stderr)
    assert result.python is not None
    return result.python


def run(args: argparse.Namespace, sources: SourceMap) -> int:
    source = compile_file(args.file, sources)
    if args.output == "-":
        sys.stdout.write(source)
        return 0
    target = Path(args.output)
    # Write atomically: a running `python app.py` never sees half a module.
    fd, tmp = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(source)
    os.replace(tmp, target)
    return 0
