"""Passive failure accounting and active health checks against loopback backends."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from rpc.runtime.health import ActiveHealthCheck, PassiveHealth, status_matches
from rpc.runtime.policies import First
from rpc.runtime.upstreams import Upstream, reset_hosts
from rpctest import procs

ServerFactory = Callable[..., Awaitable[TestServer]]


@pytest.fixture(autouse=True)
def _fresh_hosts() -> Iterator[None]:
    reset_hosts()
    yield
    reset_hosts()


async def wait_until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll `cond` until it holds (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


# ---------------------------------------------------------------- passive


def test_status_matches_codes_and_classes() -> None:
    assert status_matches(502, 502)
    assert status_matches(502, 5)
    assert not status_matches(404, 5)
    assert not status_matches(500, 501)


def test_strikes_count_every_matching_rule() -> None:
    policy = PassiveHealth(
        fail_duration=10, unhealthy_status=(500, "5xx", 503), unhealthy_latency=0.5
    )
    assert policy.strikes(500, 0.1) == 2
    assert policy.strikes(503, 0.6) == 3
    assert policy.strikes(200, 0.5) == 1
    assert policy.strikes(200, 0.1) == 0
    assert policy.is_unhealthy_response(502, 0.0)
    assert not policy.is_unhealthy_response(404, 0.0)


def test_provision_applies_limits() -> None:
    policy = PassiveHealth(fail_duration=1, unhealthy_request_count=7)
    assert policy.max_fails == 1
    plain = policy.provision(Upstream("a:1"))
    own = policy.provision(Upstream("a:1", max_requests=2))
    assert (plain.max_fails, plain.max_requests) == (1, 7)
    assert own.max_requests == 2


async def test_failures_are_forgotten_after_fail_duration() -> None:
    policy = PassiveHealth(fail_duration=0.1, max_fails=2)
    up = policy.provision(Upstream("a:1"))
    policy.count_failure(up)
    assert up.host.fails == 1 and up.available()
    policy.count_failure(up)
    assert up.host.fails == 2 and not up.available()
    # The state is shared: another handler's upstream for the address sees it.
    assert PassiveHealth(fail_duration=1).provision(Upstream("a:1")).host.fails == 2
    await wait_until(lambda: up.host.fails == 0)
    assert up.available()


async def test_no_failure_is_recorded_without_fail_duration() -> None:
    policy = PassiveHealth(fail_duration=0, max_fails=1)
    up = policy.provision(Upstream("a:1"))
    policy.count_failure(up)
    assert up.host.fails == 0 and up.available()


# ---------------------------------------------------------------- active: backends


class Probe:
    """A backend whose health answers the test controls; it records each probe."""

    def __init__(self) -> None:
        self.status = 200
        self.body = "ok"
        self.delay = 0.0
        self.script: asyncio.Queue[int] | None = None
        self.requests: list[dict[str, Any]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(
            {
                "method": request.method,
                "path_qs": request.path_qs,
                "host": request.host,
                "headers": dict(request.headers),
                "body": await request.text(),
                "scheme": request.scheme,
            }
        )
        if request.path == "/redirect":
            raise web.HTTPFound("/health")
        if self.delay:
            await asyncio.sleep(self.delay)
        status = self.status
        if self.script is not None:
            status = await asyncio.wait_for(self.script.get(), 10)
        return web.Response(status=status, text=self.body)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app


@pytest.fixture
async def probe(aiohttp_server: ServerFactory) -> AsyncIterator[tuple[Probe, str]]:
    backend = Probe()
    server = await aiohttp_server(backend.app())
    yield backend, f"127.0.0.1:{server.port}"


@pytest.fixture
async def checks() -> AsyncIterator[list[ActiveHealthCheck]]:
    """Checks a test starts; all are stopped at the end."""
    started: list[ActiveHealthCheck] = []
    yield started
    for check in started:
        await check.stop()


async def start(
    checks: list[ActiveHealthCheck], upstreams: list[Upstream], **kwargs: Any
) -> ActiveHealthCheck:
    kwargs.setdefault("uri", "/health")
    kwargs.setdefault("interval", 0.05)
    check = ActiveHealthCheck(upstreams, **kwargs)
    checks.append(check)
    await check.start()
    return check


# ---------------------------------------------------------------- active: behaviour


async def test_upstream_goes_down_and_up_with_its_health(
    probe: tuple[Probe, str], checks: list[ActiveHealthCheck]
) -> None:
    backend, dial = probe
    up = Upstream(dial)
    await start(checks, [up])
    await wait_until(lambda: len(backend.requests) >= 1)
    assert up.available()
    backend.status = 500
    await wait_until(lambda: not up.available())
    backend.status = 200
    await wait_until(up.available)
    assert backend.requests[0]["path_qs"] == "/health"
    assert backend.requests[0]["method"] == "GET"


async def test_thresholds_count_non_consecutive_results_and_reset_on_flip(
    probe: tuple[Probe, str], checks: list[ActiveHealthCheck]
) -> None:
    backend, dial = probe
    backend.script = asyncio.Queue()
    up = Upstream(dial)
    await start(checks, [up], passes=2, fails=3, interval=0.2)
    assert up.active is not None
    state = up.active
    steps = [
        (500, (False, 0, 1)),
        (200, (False, 1, 1)),
        (500, (False, 1, 2)),
        (500, (True, 0, 0)),  # third failure, not consecutive: down, counters reset
        (200, (True, 1, 0)),
        (500, (True, 1, 1)),
        (200, (False, 0, 0)),  # second pass: up again
    ]
    for status, expected in steps:
        backend.script.put_nowait(status)
        await wait_until(lambda e=expected: (state.unhealthy, state.passes, state.fails) == e)
        assert up.available() is not expected[0]


async def test_request_shape(probe: tuple[Probe, str], checks: list[ActiveHealthCheck]) -> None:
    backend, dial = probe
    await start(
        checks,
        [Upstream(dial)],
        uri="/status?full=1",
        method="POST",
        body="ping",
        headers={
            "Host": ["health.internal", "ignored"],
            "X-Target": ["{http.reverse_proxy.active.target_upstream}"],
            "X-Multi": ["a", "b"],
        },
    )
    await wait_until(lambda: len(backend.requests) >= 1)
    seen = backend.requests[0]
    assert seen["method"] == "POST"
    assert seen["path_qs"] == "/status?full=1"
    assert seen["body"] == "ping"
    assert seen["host"] == "health.internal"
    assert seen["headers"]["X-Target"] == dial
    assert seen["scheme"] == "http"


async def test_health_port_and_health_upstream_probe_elsewhere(
    probe: tuple[Probe, str], checks: list[ActiveHealthCheck]
) -> None:
    backend, dial = probe
    port = int(dial.rsplit(":", 1)[1])
    dead = f"127.0.0.1:{procs.free_port()}"  # nothing listens on the proxied port
    by_port = Upstream(dead)
    await start(checks, [by_port], port=port)
    await wait_until(lambda: len(backend.requests) >= 1)
    await asyncio.sleep(0.15)
    assert by_port.available()

    other = Upstream(f"127.0.0.1:{procs.free_port()}")
    await start(
        checks,
        [other],
        upstream=dial,
        headers={"X-Target": ["{http.reverse_proxy.active.target_upstream}"]},
    )
    await wait_until(
        lambda: any(r["headers"].get("X-Target") == other.dial for r in backend.requests)
    )
    assert other.available()


async def test_unreachable_upstream_is_down(checks: list[ActiveHealthCheck]) -> None:
    up = Upstream(f"127.0.0.1:{procs.free_port()}")
    await start(checks, [up])
    await wait_until(lambda: not up.available())


async def test_expected_status_and_body(
    probe: tuple[Probe, str], checks: list[ActiveHealthCheck]
) -> None:
    backend, dial = probe
    backend.status = 204
    backend.body = ""
    exact = Upstream(dial)
    await start(checks, [exact], expect_status=204)
    klass = Upstream(dial)
    await start(checks, [klass], expect_status="3xx")
    default = Upstream(dial)
    await start(checks, [default])
    await wait_until(lambda: not klass.available())
    await wait_until(lambda: len(backend.requests) >= 6)
    assert exact.available() and default.available()

    backend.status = 200
    backend.body = "status: ready\n"
    ready = Upstream(dial)
    await start(checks, [ready], expect_body=re.compile(r"re+ady"))
    missing = Upstream(dial)
    await start(checks, [missing], expect_body=re.compile(rb"^down$"))
    await wait_until(lambda: not missing.available())
    assert ready.available()


async def test_redirects_followed_only_when_asked(
    probe: tuple[Probe, str], checks: list[ActiveHealthCheck]
) -> None:
    backend, dial = probe
    plain = Upstream(dial)
    await start(checks, [plain], uri="/redirect")
    following = Upstream(dial)
    await start(checks, [following], uri="/redirect", follow_redirects=True)
    await wait_until(lambda: not plain.available())
    await wait_until(lambda: any(r["path_qs"] == "/health" for r in backend.requests))
    assert following.available()


async def test_slow_answer_times_out(
    probe: tuple[Probe, str], checks: list[ActiveHealthCheck]
) -> None:
    backend, dial = probe
    backend.delay = 1.0
    up = Upstream(dial)
    await start(checks, [up], timeout=0.1)
    await wait_until(lambda: not up.available())


async def test_checks_are_shared_per_address_and_config(
    probe: tuple[Probe, str], checks: list[ActiveHealthCheck]
) -> None:
    _, dial = probe
    first = Upstream(dial)
    second = Upstream(dial)
    different = Upstream(dial)
    await start(checks, [first], uri="/shared")
    await start(checks, [second], uri="/shared")
    await start(checks, [different], uri="/other")
    assert first.active is second.active
    assert different.active is not first.active


async def test_placeholder_and_disabled_checks_do_not_run(
    probe: tuple[Probe, str], checks: list[ActiveHealthCheck]
) -> None:
    backend, dial = probe
    placeholder = Upstream("{http.request.header.X-Up}:80")
    await start(checks, [placeholder])
    assert placeholder.active is None
    disabled = Upstream(dial)
    check = await start(checks, [disabled], uri="", upstream=dial)
    assert not check.enabled and disabled.active is None
    await asyncio.sleep(0.15)
    assert backend.requests == []


async def test_stop_ends_probing(probe: tuple[Probe, str], checks: list[ActiveHealthCheck]) -> None:
    backend, dial = probe
    check = await start(checks, [Upstream(dial)], uri="/stop")
    await wait_until(lambda: len(backend.requests) >= 2)
    await check.stop()
    count = len(backend.requests)
    await asyncio.sleep(0.2)
    assert len(backend.requests) == count


# ---------------------------------------------------------------- active: TLS


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls_transport_probes_over_https(
    tmp_path: Path, checks: list[ActiveHealthCheck]
) -> None:
    cert, key = _self_signed(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    backend = Probe()
    runner = web.AppRunner(backend.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx).start()
    port = runner.addresses[0][1]
    try:
        client_ctx = ssl.create_default_context(cafile=str(cert))
        up = Upstream(f"127.0.0.1:{port}")
        await start(checks, [up], tls=client_ctx)
        await wait_until(lambda: len(backend.requests) >= 1)
        assert backend.requests[0]["scheme"] == "https"
        await asyncio.sleep(0.1)
        assert up.available()
        # A port listed in tls_except_ports is probed in plain HTTP (and fails here).
        excepted = Upstream(f"127.0.0.1:{port}")
        await start(checks, [excepted], uri="/plain", tls=client_ctx, tls_except_ports=[port])
        await wait_until(lambda: not excepted.available())
    finally:
        for check in checks:
            await check.stop()
        await runner.cleanup()


# ---------------------------------------------------------------- differential against caddy


@pytest.mark.caddy
async def test_active_verdict_is_per_handler_like_caddy(
    caddy: str, tmp_path: Path, aiohttp_server: ServerFactory, checks: list[ActiveHealthCheck]
) -> None:
    """Two handlers share A and B; only the first checks health, and A's is failing.

    Caddy 2.11 keeps the active verdict on each handler's upstream: the
    checking handler fails over to B while the other keeps using A.
    """

    def backend(name: str, health: int) -> web.Application:
        async def handle(request: web.Request) -> web.Response:
            if request.path == "/health":
                return web.Response(status=health)
            return web.Response(text=name)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handle)
        return app

    server_a = await aiohttp_server(backend("A", 500))
    server_b = await aiohttp_server(backend("B", 200))
    a, b = f"127.0.0.1:{server_a.port}", f"127.0.0.1:{server_b.port}"
    checking, plain = procs.free_port(), procs.free_port()
    config = tmp_path / "Caddyfile"
    config.write_text(
        "{\n\tadmin off\n\tauto_https off\n}\n"
        f":{checking} {{\n\treverse_proxy {a} {b} {{\n\t\tlb_policy first\n"
        "\t\thealth_uri /health\n\t\thealth_interval 50ms\n\t}\n}\n"
        f":{plain} {{\n\treverse_proxy {a} {b} {{\n\t\tlb_policy first\n\t}}\n}}\n"
    )
    proc = await asyncio.create_subprocess_exec(
        caddy, "run", "--config", str(config), "--adapter", "caddyfile",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        await asyncio.to_thread(procs.wait_port, checking)
        await asyncio.to_thread(procs.wait_port, plain)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as client:

            async def ask(port: int) -> str:
                async with client.get(f"http://127.0.0.1:{port}/") as resp:
                    return await resp.text()

            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5
            while await ask(checking) != "B":
                assert loop.time() < deadline, "caddy never marked A down"
                await asyncio.sleep(0.05)
            caddy_answers = (await ask(checking), await ask(plain))
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 10)

    names = {a: "A", b: "B"}
    checked_pool = [Upstream(a), Upstream(b)]
    plain_pool = [Upstream(a), Upstream(b)]
    await start(checks, checked_pool)
    await wait_until(lambda: not checked_pool[0].available())
    ctx: Any = None  # First ignores the request
    ours = (
        names[First().select(checked_pool, ctx).dial],  # type: ignore[union-attr]
        names[First().select(plain_pool, ctx).dial],  # type: ignore[union-attr]
    )
    assert caddy_answers == ours == ("B", "A")
