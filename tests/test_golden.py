"""Golden cases: tests/cases/*.caddyfile through the whole pipeline.

For each case the IR dump is snapshotted (reviewed as a diff when it
changes), and `rpc adapt` equals what the real caddy produces for it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rpc.compiler.caddyjson import dump_ir
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpctest.oracle import assert_same_as_caddy

CASES = sorted((Path(__file__).parent / "cases").glob("*.caddyfile"))


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_ir_snapshot(path: Path, text_snapshot: object) -> None:
    result = compile_caddyfile(path.read_text(), path.name, stop_after=Stage.CHECK, environ={})
    assert [d.code for d in result.diagnostics if d.is_error] == []
    assert json.dumps(dump_ir(result.ir), indent=1, sort_keys=True) == text_snapshot


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_adapt_equals_caddy(path: Path, caddy: str) -> None:
    assert_same_as_caddy(path.read_text())


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_module_snapshot(path: Path, text_snapshot: object) -> None:
    """The generated module itself: a change in code generation shows up as a reviewed diff."""
    result = compile_caddyfile(path.read_text(), path.name, environ={})
    assert [d.code for d in result.diagnostics if d.is_error] == []
    assert result.python is not None
    compile(result.python, path.name, "exec")  # a module Python accepts
    assert result.python == text_snapshot
