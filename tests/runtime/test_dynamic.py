"""Dynamic upstream sources against a loopback DNS responder (and the real caddy)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, cast

import aiohttp
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from rpc.runtime.context import Ctx
from rpc.runtime.dynamic import (
    AUpstreams,
    MultiUpstreams,
    SRVUpstreams,
    UpstreamSourceError,
    parse_resolver,
)
from rpc.runtime.placeholders import Placeholder, Template
from rpc.runtime.policies import RoundRobin
from rpc.runtime.upstreams import Upstream, all_hosts, reset_hosts
from rpctest import procs


@pytest.fixture(autouse=True)
def _fresh_hosts() -> Iterator[None]:
    reset_hosts()
    yield
    reset_hosts()


def make_ctx(headers: dict[str, str] | None = None) -> Ctx:
    return Ctx(make_mocked_request("GET", "/", headers=CIMultiDict(headers or {})))


def dials(upstreams: list[Upstream]) -> list[str]:
    return [u.dial for u in upstreams]


class DNSResponder(asyncio.DatagramProtocol):
    """A tiny authoritative UDP DNS server: answers from `records`, logs every query."""

    def __init__(self) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        self.failing = False
        self.queries: list[tuple[str, str]] = []
        self.transport: asyncio.DatagramTransport | None = None
        self.port = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        query = dns.message.from_wire(data)
        response = dns.message.make_response(query)
        question = query.question[0]
        name = question.name.to_text().lower()
        kind = dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, kind))
        if self.failing:
            response.set_rcode(dns.rcode.SERVFAIL)
        elif not any(known == name for known, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        else:
            texts = self.records.get((name, kind), [])
            if texts:
                response.answer.append(
                    dns.rrset.from_text_list(question.name, 30, "IN", kind, texts)
                )
        assert self.transport is not None
        self.transport.sendto(response.to_wire(want_shuffle=False), addr)

    def count(self, name: str) -> int:
        return sum(1 for n, _ in self.queries if n == name)


@pytest.fixture
async def dns_server() -> AsyncIterator[DNSResponder]:
    responder = DNSResponder()
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: responder, local_addr=("127.0.0.1", 0)
    )
    responder.port = transport.get_extra_info("sockname")[1]
    yield responder
    transport.close()


def resolver(server: DNSResponder) -> list[str]:
    return [f"127.0.0.1:{server.port}"]


# ---------------------------------------------------------------- a


def test_parse_resolver() -> None:
    assert parse_resolver("10.0.0.53") == ("10.0.0.53", 53, False)
    assert parse_resolver("10.0.0.53:5353") == ("10.0.0.53", 5353, False)
    assert parse_resolver("tcp/10.0.0.53:5353") == ("10.0.0.53", 5353, True)
    assert parse_resolver("udp/[::1]:5353") == ("::1", 5353, False)
    assert parse_resolver("::1") == ("::1", 53, False)


async def test_a_lookup_makes_one_upstream_per_address(dns_server: DNSResponder) -> None:
    dns_server.records[("app.test.", "A")] = ["10.0.0.1", "10.0.0.2"]
    dns_server.records[("app.test.", "AAAA")] = ["fd00::1"]
    both = AUpstreams("app.test", "8080", resolvers=resolver(dns_server))
    found = await both.get_upstreams(make_ctx())
    assert dials(found) == ["10.0.0.1:8080", "10.0.0.2:8080", "[fd00::1]:8080"]
    v4 = AUpstreams("app.test", resolvers=resolver(dns_server), ipv4=True)
    assert dials(await v4.get_upstreams(make_ctx())) == ["10.0.0.1:80", "10.0.0.2:80"]
    v6 = AUpstreams("app.test", resolvers=resolver(dns_server), ipv6=True)
    assert dials(await v6.get_upstreams(make_ctx())) == ["[fd00::1]:80"]
    # Dynamic upstreams keep their state in the dynamic registry.
    assert "10.0.0.1:8080" in [h.address for h in all_hosts()]
    assert found[0].host is Upstream("10.0.0.1:8080", dynamic=True).host


async def test_a_lookups_are_cached_until_refresh_or_reset(dns_server: DNSResponder) -> None:
    dns_server.records[("app.test.", "A")] = ["10.0.0.1"]
    source = AUpstreams("app.test", resolvers=resolver(dns_server), ipv4=True, refresh=0.2)
    first = await source.get_upstreams(make_ctx())
    second = await source.get_upstreams(make_ctx())
    assert dials(first) == dials(second) and first[0] is not second[0]  # fresh objects
    assert dns_server.count("app.test.") == 1
    source.reset()
    dns_server.records[("app.test.", "A")] = ["10.0.0.9"]
    assert dials(await source.get_upstreams(make_ctx())) == ["10.0.0.9:80"]
    assert dns_server.count("app.test.") == 2
    await asyncio.sleep(0.25)
    await source.get_upstreams(make_ctx())
    assert dns_server.count("app.test.") == 3


async def test_concurrent_misses_share_one_lookup(dns_server: DNSResponder) -> None:
    dns_server.records[("app.test.", "A")] = ["10.0.0.1"]
    source = AUpstreams("app.test", resolvers=resolver(dns_server), ipv4=True)
    results = await asyncio.gather(*(source.get_upstreams(make_ctx()) for _ in range(10)))
    assert all(dials(r) == ["10.0.0.1:80"] for r in results)
    assert dns_server.count("app.test.") == 1


async def test_a_name_and_port_from_placeholders(dns_server: DNSResponder) -> None:
    dns_server.records[("blue.test.", "A")] = ["10.0.1.1"]
    dns_server.records[("green.test.", "A")] = ["10.0.2.1"]
    source = AUpstreams(
        Template([Placeholder("http.request.header.X-Color"), ".test"]),
        Template([Placeholder("http.request.header.X-Port")]),
        resolvers=resolver(dns_server),
        ipv4=True,
    )
    blue = await source.get_upstreams(make_ctx({"X-Color": "blue", "X-Port": "81"}))
    green = await source.get_upstreams(make_ctx({"X-Color": "green", "X-Port": "82"}))
    assert dials(blue) == ["10.0.1.1:81"] and dials(green) == ["10.0.2.1:82"]


async def test_a_failures_raise(dns_server: DNSResponder) -> None:
    source = AUpstreams("missing.test", resolvers=resolver(dns_server))
    with pytest.raises(UpstreamSourceError, match=r"missing\.test"):
        await source.get_upstreams(make_ctx())
    dns_server.records[("empty.test.", "TXT")] = ['"x"']
    with pytest.raises(UpstreamSourceError, match="no such host"):
        await AUpstreams("empty.test", resolvers=resolver(dns_server)).get_upstreams(make_ctx())
    dns_server.failing = True
    with pytest.raises(UpstreamSourceError):
        await AUpstreams("app.test", resolvers=resolver(dns_server)).get_upstreams(make_ctx())


async def test_a_literal_and_system_resolver() -> None:
    assert dials(await AUpstreams("127.0.0.1", "9").get_upstreams(make_ctx())) == ["127.0.0.1:9"]
    with pytest.raises(UpstreamSourceError):
        await AUpstreams("::1", "9", ipv4=True).get_upstreams(make_ctx())
    # No resolvers: the system's (the hosts file knows localhost).
    found = dials(await AUpstreams("localhost", "9", ipv4=True).get_upstreams(make_ctx()))
    assert found == ["127.0.0.1:9"]


# ---------------------------------------------------------------- srv


async def test_srv_lookup_orders_by_priority(dns_server: DNSResponder) -> None:
    dns_server.records[("_http._tcp.svc.test.", "SRV")] = [
        "20 0 8081 b.svc.test.",
        "10 5 8080 a.svc.test.",
    ]
    by_parts = SRVUpstreams("svc.test", service="http", proto="tcp", resolvers=resolver(dns_server))
    by_name = SRVUpstreams("_http._tcp.svc.test", resolvers=resolver(dns_server))
    expected = ["a.svc.test.:8080", "b.svc.test.:8081"]  # Go keeps the trailing dot
    assert dials(await by_parts.get_upstreams(make_ctx())) == expected
    assert dials(await by_name.get_upstreams(make_ctx())) == expected


async def test_srv_weights_shuffle_within_a_priority(dns_server: DNSResponder) -> None:
    dns_server.records[("_x._tcp.w.test.", "SRV")] = ["1 1 1 light.test.", "1 3 2 heavy.test."]
    source = SRVUpstreams("_x._tcp.w.test", resolvers=resolver(dns_server), rng=random.Random(4))
    firsts: Counter[str] = Counter()
    for _ in range(200):
        source.reset()
        firsts[(await source.get_upstreams(make_ctx()))[0].dial] += 1
    assert 110 < firsts["heavy.test.:2"] < 190  # about 3 in 4


async def test_srv_grace_period_serves_the_stale_list(dns_server: DNSResponder) -> None:
    dns_server.records[("_x._tcp.g.test.", "SRV")] = ["1 1 80 a.test."]
    graceful = SRVUpstreams("_x._tcp.g.test", resolvers=resolver(dns_server), grace_period=60)
    strict = SRVUpstreams("_x._tcp.g.test", resolvers=resolver(dns_server))
    assert dials(await graceful.get_upstreams(make_ctx())) == ["a.test.:80"]
    assert dials(await strict.get_upstreams(make_ctx())) == ["a.test.:80"]
    dns_server.failing = True
    graceful.reset()
    strict.reset()
    assert dials(await graceful.get_upstreams(make_ctx())) == ["a.test.:80"]
    queries = len(dns_server.queries)
    assert dials(await graceful.get_upstreams(make_ctx())) == ["a.test.:80"]
    assert len(dns_server.queries) == queries  # stale list kept for the grace period
    with pytest.raises(UpstreamSourceError, match=r"g\.test"):
        await strict.get_upstreams(make_ctx())
    # Never looked up successfully: an empty list, not an error (as Caddy).
    never = SRVUpstreams("_y._tcp.g.test", resolvers=resolver(dns_server), grace_period=60)
    assert await never.get_upstreams(make_ctx()) == []


async def test_srv_without_records_is_an_empty_pool(dns_server: DNSResponder) -> None:
    dns_server.records[("_x._tcp.none.test.", "TXT")] = ['"x"']
    source = SRVUpstreams("_x._tcp.none.test", resolvers=resolver(dns_server))
    assert await source.get_upstreams(make_ctx()) == []


# ---------------------------------------------------------------- multi


class Fixed:
    def __init__(self, result: list[str] | Exception) -> None:
        self.result = result
        self.resets = 0

    async def get_upstreams(self, ctx: Ctx) -> list[Upstream]:
        if isinstance(self.result, Exception):
            raise self.result
        return [Upstream(d, dynamic=True) for d in self.result]

    def reset(self) -> None:
        self.resets += 1


async def test_multi_concatenates_and_skips_failures(caplog: pytest.LogCaptureFixture) -> None:
    sources = [
        Fixed(["a:1"]),
        Fixed(UpstreamSourceError("lookup failed")),
        Fixed([]),
        Fixed(["b:1", "c:1"]),
    ]
    multi = MultiUpstreams(sources)
    with caplog.at_level(logging.WARNING, logger="rpc.runtime.dynamic"):
        assert dials(await multi.get_upstreams(make_ctx())) == ["a:1", "b:1", "c:1"]
    messages = [r.getMessage() for r in caplog.records]
    assert "upstream source returned error" in messages
    assert "upstream source returned 0 upstreams" in messages
    multi.reset()
    assert [s.resets for s in sources] == [1, 1, 1, 1]


# ---------------------------------------------------------------- differential against caddy


@contextlib.asynccontextmanager
async def running_caddy(caddy: str, config: Path, *ports: int) -> AsyncIterator[None]:
    proc = await asyncio.create_subprocess_exec(
        caddy, "run", "--config", str(config), "--adapter", "caddyfile",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for port in ports:
            await asyncio.to_thread(procs.wait_port, port)
        yield
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)


async def loopback_backends(ips: list[str]) -> tuple[int, list[web.AppRunner]]:
    """Backends on several loopback IPs sharing one port, each answering its IP."""
    for _ in range(20):
        port = procs.free_port()
        runners: list[web.AppRunner] = []
        try:
            for ip in ips:

                async def handle(request: web.Request, ip: str = ip) -> web.Response:
                    return web.Response(text=ip)

                app = web.Application()
                app.router.add_route("*", "/{tail:.*}", handle)
                runner = web.AppRunner(app, access_log=None)
                runners.append(runner)
                await runner.setup()
                await web.TCPSite(runner, ip, port).start()
            return port, runners
        except OSError:
            for runner in runners:
                await runner.cleanup()
    raise RuntimeError("no common free port on the loopback addresses")


@pytest.mark.caddy
async def test_a_source_order_matches_caddy(
    caddy: str, tmp_path: Path, dns_server: DNSResponder
) -> None:
    """`dynamic a` + round_robin: the pool order (A records as answered) is caddy's."""
    ips = ["127.0.0.4", "127.0.0.2", "127.0.0.3"]
    dns_server.records[("pool.test.", "A")] = ips
    port, runners = await loopback_backends(ips)
    site = procs.free_port()
    config = tmp_path / "Caddyfile"
    config.write_text(
        "{\n\tadmin off\n\tauto_https off\n}\n"
        f":{site} {{\n\treverse_proxy {{\n\t\tdynamic a pool.test {port} {{\n"
        f"\t\t\tresolvers 127.0.0.1:{dns_server.port}\n\t\t}}\n"
        "\t\tlb_policy round_robin\n\t}\n}\n"
    )
    try:
        async with running_caddy(caddy, config, site), aiohttp.ClientSession() as client:
            caddy_seq = []
            for _ in range(7):
                async with client.get(f"http://127.0.0.1:{site}/") as resp:
                    caddy_seq.append(await resp.text())
    finally:
        for runner in runners:
            await runner.cleanup()
    assert ("pool.test.", "A") in dns_server.queries

    source = AUpstreams("pool.test", str(port), resolvers=resolver(dns_server))
    policy = RoundRobin()
    ours = []
    for _ in range(7):
        chosen = policy.select(await source.get_upstreams(make_ctx()), make_ctx())
        assert chosen is not None
        ours.append(chosen.dial.rsplit(":", 1)[0])
    assert caddy_seq == ours, (caddy_seq, ours)


@pytest.mark.caddy
async def test_srv_dials_match_caddy_admin(
    caddy: str, tmp_path: Path, dns_server: DNSResponder
) -> None:
    """The dial strings built from SRV records are caddy's (seen in its admin API)."""
    dns_server.records[("_api._tcp.srv.test.", "SRV")] = [
        "10 1 7001 one.srv.test.",
        "20 1 7002 two.srv.test.",
    ]
    site, admin = procs.free_port(), procs.free_port()
    config = tmp_path / "Caddyfile"
    config.write_text(
        f"{{\n\tadmin 127.0.0.1:{admin}\n\tauto_https off\n}}\n"
        f":{site} {{\n\treverse_proxy {{\n\t\tdynamic srv {{\n\t\t\tservice api\n"
        f"\t\t\tproto tcp\n\t\t\tname srv.test\n\t\t\tresolvers 127.0.0.1:{dns_server.port}\n"
        "\t\t}\n\t}\n}\n"
    )
    async with running_caddy(caddy, config, site, admin), aiohttp.ClientSession() as client:
        async with client.get(f"http://127.0.0.1:{site}/") as resp:
            await resp.read()  # the targets do not resolve: 502, but they were seen
        async with client.get(f"http://127.0.0.1:{admin}/reverse_proxy/upstreams") as resp:
            listed = {entry["address"] for entry in json.loads(await resp.text())}

    source = SRVUpstreams("srv.test", service="api", proto="tcp", resolvers=resolver(dns_server))
    ours = set(dials(await source.get_upstreams(make_ctx())))
    assert ours == {"one.srv.test.:7001", "two.srv.test.:7002"}
    assert ours <= listed
