"""Properties of the front end on arbitrary input: an rpc error or a tree, never a crash."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rpc.compiler.errors import RpcError
from rpc.compiler.pipeline import Stage, compile_caddyfile

# Caddyfile-ish fragments make the interesting paths (braces, heredocs, imports)
# far more likely than uniform text would.
FRAGMENTS = st.sampled_from(
    [
        "{",
        "}",
        "{}",
        "\n",
        " ",
        "\t",
        "\\",
        "\\\n",
        "#",
        '"',
        "`",
        "<<",
        "<<EOF\n",
        "EOF",
        "import",
        "import s",
        "(s)",
        "&(r)",
        "@m",
        "respond",
        "handle",
        "example.com",
        ":8080",
        "{$X}",
        "{$Y:d}",
        "{args[0]}",
        "{args[:]}",
        "{block}",
        "{blocks.k}",
        "a,",
        ",",
        "\r\n",
        "\ufeff",
        "é",
        "\x00",
    ]
)
TEXT = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(FRAGMENTS, st.text(max_size=5)), max_size=40).map("".join),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(TEXT)
def test_front_end_never_raises_anything_but_rpc_errors(text: str) -> None:
    try:
        result = compile_caddyfile(text, "fuzz.caddyfile", stop_after=Stage.STRUCTURE, environ={})
    except RpcError as exc:
        assert exc.errors, "an RpcError always carries at least one error"
        for diag in exc.errors:
            assert diag.code.startswith("RPC")
    else:
        assert result.document is not None
