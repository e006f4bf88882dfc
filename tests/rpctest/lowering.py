"""One-line helpers for directive tests: adapt a snippet, pick out its handlers or errors."""

from __future__ import annotations

from typing import Any

import pytest

from rpc.compiler.errors import Diagnostic, RpcError
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpctest.oracle import rpc_adapt

__all__ = ["adapt_error", "handlers", "routes"]


def routes(body: str, *, site: str = ":8080") -> list[dict[str, Any]]:
    """The server routes of a one-site Caddyfile whose body is `body`."""
    cfg = rpc_adapt(f"{site} {{\n{body}\n}}\n")
    return cfg["apps"]["http"]["servers"]["srv0"].get("routes", [])  # type: ignore[no-any-return]


def handlers(body: str, *, site: str = ":8080") -> list[dict[str, Any]]:
    """All handlers of the site's routes, in order (nested subroutes flattened one level)."""
    out = []
    for route in routes(body, site=site):
        out.extend(route.get("handle", []))
    return out


def adapt_error(text: str) -> Diagnostic:
    """The first error rpc reports for `text` (the test fails if there is none)."""
    with pytest.raises(RpcError) as info:
        compile_caddyfile(text, "Caddyfile", stop_after=Stage.IR, environ={})
    return info.value.errors[0]
