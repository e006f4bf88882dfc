"""Load-balancing policies: unit behaviour, and differential runs against the real caddy."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import random
import subprocess
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import xxhash
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict
from yarl import URL

from rpc.runtime.context import Ctx
from rpc.runtime.policies import (
    ClientIPHash,
    CookieHash,
    First,
    HeaderHash,
    IPHash,
    LeastConn,
    QueryHash,
    Random,
    RandomChoose,
    RoundRobin,
    URIHash,
    WeightedRoundRobin,
    cookie_value,
    go_query_values,
    hash_select,
)
from rpc.runtime.upstreams import ActiveState, Upstream, reset_hosts
from rpctest import procs


@pytest.fixture(autouse=True)
def _fresh_hosts() -> Iterator[None]:
    reset_hosts()
    yield
    reset_hosts()


def make_ctx(
    target: str = "/",
    headers: dict[str, str] | list[tuple[str, str]] | None = None,
    *,
    remote_ip: str = "127.0.0.1",
    client_ip: str | None = None,
    trusted: bool = False,
) -> Ctx:
    """A context for `target` as the server would build it (raw path and query kept)."""
    request = make_mocked_request("GET", "/", headers=CIMultiDict(headers or {}))
    ctx = Ctx(request)
    ctx.raw_path, _, ctx.query = target.partition("?")
    ctx.remote_ip = remote_ip
    ctx.client_ip = client_ip if client_ip is not None else remote_ip
    ctx.trusted_proxy = trusted
    return ctx


def pool_of(*dials: str) -> list[Upstream]:
    return [Upstream(d) for d in dials]


def down(upstream: Upstream) -> Upstream:
    upstream.active = ActiveState()
    upstream.active.unhealthy = True
    return upstream


# ---------------------------------------------------------------- unit: simple policies


def test_random_is_uniform_over_available_upstreams_only() -> None:
    pool = pool_of("a:1", "b:1", "c:1")
    down(pool[1])
    policy = Random(rng=random.Random(1))
    picks = Counter(policy.select(pool, make_ctx()).dial for _ in range(600))  # type: ignore[union-attr]
    assert set(picks) == {"a:1", "c:1"}
    assert 200 < picks["a:1"] < 400
    assert Random().select([down(Upstream("x:1"))], make_ctx()) is None
    assert Random().select([], make_ctx()) is None


def test_random_choose_needs_two() -> None:
    with pytest.raises(ValueError):
        RandomChoose(1)


def test_random_choose_prefers_an_idle_candidate() -> None:
    pool = pool_of("a:1", "b:1")
    pool[0].host.num_requests = 3
    policy = RandomChoose(2, rng=random.Random(3))
    assert {policy.select(pool, make_ctx()).dial for _ in range(50)} == {"b:1"}  # type: ignore[union-attr]


def test_random_choose_keeps_an_earlier_busier_candidate() -> None:
    # Caddy 2.11's leastRequests appends every candidate <= the lowest load
    # seen so far, so A (2 in flight) stays next to B (1 in flight).
    pool = pool_of("a:1", "b:1")
    pool[0].host.num_requests = 2
    pool[1].host.num_requests = 1
    policy = RandomChoose(2, rng=random.Random(5))
    picks = Counter(policy.select(pool, make_ctx()).dial for _ in range(400))  # type: ignore[union-attr]
    assert set(picks) == {"a:1", "b:1"}
    # The other order drops the busier later candidate.
    pool[0].host.num_requests, pool[1].host.num_requests = 1, 2
    assert {policy.select(pool, make_ctx()).dial for _ in range(50)} == {"a:1"}  # type: ignore[union-attr]


def test_random_choose_samples_every_available_upstream() -> None:
    pool = pool_of("a:1", "b:1", "c:1", "d:1")
    for up in pool:
        up.host.num_requests = 1
    down(pool[3])
    policy = RandomChoose(2, rng=random.Random(7))
    picks = Counter(policy.select(pool, make_ctx()).dial for _ in range(600))  # type: ignore[union-attr]
    assert set(picks) == {"a:1", "b:1", "c:1"}


def test_least_conn_picks_the_least_loaded_and_breaks_ties_randomly() -> None:
    pool = pool_of("a:1", "b:1", "c:1", "d:1")
    loads = [3, 1, 1, 0]
    for up, load in zip(pool, loads):
        up.host.num_requests = load
    policy = LeastConn(rng=random.Random(2))
    assert policy.select(pool, make_ctx()) is pool[3]
    down(pool[3])
    assert {policy.select(pool, make_ctx()).dial for _ in range(100)} == {"b:1", "c:1"}  # type: ignore[union-attr]


def test_round_robin_starts_at_the_second_upstream_and_skips_down_ones() -> None:
    pool = pool_of("a:1", "b:1", "c:1")
    policy = RoundRobin()
    assert [policy.select(pool, make_ctx()).dial for _ in range(4)] == [  # type: ignore[union-attr]
        "b:1",
        "c:1",
        "a:1",
        "b:1",
    ]
    down(pool[2])
    assert policy.select(pool, make_ctx()).dial == "a:1"  # type: ignore[union-attr]
    assert RoundRobin().select([down(Upstream("x:1"))], make_ctx()) is None


def test_weighted_round_robin_sequence() -> None:
    pool = pool_of("a:1", "b:1")
    policy = WeightedRoundRobin([3, 1])
    seq = [policy.select(pool, make_ctx()).dial[0] for _ in range(8)]  # type: ignore[union-attr]
    assert seq == list("AABAAABA".lower())


def test_weighted_round_robin_quirks() -> None:
    pool = pool_of("a:1", "b:1", "c:1")
    # Fewer than two weights: always the first upstream, even when down.
    down(pool[0])
    assert WeightedRoundRobin([5]).select(pool, make_ctx()) is pool[0]
    # The slot indexes the available positive-weight upstreams modulo their count.
    policy = WeightedRoundRobin([1, 1, 1])
    assert [policy.select(pool, make_ctx()).dial for _ in range(4)] == [  # type: ignore[union-attr]
        "c:1",
        "b:1",
        "b:1",
        "c:1",
    ]
    # Zero weights never receive traffic.
    zero = WeightedRoundRobin([0, 2, 1])
    assert {zero.select(pool_of("a:1", "b:1", "c:1"), make_ctx()).dial for _ in range(9)} == {  # type: ignore[union-attr]
        "b:1",
        "c:1",
    }
    with pytest.raises(ValueError):
        WeightedRoundRobin([0, 0])
    with pytest.raises(ValueError):
        WeightedRoundRobin([1, -1])


def test_first_is_failover_order() -> None:
    pool = pool_of("a:1", "b:1")
    assert First().select(pool, make_ctx()) is pool[0]
    down(pool[0])
    assert First().select(pool, make_ctx()) is pool[1]
    down(pool[1])
    assert First().select(pool, make_ctx()) is None


# ---------------------------------------------------------------- unit: hashing


def test_hash_select_is_highest_xxh64_of_dial_plus_key() -> None:
    pool = pool_of("10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80")
    for key in (b"alpha", b"beta", b"/x?y=1", b""):
        weights = [xxhash.xxh64_intdigest(up.dial.encode() + key) for up in pool]
        assert hash_select(pool, key) is pool[weights.index(max(weights))]


def test_hash_select_only_remaps_keys_of_a_removed_upstream() -> None:
    pool = pool_of(*(f"10.0.0.{i}:80" for i in range(1, 6)))
    keys = [f"k{i}".encode() for i in range(300)]
    before = {k: hash_select(pool, k) for k in keys}
    down(pool[2])
    after = {k: hash_select(pool, k) for k in keys}
    moved = [k for k in keys if before[k] is not after[k]]
    assert moved and all(before[k] is pool[2] for k in moved)
    assert all(after[k] is not pool[2] for k in keys)


def test_hash_policies_read_their_key() -> None:
    pool = pool_of("a:1", "b:1", "c:1", "d:1")
    ctx = make_ctx("/p?q=1", remote_ip="10.1.1.1", client_ip="203.0.113.9")
    assert IPHash().select(pool, ctx) is hash_select(pool, b"10.1.1.1")
    assert ClientIPHash().select(pool, ctx) is hash_select(pool, b"203.0.113.9")
    assert URIHash().select(pool, ctx) is hash_select(pool, b"/p?q=1")


def test_go_query_values() -> None:
    assert go_query_values("k=a&k=b&x=1", "k") == [b"a", b"b"]
    assert go_query_values("k=a+b&k=%41", "k") == [b"a b", b"A"]
    assert go_query_values("k=1;x&k=2", "k") == [b"2"]  # pairs with ';' are dropped
    assert go_query_values("k=%zz&k=3&%zz=4", "k") == [b"3"]  # bad escapes too
    assert go_query_values("k&k=", "k") == [b"", b""]
    assert go_query_values("%6B=v", "k") == [b"v"]  # keys are unescaped
    assert go_query_values("k=%ff", "k") == [b"\xff"]


def test_query_hash_joins_values_and_falls_back() -> None:
    pool = pool_of("a:1", "b:1", "c:1", "d:1")
    policy = QueryHash("k", fallback=First())
    assert policy.select(pool, make_ctx("/?k=a&k=b")) is hash_select(pool, b"a,b")
    assert policy.select(pool, make_ctx("/?k=")) is pool[0]
    assert policy.select(pool, make_ctx("/?other=1")) is pool[0]
    # `k=&k=` joins to "," which is not empty: hashed, as in Caddy.
    assert policy.select(pool, make_ctx("/?k=&k=")) is hash_select(pool, b",")


def test_header_hash_host_and_fallback() -> None:
    pool = pool_of("a:1", "b:1", "c:1", "d:1")
    ctx = make_ctx(headers={"Host": "example.com:8080", "X-Key": "v1", "X-Empty": ""})
    assert HeaderHash("X-Key").select(pool, ctx) is hash_select(pool, b"v1")
    assert HeaderHash("x-key").select(pool, ctx) is hash_select(pool, b"v1")
    assert HeaderHash("Host").select(pool, ctx) is hash_select(pool, b"example.com:8080")
    # Go keeps Host out of the header map: other spellings find nothing.
    assert HeaderHash("host", fallback=First()).select(pool, ctx) is pool[0]
    assert HeaderHash("X-Empty", fallback=First()).select(pool, ctx) is pool[0]
    assert HeaderHash("X-Missing", fallback=First()).select(pool, ctx) is pool[0]
    first_value = make_ctx(headers=[("X-Key", "one"), ("X-Key", "two")])
    assert HeaderHash("X-Key").select(pool, first_value) is hash_select(pool, b"one")


# ---------------------------------------------------------------- unit: cookie


def test_cookie_value_is_hex_hmac_sha256_of_the_dial() -> None:
    expected = hmac.new(b"s", b"10.0.0.1:80", hashlib.sha256).hexdigest()
    assert cookie_value("s", "10.0.0.1:80") == expected


def test_cookie_policy_sticks_and_sets_cookies() -> None:
    pool = pool_of("a:1", "b:1", "c:1")
    policy = CookieHash("lb", "s", fallback=First())
    sticky = make_ctx(headers={"Cookie": f"x=1; lb={cookie_value('s', 'c:1')}"})
    assert policy.select(pool, sticky) is pool[2]
    assert "Set-Cookie" not in sticky.resp_headers

    fresh = make_ctx()
    assert policy.select(pool, fresh) is pool[0]
    assert fresh.resp_headers.getall("Set-Cookie") == [
        f"lb={cookie_value('s', 'a:1')}; Path=/; HttpOnly; SameSite=Lax"
    ]

    # The pinned upstream is down: choose again and re-pin.
    down(pool[2])
    repinned = make_ctx(headers={"Cookie": f"lb={cookie_value('s', 'c:1')}"})
    assert policy.select(pool, repinned) is pool[0]
    assert len(repinned.resp_headers.getall("Set-Cookie")) == 1

    # A cookie signed with another secret does not match.
    forged = make_ctx(headers={"Cookie": f"lb={cookie_value('other', 'b:1')}"})
    assert policy.select(pool, forged) is pool[0]


def test_cookie_policy_parses_cookies_like_go() -> None:
    pool = pool_of("a:1", "b:1")
    policy = CookieHash("lb", "", fallback=First())
    quoted = make_ctx(headers={"Cookie": f'lb="{cookie_value("", "b:1")}"'})
    assert policy.select(pool, quoted) is pool[1]
    two_lines = make_ctx(headers=[("Cookie", "a=1"), ("Cookie", f"lb={cookie_value('', 'b:1')}")])
    assert policy.select(pool, two_lines) is pool[1]


def test_cookie_attributes_follow_transport_and_max_age() -> None:
    up = Upstream("a:1")
    value = cookie_value("", "a:1")
    tls_ctx = make_ctx()
    tls_ctx.tls = True
    assert CookieHash().set_cookie(up, tls_ctx) == (
        f"lb={value}; Path=/; HttpOnly; Secure; SameSite=None"
    )
    proxied = make_ctx(headers=[("X-Forwarded-Proto", "http"), ("X-Forwarded-Proto", "https")])
    proxied.trusted_proxy = True
    assert CookieHash().set_cookie(up, proxied).endswith("; Secure; SameSite=None")
    proxied.trusted_proxy = False
    assert CookieHash().set_cookie(up, proxied).endswith("; HttpOnly; SameSite=Lax")
    assert CookieHash(max_age=90.9).set_cookie(up, make_ctx()) == (
        f"lb={value}; Path=/; Max-Age=90; HttpOnly; SameSite=Lax"
    )
    assert "Max-Age" not in CookieHash(max_age=0.5).set_cookie(up, make_ctx())


def test_cookie_with_invalid_name_sets_nothing() -> None:
    ctx = make_ctx()
    assert CookieHash("bad name", fallback=First()).select(pool_of("a:1"), ctx) is not None
    assert "Set-Cookie" not in ctx.resp_headers


# ---------------------------------------------------------------- differential against caddy

N_BACKENDS = 4
N_KEYS = 60
SECRET = "s3cret"
SITES = (
    "uri", "header", "hosthdr", "hostlc", "query", "cookie", "cookie_first", "ip", "cip",
    "rr", "wrr", "hold_a", "hold_b", "rc", "lc",
)  # fmt: skip


class Backends:
    """Loopback aiohttp backends answering with their own dial address, in a thread."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.dials: list[str] = []
        self.runners: list[web.AppRunner] = []
        self.release: asyncio.Event | None = None

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> None:
        self.release = asyncio.Event()
        for _ in range(self.count):
            me: list[str] = []

            async def handler(request: web.Request, me: list[str] = me) -> web.Response:
                if request.path == "/hold":
                    assert self.release is not None
                    await asyncio.wait_for(self.release.wait(), 20)
                return web.Response(text=me[0])

            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", handler)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            port = runner.addresses[0][1]
            me.append(f"127.0.0.1:{port}")
            self.dials.append(me[0])
            self.runners.append(runner)

    def release_holds(self) -> None:
        assert self.release is not None
        self.loop.call_soon_threadsafe(self.release.set)

    def stop(self) -> None:
        async def cleanup() -> None:
            for runner in self.runners:
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def caddyfile(ports: dict[str, int], dials: Sequence[str]) -> str:
    ups = " ".join(dials)
    a, b = dials[0], dials[1]
    sites = {
        "uri": (ups, "lb_policy uri_hash"),
        "header": (ups, "lb_policy header X-Key"),
        "hosthdr": (ups, "lb_policy header Host"),
        "hostlc": (ups, "lb_policy header host {\n\t\t\tfallback first\n\t\t}"),
        "query": (ups, "lb_policy query k"),
        "cookie": (ups, f"lb_policy cookie lb {SECRET}"),
        "cookie_first": (
            ups,
            f"lb_policy cookie sticky {SECRET} {{\n\t\t\tfallback first\n\t\t\tmax_age 1h\n\t\t}}",
        ),
        "ip": (ups, "lb_policy ip_hash"),
        "cip": (ups, "lb_policy client_ip_hash"),
        "rr": (ups, "lb_policy round_robin"),
        "wrr": (ups, "lb_policy weighted_round_robin 3 0 1 2"),
        "hold_a": (a, "lb_policy first"),
        "hold_b": (b, "lb_policy first"),
        "rc": (f"{a} {b}", "lb_policy random_choose 2"),
        "lc": (f"{a} {b}", "lb_policy least_conn"),
    }
    blocks = [
        "{\n\tadmin off\n\tauto_https off\n\tservers {\n\t\ttrusted_proxies static 127.0.0.1/32\n\t}\n}"
    ]
    for name, (upstreams, policy) in sites.items():
        blocks.append(f":{ports[name]} {{\n\treverse_proxy {upstreams} {{\n\t\t{policy}\n\t}}\n}}")
    return "\n".join(blocks) + "\n"


class CaddyRig:
    def __init__(self, backends: Backends, ports: dict[str, int]) -> None:
        self.backends = backends
        self.ports = ports
        self.dials = backends.dials

    def url(self, site: str, target: str = "/") -> URL:
        return URL(f"http://127.0.0.1:{self.ports[site]}{target}", encoded=True)


@pytest.fixture(scope="module")
def rig(caddy: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[CaddyRig]:
    backends = Backends(N_BACKENDS)
    backends.start()
    ports = {name: procs.free_port() for name in SITES}
    path: Path = tmp_path_factory.mktemp("policies") / "Caddyfile"
    path.write_text(caddyfile(ports, backends.dials))
    proc = subprocess.Popen(
        [caddy, "run", "--config", str(path), "--adapter", "caddyfile"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        for port in ports.values():
            procs.wait_port(port)
        yield CaddyRig(backends, ports)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        backends.stop()


def session(local_ip: str | None = None) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(
        local_addr=(local_ip, 0) if local_ip else None, force_close=True
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=10),
    )


async def fetch(
    client: aiohttp.ClientSession, url: URL, headers: Any = None
) -> tuple[str, list[str]]:
    async with client.get(url, headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.text(), resp.headers.getall("Set-Cookie", [])


def assert_spread(chosen: Sequence[str]) -> None:
    # The comparison only means something if keys land on several backends.
    assert len(set(chosen)) >= 3


@pytest.mark.caddy
async def test_uri_hash_matches_caddy(rig: CaddyRig) -> None:
    pool = pool_of(*rig.dials)
    policy = URIHash()
    targets = [f"/k/{i}?q={i * 7}" for i in range(N_KEYS // 2)]
    targets += [f"/a%20b/{i}/%41?x=%2F{i}&y" for i in range(N_KEYS - len(targets))]
    chosen = []
    async with session() as client:
        for target in targets:
            answer, _ = await fetch(client, rig.url("uri", target))
            assert policy.select(pool, make_ctx(target)).dial == answer, target  # type: ignore[union-attr]
            chosen.append(answer)
    assert_spread(chosen)


@pytest.mark.caddy
async def test_header_hash_matches_caddy(rig: CaddyRig) -> None:
    pool = pool_of(*rig.dials)
    by_field = HeaderHash("X-Key")
    by_host = HeaderHash("Host")
    lower_host = HeaderHash("host", fallback=First())
    chosen = []
    async with session() as client:
        for i in range(N_KEYS):
            headers = {"X-Key": f"user-{i}", "Host": f"h{i}.example:{8000 + i}"}
            ctx = make_ctx(headers=headers)
            answer, _ = await fetch(client, rig.url("header"), headers)
            assert by_field.select(pool, ctx).dial == answer  # type: ignore[union-attr]
            chosen.append(answer)
            answer, _ = await fetch(client, rig.url("hosthdr"), headers)
            assert by_host.select(pool, ctx).dial == answer  # type: ignore[union-attr]
            if i < 10:
                answer, _ = await fetch(client, rig.url("hostlc"), headers)
                assert lower_host.select(pool, ctx).dial == answer == rig.dials[0]  # type: ignore[union-attr]
    assert_spread(chosen)


@pytest.mark.caddy
async def test_query_hash_matches_caddy(rig: CaddyRig) -> None:
    pool = pool_of(*rig.dials)
    policy = QueryHash("k", fallback=First())
    shapes = ["k=v{i}", "k=a{i}&k=b", "k=x+y{i}", "k=%41{i}", "z=1&k={i}&k=&k=q", "%6B=w{i}"]
    chosen = []
    async with session() as client:
        for i in range(N_KEYS):
            target = "/?" + shapes[i % len(shapes)].format(i=i)
            answer, _ = await fetch(client, rig.url("query", target))
            assert policy.select(pool, make_ctx(target)).dial == answer, target  # type: ignore[union-attr]
            chosen.append(answer)
    assert_spread(chosen)


@pytest.mark.caddy
async def test_ip_hash_matches_caddy(rig: CaddyRig) -> None:
    pool = pool_of(*rig.dials)
    policy = IPHash()
    chosen = []
    for i in range(N_KEYS):
        source = f"127.0.0.{i + 2}"
        async with session(source) as client:
            answer, _ = await fetch(client, rig.url("ip"))
        assert policy.select(pool, make_ctx(remote_ip=source)).dial == answer, source  # type: ignore[union-attr]
        chosen.append(answer)
    assert_spread(chosen)


@pytest.mark.caddy
async def test_client_ip_hash_matches_caddy(rig: CaddyRig) -> None:
    # 127.0.0.1 is a trusted proxy in the caddy config: the client IP comes
    # from X-Forwarded-For, so many client IPs can be tried from one socket.
    # Caddy hashes the parsed address in canonical form ("2001:db8::0" is
    # hashed as "2001:db8::"), so the server must canonicalise client_ip.
    pool = pool_of(*rig.dials)
    policy = ClientIPHash()
    clients = [f"198.51.100.{i}" for i in range(N_KEYS // 2)]
    clients += [f"2001:DB8:0::{i:x}" for i in range(N_KEYS - len(clients))]
    chosen = []
    async with session("127.0.0.1") as client:
        for ip in clients:
            answer, _ = await fetch(client, rig.url("cip"), {"X-Forwarded-For": ip})
            ctx = make_ctx(client_ip=str(ipaddress.ip_address(ip)), trusted=True)
            assert policy.select(pool, ctx).dial == answer, ip  # type: ignore[union-attr]
            chosen.append(answer)
    assert_spread(chosen)


@pytest.mark.caddy
async def test_cookie_policy_matches_caddy(rig: CaddyRig) -> None:
    pool = pool_of(*rig.dials)
    policy = CookieHash("lb", SECRET)
    async with session("127.0.0.2") as client:  # not a trusted proxy
        seen = set()
        # No cookie: caddy picks at random and pins; the cookie must be ours.
        for _ in range(N_KEYS // 2):
            answer, cookies = await fetch(client, rig.url("cookie"), {"X-Forwarded-Proto": "https"})
            ctx = make_ctx(headers={"X-Forwarded-Proto": "https"})
            assert cookies == [policy.set_cookie(Upstream(answer), ctx)]
            seen.add(answer)
        assert len(seen) >= 2
        # A pinned cookie goes where rpc sends it, with no new cookie.
        for dial in rig.dials:
            header = {"Cookie": f"lb={cookie_value(SECRET, dial)}"}
            answer, cookies = await fetch(client, rig.url("cookie"), header)
            ctx = make_ctx(headers=header)
            assert answer == dial == policy.select(pool, ctx).dial  # type: ignore[union-attr]
            assert cookies == [] and "Set-Cookie" not in ctx.resp_headers
        # A cookie naming no upstream is replaced.
        answer, cookies = await fetch(client, rig.url("cookie"), {"Cookie": "lb=nope"})
        assert cookies == [f"lb={cookie_value(SECRET, answer)}; Path=/; HttpOnly; SameSite=Lax"]

    first = CookieHash("sticky", SECRET, max_age=3600, fallback=First())
    async with session("127.0.0.1") as client:  # trusted: X-Forwarded-Proto counts
        for proto in ("https", "http"):
            headers = {"X-Forwarded-Proto": proto}
            answer, cookies = await fetch(client, rig.url("cookie_first"), headers)
            ctx = make_ctx(headers=headers, trusted=True)
            chosen = first.select(pool, ctx)
            assert chosen is not None and chosen.dial == answer == rig.dials[0]
            assert cookies == ctx.resp_headers.getall("Set-Cookie")
            assert ("Secure; SameSite=None" in cookies[0]) == (proto == "https")


@pytest.mark.caddy
async def test_round_robin_sequences_match_caddy(rig: CaddyRig) -> None:
    pool = pool_of(*rig.dials)
    rr = RoundRobin()
    wrr = WeightedRoundRobin([3, 0, 1, 2])
    async with session() as client:
        for _ in range(13):
            answer, _ = await fetch(client, rig.url("rr"))
            assert rr.select(pool, make_ctx()).dial == answer  # type: ignore[union-attr]
            answer, _ = await fetch(client, rig.url("wrr"))
            assert wrr.select(pool, make_ctx()).dial == answer  # type: ignore[union-attr]


@pytest.mark.caddy
async def test_load_aware_policies_match_caddy(rig: CaddyRig) -> None:
    # Two requests held in flight on A and one on B, through other handlers:
    # in-flight counts are shared by address across handlers.
    a, b = rig.dials[0], rig.dials[1]
    async with session() as client:

        async def hold(site: str) -> None:
            async with client.get(rig.url(site, "/hold")) as resp:
                await resp.read()

        holds = [asyncio.create_task(hold(s)) for s in ("hold_a", "hold_a", "hold_b")]
        try:
            await asyncio.sleep(0.3)
            caddy_rc = {(await fetch(client, rig.url("rc")))[0] for _ in range(40)}
            caddy_lc = {(await fetch(client, rig.url("lc")))[0] for _ in range(10)}
        finally:
            rig.backends.release_holds()
            await asyncio.wait_for(asyncio.gather(*holds), 10)

    pool = pool_of(a, b)
    pool[0].host.num_requests, pool[1].host.num_requests = 2, 1
    rc = RandomChoose(2, rng=random.Random(11))
    lc = LeastConn(rng=random.Random(11))
    ours_rc = {rc.select(pool, make_ctx()).dial for _ in range(40)}  # type: ignore[union-attr]
    ours_lc = {lc.select(pool, make_ctx()).dial for _ in range(10)}  # type: ignore[union-attr]
    assert caddy_rc == ours_rc == {a, b}  # the busier A still gets picked
    assert caddy_lc == ours_lc == {b}
