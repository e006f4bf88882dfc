"""Helpers for tests that feed Caddyfile text through the front end."""

from __future__ import annotations

import textwrap

import pytest

from rpc.compiler.errors import Diagnostic, RpcError
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpc.compiler.syntax import parse_text

__all__ = ["assert_syntax_error", "dedent", "front_end_error", "shapes"]


def dedent(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def shapes(text: str) -> list[object]:
    """The line tree of `text` without positions."""
    return [line.shape() for line in parse_text(text).lines]


def front_end_error(text: str, **kwargs: object) -> Diagnostic:
    """The first error the front end reports for `text`."""
    with pytest.raises(RpcError) as info:
        compile_caddyfile(text, stop_after=Stage.STRUCTURE, **kwargs)  # type: ignore[arg-type]
    return info.value.errors[0]


def assert_syntax_error(text: str, code: str, line: int, column: int) -> Diagnostic:
    """`text` fails in the front end with `code` at `line`:`column`."""
    diag = front_end_error(text)
    assert (diag.code, diag.span and diag.span.line, diag.span and diag.span.column) == (
        code,
        line,
        column,
    ), diag
    return diag
