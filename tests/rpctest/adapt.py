"""Run one case of Caddy's adapt corpus through rpc and classify the outcome.

Statuses follow shared/tools/run_adapt_corpus.py: PASS (JSON equal as data),
DIFF, ERR (rpc failed on a JSON case), PASS-ERR (error case, same meaning),
ERR-OTHER (error case, different error), NO-ERR (error case, rpc accepted it).
"Same meaning": rpc's message contains Caddy's (case-insensitive, without
Caddy's `parsing caddyfile tokens for 'x': ` prefix and `, at File:N` suffix),
or the case is listed in `EQUIVALENT_ERRORS` with the rpc code that says the same.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from rpc.compiler.caddyjson import to_caddy_json
from rpc.compiler.errors import Diagnostic, RpcError
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpctest.corpus import Case

__all__ = ["EQUIVALENT_ERRORS", "json_diff", "run_case"]

# Error cases where rpc's wording differs but its diagnostic means the same.
EQUIVALENT_ERRORS = {
    "heredoc_incomplete.caddyfiletest": "RPC103",
    "heredoc_mismatched_whitespace.caddyfiletest": "RPC103",
    "heredoc_invalid_marker.caddyfiletest": "RPC102",
    "heredoc_too_many_angle_brackets.caddyfiletest": "RPC102",
    "import_cycle.caddyfiletest": "RPC202",
}


def json_diff(a: Any, b: Any, path: str = "$", out: list[str] | None = None) -> list[str]:
    out = [] if out is None else out
    if len(out) >= 12:
        return out
    if type(a) is not type(b):
        out.append(f"{path}: expected {str(a)[:100]} got {str(b)[:100]}")
    elif isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                out.append(f"{path}.{k}: unexpected {str(b[k])[:100]}")
            elif k not in b:
                out.append(f"{path}.{k}: missing (expected {str(a[k])[:100]})")
            else:
                json_diff(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append(f"{path}: list length expected {len(a)} got {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            json_diff(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: expected {a!r} got {b!r}")
    return out


def _normalise(message: str) -> str:
    message = re.sub(r"^parsing caddyfile tokens for '[^']*': ", "", message)
    message = re.sub(r", at \S+:\d+( import chain.*)?$", "", message)
    message = re.sub(r"^Caddyfile:\d+: ", "", message)
    return message.lower().strip()


def _said(d: Diagnostic) -> str:
    """The message as Caddy words it: rpc puts Caddy's advice in the hint, Caddy appends it
    to the message (after a newline or " - ")."""
    if not d.hint:
        return d.message.lower()
    forms = (f"{d.message}\n{d.hint}", f"{d.message} - {d.hint}")
    return "\n".join(f.lower().rstrip(".") for f in forms)


def run_case(case: Case, workdir: Path) -> tuple[str, list[str]]:
    (workdir / "Caddyfile").write_text(case.caddyfile)
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        result = compile_caddyfile(case.caddyfile, "Caddyfile", stop_after=Stage.IR, environ={})
        got = to_caddy_json(result.ir)
    except RpcError as exc:
        errors = exc.errors
        if not case.expects_error:
            return "ERR", [f"{d.code} {d.span}: {d.message}" for d in errors[:3]]
        want = _normalise(case.expected)
        for d in errors:
            if want.rstrip(".") in _said(d) or EQUIVALENT_ERRORS.get(case.name) == d.code:
                return "PASS-ERR", []
        return "ERR-OTHER", [f"{d.code}: {d.message}" for d in errors[:3]]
    except Exception as exc:  # noqa: BLE001 - a crash is a result to report, not to hide
        return "CRASH", [f"{type(exc).__name__}: {exc}"]
    finally:
        os.chdir(cwd)
    if case.expects_error:
        return "NO-ERR", []
    want_json = case.expected_json()
    if got == want_json:
        return "PASS", []
    return "DIFF", json_diff(want_json, got)
