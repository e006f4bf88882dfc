"""The `rpc` command line: argparse subcommands, one module each in `rpc.compiler.commands`.

Exit codes are part of the interface: 0 ok, 1 the Caddyfile has errors (or
`--check`-style failures), 2 usage errors, 70 an internal error (a bug in rpc;
`--debug` shows the traceback). A user mistake never prints a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from rpc.compiler.errors import RpcError, render_all
from rpc.compiler.source import SourceMap

__all__ = ["EXIT_CONFIG", "EXIT_INTERNAL", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK = 0
EXIT_CONFIG = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70

# Subcommand name → module in rpc.compiler.commands; each module provides
# `HELP`, `add_arguments(parser)` and `run(args, sources) -> int`.
COMMANDS: dict[str, str] = {
    "adapt": "adapt",
    "build": "build",
    "check": "check",
    "compile": "compile",
    "explain": "explain",
    "fmt": "fmt",
    "graph": "graph",
    "run": "run",
    "test": "test",
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"rpc: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rpc", description="Compile Caddyfiles into Python reverse proxies.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"rpc.compiler.commands.{module_name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    sources = SourceMap()
    try:
        return int(args._module.run(args, sources))
    except RpcError as exc:
        print(render_all(exc.diagnostics, sources), file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except Exception:  # noqa: BLE001 - the last line of defence: a bug, not user input
        if args.debug:
            traceback.print_exc()
        else:
            print(
                "rpc: internal error (a bug in rpc, not in your Caddyfile); "
                "run again with `rpc --debug ...` to see the traceback and please report it",
                file=sys.stderr,
            )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
