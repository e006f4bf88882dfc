"""Protocol upgrades through the proxy (WebSocket and any other `Upgrade`).

Input: a client request that asked for an upgrade and the upstream's 101
response; output: the 101 written to the client and the two connections
joined byte for byte until either side closes (so WebSocket frames, pings
and close codes pass through untouched). As Caddy's `handleUpgradeResponse`:
the upstream must switch to the protocol that was asked for, the 101 carries
the upstream's headers as sent, bytes already buffered on either side are
forwarded first, and `stream_timeout` closes the tunnel when it expires.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import CIMultiDict

from rpc.runtime.context import Ctx
from rpc.runtime.errors import HandlerError
from rpc.runtime.forwarding import upgrade_type
from rpc.runtime.headers import canonical_key

if TYPE_CHECKING:
    from rpc.runtime.proxy import ReverseProxy
    from rpc.runtime.transport import UpstreamResponse, _Conn

__all__ = ["switch_protocols"]

# Header names Caddy rewrites to the casing browsers and servers expect.
_WS_NAMES = {
    "Sec-Websocket-Key": "Sec-WebSocket-Key",
    "Sec-Websocket-Accept": "Sec-WebSocket-Accept",
    "Sec-Websocket-Version": "Sec-WebSocket-Version",
    "Sec-Websocket-Protocol": "Sec-WebSocket-Protocol",
    "Sec-Websocket-Extensions": "Sec-WebSocket-Extensions",
}


class _ToUpstream:
    """Stands in for aiohttp's payload parser: client bytes go straight upstream."""

    __slots__ = ("client", "conn", "done", "pending")

    def __init__(self, conn: _Conn, client: asyncio.Transport, done: asyncio.Future[None]) -> None:
        self.conn = conn
        self.client = client
        self.done = done
        self.pending: asyncio.Task[None] | None = None

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        try:
            self.conn.write(data)
        except ConnectionError:
            _finish(self.done)
            return False, b""
        if self.conn._write_paused and self.pending is None:
            # Upstream is slow: stop reading the client until it drained.
            self.client.pause_reading()
            self.pending = asyncio.ensure_future(self._resume())
        return False, b""

    async def _resume(self) -> None:
        try:
            await self.conn.drain(None)
        except ConnectionError:
            _finish(self.done)
        finally:
            self.pending = None
            if not self.client.is_closing():
                self.client.resume_reading()

    def feed_eof(self) -> None:
        _finish(self.done)


def _finish(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


async def switch_protocols(
    ctx: Ctx, proxy: ReverseProxy, up: UpstreamResponse, requested: str
) -> web.StreamResponse:
    """Write the 101 and shuttle bytes both ways until one side closes."""
    offered = upgrade_type(CIMultiDict(up.headers))
    if not offered.isprintable() or offered.lower() != requested.lower():
        raise HandlerError(
            502,
            f"backend tried to switch to protocol {offered!r} when {requested!r} was requested",
            origin=proxy.origin,
        )
    request = ctx.request
    client = request.transport
    protocol: Any = request.protocol
    if client is None or protocol is None:
        raise HandlerError(502, "client connection cannot be upgraded", origin=proxy.origin)
    resp = web.StreamResponse(status=101)
    for key, value in up.headers:
        name = canonical_key(key)
        resp.headers.add(_WS_NAMES.get(name, name), value)
    resp.force_close()
    await ctx.prepare(resp)
    transport, leftover, conn = up.detach()
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    pipe = _ToUpstream(conn, client, done)
    protocol.set_parser(pipe)
    pump = asyncio.ensure_future(_to_client(conn, resp, leftover, done))
    timer = None
    if proxy.stream_timeout:
        timer = loop.call_later(proxy.stream_timeout, _finish, done)
    try:
        await done
    finally:
        if timer is not None:
            timer.cancel()
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
        if pipe.pending is not None:
            pipe.pending.cancel()
        conn.close()
        transport.close()
        client.close()
    return resp


async def _to_client(
    conn: _Conn, resp: web.StreamResponse, leftover: bytes, done: asyncio.Future[None]
) -> None:
    try:
        if leftover:
            await resp.write(leftover)
        while True:
            if not conn.buf:
                if conn.eof:
                    break
                await conn.wait_data(None)
                continue
            await resp.write(conn.take(64 * 1024))
    except (ConnectionError, OSError):
        pass
    finally:
        _finish(done)
