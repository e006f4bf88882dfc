"""`rpc run FILE [-- app args]`: compile in memory and serve, as `python app.py` would.

Everything after the Caddyfile is passed to the generated module's `main`
(`--workers`, `--log-level`, `--check`, ...).
"""

from __future__ import annotations

import argparse
import sys

from rpc.compiler.backend.module import load
from rpc.compiler.commands.compile import compile_file
from rpc.compiler.source import SourceMap

HELP = "compile a Caddyfile in memory and serve it"

__all__ = ["HELP", "add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="the Caddyfile (`-` for stdin)")
    parser.add_argument(
        "app_args", nargs=argparse.REMAINDER, help="arguments for the proxy (see `--help` of it)"
    )


def run(args: argparse.Namespace, sources: SourceMap) -> int:
    source = compile_file(args.file, sources)
    # The generated module only runs `main` under __main__; here it is a module,
    # so its APP is built and then served explicitly.
    module = load(source, "rpc_app")
    sys.modules["rpc_app"] = module
    argv = [a for a in args.app_args if a != "--"]
    return int(module.main(module.APP, argv))
