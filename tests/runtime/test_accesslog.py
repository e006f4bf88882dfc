"""Access and error log entries: Caddy's shape, redaction, logger names, hooks; vs the real caddy."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from rpc.runtime import HandlerError, Log, Placeholder, ServerConfig, ServerLogs, Template, logs
from rpc.runtime.accesslog import canonical_header, header_fields, logger_names, should_log
from rpc.runtime.context import Ctx
from rpc.runtime.dispatch import Dispatcher
from rpctest.apps import run_app, write_app
from rpctest.procs import free_port, wait_port


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "access.log"
    logs.configure((Log(output="file", filename=str(path), level="DEBUG"),))
    yield path
    logs.reset()


def entries(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_canonical_header_names_follow_go() -> None:
    assert canonical_header("x-forwarded-for") == "X-Forwarded-For"
    assert canonical_header("USER-AGENT") == "User-Agent"
    assert canonical_header("x_under") == "X_under"
    assert canonical_header("bad header") == "bad header"  # not a token: left alone, as Go


def test_credentials_are_redacted_unless_allowed() -> None:
    pairs = [("cookie", "a"), ("Cookie", "b"), ("Authorization", "x"), ("X-A", "1")]
    assert header_fields(pairs, credentials=False) == {
        "Cookie": ["REDACTED"],
        "Authorization": ["REDACTED"],
        "X-A": ["1"],
    }
    assert header_fields(pairs, credentials=True)["Cookie"] == ["a", "b"]
    assert "Host" not in header_fields([("Host", "h")], credentials=False, skip_host=True)


def test_should_log_follows_mapped_skipped_and_unmapped_hosts() -> None:
    config = ServerLogs(
        logger_names={"a.example": ("log0",)},
        skip_hosts=("*.skip.example",),
        skip_unmapped_hosts=False,
    )
    assert should_log(config, "a.example")
    assert not should_log(config, "x.skip.example")
    assert should_log(config, "other.example")
    assert not should_log(ServerLogs(skip_unmapped_hosts=True), "other.example")


def _ctx(host: str, **vars: object) -> Ctx:
    ctx = Ctx.__new__(Ctx)
    ctx.host = host
    ctx.vars = dict(vars)
    return ctx


def test_logger_names_exact_wildcard_default_and_override() -> None:
    config = ServerLogs(
        logger_names={"a.example": ("log0", "log1"), "*.wild.example": ("log2",)},
        default_logger_name="log9",
    )
    base = "http.log.access"
    assert logger_names(_ctx("a.example"), config, base) == [f"{base}.log0", f"{base}.log1"]
    assert logger_names(_ctx("x.wild.example"), config, base) == [f"{base}.log2"]
    assert logger_names(_ctx("nowhere"), config, base) == [f"{base}.log9"]
    assert logger_names(_ctx("nowhere"), ServerLogs(), base) == [base]
    override = _ctx("a.example", access_logger_names=("custom", ""))
    assert logger_names(override, config, base) == [f"{base}.custom", base]


async def _serve(aiohttp_raw_server, route, errors=None, server_logs=None):  # type: ignore[no-untyped-def]
    config = ServerConfig(
        "srv0", ("127.0.0.1:0",), route, errors=errors, logs=server_logs or ServerLogs()
    )
    return await aiohttp_raw_server(Dispatcher(config))


async def test_log_skip_and_log_append(aiohttp_raw_server, aiohttp_client, log_file) -> None:
    async def route(ctx: Ctx) -> web.StreamResponse | None:
        if ctx.path == "/skip":
            ctx.vars["log_skip"] = True
        ctx.log_fields["const"] = "c"
        ctx.log_fields["late"] = Template([Placeholder("http.request.uri.path")])
        ctx.log_fields["fn"] = lambda c: c.method
        return web.Response(text="ok")

    client = await aiohttp_client(await _serve(aiohttp_raw_server, route))
    assert (await client.get("/skip")).status == 200
    assert (await client.get("/kept")).status == 200
    (entry,) = [e for e in entries(log_file) if e.get("logger") == "http.log.access"]
    assert entry["request"]["uri"] == "/kept"
    assert (entry["const"], entry["late"], entry["fn"]) == ("c", "/kept", "GET")


async def test_sizes_read_and_written(aiohttp_raw_server, aiohttp_client, log_file) -> None:
    async def route(ctx: Ctx) -> web.StreamResponse | None:
        body = await ctx.request.content.read(4)
        resp = web.StreamResponse()
        await ctx.prepare(resp)
        for _ in range(3):
            await resp.write(body)
        return resp

    client = await aiohttp_client(await _serve(aiohttp_raw_server, route))
    resp = await client.post("/up", data=b"abcdefgh")
    assert await resp.read() == b"abcd" * 3
    (entry,) = [e for e in entries(log_file) if e.get("logger") == "http.log.access"]
    assert (entry["bytes_read"], entry["size"], entry["status"]) == (4, 12, 200)
    assert "Date" not in entry["resp_headers"]  # Go's header map never shows what net/http adds


async def test_error_entry_shape(aiohttp_raw_server, aiohttp_client, log_file) -> None:
    async def route(ctx: Ctx) -> web.StreamResponse | None:
        raise HandlerError(502, "upstream down", origin="Caddyfile:7")

    client = await aiohttp_client(await _serve(aiohttp_raw_server, route))
    assert (await client.get("/x")).status == 502
    (error,) = [e for e in entries(log_file) if e.get("logger") == "http.log.error"]
    assert (error["level"], error["msg"], error["status"]) == ("error", "upstream down", 502)
    assert error["err_trace"] == "Caddyfile:7" and len(error["err_id"]) == 9
    assert error["request"]["uri"] == "/x"
    (access,) = [e for e in entries(log_file) if e.get("logger") == "http.log.access"]
    assert (access["level"], access["status"]) == ("error", 502)


async def test_handled_errors_log_at_debug(aiohttp_raw_server, aiohttp_client, log_file) -> None:
    async def route(ctx: Ctx) -> web.StreamResponse | None:
        raise HandlerError(500, "handled")

    async def errors(ctx: Ctx) -> web.StreamResponse | None:
        return web.Response(text="sorry")

    client = await aiohttp_client(await _serve(aiohttp_raw_server, route, errors))
    assert await (await client.get("/x")).text() == "sorry"
    (error,) = [e for e in entries(log_file) if e.get("logger") == "http.log.error"]
    assert error["level"] == "debug"


REQUEST = (
    b"GET /hello?x=1 HTTP/1.1\r\nHost: example.test\r\nUser-Agent: t/1\r\n"
    b"X-Multi: a\r\nX-Multi: b\r\nx-lower: v\r\nCookie: s=1\r\nAuthorization: Basic eA==\r\n"
    b"Connection: close\r\n\r\n"
)
POST = (
    b"POST /hello HTTP/1.1\r\nHost: example.test:8080\r\nContent-Length: 3\r\n"
    b"Content-Type: text/plain\r\nConnection: close\r\n\r\nabc"
)


def _send(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        out = b""
        while chunk := sock.recv(65536):
            out += chunk
        return out


def _read_entries(path: Path, count: int) -> list[dict]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if path.exists():
            found = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
            if len(found) >= count:
                return found
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} entries in {path}")


@pytest.mark.caddy
def test_access_log_matches_caddy_field_by_field(caddy: str, tmp_path: Path) -> None:
    caddy_port, rpc_port = free_port(), free_port()
    caddy_log, rpc_log = tmp_path / "caddy.log", tmp_path / "rpc.log"
    (tmp_path / "Caddyfile").write_text(
        "{\n\tadmin off\n\tpersist_config off\n}\n"
        f":{caddy_port} {{\n\tlog {{\n\t\toutput file {caddy_log}\n\t}}\n"
        '\trespond /hello "hi" 201\n}\n'
    )
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path))
    caddy_proc = subprocess.Popen(
        [caddy, "run", "--config", "Caddyfile", "--adapter", "caddyfile"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    app = write_app(
        tmp_path,
        f"""
        async def route_0(ctx):
            if ctx.path == "/hello":
                return web.Response(text="hi", status=201)
            return None

        APP = App(
            servers=(
                ServerConfig(
                    "srv0", (":{rpc_port}",), route_0, logs=ServerLogs(default_logger_name="log0")
                ),
            ),
            logs=(
                Log(name="default", exclude=("http.log.access.log0",)),
                Log(name="log0", output="file", filename={str(rpc_log)!r},
                    include=("http.log.access.log0",)),
            ),
        )
        """,
    )
    try:
        wait_port(caddy_port)
        with run_app(app, rpc_port):
            for data in (REQUEST, POST):
                assert (
                    _send(caddy_port, data).split(b"\r\n")[0]
                    == _send(rpc_port, data).split(b"\r\n")[0]
                )
            theirs, ours = _read_entries(caddy_log, 2), _read_entries(rpc_log, 2)
    finally:
        caddy_proc.terminate()
        caddy_proc.wait(timeout=10)
    for want, got in zip(theirs, ours):
        assert set(got) == set(want)
        for key in ("ts", "duration"):
            assert isinstance(got[key], float) and isinstance(want[key], float)
        for key in ("level", "logger", "msg", "bytes_read", "user_id", "size", "status"):
            assert got[key] == want[key], key
        assert got["resp_headers"] == want["resp_headers"]
        assert set(got["request"]) == set(want["request"])
        for key in ("remote_ip", "client_ip", "proto", "method", "host", "uri", "headers"):
            assert got["request"][key] == want["request"][key], key
