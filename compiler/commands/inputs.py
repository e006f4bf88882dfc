"""Reading the Caddyfile a command was given (a path, or `-` for stdin)."""

from __future__ import annotations

import sys
from pathlib import Path

from rpc.compiler.errors import Diagnostic, RpcError

__all__ = ["read_input"]


def read_input(path: str) -> tuple[str, str]:
    """(display name, text) of the input file; a usage-level RpcError if unreadable."""
    if path == "-":
        return "<stdin>", sys.stdin.read()
    try:
        return path, Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RpcError([Diagnostic.error("RPC205", f"no such file: {path}", None)]) from None
    except IsADirectoryError:
        raise RpcError([Diagnostic.error("RPC205", f"{path} is a directory", None)]) from None
    except UnicodeDecodeError as exc:
        raise RpcError(
            [Diagnostic.error("RPC205", f"{path} is not UTF-8 text ({exc.reason})", None)]
        ) from None
    except OSError as exc:
        raise RpcError(
            [Diagnostic.error("RPC205", f"cannot read {path}: {exc.strerror}", None)]
        ) from None
