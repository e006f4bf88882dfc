"""Two shard backends on loopback: us-east-1 on :9001, europe-west-2 on :9002.

Each answers every request with its shard name in `X-Shard` and says which
customer the proxy told it about (`X-Customer`).
"""

import asyncio

from aiohttp import web

SHARDS = {"us-east-1": 9001, "europe-west-2": 9002}


def app_for(shard: str) -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        customer = request.headers.get("X-Customer", "?")
        return web.Response(text=f"{shard} serves {customer}\n", headers={"X-Shard": shard})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def main() -> None:
    for shard, port in SHARDS.items():
        runner = web.AppRunner(app_for(shard))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print(f"{shard} on 127.0.0.1:{port}")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
