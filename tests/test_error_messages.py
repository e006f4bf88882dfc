"""The rendered message of every front-end error code, one bad Caddyfile each.

`tests/cases/errors/rpcNNN_*.caddyfile` must produce a diagnostic with code
RPCNNN; the whole rendering (location, source line, caret, hint, import
chain) is snapshotted so wording changes are reviewed as diffs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rpc.compiler.errors import CODES, RpcError, render_all
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpc.compiler.source import SourceMap

HERE = Path(__file__).parent / "cases" / "errors"
CASES = sorted(HERE.glob("rpc*.caddyfile"))


def diagnose(path: Path) -> tuple[list[str], str]:
    sources = SourceMap()
    result = None
    try:
        result = compile_caddyfile(
            path.read_text(), path.name, stop_after=Stage.STRUCTURE, sources=sources, environ={}
        )
        diags = list(result.diagnostics)
    except RpcError as exc:
        diags = list(exc.diagnostics)
    return [d.code for d in diags], render_all(diags, sources)


@pytest.mark.parametrize("path", CASES, ids=lambda p: p.stem)
def test_error_case(path: Path, text_snapshot: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE)
    code = "RPC" + path.stem[3:6]
    codes, rendered = diagnose(path)
    assert code in codes
    assert "Traceback" not in rendered
    assert rendered == text_snapshot


def test_every_front_end_code_has_a_case() -> None:
    front_end = {c for c in CODES if c[3] in "12"}
    covered = {"RPC" + p.stem[3:6] for p in CASES}
    # RPC115 (a block where none may be) is reserved for the directive layer.
    assert front_end - covered <= {"RPC115"}
