"""Prometheus metrics: Caddy's series and labels, errors, upstream health, the metrics handler,
the admin endpoint, and counters summed across --workers."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from rpc.runtime import (
    HandlerError,
    Instrumented,
    MetricsConfig,
    MetricsHandler,
    ServerConfig,
    upstreams,
)
from rpc.runtime import metrics as metrics_mod
from rpc.runtime.context import Ctx
from rpc.runtime.dispatch import Dispatcher
from rpctest.apps import run_app, run_to_exit, write_app
from rpctest.procs import free_port, wait_port

parser = pytest.importorskip("prometheus_client.parser")


@pytest.fixture
def enabled() -> Iterator[None]:
    metrics_mod.enable(MetricsConfig())
    yield
    metrics_mod.enable(None)
    metrics_mod.forget_upstreams()
    upstreams.reset_hosts()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in parser.text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, frozenset(labels.items())), 0.0)


async def inner(ctx: Ctx) -> web.StreamResponse | None:
    if ctx.path == "/x":
        return web.Response(text="hi")
    if ctx.path == "/y":
        raise HandlerError(404)
    return None


async def test_instrumented_routes_record_caddys_series(
    enabled, aiohttp_raw_server, aiohttp_client
) -> None:
    before = samples(metrics_mod.exposition()[0].decode())
    config = ServerConfig("srv9", ("127.0.0.1:0",), Instrumented(inner, "subroute"))
    client = await aiohttp_client(await aiohttp_raw_server(Dispatcher(config)))
    assert (await client.get("/x")).status == 200
    assert (await client.get("/y")).status == 404
    assert (await client.post("/z", data=b"12345")).status == 200
    found = samples(metrics_mod.exposition()[0].decode())

    def delta(name: str, **labels: str) -> float:
        return value(found, name, **labels) - value(before, name, **labels)

    basic = {"server": "srv9", "handler": "subroute"}
    assert delta("caddy_http_requests_total", **basic) == 3
    assert delta("caddy_http_request_errors_total", **basic) == 1
    assert value(found, "caddy_http_requests_in_flight", **basic) == 0
    ok = dict(basic, code="200", method="GET")
    assert delta("caddy_http_request_duration_seconds_count", **ok) == 1
    assert delta("caddy_http_response_size_bytes_sum", **ok) == 2
    assert delta("caddy_http_response_duration_seconds_count", **ok) == 1
    missing = dict(basic, code="404", method="GET")
    assert delta("caddy_http_request_duration_seconds_count", **missing) == 1
    assert delta("caddy_http_response_size_bytes_sum", **missing) == 0
    assert delta("caddy_http_response_duration_seconds_count", **missing) == 0  # as Caddy
    posted = dict(basic, code="200", method="POST")
    assert delta("caddy_http_request_size_bytes_sum", **posted) >= 5  # body counts
    assert not any(name.endswith("_created") for name, _ in found)


async def test_per_host_labels_guard_cardinality(aiohttp_raw_server, aiohttp_client) -> None:
    metrics_mod.enable(MetricsConfig(per_host=True, hosts=frozenset({"known.test"})))
    try:
        config = ServerConfig("srv8", ("127.0.0.1:0",), Instrumented(inner, "subroute"))
        client = await aiohttp_client(await aiohttp_raw_server(Dispatcher(config)))
        await client.get("/x", headers={"Host": "known.test"})
        await client.get("/x", headers={"Host": "random.attacker"})
        found = samples(metrics_mod.exposition()[0].decode())
        basic = {"server": "srv8", "handler": "subroute"}
        assert value(found, "caddy_http_requests_total", **basic, host="known.test") == 1
        assert value(found, "caddy_http_requests_total", **basic, host="_other") == 1
    finally:
        metrics_mod.enable(None)


def test_upstream_health_gauge_reports_watched_upstreams(enabled) -> None:
    up = upstreams.Upstream("127.0.0.1:9001")
    down = upstreams.Upstream("127.0.0.1:9002", max_fails=1)
    down.host.fails = 1  # passive health: over its limit
    metrics_mod.watch_upstreams([up, down])
    found = samples(metrics_mod.exposition()[0].decode())
    name = "caddy_reverse_proxy_upstreams_healthy"
    assert value(found, name, upstream="127.0.0.1:9001") == 1
    assert value(found, name, upstream="127.0.0.1:9002") == 0
    active = upstreams.Upstream("127.0.0.1:9001")
    active.active = upstreams.ActiveState()
    active.active.unhealthy = True  # another handler's active checker marks the address down
    metrics_mod.watch_upstreams([active])
    found = samples(metrics_mod.exposition()[0].decode())
    assert value(found, name, upstream="127.0.0.1:9001") == 0


async def test_metrics_handler_negotiates_openmetrics(
    enabled, aiohttp_raw_server, aiohttp_client
) -> None:
    async def route(ctx: Ctx) -> web.StreamResponse | None:
        strict = ctx.path == "/plain"
        return await MetricsHandler(disable_openmetrics=strict)(ctx)

    config = ServerConfig("srv7", ("127.0.0.1:0",), route)
    client = await aiohttp_client(await aiohttp_raw_server(Dispatcher(config)))
    accept = {"Accept": "application/openmetrics-text; version=1.0.0"}
    open_resp = await client.get("/m", headers=accept)
    assert open_resp.headers["Content-Type"].startswith("application/openmetrics-text")
    assert (await open_resp.text()).rstrip().endswith("# EOF")
    plain = await client.get("/plain", headers=accept)
    assert plain.headers["Content-Type"].startswith("text/plain")


def _scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        return resp.read().decode()


def _hit(port: int, path: str, count: int = 1) -> None:
    for _ in range(count):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
            while sock.recv(65536):
                pass


def _http_families(text: str) -> dict[str, frozenset[str]]:
    found: dict[str, frozenset[str]] = {}
    for family in parser.text_string_to_metric_families(text):
        if family.name.startswith(("caddy_http_", "caddy_reverse_proxy")):
            for sample in family.samples:
                labels = frozenset(sample.labels) - {"le"}
                found[family.name] = found.get(family.name, frozenset()) | labels
    return found


APP = """
PORT, ADMIN = int(os.environ["PORT"]), int(os.environ["ADMIN"])


async def inner(ctx):
    if ctx.path == "/y":
        raise HandlerError(404)
    return web.Response(text="hi")


APP = App(
    servers=(ServerConfig("srv0", (f"127.0.0.1:{PORT}",), Instrumented(inner, "subroute")),),
    admin=f"127.0.0.1:{ADMIN}",
    metrics=MetricsConfig(),
)
"""


@pytest.mark.caddy
def test_series_names_and_labels_match_caddy(caddy: str, tmp_path: Path) -> None:
    caddy_port, caddy_admin = free_port(), free_port()
    (tmp_path / "Caddyfile").write_text(
        f"{{\n\tadmin 127.0.0.1:{caddy_admin}\n\tpersist_config off\n\tmetrics\n}}\n"
        f":{caddy_port} {{\n\thandle /x {{\n\t\trespond hi\n\t}}\n"
        "\thandle /y {\n\t\terror 404\n\t}\n}\n"
    )
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path))
    proc = subprocess.Popen(
        [caddy, "run", "--config", "Caddyfile", "--adapter", "caddyfile"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(caddy_port)
        _hit(caddy_port, "/x")
        _hit(caddy_port, "/y")
        theirs = _http_families(_scrape(caddy_admin))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    port, admin = free_port(), free_port()
    app = write_app(tmp_path, APP)
    with run_app(app, port, env={"PORT": str(port), "ADMIN": str(admin)}):
        wait_port(admin)
        _hit(port, "/x")
        _hit(port, "/y")
        ours = _http_families(_scrape(admin))
    assert {k: v for k, v in ours.items() if k.startswith("caddy_http_")} == theirs


def test_workers_sum_their_counters_on_the_admin_endpoint(tmp_path: Path) -> None:
    port, admin = free_port(), free_port()
    app = write_app(tmp_path, APP)
    with run_app(app, port, "--workers", "2", env={"PORT": str(port), "ADMIN": str(admin)}):
        wait_port(admin)
        _hit(port, "/x", 40)
        deadline = time.monotonic() + 10
        while True:
            found = samples(_scrape(admin))
            total = value(found, "caddy_http_requests_total", server="srv0", handler="subroute")
            if total == 40 or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert total == 40
        in_flight = value(found, "caddy_http_requests_in_flight", server="srv0", handler="subroute")
        assert in_flight == 0


def test_admin_endpoint_serves_metrics_and_the_admin_api(tmp_path: Path) -> None:
    port, admin = free_port(), free_port()
    app = write_app(tmp_path, APP)
    with run_app(app, port, env={"PORT": str(port), "ADMIN": str(admin)}):
        wait_port(admin)
        assert "caddy_reverse_proxy_upstreams_healthy" in _scrape(admin)
        with urllib.request.urlopen(
            f"http://127.0.0.1:{admin}/reverse_proxy/upstreams", timeout=10
        ) as resp:
            assert resp.headers["Content-Type"] == "application/json"
        request = urllib.request.Request(
            f"http://127.0.0.1:{admin}/metrics", headers={"Host": "evil.example"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403  # DNS-rebinding guard covers /metrics too


def test_admin_endpoint_must_be_loopback(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        """
        async def route(ctx):
            return None

        APP = App(servers=(ServerConfig("a", ("127.0.0.1:9",), route),), admin="0.0.0.0:2019")
        """,
    )
    result = run_to_exit(app, ["--check"])
    assert result.returncode == 1 and "loopback" in result.stderr
