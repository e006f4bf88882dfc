"""`main(APP)` as a real process: defaults, errors, host checks, parser check, workers, shutdown."""

from __future__ import annotations

import asyncio
import http.client
import signal
import socket
import threading
import time
from pathlib import Path

import pytest

from rpctest.apps import run_app, run_to_exit, write_app
from rpctest.procs import free_port


def get(port: int, path: str = "/", headers: dict[str, str] | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def raw(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send `data`, read until the server closes (bounded)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            out += chunk
        return out


def wait_for(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


BASIC = """
PORT = int(os.environ["PORT"])


async def route_0(ctx):
    if ctx.path == "/hello":
        return web.Response(text="hi", status=201)
    if ctx.path == "/host":
        return web.Response(text=f"{ctx.host}|{ctx.hostport}|{ctx.path}")
    if ctx.path == "/err":
        raise HandlerError(503, "boom", origin="Caddyfile:3")
    if ctx.path == "/bare":
        ctx.resp_headers["X-A"] = "b"
        raise HandlerError(404, origin="Caddyfile:4")
    if ctx.path == "/crash":
        raise RuntimeError("secret internals")
    if ctx.path == "/wait":
        open(os.environ["MARK"], "w").close()
        await asyncio.sleep(30)
    if ctx.path == "/pid":
        return web.Response(text=str(os.getpid()))
    if ctx.path == "/slow":
        open(os.environ["MARK"], "w").close()
        await asyncio.sleep(2)
        return web.Response(text="done")
    return None


async def errors_0(ctx):
    if ctx.path == "/err":
        e = ctx.extra
        return web.Response(
            text=f"{e['http.error.status_code']} {e['http.error.status_text']} "
            f"{e['http.error.message']} {e['http.error.id']} {e['http.error.trace']}"
        )
    return None


APP = App(
    servers=(
        ServerConfig(
            name="srv0",
            listen=(f"127.0.0.1:{PORT}",),
            route=route_0,
            errors=errors_0,
            logs=ServerLogs(),
            timeouts=Timeouts(read_header_timeout=float(os.environ.get("READ_HEADER", "60"))),
        ),
    ),
    logs=(Log(output="stdout"),),
    grace_period=float(os.environ["GRACE"]) if "GRACE" in os.environ else None,
)
"""


@pytest.fixture
def basic(tmp_path: Path):
    port = free_port()
    path = write_app(tmp_path, BASIC)
    env = {"PORT": str(port), "MARK": str(tmp_path / "mark")}
    return path, port, env


def test_unrouted_request_gets_caddys_empty_200(basic) -> None:
    path, port, env = basic
    with run_app(path, port, env=env) as app:
        status, headers, body = get(port, "/nothing")
        assert (status, body, headers["Server"]) == (200, b"", "Caddy")
        entry = app.wait_entry(logger="http.log.access", msg="NOP")
        assert entry["status"] == 0  # Caddy logs 0: no handler wrote a status


def test_handler_response_and_access_log(basic) -> None:
    path, port, env = basic
    with run_app(path, port, env=env) as app:
        status, _, body = get(port, "/hello", {"Cookie": "a=b", "X-Thing": "1"})
        assert (status, body) == (201, b"hi")
        entry = app.wait_entry(logger="http.log.access", msg="handled request")
        assert entry["status"] == 201 and entry["size"] == 2
        assert entry["request"]["headers"]["Cookie"] == ["REDACTED"]
        assert entry["request"]["headers"]["X-Thing"] == ["1"]
        assert "Host" not in entry["request"]["headers"]


def test_error_route_sees_error_placeholders(basic) -> None:
    path, port, env = basic
    with run_app(path, port, env=env):
        status, _, body = get(port, "/err")
        code, text1, text2, message, error_id, trace = body.decode().split(" ")
        assert (status, code, f"{text1} {text2}", message, trace) == (
            200,
            "503",
            "Service Unavailable",
            "boom",
            "Caddyfile:3",
        )
        assert len(error_id) == 9 and error_id.isalnum()


def test_unhandled_error_writes_bare_status_with_headers_set_before(basic) -> None:
    path, port, env = basic
    with run_app(path, port, env=env):
        status, headers, body = get(port, "/bare")
        assert (status, body, headers.get("X-A")) == (404, b"", "b")


def test_exception_is_a_bare_500_and_a_logged_traceback(basic) -> None:
    path, port, env = basic
    with run_app(path, port, env=env) as app:
        status, _, body = get(port, "/crash")
        assert (status, body) == (500, b"")
        entry = app.wait_entry(logger="http.log.error", level="error")
        assert "RuntimeError: secret internals" in entry["error"]
        assert "Traceback" in entry["error"]
        assert app.wait_entry(logger="http.log.access", level="error")["status"] == 500


def test_client_gone_is_logged_499_and_nothing_written(basic) -> None:
    path, port, env = basic
    mark = Path(env["MARK"])
    with run_app(path, port, env=env) as app:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_for(mark.exists)
        sock.close()
        entry = app.wait_entry(logger="http.log.access", status=499)
        assert entry["size"] == 0


def test_duplicate_and_missing_host_are_rejected(basic) -> None:
    path, port, env = basic
    with run_app(path, port, env=env):
        dup = raw(port, b"GET /host HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
        assert dup.split(b"\r\n", 1)[0].endswith(b"400 Bad Request")
        assert b"|" not in dup  # the route never ran
        missing = raw(port, b"GET /host HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert missing.split(b"\r\n", 1)[0].split(b" ", 1)[1].startswith(b"400")
        assert missing.endswith(b"400 Bad Request: missing required Host header")
        http10 = raw(port, b"GET /host HTTP/1.0\r\n\r\n")
        assert http10.startswith(b"HTTP/1.0 200") and http10.endswith(b"||/host")


def test_absolute_form_target_routes_by_its_authority(basic) -> None:
    path, port, env = basic
    with run_app(path, port, env=env):
        reply = raw(
            port,
            b"GET http://B.example:81/host HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n",
        )
        assert reply.endswith(b"b.example|B.example:81|/host")


def test_read_header_timeout_closes_a_slow_client(basic) -> None:
    path, port, env = basic
    env["READ_HEADER"] = "0.5"
    with run_app(path, port, env=env):
        with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
            sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n")  # never finished
            assert sock.recv(100) == b""  # closed, without a reply, as Go does
        assert get(port, "/hello")[0] == 201


def test_check_version_help_and_usage(basic) -> None:
    path, _, env = basic
    checked = run_to_exit(path, ["--check"], env=env)
    assert checked.returncode == 0, checked.stderr
    assert "Valid configuration" in checked.stdout + checked.stderr
    quiet = run_to_exit(path, ["--check", "--log-level", "error"], env=env)
    assert quiet.returncode == 0 and "Valid configuration" not in quiet.stdout + quiet.stderr
    version = run_to_exit(path, ["--version"], env=env)
    assert version.returncode == 0 and "runtime ABI" in version.stdout
    helped = run_to_exit(path, ["--help"], env=env)
    assert helped.returncode == 0 and "--workers" in helped.stdout
    assert run_to_exit(path, ["--workers", "-1"], env=env).returncode == 2
    assert run_to_exit(path, ["--bogus"], env=env).returncode == 2


def test_python_parser_is_refused_unless_allowed(basic) -> None:
    path, port, env = basic
    env["AIOHTTP_NO_EXTENSIONS"] = "1"
    refused = run_to_exit(path, [], env=env)
    assert refused.returncode == 1
    assert "pure-Python HTTP parser" in refused.stdout + refused.stderr
    with run_app(path, port, "--allow-python-parser", env=env):
        assert get(port, "/hello")[0] == 201


def test_repeated_listen_address_is_a_config_error(tmp_path: Path) -> None:
    path = write_app(
        tmp_path,
        """
        async def route(ctx):
            return None

        APP = App(servers=(
            ServerConfig("a", ("127.0.0.1:9",), route),
            ServerConfig("b", ("127.0.0.1:9",), route),
        ))
        """,
    )
    result = run_to_exit(path, ["--check"])
    assert result.returncode == 1
    assert "listener address repeated" in result.stderr


def test_port_in_use_is_a_startup_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        path = write_app(
            tmp_path,
            f"""
            async def route(ctx):
                return None

            APP = App(servers=(ServerConfig("a", ("127.0.0.1:{port}",), route),))
            """,
        )
        result = run_to_exit(path)
    assert result.returncode == 1
    assert "listening" in result.stderr


def test_workers_share_the_port(basic) -> None:
    path, port, env = basic
    with run_app(path, port, "--workers", "2", env=env) as app:
        pids = set()
        for _ in range(300):
            pids.add(get(port, "/pid")[2])
            if len(pids) == 2:
                break
        assert len(pids) == 2
        assert str(app.proc.pid).encode() not in pids  # the parent only supervises
        app.signal(signal.SIGTERM)
        assert app.wait() == 0


def test_sigterm_drains_in_flight_requests_and_refuses_new_ones(basic) -> None:
    path, port, env = basic
    mark = Path(env["MARK"])
    with run_app(path, port, env=env) as app:
        result: dict[str, object] = {}

        def slow() -> None:
            result["reply"] = get(port, "/slow")

        client = threading.Thread(target=slow)
        client.start()
        wait_for(mark.exists)
        app.signal(signal.SIGTERM)

        def refused() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except ConnectionRefusedError:
                return True
            return False

        wait_for(refused, timeout=5)
        assert client.is_alive()  # refusal happened while the slow request was in flight
        client.join(15)
        status, _, body = result["reply"]  # type: ignore[misc]
        assert (status, body) == (200, b"done")
        assert app.wait() == 0
        app.wait_entry(msg="shutdown complete")


def test_idle_keepalive_connections_close_on_shutdown(basic) -> None:
    path, port, env = basic
    with run_app(path, port, env=env) as app:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 201")
        app.signal(signal.SIGTERM)
        assert sock.recv(100) == b""  # the idle keep-alive connection is closed
        sock.close()
        assert app.wait() == 0


def test_grace_period_cancels_what_does_not_finish(basic) -> None:
    path, port, env = basic
    env["GRACE"] = "0.3"
    mark = Path(env["MARK"])
    with run_app(path, port, env=env) as app:
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        sock.sendall(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_for(mark.exists)
        app.signal(signal.SIGTERM)
        assert app.wait() == 0
        assert sock.recv(100) == b""  # cancelled: closed without a response
        sock.close()


def test_second_sigint_forces_exit(basic) -> None:
    path, port, env = basic
    mark = Path(env["MARK"])
    with run_app(path, port, env=env) as app:
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        sock.sendall(b"GET /wait HTTP/1.1\r\nHost: x\r\n\r\n")
        wait_for(mark.exists)
        app.signal(signal.SIGINT)
        app.wait_entry(msg="servers shutting down with eternal grace period")
        app.signal(signal.SIGINT)
        assert app.wait() == 1
        sock.close()


def test_uvloop_is_used_when_installed(tmp_path: Path) -> None:
    pytest.importorskip("uvloop")
    port = free_port()
    path = write_app(
        tmp_path,
        f"""
        async def route(ctx):
            return web.Response(text=type(asyncio.get_running_loop()).__module__)

        APP = App(servers=(ServerConfig("a", ("127.0.0.1:{port}",), route),))
        """,
    )
    with run_app(path, port):
        assert get(port)[2].startswith(b"uvloop")


async def test_read_body_timeout_fails_the_body_read_with_408(aiohttp_raw_server) -> None:
    from aiohttp import web

    from rpc.runtime import ServerConfig, Timeouts
    from rpc.runtime.dispatch import Dispatcher

    async def route(ctx):  # type: ignore[no-untyped-def]
        await ctx.request.content.read()
        return web.Response(text="read")

    config = ServerConfig("s", ("127.0.0.1:0",), route, timeouts=Timeouts(read_timeout=0.3))
    server = await aiohttp_raw_server(Dispatcher(config))
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
    head = await asyncio.wait_for(reader.readline(), 10)
    assert head.startswith(b"HTTP/1.1 408")
    writer.close()


async def test_write_timeout_aborts_a_late_response(aiohttp_raw_server) -> None:
    from aiohttp import web

    from rpc.runtime import ServerConfig, Timeouts
    from rpc.runtime.dispatch import Dispatcher

    async def route(ctx):  # type: ignore[no-untyped-def]
        await asyncio.sleep(5)
        return web.Response(text="late")

    config = ServerConfig("s", ("127.0.0.1:0",), route, timeouts=Timeouts(write_timeout=0.3))
    server = await aiohttp_raw_server(Dispatcher(config))
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert await asyncio.wait_for(reader.read(), 10) == b""
    writer.close()


async def test_idle_keepalive_connections_time_out() -> None:
    from aiohttp import web

    from rpc.runtime import ServerConfig, Timeouts
    from rpc.runtime.dispatch import Dispatcher
    from rpc.runtime.listeners import make_server, open_server

    async def route(ctx):  # type: ignore[no-untyped-def]
        return web.Response(text="ok")

    port = free_port()
    config = ServerConfig("s", (f"127.0.0.1:{port}",), route, timeouts=Timeouts(idle_timeout=0.3))
    low = make_server(config, Dispatcher(config))
    opened = await open_server(config, low, ssl_context=None, http_port=80, reuse_port=False)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"ok"), 10)
        assert head.startswith(b"HTTP/1.1 200")
        assert await asyncio.wait_for(reader.read(), 10) == b""  # closed once idle
        writer.close()
    finally:
        for srv in opened:
            srv.close()
        await low.shutdown(1)


def test_shutdown_delay_keeps_serving_before_draining(tmp_path: Path) -> None:
    port = free_port()
    path = write_app(
        tmp_path,
        f"""
        async def route(ctx):
            return web.Response(text="still here")

        APP = App(
            servers=(ServerConfig("a", ("127.0.0.1:{port}",), route),),
            shutdown_delay=3.0,
        )
        """,
    )
    with run_app(path, port) as app:
        app.signal(signal.SIGTERM)
        app.wait_entry(msg="shutdown scheduled")
        assert get(port)[2] == b"still here"
        assert app.wait() == 0
