"""RequestBody: `max_size` fails readers with 413 past the limit, `set` replaces the body."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from rpc.runtime.context import Ctx
from rpc.runtime.errors import HandlerError
from rpc.runtime.requestbody import RequestBody


def _app(handler: RequestBody, read: str) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        ctx = Ctx(request)
        await handler(ctx)
        try:
            if read == "read":
                data = await ctx.request.content.read()
            elif read == "chunks":
                data = b"".join([c async for c in ctx.request.content.iter_chunked(3)])
            else:
                data = b""
        except HandlerError as exc:
            return web.Response(status=exc.status, text=exc.message)
        return web.Response(text=f"{len(data)}:{ctx.headers.get('Content-Length')}:{data!r}")

    app = web.Application()
    app.router.add_route("*", "/", handle)
    return app


async def test_body_within_limit_passes(aiohttp_client: Any) -> None:
    client = await aiohttp_client(_app(RequestBody(max_size=10), "read"))
    resp = await client.post("/", data=b"0123456789")
    assert (resp.status, await resp.text()) == (200, "10:10:b'0123456789'")


async def test_body_over_limit_is_413_when_read(aiohttp_client: Any) -> None:
    for mode in ("read", "chunks"):
        client = await aiohttp_client(_app(RequestBody(max_size=10), mode))
        resp = await client.post("/", data=b"x" * 11)
        assert (resp.status, await resp.text()) == (413, "http: request body too large")


async def test_chunked_body_over_limit_is_413(aiohttp_client: Any) -> None:
    async def gen() -> Any:
        for _ in range(5):
            yield b"x" * 4

    client = await aiohttp_client(_app(RequestBody(max_size=10), "read"))
    resp = await client.post("/", data=gen())
    assert resp.status == 413


async def test_unread_body_is_not_checked(aiohttp_client: Any) -> None:
    client = await aiohttp_client(_app(RequestBody(max_size=2), "none"))
    resp = await client.post("/", data=b"x" * 100)
    assert resp.status == 200


async def test_set_replaces_body_and_length(aiohttp_client: Any) -> None:
    client = await aiohttp_client(_app(RequestBody(set="new body"), "read"))
    resp = await client.post("/", data=b"old")
    assert await resp.text() == "8:8:b'new body'"
    client = await aiohttp_client(_app(RequestBody(set="new body", max_size=4), "read"))
    resp = await client.post("/", data=b"old")
    assert resp.status == 413


async def test_requests_without_body(aiohttp_client: Any) -> None:
    client = await aiohttp_client(_app(RequestBody(max_size=10), "read"))
    resp = await client.get("/")
    assert (resp.status, await resp.text()) == (200, "0:None:b''")
    client = await aiohttp_client(_app(RequestBody(set="x"), "read"))
    resp = await client.get("/")
    assert (resp.status, await resp.text()) == (200, "1:1:b'x'")
