"""`respond`, `redir`, `abort` and `error`: responses and errors made without a backend.

Ports of Caddy 2.11's `static_response` and `error` handlers
(`modules/caddyhttp/staticresp.go`, `staticerror.go`): placeholders in the
status and header values are replaced (unknown → empty), the body keeps
unknown placeholders, a JSON-looking body is served as `application/json`,
and inside `handle_errors` the default status is the error's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aiohttp import web

from rpc.runtime.context import Ctx
from rpc.runtime.errors import ClientGone, HandlerError
from rpc.runtime.placeholders import Template, render

__all__ = ["StaticError", "StaticResponse", "status_literal"]

Text = str | Template


class StaticResponse:
    """Write a fixed (templated) response; `abort` drops the connection instead."""

    __slots__ = ("abort", "body", "close", "headers", "origin", "status_code")

    def __init__(
        self,
        *,
        status_code: int | Text | None = None,
        headers: Sequence[tuple[Text, Sequence[Text]]] = (),
        body: Text | None = None,
        close: bool = False,
        abort: bool = False,
        origin: str = "",
    ) -> None:
        self.status_code = status_code
        self.headers = tuple((k, tuple(v)) for k, v in headers)
        self.body = body
        self.close = close
        self.abort = abort
        self.origin = origin

    async def __call__(self, ctx: Ctx) -> web.StreamResponse:
        if self.abort:
            transport = ctx.request.transport
            if transport is not None:
                transport.abort()
            raise ClientGone("aborted by the abort directive", origin=self.origin)
        out = ctx.resp_headers
        if self.close:
            out["Connection"] = "close"
        for field, values in self.headers:
            # Caddy assigns the header (replacing what earlier handlers set).
            name = render(field, ctx)
            out.popall(name, None)
            for v in values:
                out.add(name, render(v, ctx))
        body = render(self.body, ctx) if self.body is not None else ""
        if body and "Content-Type" not in out:
            out["Content-Type"] = _content_type(body)
        default = ctx.error.status if ctx.error is not None and ctx.error.status > 0 else 200
        status = _status(
            self.status_code,
            ctx,
            default,
            'strconv.Atoi: parsing "{}": invalid syntax',
            self.origin,
        )
        if not 100 <= status <= 999:
            # Go's WriteHeader panics on such a code and the connection is dropped.
            transport = ctx.request.transport
            if transport is not None:
                transport.abort()
            raise ClientGone(f"invalid status code {status}", origin=self.origin)
        resp = web.Response(status=status, body=body.encode() if body and status != 103 else None)
        if self.close:
            resp.force_close()
        return resp


class StaticError:
    """Fail the request with a status and message, for `handle_errors` to answer."""

    __slots__ = ("error", "origin", "status_code")

    def __init__(
        self,
        *,
        error: Text | None = None,
        status_code: int | Text | None = None,
        origin: str = "",
    ) -> None:
        self.error = error
        self.status_code = status_code
        self.origin = origin

    async def __call__(self, ctx: Ctx) -> web.StreamResponse:
        status = _status(
            self.status_code, ctx, 500, "parsing status code: {!r} is not a number", self.origin
        )
        message = render(self.error, ctx) if self.error is not None else ""
        raise HandlerError(status, message, origin=self.origin)


def _content_type(body: str) -> str:
    content = body.strip()
    if (
        len(content) > 2
        and (
            (content[0] == "{" and content[-1] == "}") or (content[0] == "[" and content[-1] == "]")
        )
        and _valid_json(content)
    ):
        return "application/json"
    return "text/plain; charset=utf-8"


def _valid_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def status_literal(text: str) -> int | None:
    """The status code when `text` is a constant Go's Atoi accepts (the compiler folds it)."""
    try:
        return _atoi(text)
    except ValueError:
        return None


def _atoi(text: str) -> int:
    """Go's strconv.Atoi: optional sign, ASCII digits only."""
    digits = text[1:] if text[:1] in "+-" else text
    if not digits or not digits.isascii() or not digits.isdigit():
        raise ValueError(text)
    return int(text)


def _status(code: int | Text | None, ctx: Ctx, default: int, error: str, origin: str) -> int:
    """A configured status: constant, or a placeholder text read as Go's Atoi (a 500 with
    Caddy's `error` wording, formatted with the text, when it is not a number)."""
    if isinstance(code, int):
        return code
    if code is None:
        return default
    text = render(code, ctx)
    try:
        return _atoi(text)
    except ValueError:
        raise HandlerError(500, error.format(text), origin=origin) from None
