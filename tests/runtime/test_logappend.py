"""LogAppend: fields for the access log entry, late by default, typed for one placeholder."""

from __future__ import annotations

from rpc.runtime.accesslog import _late_value
from rpctest.handlers import mock_ctx, site_handlers


async def test_late_value_reads_the_final_request_state() -> None:
    append, rewrite = site_handlers("\tlog_append path {path}\n\trewrite * /after")
    ctx = mock_ctx("/before")
    await append(ctx)
    await rewrite(ctx)
    assert _late_value(ctx, ctx.log_fields["path"]) == "/after"


async def test_early_value_and_typed_single_placeholder() -> None:
    # What caddy 2.11 logs for these lines: typed single placeholders, other text verbatim.
    handlers = site_handlers(
        "\tlog_append <path {path}\n\tlog_append n {vars.n}\n"
        "\tlog_append t a-{vars.n}-{nope}\n\tlog_append u {nope}"
    )
    ctx = mock_ctx("/before")
    for h in handlers:
        await h(ctx)
    ctx.path = "/after"
    ctx.vars["n"] = 42
    values = {k: _late_value(ctx, v) for k, v in ctx.log_fields.items()}
    assert values == {"path": "/before", "n": 42, "t": "a-{http.vars.n}-{nope}", "u": None}
