"""In-process rigs for proxy tests: the real server stack on loopback around a route.

`serve(route)` runs a route behind rpc's own low-level server and
dispatcher (`make_server` + `Dispatcher`, as `main()` does) on a free
loopback port; `echo_app()` is an aiohttp backend that answers with a JSON
description of what it received (method, target, headers in order, body
size), which differential tests compare between caddy and rpc.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from typing import Any

from aiohttp import web

from rpc.runtime.app import ServerConfig
from rpc.runtime.dispatch import Dispatcher
from rpc.runtime.listeners import make_server

__all__ = ["echo_app", "serve"]


@contextlib.asynccontextmanager
async def serve(
    route: Any, *, trusted_proxies: Sequence[Any] = (), errors: Any = None
) -> AsyncIterator[int]:
    """Serve `route` on 127.0.0.1; yields the port."""
    config = ServerConfig(
        name="srv0",
        listen=(":0",),
        route=route,
        errors=errors,
        trusted_proxies=tuple(trusted_proxies),
    )
    server = make_server(config, Dispatcher(config))
    loop = asyncio.get_running_loop()
    srv = await loop.create_server(server, "127.0.0.1", 0)
    try:
        yield srv.sockets[0].getsockname()[1]
    finally:
        srv.close()
        await server.shutdown(1.0)
        await srv.wait_closed()


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    info = {
        "method": request.method,
        "target": request.raw_path,
        "headers": [[k.decode(), v.decode()] for k, v in request.raw_headers],
        "body_len": len(body),
        "body": body[:64].decode("latin-1"),
    }
    return web.json_response(info, headers={"X-Backend": request.app.get("name", "echo")})


def echo_app(name: str = "echo") -> web.Application:
    """An aiohttp app answering every request with what it received, as JSON."""
    app = web.Application()
    app["name"] = name
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


def received(text: str) -> dict[str, Any]:
    """Parse an echo reply; `headers` becomes a dict of lower-case name → list of values."""
    info: dict[str, Any] = json.loads(text)
    headers: dict[str, list[str]] = {}
    for key, value in info["headers"]:
        headers.setdefault(key.lower(), []).append(value)
    info["hdrs"] = headers
    return info
