"""Every case of Caddy's adapt corpus through syntax, expansion and structure.

Cases whose expected outcome is a syntax or expansion error must fail in the
front end with an error of the same meaning; every other case must get
through it (their directive-level meaning is tested by the adapt conformance).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rpc.compiler.errors import RpcError
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpctest.corpus import Case, cases, layout

# Expected errors that belong to the front end, with the rpc code that carries
# the same meaning (our message also contains Caddy's wording where it helps).
FRONT_END_ERRORS = {
    "directive_as_site_address.caddyfiletest": "RPC123",
    "duplicate_named_route_challenge.caddyfiletest": "RPC203",
    "heredoc_incomplete.caddyfiletest": "RPC103",
    "heredoc_invalid_marker.caddyfiletest": "RPC102",
    "heredoc_mismatched_whitespace.caddyfiletest": "RPC103",
    "heredoc_too_many_angle_brackets.caddyfiletest": "RPC102",
    "import_block_anonymous.caddyfiletest": "RPC206",
    "import_cycle.caddyfiletest": "RPC202",
    "matcher_outside_site_block.caddyfiletest": "RPC122",
    "site_address_invalid_port.caddyfiletest": "RPC124",
    "site_address_negative_port.caddyfiletest": "RPC124",
    "site_address_unsupported_scheme.caddyfiletest": "RPC124",
    "site_address_wss_invalid_port.caddyfiletest": "RPC124",
    "site_address_wss_scheme.caddyfiletest": "RPC124",
}

ALL = cases()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return layout(tmp_path_factory.mktemp("adapt"))


def run(case: Case, workdir: Path) -> None:
    path = workdir / "Caddyfile"
    path.write_text(case.caddyfile)
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        compile_caddyfile(case.caddyfile, "Caddyfile", stop_after=Stage.STRUCTURE, environ={})
    finally:
        os.chdir(cwd)


@pytest.mark.parametrize("case", ALL, ids=lambda c: c.name)
def test_front_end_accepts_or_rejects_like_caddy(case: Case, workdir: Path) -> None:
    code = FRONT_END_ERRORS.get(case.name)
    if code is None:
        run(case, workdir)
        return
    assert case.expects_error
    with pytest.raises(RpcError) as info:
        run(case, workdir)
    first = info.value.errors[0]
    assert first.code == code, first


def test_front_end_error_messages_keep_caddys_wording(workdir: Path) -> None:
    # Where Caddy's message is stable text, ours contains it (case-insensitive).
    same_words = [c for c in ALL if c.name in FRONT_END_ERRORS and "heredoc" not in c.name]
    for case in same_words:
        with pytest.raises(RpcError) as info:
            run(case, workdir)
        message = info.value.errors[0].message.lower()
        fragment = case.expected.lower().split(", at caddyfile")[0]
        fragment = fragment.removeprefix("caddyfile:1: ")
        assert fragment in message, (case.name, message)


def test_counts() -> None:
    errors = [c for c in ALL if c.expects_error]
    assert len(ALL) == 239
    assert len(errors) == 28
