#!/usr/bin/env python3
"""Naive aiohttp reverse proxy: the "what a Python dev would write by hand" baseline.

aiohttp.web server + one shared aiohttp.ClientSession (default connector, keep-alive),
request and response bodies streamed. No access log. Round-robin if several
--upstream are given.  Usage:
  naive_aiohttp_proxy.py --port 8085 --upstream http://127.0.0.1:9001 [--uvloop]
"""

import argparse
import asyncio
import itertools
import sys

import aiohttp
from aiohttp import web

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
}


def filter_headers(headers, drop=()):
    return [
        (k, v) for k, v in headers.items() if k.lower() not in HOP_BY_HOP and k.lower() not in drop
    ]


def make_app(upstreams):
    rr = itertools.cycle(upstreams)

    async def session_ctx(app):
        app["session"] = aiohttp.ClientSession(auto_decompress=False)
        yield
        await app["session"].close()

    async def handler(request: web.Request) -> web.StreamResponse:
        url = next(rr) + request.rel_url.raw_path_qs
        async with request.app["session"].request(
            request.method,
            url,
            headers=filter_headers(request.headers, drop=("host",)),
            data=request.content if request.body_exists else None,
            allow_redirects=False,
        ) as up:
            resp = web.StreamResponse(status=up.status, reason=up.reason)
            for k, v in filter_headers(up.headers):
                resp.headers.add(k, v)
            await resp.prepare(request)
            async for chunk in up.content.iter_chunked(65536):
                await resp.write(chunk)
            await resp.write_eof()
            return resp

    app = web.Application()
    app.cleanup_ctx.append(session_ctx)
    app.router.add_route("*", "/{tail:.*}", handler)
    return app


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--upstream", action="append", required=True)
    ap.add_argument("--uvloop", action="store_true")
    a = ap.parse_args()
    if a.uvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    loop = asyncio.new_event_loop()
    print(
        f"naive_aiohttp_proxy: loop={type(loop).__module__}.{type(loop).__name__} "
        f"aiohttp={aiohttp.__version__}",
        file=sys.stderr,
        flush=True,
    )
    web.run_app(
        make_app([u.rstrip("/") for u in a.upstream]),
        host=a.host,
        port=a.port,
        access_log=None,
        print=None,
        loop=loop,
    )


if __name__ == "__main__":
    main()
