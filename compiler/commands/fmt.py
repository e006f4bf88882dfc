"""`rpc fmt [FILE]`: a Caddyfile in, its `caddy fmt` layout out (stdout, in place, or as a diff).

Exit 0 when done (or, with `--diff`/`--check`, when the file is already
formatted); 1 when `--diff`/`--check` find it unformatted or the file cannot be
read as Caddyfile tokens; 2 on usage errors.
"""

from __future__ import annotations

import argparse
import difflib
import sys

from rpc.compiler.errors import Diagnostic, RpcError
from rpc.compiler.fmt import format_caddyfile
from rpc.compiler.source import SourceMap
from rpc.compiler.syntax import parse_text

HELP = "format a Caddyfile the way `caddy fmt` does"

__all__ = ["HELP", "add_arguments", "run"]

# Lexical errors: the text is not a sequence of Caddyfile tokens, so there is
# nothing sound to lay out. Brace and layout mistakes (`a {b}`, a `{` on its
# own line, unbalanced braces) are left alone: `caddy fmt` rewrites them, and
# repairing layout is what a formatter is for; `rpc check` reports them.
_FATAL = frozenset({"RPC102", "RPC103", "RPC104"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file",
        nargs="?",
        default="Caddyfile",
        help="the Caddyfile (default ./Caddyfile; `-` for stdin)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "-w", "--overwrite", action="store_true", help="write the result back to FILE"
    )
    mode.add_argument(
        "-d",
        "--diff",
        action="store_true",
        help="print a unified diff; exit 1 if FILE is not formatted",
    )
    mode.add_argument(
        "--check", action="store_true", help="print nothing; exit 1 if FILE is not formatted"
    )


def run(args: argparse.Namespace, sources: SourceMap) -> int:
    if args.overwrite and args.file == "-":
        print("rpc fmt: --overwrite needs a file, not stdin", file=sys.stderr)
        return 2
    name, text = _read(args.file)
    _check_tokens(text, name, sources)
    formatted = format_caddyfile(text)
    if args.overwrite:
        if formatted != text:
            with open(args.file, "w", encoding="utf-8", newline="") as f:
                f.write(formatted)
        return 0
    if args.check or args.diff:
        if formatted == text:
            return 0
        if args.diff:
            sys.stdout.writelines(
                difflib.unified_diff(
                    text.splitlines(keepends=True),
                    formatted.splitlines(keepends=True),
                    f"{name} (original)",
                    f"{name} (formatted)",
                )
            )
            if not text.endswith("\n"):
                print("\n\\ No newline at end of file (original)")
        return 1
    sys.stdout.write(formatted)
    return 0


def _read(path: str) -> tuple[str, str]:
    """(display name, text), byte for byte: no newline translation, since `\\r` is white space
    to Caddy and `caddy fmt` keeps it."""
    try:
        if path == "-":
            return "<stdin>", sys.stdin.buffer.read().decode("utf-8")
        with open(path, encoding="utf-8", newline="") as f:
            return path, f.read()
    except FileNotFoundError:
        raise _unreadable(f"no such file: {path}") from None
    except IsADirectoryError:
        raise _unreadable(f"{path} is a directory") from None
    except UnicodeDecodeError as exc:
        raise _unreadable(f"{path} is not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise _unreadable(f"cannot read {path}: {exc.strerror}") from None


def _unreadable(message: str) -> RpcError:
    return RpcError([Diagnostic.error("RPC205", message, None)])


def _check_tokens(text: str, name: str, sources: SourceMap) -> None:
    """Raise the lexer's diagnostics if `text` does not tokenize; ignore structural ones."""
    try:
        # An empty environment: formatting must not depend on the caller's
        # variables, and `{$VAR}` stays verbatim in the output anyway.
        parse_text(text, name, environ={}, sources=sources)
    except RpcError as exc:
        fatal = [d for d in exc.diagnostics if d.is_error and d.code in _FATAL]
        if fatal:
            raise RpcError(fatal) from None
