"""Recording what a request does, for modules compiled in trace mode (`rpc explain`, `rpc test`).

In trace mode the compiler wraps every route's matcher check in
`trace.match(ctx, k, sets)` and every handler call in
`trace.handler(ctx, k, handler)`; the code is otherwise the same the
proxy runs. With a `Recorder` in `ctx.extra["_trace"]` the wrappers record
each matcher result and each handler's outcome; handlers that would reach
the network (`stubbed` numbers) are not called: the recorder answers for them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from rpc.runtime.context import Ctx
from rpc.runtime.errors import HandlerError
from rpc.runtime.typedefs import Reply

__all__ = ["Event", "Recorder", "handler", "match"]

KEY = "_trace"


@dataclass
class Event:
    """One step: a route's matchers evaluated, or a handler run (or stubbed)."""

    kind: str  # "match" | "handler" | "stub" | "error"
    k: int  # index into the compiler's trace table
    matched: bool = False
    sets: list[list[bool]] = field(default_factory=list)  # per set, per matcher evaluated
    status: int | None = None
    uri_before: str = ""
    uri_after: str = ""
    method_before: str = ""
    method_after: str = ""
    error: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Recorder:
    """The events of one request; `stubbed` handler numbers are answered without running."""

    stubbed: frozenset[int] = frozenset()
    events: list[Event] = field(default_factory=list)
    stub: Callable[[Ctx, int, Any], Reply] | None = None


def match(ctx: Ctx, k: int, sets: Sequence[Sequence[Callable[[], bool]]]) -> bool:
    """Caddy's route match (any set whose matchers all match), recording each result."""
    rec: Recorder | None = ctx.extra.get(KEY)
    results: list[list[bool]] = []
    matched = False
    for matchers in sets:
        row: list[bool] = []
        results.append(row)
        for check in matchers:
            ok = bool(check())
            row.append(ok)
            if not ok:
                break
        else:
            matched = True
            break
    if rec is not None:
        rec.events.append(Event("match", k, matched=matched, sets=results))
    return matched


async def handler(ctx: Ctx, k: int, h: Callable[[Ctx], Any]) -> Reply:
    """Run handler `h` (or let the recorder answer for it), recording what it did."""
    rec: Recorder | None = ctx.extra.get(KEY)
    if rec is None:
        return await h(ctx)  # type: ignore[no-any-return]
    event = Event("handler", k, uri_before=ctx.uri, method_before=ctx.method)
    rec.events.append(event)
    if k in rec.stubbed and rec.stub is not None:
        event.kind = "stub"
        reply = rec.stub(ctx, k, h)
    else:
        try:
            reply = await h(ctx)
        except HandlerError as err:
            event.kind = "error"
            event.status = err.status
            event.error = err.message
            raise
    event.uri_after, event.method_after = ctx.uri, ctx.method
    if isinstance(reply, web.StreamResponse):
        event.status = reply.status
    return reply
