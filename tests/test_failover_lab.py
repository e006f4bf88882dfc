"""The failover lab, end to end: compiled example Caddyfiles run as `python app.py`.

Every test reads `examples/load-balancing-lab/Caddyfile` or
`examples/failover/Caddyfile`, swaps in free loopback ports (and shorter
durations), compiles it and runs the module as a real process. Backends are
real aiohttp servers on loopback: in-process `LabBackend`s where a test must
hang, jam or fail health checks on demand, and the example's own
`backend.Caddyfile` compiled and run as processes when one is killed.
Load loops run until a deadline; assertions are about who answered and
whether any client saw an error, never about speed.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
import xxhash

from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpctest.apps import AppProcess, run_app, run_to_exit
from rpctest.lab import (
    EXAMPLES,
    LabBackend,
    Reply,
    compile_text,
    example_caddyfile,
    fetch,
    load,
)
from rpctest.procs import free_port, wait_port

# One worker runs the whole lab, so its timing-sensitive phases do not
# compete with each other for the CI machine's two cores.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("failover_lab")]

SECRET = "s3cret"


def lab(proxy: int, one: int, two: int, policy: str) -> str:
    """The load-balancing lab on these ports, with `lb_policy <policy>`."""
    return example_caddyfile(
        "load-balancing-lab",
        {
            "127.0.0.1:8080": f"127.0.0.1:{proxy}",
            "127.0.0.1:9001": f"127.0.0.1:{one}",
            "127.0.0.1:9002": f"127.0.0.1:{two}",
            "lb_policy round_robin": f"lb_policy {policy}",
        },
    )


def failover(proxy: int, one: int, two: int, **changes: str) -> str:
    """The failover example on these ports; `changes` maps a subdirective to its new line."""
    replace = {
        "127.0.0.1:8080": f"127.0.0.1:{proxy}",
        "127.0.0.1:9001": f"127.0.0.1:{one}",
        "127.0.0.1:9002": f"127.0.0.1:{two}",
        # The lab's pace, shortened: checks every 300ms, a failure lasts 1.5s.
        "fail_duration 10s": "fail_duration 1500ms",
        "health_interval 2s": "health_interval 300ms",
        "health_timeout 1s": "health_timeout 300ms",
    }
    text = example_caddyfile("failover", replace)
    for old, new in changes.items():
        assert old in text, old
        text = text.replace(old, new)
    return text


def cookie_for(dial: str) -> str:
    """Caddy's sticky cookie value: hex HMAC-SHA256 keyed by the secret over the dial."""
    return hmac.new(SECRET.encode(), dial.encode(), hashlib.sha256).hexdigest()


def errors(replies: list[Reply]) -> list[Reply]:
    return [r for r in replies if r.status != 200]


def backends_of(replies: list[Reply]) -> Counter[str]:
    return Counter(r.backend for r in replies)


@contextlib.contextmanager
def proxy_app(tmp_path: Path, text: str, port: int) -> Iterator[AppProcess]:
    """Compile `text` and run it as `python app.py` until the block ends."""
    with run_app(compile_text(tmp_path, text), port) as app:
        yield app


@contextlib.asynccontextmanager
async def lab_backends(*ports: int) -> AsyncIterator[list[LabBackend]]:
    names = ("one", "two", "three")
    started = [LabBackend(names[i], port) for i, port in enumerate(ports)]
    try:
        for backend in started:
            await backend.start()
        yield started
    finally:
        for backend in started:
            await backend.stop()


async def sequential(port: int, count: int, path: str = "/") -> list[Reply]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        return [await fetch(session, port, path) for _ in range(count)]


# ---------------------------------------------------------------- the load-balancing lab


async def test_round_robin_alternates_evenly(tmp_path: Path) -> None:
    proxy, one, two = free_port(), free_port(), free_port()
    with proxy_app(tmp_path, lab(proxy, one, two, "round_robin"), proxy):
        replies = await sequential(proxy, 20)
        # Caddy's round robin starts at the second upstream.
        assert [r.backend for r in replies] == ["two", "one"] * 10

        concurrent = await load(proxy, 1.0, clients=4)
    assert not errors(concurrent)
    counts = backends_of(concurrent)
    assert set(counts) == {"one", "two"}
    # Every selection advances one shared counter, so concurrency cannot skew it.
    assert abs(counts["one"] - counts["two"]) <= 4, counts


async def test_weighted_round_robin_follows_the_weights(tmp_path: Path) -> None:
    proxy, one, two = free_port(), free_port(), free_port()
    text = lab(proxy, one, two, "weighted_round_robin 3 1")
    with proxy_app(tmp_path, text, proxy):
        replies = await sequential(proxy, 40)
    assert not errors(replies)
    assert [r.backend for r in replies[:4]] == ["one", "one", "two", "one"]
    assert backends_of(replies) == {"one": 30, "two": 10}


async def test_ip_hash_keeps_each_client_address_on_one_backend(tmp_path: Path) -> None:
    proxy, one, two = free_port(), free_port(), free_port()
    dials = {f"127.0.0.1:{one}": "one", f"127.0.0.1:{two}": "two"}
    with proxy_app(tmp_path, lab(proxy, one, two, "ip_hash"), proxy):
        seen: dict[str, set[str]] = {}
        for last in range(1, 13):
            ip = f"127.0.0.{last}"
            connector = aiohttp.TCPConnector(local_addr=(ip, 0), force_close=True)
            async with aiohttp.ClientSession(connector=connector) as session:
                # A new connection per request: stickiness must not come from keep-alive.
                replies = [await fetch(session, proxy) for _ in range(4)]
            assert not errors(replies), replies
            seen[ip] = {r.backend for r in replies}
    for ip, backends in seen.items():
        # Rendezvous hashing: the highest XXH64(dial + client IP) wins.
        expected = max(dials, key=lambda dial: xxhash.xxh64_intdigest((dial + ip).encode()))
        assert backends == {dials[expected]}, (ip, backends)


async def test_cookie_pins_a_client_to_the_backend_it_names(tmp_path: Path) -> None:
    proxy, one, two = free_port(), free_port(), free_port()
    dial_of = {"one": f"127.0.0.1:{one}", "two": f"127.0.0.1:{two}"}
    with proxy_app(tmp_path, lab(proxy, one, two, f"cookie lb {SECRET}"), proxy):
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
            first = await fetch(session, proxy)
            assert first.status == 200
            value = cookie_for(dial_of[first.backend])
            assert first.set_cookie == (f"lb={value}; Path=/; HttpOnly; SameSite=Lax",)

            again = [await fetch(session, proxy, cookies={"lb": value}) for _ in range(10)]
            assert {r.backend for r in again} == {first.backend}
            assert not any(r.set_cookie for r in again)

            for name, dial in dial_of.items():
                pinned = [
                    await fetch(session, proxy, cookies={"lb": cookie_for(dial)}) for _ in range(5)
                ]
                assert {r.backend for r in pinned} == {name}


# ---------------------------------------------------------------- failover


def backend_process(tmp_path: Path, name: str, port: int) -> Path:
    """examples/failover/backend.Caddyfile compiled for `name` on `port`."""
    text = (EXAMPLES / "failover" / "backend.Caddyfile").read_text()
    result = compile_caddyfile(
        text,
        "backend.Caddyfile",
        stop_after=Stage.PYTHON,
        environ={"NAME": name, "PORT": str(port)},
    )
    assert result.python is not None, [d.message for d in result.diagnostics]
    directory = tmp_path / name
    directory.mkdir()
    path = directory / "app.py"
    path.write_text(result.python)
    return path


async def test_killed_backend_fails_over_without_errors_and_rejoins(tmp_path: Path) -> None:
    proxy, one, two = free_port(), free_port(), free_port()
    one_app, two_app = backend_process(tmp_path, "one", one), backend_process(tmp_path, "two", two)
    fail_duration = 1.5
    with (
        run_app(two_app, two),
        proxy_app(tmp_path, failover(proxy, one, two), proxy) as app,
    ):
        with run_app(one_app, one):
            traffic = asyncio.create_task(load(proxy, 2.0))
            await asyncio.sleep(1.0)
            # Leaving the block SIGKILLs backend "one" while requests are in flight.
            killed_at = time.monotonic()
        replies = await traffic
        before = [r for r in replies if r.at < killed_at]
        during = [r for r in replies if r.sent > killed_at]  # no longer to be answered by "one"

        with run_app(one_app, one):
            restarted_at = time.monotonic()
            after: list[Reply] = []
            deadline = restarted_at + fail_duration + 8.0
            while time.monotonic() < deadline and "one" not in backends_of(after):
                after += await load(proxy, 0.3)
            tail = await load(proxy, 1.0)

    output = app.output()
    assert not errors(replies + after + tail), output
    assert set(backends_of(before)) == {"one", "two"}
    assert set(backends_of(during)) == {"two"}
    assert len(during) > 20
    # It came back, but not before its failure (counted after the kill) expired.
    rejoined = [r.at for r in after if r.backend == "one"]
    assert rejoined, f"backend one never rejoined: {backends_of(after)}"
    assert min(rejoined) >= killed_at + fail_duration
    assert set(backends_of(tail)) == {"one", "two"}


async def test_hung_backend_does_not_hang_clients(tmp_path: Path) -> None:
    proxy, one, two = free_port(), free_port(), free_port()
    text = failover(
        proxy,
        one,
        two,
        **{
            "response_header_timeout 2s": "response_header_timeout 500ms",
            # Longer than the test: after one timeout the hung backend stays out.
            "fail_duration 1500ms": "fail_duration 30s",
        },
    )
    async with lab_backends(one, two) as (hung, healthy):
        hung.hangs = True
        hung.hang_seconds = 8.0
        with proxy_app(tmp_path, text, proxy):
            async with aiohttp.ClientSession() as session:
                # Less than the hang: a client that waited for it would fail here.
                replies = [await fetch(session, proxy, "/hang", timeout=4.0) for _ in range(8)]
            concurrent = await load(proxy, 1.0, path="/hang")
    assert not errors(replies + concurrent), replies + concurrent
    assert {r.backend for r in replies + concurrent} == {"two"}
    # One request found the hang, timed out waiting for headers and was
    # retried on "two"; the hung backend was then skipped for fail_duration.
    assert hung.hits["/hang"] == 1
    assert healthy.hits["/hang"] == len(replies) + len(concurrent)


async def test_least_conn_avoids_a_jammed_backend(tmp_path: Path) -> None:
    proxy, one, two = free_port(), free_port(), free_port()
    text = failover(
        proxy,
        one,
        two,
        **{
            "lb_policy round_robin": "lb_policy least_conn",
            "response_header_timeout 2s": "response_header_timeout 20s",
        },
    )
    async with lab_backends(one, two) as (jammed, free):
        jammed.jams = True
        with proxy_app(tmp_path, text, proxy):
            async with aiohttp.ClientSession() as session:
                held: list[asyncio.Task[Reply]] = []
                deadline = time.monotonic() + 5.0
                # Slow requests go wherever least_conn sends them; those that
                # land on "one" stay there until released.
                while jammed.jammed < 2 and time.monotonic() < deadline:
                    held += [
                        asyncio.create_task(fetch(session, proxy, "/jam", timeout=20.0))
                        for _ in range(4)
                    ]
                    await asyncio.sleep(0.1)
                assert jammed.jammed >= 2, jammed.jammed

                replies = await sequential(proxy, 20)
                assert jammed.jammed >= 2  # still jammed while the others ran
                jammed.release()
                slow = await asyncio.gather(*held)
            after = await load(proxy, 1.0, clients=1)
    assert not errors(replies + slow + after), replies + slow
    assert {r.backend for r in replies} == {"two"}
    assert free.jammed == 0 and free.hits["/"] >= len(replies)
    # The jam was the only reason: released, "one" gets its share again.
    assert "one" in backends_of(after)
    assert "one" in backends_of(slow)


async def test_cookie_stickiness_survives_failover(tmp_path: Path) -> None:
    proxy, one, two = free_port(), free_port(), free_port()
    text = failover(proxy, one, two, **{"lb_policy round_robin": f"lb_policy cookie lb {SECRET}"})
    async with lab_backends(one, two) as (first, survivor):
        with proxy_app(tmp_path, text, proxy):
            async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
                pinned = cookie_for(first.dial)
                before = [await fetch(session, proxy, cookies={"lb": pinned}) for _ in range(5)]
                await first.stop()
                moved = await fetch(session, proxy, cookies={"lb": pinned})
                reissued = cookie_for(survivor.dial)
                after = [await fetch(session, proxy, cookies={"lb": reissued}) for _ in range(5)]
    assert not errors([*before, moved, *after]), [*before, moved, *after]
    assert {r.backend for r in before} == {"one"}
    assert not any(r.set_cookie for r in before)
    assert moved.backend == "two"
    assert moved.set_cookie == (f"lb={reissued}; Path=/; HttpOnly; SameSite=Lax",)
    assert {r.backend for r in after} == {"two"}
    assert not any(r.set_cookie for r in after)


async def test_active_health_checks_mark_down_and_up(tmp_path: Path) -> None:
    proxy, one, two = free_port(), free_port(), free_port()
    async with lab_backends(one, two) as (flaky, steady):
        with proxy_app(tmp_path, failover(proxy, one, two), proxy):
            warm = await sequential(proxy, 4)
            assert backends_of(warm) == {"one": 2, "two": 2}

            checks = flaky.hits["/health"]
            # 204 would pass by default; the example's `health_status 200` fails it.
            flaky.health_status = 204
            went_down = await until_streak(proxy, lambda r: r.backend == "two", seconds=5.0)
            # health_fails 2: one failed check is not enough.
            assert flaky.hits["/health"] - checks >= 2

            checks = flaky.hits["/health"]
            flaky.health_status = 200
            came_up = await until_streak(proxy, lambda r: r.backend == "one", seconds=5.0, n=1)
            # health_passes 2.
            assert flaky.hits["/health"] - checks >= 2
    assert went_down is not None, "never marked down"
    assert came_up is not None, "never marked up again"
    # Only active checks took it out: its `/` never failed.
    assert steady.hits["/health"] > 0


async def until_streak(
    port: int, good: Callable[[Reply], bool], *, seconds: float, n: int = 3
) -> float | None:
    """Request until `n` replies in a row satisfy `good`; the time it took, or None.

    One sequential client: under round robin, two replies in a row from the
    same backend already mean the other one was skipped.
    """
    start = time.monotonic()
    streak = 0
    async with aiohttp.ClientSession() as session:
        while time.monotonic() - start < seconds:
            reply = await fetch(session, port)
            assert reply.status == 200, reply
            streak = streak + 1 if good(reply) else 0
            if streak >= n:
                return time.monotonic() - start
            await asyncio.sleep(0.005)
    return None


# ---------------------------------------------------------------- the admin endpoint


async def admin_upstreams(port: int, host: str | None = None) -> tuple[int, object]:
    headers = {"Host": host} if host else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"http://127.0.0.1:{port}/reverse_proxy/upstreams",
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=5),
        ) as resp,
    ):
        return resp.status, json.loads(await resp.text())


async def test_admin_lists_upstreams_with_in_flight_and_fails(tmp_path: Path) -> None:
    proxy, one, two, admin = free_port(), free_port(), free_port(), free_port()
    text = failover(
        proxy,
        one,
        two,
        **{
            "admin off": f"admin 127.0.0.1:{admin}",
            "fail_duration 1500ms": "fail_duration 30s",
            "response_header_timeout 2s": "response_header_timeout 20s",
            # Only the passive failure below may take "two" out.
            "health_fails 2": "health_fails 1000",
        },
    )
    async with lab_backends(one, two) as (jammed, other):
        jammed.jams = True
        with proxy_app(tmp_path, text, proxy):
            wait_port(admin)  # opened right after the sites
            async with aiohttp.ClientSession() as session:
                # Round robin sends two of four to "one" (the second and fourth).
                held = [
                    asyncio.create_task(fetch(session, proxy, "/jam", timeout=20.0))
                    for _ in range(4)
                ]
                expected = [
                    {"address": jammed.dial, "num_requests": 2, "fails": 0},
                    {"address": other.dial, "num_requests": 0, "fails": 0},
                ]
                # Until "two" has finished its share and "one" holds its two.
                deadline = time.monotonic() + 5.0
                status, busy = await admin_upstreams(admin)
                while busy != expected and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
                    status, busy = await admin_upstreams(admin)
                jammed.release()
                assert all(r.status == 200 for r in await asyncio.gather(*held))

                await other.stop()
                failed_over = [await fetch(session, proxy) for _ in range(3)]
                _, after = await admin_upstreams(admin)
                refused, _ = await admin_upstreams(admin, host="evil.example")
    assert status == 200
    assert busy == expected
    assert jammed.hits["/jam"] == 2
    assert not errors(failed_over)
    assert after == [
        {"address": jammed.dial, "num_requests": 0, "fails": 0},
        {"address": other.dial, "num_requests": 0, "fails": 1},
    ]
    assert refused == 403


def test_admin_endpoint_is_opt_in_and_loopback_only(tmp_path: Path) -> None:
    proxy, one, two = free_port(), free_port(), free_port()
    # Without an `admin` option there is no admin listener (Caddy would open localhost:2019).
    default = failover(proxy, one, two, **{"\tadmin off\n": ""})
    assert "admin=" not in compile_text(tmp_path, default).read_text()
    enabled = failover(proxy, one, two, **{"admin off": "admin 127.0.0.1:2999"})
    assert "admin='127.0.0.1:2999'" in compile_text(tmp_path, enabled).read_text().replace('"', "'")

    exposed = failover(proxy, one, two, **{"admin off": "admin 0.0.0.0:2999"})
    done = run_to_exit(compile_text(tmp_path, exposed))
    assert done.returncode != 0
    assert "loopback only" in done.stdout + done.stderr
