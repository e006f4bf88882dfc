"""The reverse proxy handler in-process: streaming, pooling, retries, health, upgrades."""

from __future__ import annotations

import asyncio
import resource
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web

from rpc.runtime.context import Ctx
from rpc.runtime.health import PassiveHealth
from rpc.runtime.policies import First, RoundRobin
from rpc.runtime.proxy import REPLAY_LIMIT, CopyResponse, ResponseHandler, ReverseProxy
from rpc.runtime.respmatch import ResponseMatcher
from rpc.runtime.transport import Transport
from rpc.runtime.upstreams import reset_hosts
from rpctest.procs import free_port
from rpctest.proxyrig import serve

MiB = 1 << 20


@pytest.fixture(autouse=True)
def _fresh_hosts() -> None:
    reset_hosts()


def route_of(proxy: ReverseProxy) -> Any:
    async def route(ctx: Ctx) -> Any:
        return await proxy(ctx)

    return route


async def start_backend(aiohttp_server: Any, app: web.Application) -> str:
    server = await aiohttp_server(app)
    return f"127.0.0.1:{server.port}"


def peers_app() -> tuple[web.Application, list[int]]:
    """An app answering with its name; records the client port of every request."""
    ports: list[int] = []

    async def hello(request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        ports.append(peer[1] if peer else 0)
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_route("*", "/{t:.*}", hello)
    return app, ports


async def test_keepalive_reuses_one_upstream_connection(aiohttp_server: Any) -> None:
    app, ports = peers_app()
    up = await start_backend(aiohttp_server, app)
    async with serve(route_of(ReverseProxy(upstreams=(up,)))) as port, aiohttp.ClientSession() as s:
        for _ in range(5):
            async with s.get(f"http://127.0.0.1:{port}/x") as r:
                assert await r.text() == "hello"
    assert len(ports) == 5 and len(set(ports)) == 1


async def test_large_bodies_stream_both_ways_in_bounded_memory(aiohttp_server: Any) -> None:
    size = 256 * MiB
    received = []

    async def sink(request: web.Request) -> web.StreamResponse:
        total = 0
        async for chunk in request.content.iter_any():
            total += len(chunk)
        received.append(total)
        resp = web.StreamResponse()
        resp.content_length = size
        await resp.prepare(request)
        block = b"y" * (256 * 1024)
        for _ in range(size // len(block)):
            await resp.write(block)
        return resp

    app = web.Application(client_max_size=size * 2)
    app.router.add_post("/up", sink)
    up = await start_backend(aiohttp_server, app)

    async def payload() -> AsyncIterator[bytes]:
        block = b"x" * (256 * 1024)
        for _ in range(size // len(block)):
            yield block

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    async with serve(route_of(ReverseProxy(upstreams=(up,)))) as port, aiohttp.ClientSession() as s:  # noqa: SIM117
        async with s.post(f"http://127.0.0.1:{port}/up", data=payload()) as r:
            assert r.status == 200
            got = 0
            async for chunk in r.content.iter_any():
                got += len(chunk)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert received == [size] and got == size
    # Client, proxy and backend share this process: 256 MiB went through each
    # direction, but the peak grew by far less than one body.
    assert (after - before) * 1024 < 64 * MiB


async def test_failover_to_a_healthy_upstream_with_passive_health(aiohttp_server: Any) -> None:
    app, ports = peers_app()
    alive = await start_backend(aiohttp_server, app)
    dead = f"127.0.0.1:{free_port()}"
    proxy = ReverseProxy(
        upstreams=(dead, alive),
        selection_policy=First(),
        retries=1,
        passive_health=PassiveHealth(fail_duration=30.0),
    )
    async with serve(route_of(proxy)) as port, aiohttp.ClientSession() as s:
        for _ in range(3):
            async with s.get(f"http://127.0.0.1:{port}/") as r:
                assert r.status == 200
    assert len(ports) == 3
    # The dead one failed once and is now skipped without a dial.
    assert proxy.upstreams[0].host.fails == 1
    assert not proxy.upstreams[0].healthy()


async def test_error_statuses(aiohttp_server: Any) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(text="late")

    app = web.Application()
    app.router.add_get("/", slow)
    up = await start_backend(aiohttp_server, app)
    cases = {
        "/dead": ReverseProxy(upstreams=(f"127.0.0.1:{free_port()}",)),
        "/none": ReverseProxy(),
        "/slow": ReverseProxy(upstreams=(up,), transport=Transport(response_header_timeout=0.2)),
    }

    async def route(ctx: Ctx) -> Any:
        ctx.raw_path = "/"
        return await cases[ctx.path](ctx)

    async with serve(route) as port, aiohttp.ClientSession() as s:
        for path, status in (("/dead", 502), ("/none", 503), ("/slow", 504)):
            async with s.get(f"http://127.0.0.1:{port}{path}") as r:
                assert r.status == status, path
                assert await r.read() == b""


async def test_post_is_not_retried_after_the_upstream_got_it(aiohttp_server: Any) -> None:
    hits = []

    async def reset(request: web.Request) -> web.Response:
        hits.append(await request.read())
        assert request.transport is not None
        request.transport.abort()
        return web.Response()

    app = web.Application()
    app.router.add_route("*", "/", reset)
    up = await start_backend(aiohttp_server, app)
    proxy = ReverseProxy(upstreams=(up,), retries=3)
    async with serve(route_of(proxy)) as port, aiohttp.ClientSession() as s:
        async with s.post(f"http://127.0.0.1:{port}/", data=b"once") as r:
            assert r.status == 502
        assert hits == [b"once"]
        hits.clear()
        async with s.get(f"http://127.0.0.1:{port}/") as r:
            assert r.status == 502
        assert len(hits) == 4  # GET: the first try and three retries


async def test_retry_replays_the_request_body(aiohttp_server: Any) -> None:
    bodies: list[bytes] = []
    calls = 0

    async def flaky(request: web.Request) -> web.Response:
        nonlocal calls
        calls += 1
        body = await request.read()
        bodies.append(body)
        if calls == 1:
            assert request.transport is not None
            request.transport.abort()
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_route("*", "/", flaky)
    up = await start_backend(aiohttp_server, app)
    proxy = ReverseProxy(upstreams=(up,), retries=1, retry_match=(lambda ctx: True,))
    async with serve(route_of(proxy)) as port, aiohttp.ClientSession() as s:
        async with s.put(f"http://127.0.0.1:{port}/", data=b"payload" * 100) as r:
            assert r.status == 200
        assert bodies == [b"payload" * 100] * 2
        # Past the replay buffer the body cannot be sent again: no retry.
        calls = 0
        bodies.clear()
        big = b"z" * (REPLAY_LIMIT * 4)
        async with s.put(f"http://127.0.0.1:{port}/", data=big) as r:
            assert r.status == 502
        assert bodies == [big]


async def test_client_gone_releases_the_upstream(aiohttp_server: Any) -> None:
    started = asyncio.Event()

    async def hang(request: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(30)
        return web.Response()

    app = web.Application()
    app.router.add_get("/", hang)
    up = await start_backend(aiohttp_server, app)
    proxy = ReverseProxy(upstreams=(up,))
    async with serve(route_of(proxy)) as port:
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.wait_for(started.wait(), 10)
        assert proxy.upstreams[0].host.num_requests == 1
        writer.close()
        for _ in range(200):
            if proxy.upstreams[0].host.num_requests == 0:
                break
            await asyncio.sleep(0.02)
        assert proxy.upstreams[0].host.num_requests == 0
        assert proxy.upstreams[0].host.fails == 0


async def test_round_robin_alternates(aiohttp_server: Any) -> None:
    names = []
    ups = []
    for name in ("a", "b"):

        async def hello(request: web.Request, name: str = name) -> web.Response:
            names.append(name)
            return web.Response(text=name)

        app = web.Application()
        app.router.add_get("/", hello)
        ups.append(await start_backend(aiohttp_server, app))
    proxy = ReverseProxy(upstreams=tuple(ups), selection_policy=RoundRobin())
    async with serve(route_of(proxy)) as port, aiohttp.ClientSession() as s:
        for _ in range(4):
            async with s.get(f"http://127.0.0.1:{port}/") as r:
                await r.read()
    assert names == ["b", "a", "b", "a"]


async def test_handle_response_routes_and_fall_through(aiohttp_server: Any) -> None:
    async def status(request: web.Request) -> web.Response:
        return web.Response(status=int(request.query["s"]), text="from upstream")

    app = web.Application()
    app.router.add_get("/", status)
    up = await start_backend(aiohttp_server, app)

    async def nothing(ctx: Ctx) -> Any:
        ctx.vars["saw"] = ctx.extra["http.reverse_proxy.status_code"]
        return None

    copy = CopyResponse(status_code=202)

    proxy = ReverseProxy(
        upstreams=(up,),
        handle_response=(
            ResponseHandler(match=ResponseMatcher(status_code=(404,)), routes=copy),
            ResponseHandler(match=ResponseMatcher(status_code=(204,)), routes=nothing),
            ResponseHandler(match=ResponseMatcher(status_code=(418,)), status_code=200),
        ),
    )

    async def route(ctx: Ctx) -> Any:
        reply = await proxy(ctx)
        if reply is not None:
            return reply
        return web.Response(text=f"next handler saw {ctx.vars['saw']}")

    async with serve(route) as port, aiohttp.ClientSession() as s:
        async with s.get(f"http://127.0.0.1:{port}/?s=404") as r:
            assert (r.status, await r.text()) == (202, "from upstream")
        async with s.get(f"http://127.0.0.1:{port}/?s=204") as r:
            assert (r.status, await r.text()) == (200, "next handler saw 204")
        async with s.get(f"http://127.0.0.1:{port}/?s=418") as r:
            assert (r.status, await r.text()) == (200, "from upstream")


async def test_sse_events_are_flushed_one_by_one(aiohttp_server: Any) -> None:
    release = asyncio.Event()

    async def sse(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        resp.content_length = 1000  # known length: still flushed, as text/event-stream
        await resp.prepare(request)
        await resp.write(b"data: first\n\n")
        await release.wait()
        await resp.write(b"x" * (1000 - 13))
        return resp

    app = web.Application()
    app.router.add_get("/", sse)
    up = await start_backend(aiohttp_server, app)
    async with serve(route_of(ReverseProxy(upstreams=(up,)))) as port, aiohttp.ClientSession() as s:  # noqa: SIM117
        async with s.get(f"http://127.0.0.1:{port}/") as r:
            # The first event arrives while the upstream still holds the rest back.
            first = await asyncio.wait_for(r.content.readuntil(b"\n\n"), 10)
            assert first == b"data: first\n\n"
            release.set()
            assert len(await r.read()) == 1000 - 13


async def test_websocket_echo_and_close_code(aiohttp_server: Any) -> None:
    async def ws(request: web.Request) -> web.WebSocketResponse:
        sock = web.WebSocketResponse()
        await sock.prepare(request)
        async for msg in sock:
            if msg.type == WSMsgType.TEXT:
                if msg.data == "bye":
                    await sock.close(code=4001, message=b"done")
                    break
                await sock.send_str("echo:" + msg.data)
            elif msg.type == WSMsgType.BINARY:
                await sock.send_bytes(msg.data[::-1])
        return sock

    app = web.Application()
    app.router.add_get("/ws", ws)
    up = await start_backend(aiohttp_server, app)
    async with serve(route_of(ReverseProxy(upstreams=(up,)))) as port, aiohttp.ClientSession() as s:  # noqa: SIM117
        async with s.ws_connect(f"http://127.0.0.1:{port}/ws") as sock:
            await sock.send_str("hi")
            assert (await asyncio.wait_for(sock.receive(), 10)).data == "echo:hi"
            await sock.send_bytes(b"\x01\x02" * 50000)
            msg = await asyncio.wait_for(sock.receive(), 10)
            assert msg.data == (b"\x01\x02" * 50000)[::-1]
            await sock.send_str("bye")
            msg = await asyncio.wait_for(sock.receive(), 10)
            assert msg.type == WSMsgType.CLOSE and msg.data == 4001


async def test_placeholder_and_dynamic_upstreams_are_resolved_per_request(
    aiohttp_server: Any,
) -> None:
    from rpc.runtime.placeholders import Placeholder, Template
    from rpc.runtime.upstreams import Upstream

    ups = []
    for name in ("a", "b"):

        async def hello(request: web.Request, name: str = name) -> web.Response:
            return web.Response(text=name)

        app = web.Application()
        app.router.add_get("/", hello)
        ups.append(await start_backend(aiohttp_server, app))
    shard = ReverseProxy(upstreams=(Template((Placeholder("http.vars.shard"),)),))

    class Source:
        fail = False

        async def get_upstreams(self, ctx: Ctx) -> list[Upstream]:
            if self.fail:
                raise OSError("lookup failed")
            return [Upstream(ups[1], dynamic=True)]

        def reset(self) -> None:
            pass

    source = Source()
    dynamic = ReverseProxy(upstreams=(ups[0],), dynamic_upstreams=source)  # type: ignore[arg-type]

    async def route(ctx: Ctx) -> Any:
        if ctx.path == "/dynamic":
            ctx.raw_path = "/"
            return await dynamic(ctx)
        ctx.vars["shard"] = ups[int(ctx.query)]
        return await shard(ctx)

    async with serve(route) as port, aiohttp.ClientSession() as s:
        for q, want in (("0", "a"), ("1", "b"), ("0", "a")):
            async with s.get(f"http://127.0.0.1:{port}/?{q}") as r:
                assert await r.text() == want
        async with s.get(f"http://127.0.0.1:{port}/dynamic") as r:
            assert await r.text() == "b"
        source.fail = True  # a failing source falls back to the static upstreams
        async with s.get(f"http://127.0.0.1:{port}/dynamic") as r:
            assert await r.text() == "a"


async def test_try_duration_keeps_trying_until_an_upstream_is_back(aiohttp_server: Any) -> None:
    port_up = free_port()
    dead = ReverseProxy(upstreams=(f"127.0.0.1:{port_up}",), try_duration=10.0, try_interval=0.05)
    runner: web.AppRunner | None = None

    async def revive() -> None:
        nonlocal runner
        await asyncio.sleep(0.3)

        async def back(request: web.Request) -> web.Response:
            return web.Response(text="back")

        app = web.Application()
        app.router.add_get("/", back)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port_up).start()

    async with serve(route_of(dead)) as port, aiohttp.ClientSession() as s:
        task = asyncio.ensure_future(revive())
        async with s.get(f"http://127.0.0.1:{port}/") as r:
            assert (r.status, await r.text()) == (200, "back")
        await task
    assert runner is not None
    await runner.cleanup()
