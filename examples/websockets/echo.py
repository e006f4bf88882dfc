"""A WebSocket echo server on 127.0.0.1:9001 for the websockets example."""

from aiohttp import web


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == web.WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == web.WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


if __name__ == "__main__":
    app = web.Application()
    app.router.add_get("/{tail:.*}", echo)
    web.run_app(app, host="127.0.0.1", port=9001)
