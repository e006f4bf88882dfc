"""A loopback backend for proxy tests, run as its own process: `python backend.py PORT [NAME]`.

Every path echoes what arrived as JSON (method, target, headers in order,
body size) except: `/status/N` (that status, with hop-by-hop and custom
headers), `/plain` (a body without Content-Type), `/gzip` (gzipped when accepted), `/sse` (three events,
50 ms apart), `/slow` (answers after 2 s), `/big?n=BYTES` (a chunked body of
that size), `/ws` (a WebSocket echo that closes with code 4001 on "bye").
`python backend.py PORT NAME CERT KEY` serves HTTPS.
"""

from __future__ import annotations

import asyncio
import json
import sys

from aiohttp import WSMsgType, web


async def echo(request: web.Request) -> web.StreamResponse:
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
    info = {
        "method": request.method,
        "target": request.raw_path,
        "headers": [[k.decode(), v.decode()] for k, v in request.raw_headers],
        "body_len": size,
        "backend": request.app["name"],
    }
    return web.json_response(info, headers={"X-Backend": request.app["name"]})


async def status(request: web.Request) -> web.Response:
    code = int(request.match_info["code"])
    resp = web.Response(status=code, text=f"status {code}")
    resp.headers["X-Hop"] = "drop-me"
    resp.headers["Connection"] = "X-Hop"
    resp.headers["X-Keep"] = "keep"
    resp.headers["X-Multi"] = "a"
    resp.headers.add("X-Multi", "b")
    return resp


async def plain(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse()
    resp.content_length = 11
    await resp.prepare(request)
    await resp.write(b"plain text\n")
    return resp


async def gz(request: web.Request) -> web.Response:
    import gzip

    text = b"squeeze me " * 200
    if "gzip" in request.headers.get("Accept-Encoding", ""):
        resp = web.Response(body=gzip.compress(text), content_type="text/plain")
        resp.headers["Content-Encoding"] = "gzip"
        return resp
    return web.Response(body=text, content_type="text/plain")


async def sse(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for i in range(3):
        await resp.write(f"data: {i}\n\n".encode())
        await asyncio.sleep(0.05)
    return resp


async def slow(request: web.Request) -> web.Response:
    await asyncio.sleep(2)
    return web.Response(text="slow")


async def big(request: web.Request) -> web.StreamResponse:
    n = int(request.query.get("n", "1048576"))
    resp = web.StreamResponse()
    resp.content_type = "application/octet-stream"
    await resp.prepare(request)
    block = b"x" * 65536
    while n > 0:
        await resp.write(block[: min(n, len(block))])
        n -= len(block)
    return resp


async def ws(request: web.Request) -> web.WebSocketResponse:
    sock = web.WebSocketResponse()
    await sock.prepare(request)
    async for msg in sock:
        if msg.type == WSMsgType.TEXT:
            if msg.data == "bye":
                await sock.close(code=4001, message=b"bye")
                break
            await sock.send_str("echo:" + msg.data)
        elif msg.type == WSMsgType.BINARY:
            await sock.send_bytes(msg.data)
    return sock


def make_app(name: str) -> web.Application:
    app = web.Application(client_max_size=1 << 40)
    app["name"] = name
    app.router.add_route("*", "/status/{code}", status)
    app.router.add_get("/plain", plain)
    app.router.add_get("/sse", sse)
    app.router.add_get("/gzip", gz)
    app.router.add_get("/slow", slow)
    app.router.add_get("/big", big)
    app.router.add_get("/ws", ws)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


def received(body: bytes) -> dict[str, object]:
    """An echo reply with `hdrs`: lower-case header name → its values."""
    info: dict[str, object] = json.loads(body)
    hdrs: dict[str, list[str]] = {}
    for key, value in info["headers"]:  # type: ignore[union-attr]
        hdrs.setdefault(key.lower(), []).append(value)
    info["hdrs"] = hdrs
    return info


if __name__ == "__main__":
    import ssl

    ssl_ctx = None
    if len(sys.argv) > 4:  # PORT NAME CERT KEY: serve HTTPS
        ssl_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    web.run_app(
        make_app(sys.argv[2] if len(sys.argv) > 2 else "b0"),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        print=None,
        access_log=None,
        ssl_context=ssl_ctx,
    )
