"""The admin endpoint, on its own and side by side with caddy's admin API."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest

from rpc.runtime.admin import AdminServer, upstreams_json
from rpc.runtime.upstreams import Upstream, reset_hosts
from rpctest import procs


@pytest.fixture(autouse=True)
def _fresh_hosts() -> Iterator[None]:
    reset_hosts()
    yield
    reset_hosts()


@pytest.fixture
async def admin() -> AsyncIterator[AdminServer]:
    server = AdminServer("127.0.0.1", 0)
    await server.start()
    yield server
    await server.stop()


async def ask(
    port: int, method: str = "GET", path: str = "/reverse_proxy/upstreams", **headers: str
) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as client,
        client.request(method, f"http://127.0.0.1:{port}{path}", headers=headers) as resp,
    ):
        return resp.status, resp.headers.get("Content-Type", ""), await resp.text()


def test_upstreams_json_lists_static_then_dynamic_hosts() -> None:
    busy = Upstream("10.0.0.1:80")
    busy.host.num_requests = 2
    busy.host.fails = 1
    Upstream("10.0.0.1:80")  # same address: one entry
    Upstream("10.0.0.9:8080", dynamic=True)
    assert upstreams_json() == (
        '[{"address":"10.0.0.1:80","num_requests":2,"fails":1},'
        '{"address":"10.0.0.9:8080","num_requests":0,"fails":0}]\n'
    )


def test_admin_listens_on_loopback_only() -> None:
    with pytest.raises(ValueError, match="loopback"):
        AdminServer("0.0.0.0", 2019)
    AdminServer("::1", 2019)
    AdminServer("localhost", 2019)


async def test_admin_endpoint_answers_get(admin: AdminServer) -> None:
    Upstream("127.0.0.1:9")
    status, ctype, body = await ask(admin.port)
    assert (status, ctype) == (200, "application/json")
    assert json.loads(body) == [{"address": "127.0.0.1:9", "num_requests": 0, "fails": 0}]
    for host in (f"localhost:{admin.port}", f"[::1]:{admin.port}"):
        assert (await ask(admin.port, Host=host))[0] == 200


async def test_admin_refuses_foreign_hosts_and_origins(admin: AdminServer) -> None:
    assert (await ask(admin.port, Host="evil.example"))[0] == 403
    assert (await ask(admin.port, Host="127.0.0.1"))[0] == 403  # port required
    assert (await ask(admin.port, Origin="http://evil.example"))[0] == 403
    assert (await ask(admin.port, Origin=f"https://localhost:{admin.port}"))[0] == 200


@pytest.mark.caddy
async def test_admin_answers_like_caddy(caddy: str, tmp_path: Path, admin: AdminServer) -> None:
    ups = [f"127.0.0.1:{procs.free_port()}", f"localhost:{procs.free_port()}"]
    caddy_admin, site_a, site_b = procs.free_port(), procs.free_port(), procs.free_port()
    config = tmp_path / "Caddyfile"
    config.write_text(
        f"{{\n\tadmin 127.0.0.1:{caddy_admin}\n\tauto_https off\n}}\n"
        f":{site_a} {{\n\treverse_proxy {ups[0]} {ups[1]}\n}}\n"
        f":{site_b} {{\n\treverse_proxy {ups[1]}\n}}\n"
    )
    for dial in ups:
        Upstream(dial)

    requests: list[tuple[str, str, dict[str, str]]] = [
        ("GET", "/reverse_proxy/upstreams", {}),
        ("POST", "/reverse_proxy/upstreams", {}),
        ("GET", "/reverse_proxy/upstreams", {"Host": "evil.example"}),
        ("GET", "/reverse_proxy/upstreams", {"Host": "<b>&"}),
        ("GET", "/reverse_proxy/upstreams", {"Origin": "http://evil.example"}),
        ("GET", "/reverse_proxy/upstreams", {"Origin": "http://<b>&x"}),
        ("GET", "/reverse_proxy/nothing", {}),
    ]
    proc = await asyncio.create_subprocess_exec(
        caddy, "run", "--config", str(config), "--adapter", "caddyfile",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await asyncio.to_thread(procs.wait_port, caddy_admin)
        theirs = [await ask(caddy_admin, m, p, **h) for m, p, h in requests]
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)
    ours = [await ask(admin.port, m, p, **h) for m, p, h in requests]

    # Go's map order is random: compare the upstream list as a set.
    def entries(body: str) -> list[tuple[str, int, int]]:
        return sorted((e["address"], e["num_requests"], e["fails"]) for e in json.loads(body))

    assert theirs[0][:2] == ours[0][:2] == (200, "application/json")
    assert entries(theirs[0][2]) == entries(ours[0][2])
    assert theirs[1:] == ours[1:]
