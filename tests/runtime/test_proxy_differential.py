"""reverse_proxy against the real caddy: the same Caddyfile, the same loopback backend.

Each case runs the Caddyfile in caddy 2.11.7 and as an rpc-generated app in
front of one backend process (`rpctest/backend.py`), sends the same
requests to both, and compares status, body, the response headers that
matter, and what the backend received (Host, X-Forwarded-*, Via, hop-by-hop).
Known differences are asserted explicitly where they are allowed (`Date`,
header order).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rpctest.apps import run_app
from rpctest.procs import caddy_bin, free_port, wait_port

BACKEND = Path(__file__).resolve().parent.parent / "rpctest" / "backend.py"

pytestmark = pytest.mark.skipif(caddy_bin() is None, reason="no caddy binary")


def compile_app(text: str) -> str:
    """The generated module for `text`."""
    from rpc.compiler.pipeline import compile_caddyfile

    result = compile_caddyfile(text, "Caddyfile")
    assert result.python is not None
    return result.python


@pytest.fixture(scope="module")
def backends(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """Two backend processes (b0, b1); yields their ports."""
    procs = []
    ports = (free_port(), free_port())
    try:
        for i, port in enumerate(ports):
            procs.append(
                subprocess.Popen(
                    [sys.executable, str(BACKEND), str(port), f"b{i}"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port in ports:
            wait_port(port)
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


SITE = """\
{{
    admin off
    auto_https off
}}
http://127.0.0.1:{port} {{
{body}
}}
"""


@contextlib.contextmanager
def both(tmp_path: Path, body: str) -> Iterator[tuple[int, int]]:
    """Run `body` as a site in caddy and in the generated app; yields (caddy port, rpc port)."""
    cport, rport = free_port(), free_port()
    cfile = tmp_path / "Caddyfile"
    cfile.write_text(SITE.format(port=cport, body=body))
    app = tmp_path / "app.py"
    app.write_text(compile_app(SITE.format(port=rport, body=body)))
    log = (tmp_path / "caddy.log").open("wb")
    caddy = subprocess.Popen(
        [caddy_bin(), "run", "--adapter", "caddyfile", "--config", str(cfile)],  # type: ignore[list-item]
        stdout=log,
        stderr=log,
        cwd=tmp_path,
    )
    try:
        wait_port(cport)
        with run_app(app, rport):
            yield cport, rport
    finally:
        caddy.terminate()
        caddy.wait(timeout=10)
        log.close()


class Reply:
    def __init__(self, resp: http.client.HTTPResponse) -> None:
        self.status = resp.status
        self.headers = resp.getheaders()
        self.body = resp.read()

    def header(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def echo(self) -> dict[str, Any]:
        info: dict[str, Any] = json.loads(self.body)
        hdrs: dict[str, list[str]] = {}
        for key, value in info["headers"]:
            hdrs.setdefault(key.lower(), []).append(value)
        info["hdrs"] = hdrs
        return info


def request(
    port: int,
    path: str = "/",
    method: str = "GET",
    headers: list[tuple[str, str]] | None = None,
    body: bytes | None = None,
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for key, value in headers or []:
            conn.putheader(key, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        return Reply(conn.getresponse())
    finally:
        conn.close()


IGNORED = {"date", "content-length", "host", "x-forwarded-host"}


def same_received(a: Reply, b: Reply, cport: int, rport: int) -> None:
    ea, eb = a.echo(), b.echo()
    assert ea["method"] == eb["method"]
    assert ea["target"] == eb["target"]
    assert ea["body_len"] == eb["body_len"]
    ha = {k: v for k, v in ea["hdrs"].items() if k not in IGNORED}
    hb = {k: v for k, v in eb["hdrs"].items() if k not in IGNORED}
    assert ha == hb
    # Host and X-Forwarded-Host carry each proxy's own port.
    for name in ("host", "x-forwarded-host"):
        assert [v.replace(str(cport), "PORT") for v in ea["hdrs"].get(name, [])] == [
            v.replace(str(rport), "PORT") for v in eb["hdrs"].get(name, [])
        ]


def same_response(a: Reply, b: Reply, names: tuple[str, ...] = ()) -> None:
    assert a.status == b.status
    for name in ("via", "server", "content-type", "x-backend", *names):
        assert a.header(name) == b.header(name), name


# ---------------------------------------------------------------- cases


def test_plain_proxy_headers_both_ways(tmp_path: Path, backends: tuple[int, int]) -> None:
    b0, _ = backends
    with both(tmp_path, f"reverse_proxy 127.0.0.1:{b0}") as (cport, rport):
        sent = [
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Forwarded-Proto", "https"),
            ("Connection", "X-Foo, keep-alive"),
            ("X-Foo", "hop"),
            ("Te", "trailers, deflate"),
            ("Via", "1.0 upstream-proxy"),
            ("Proxy-Authorization", "secret"),
            ("x-lower-case", "v"),
            ("Keep-Alive", "timeout=5"),
        ]
        a = request(cport, "/a/b%20c?x=1&y", headers=sent)
        b = request(rport, "/a/b%20c?x=1&y", headers=sent)
        same_response(a, b)
        same_received(a, b, cport, rport)
        got = b.echo()["hdrs"]
        assert got["x-forwarded-for"] == ["127.0.0.1"]  # untrusted: replaced
        assert got["via"] == ["1.0 upstream-proxy", "1.1 Caddy"]
        assert "x-foo" not in got and "proxy-authorization" not in got
        assert got["te"] == ["trailers"]
        assert got["accept-encoding"] == ["gzip"]
        a = request(cport, "/status/200")
        b = request(rport, "/status/200")
        same_response(a, b, ("x-hop", "x-keep", "x-multi", "connection"))
        assert b.header("x-hop") == [] and b.header("x-multi") == ["a", "b"]
        assert a.body == b.body


def test_trusted_proxy_keeps_prior_forwarding(tmp_path: Path, backends: tuple[int, int]) -> None:
    b0, _ = backends
    body = f"reverse_proxy 127.0.0.1:{b0} {{\n trusted_proxies 127.0.0.0/8\n}}"
    with both(tmp_path, body) as (cport, rport):
        sent = [
            ("X-Forwarded-For", "6.6.6.6"),
            ("X-Forwarded-For", "7.7.7.7"),
            ("X-Forwarded-Proto", "https"),
            ("X-Forwarded-Host", "orig.example"),
        ]
        a = request(cport, "/", headers=sent)
        b = request(rport, "/", headers=sent)
        same_received(a, b, cport, rport)
        got = b.echo()["hdrs"]
        assert got["x-forwarded-for"] == ["6.6.6.6, 7.7.7.7, 127.0.0.1"]
        assert got["x-forwarded-host"] == ["orig.example"]


def test_header_up_and_down_ops(tmp_path: Path, backends: tuple[int, int]) -> None:
    b0, _ = backends
    body = f"""\
header X-Site site
reverse_proxy 127.0.0.1:{b0} {{
    header_up Host rewritten.example
    header_up +X-Added "one {{method}}"
    header_up X-Rep "(a+)-(b+)" "$2=${{1}}"
    header_up -X-Gone*
    header_down -X-Multi
    header_down X-Keep "k(e+)p" "K$1P"
    header_down +X-Site upstream
}}"""
    with both(tmp_path, body) as (cport, rport):
        sent = [("X-Rep", "aa-bbb"), ("X-Gone-1", "x"), ("X-Gone-2", "y"), ("X-Stay", "z")]
        a = request(cport, "/", headers=sent)
        b = request(rport, "/", headers=sent)
        same_response(a, b)
        same_received(a, b, cport, rport)
        got = b.echo()["hdrs"]
        assert got["host"] == ["rewritten.example"]
        assert got["x-rep"] == ["bbb=aa"]
        assert got["x-added"] == ["one GET"]
        a = request(cport, "/status/200")
        b = request(rport, "/status/200")
        same_response(a, b, ("x-multi", "x-keep", "x-site"))
        assert b.header("x-keep") == ["K"]  # Go reads `$1P` as the group named "1P"
        assert b.header("x-site") == ["site", "upstream"]


def test_failover_and_error_statuses(tmp_path: Path, backends: tuple[int, int]) -> None:
    b0, _ = backends
    dead = free_port()
    body = f"""\
handle /retry* {{
    reverse_proxy 127.0.0.1:{dead} 127.0.0.1:{b0} {{
        lb_policy first
        lb_retries 1
        fail_duration 30s
    }}
}}
handle /dead* {{
    reverse_proxy 127.0.0.1:{dead}
}}
handle /slow* {{
    reverse_proxy 127.0.0.1:{b0} {{
        transport http {{
            response_header_timeout 300ms
        }}
    }}
}}
handle {{
    reverse_proxy
}}"""
    with both(tmp_path, body) as (cport, rport):
        for path, status in (("/retry", 200), ("/dead", 502), ("/slow", 504), ("/none", 503)):
            a = request(cport, path)
            b = request(rport, path)
            assert (a.status, b.status) == (status, status), path
            assert a.body == b.body if status != 200 else True


def test_handle_response_replace_status_copy(tmp_path: Path, backends: tuple[int, int]) -> None:
    b0, _ = backends
    body = f"""\
reverse_proxy 127.0.0.1:{b0} {{
    @teapot status 418
    replace_status @teapot 200
    @bad status 5xx
    handle_response @bad {{
        copy_response_headers {{
            include X-Keep
        }}
        respond "upstream said {{rp.status_code}} / {{rp.header.X-Keep}}" 299
    }}
    @notfound status 404
    handle_response @notfound {{
        copy_response 410
    }}
}}"""
    with both(tmp_path, body) as (cport, rport):
        for path in ("/status/418", "/status/503", "/status/404", "/status/201"):
            a = request(cport, path)
            b = request(rport, path)
            same_response(a, b, ("x-keep", "x-multi"))
            assert a.body == b.body, path


def test_sniffed_content_type_and_post_bodies(tmp_path: Path, backends: tuple[int, int]) -> None:
    b0, _ = backends
    with both(tmp_path, f"reverse_proxy 127.0.0.1:{b0}") as (cport, rport):
        a = request(cport, "/plain")
        b = request(rport, "/plain")
        same_response(a, b)
        assert a.body == b.body
        payload = bytes(range(256)) * 300
        a = request(cport, "/post", "POST", body=payload)
        b = request(rport, "/post", "POST", body=payload)
        same_received(a, b, cport, rport)
        a = request(cport, "/empty", "POST", body=b"")
        b = request(rport, "/empty", "POST", body=b"")
        same_received(a, b, cport, rport)


def test_head_no_content_chunked_upload_and_placeholders(
    tmp_path: Path, backends: tuple[int, int]
) -> None:
    b0, _ = backends
    body = f"""\
reverse_proxy 127.0.0.1:{b0} {{
    header_down X-Up "{{rp.upstream.address}}|{{rp.upstream.host}}|{{rp.status_code}}|{{rp.status_text}}|{{rp.header.X-Keep}}|{{rp.header.x-keep}}"
}}"""
    with both(tmp_path, body) as (cport, rport):
        a = request(cport, "/status/200", "HEAD")
        b = request(rport, "/status/200", "HEAD")
        same_response(a, b, ("x-keep",))
        assert a.header("content-length") == b.header("content-length")
        assert a.body == b.body == b""
        a = request(cport, "/status/204")
        b = request(rport, "/status/204")
        same_response(a, b)
        assert a.body == b.body == b""
        a = request(cport, "/status/201")
        b = request(rport, "/status/201")
        assert a.header("x-up") == b.header("x-up")
        unknown = "{http.reverse_proxy.header.x-keep}"  # names are case-sensitive
        assert b.header("x-up") == [f"tcp/127.0.0.1:{b0}|127.0.0.1|201|201 Created|keep|{unknown}"]

        def chunked(port: int) -> Reply:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
            try:
                conn.request(
                    "PUT",
                    "/up",
                    body=iter([b"abc", b"defg", b""]),
                    encode_chunked=True,
                    headers={"Transfer-Encoding": "chunked"},
                )
                return Reply(conn.getresponse())
            finally:
                conn.close()

        a, b = chunked(cport), chunked(rport)
        same_received(a, b, cport, rport)
        assert b.echo()["body_len"] == 7


def test_sse_and_websocket_through_both(tmp_path: Path, backends: tuple[int, int]) -> None:
    import asyncio

    import aiohttp

    b0, _ = backends

    async def sse(port: int) -> list[bytes]:
        async with (
            aiohttp.ClientSession(auto_decompress=False) as s,
            s.get(f"http://127.0.0.1:{port}/sse") as r,
        ):
            assert r.headers["Content-Type"] == "text/event-stream"
            return [await r.content.readuntil(b"\n\n") for _ in range(3)]

    async def ws(port: int) -> tuple[str, int | None]:
        async with (
            aiohttp.ClientSession() as s,
            s.ws_connect(f"http://127.0.0.1:{port}/ws") as sock,
        ):
            await sock.send_str("hi")
            echo = (await asyncio.wait_for(sock.receive(), 10)).data
            await sock.send_str("bye")
            closing = await asyncio.wait_for(sock.receive(), 10)
            return echo, closing.data

    with both(tmp_path, f"reverse_proxy 127.0.0.1:{b0}") as (cport, rport):
        for port in (cport, rport):
            assert asyncio.run(asyncio.wait_for(sse(port), 20)) == [
                b"data: 0\n\n",
                b"data: 1\n\n",
                b"data: 2\n\n",
            ]
            assert asyncio.run(asyncio.wait_for(ws(port), 20)) == ("echo:hi", 4001)


def test_https_upstream_gets_the_upstream_host(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    from rpc.runtime.tls import InternalCA

    cert, key = InternalCA(tmp_path / "pki").leaf("127.0.0.1")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(BACKEND), str(port), "tls", str(cert), str(key)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        body = f"""\
handle /custom* {{
    reverse_proxy https://127.0.0.1:{port} {{
        header_up Host custom.example
        transport http {{
            tls_insecure_skip_verify
        }}
    }}
}}
reverse_proxy https://127.0.0.1:{port} {{
    transport http {{
        tls_insecure_skip_verify
    }}
}}"""
        with both(tmp_path, body) as (cport, rport):
            for path, host in (("/", f"127.0.0.1:{port}"), ("/custom", "custom.example")):
                a = request(cport, path)
                b = request(rport, path)
                same_response(a, b)
                same_received(a, b, cport, rport)
                assert b.echo()["hdrs"]["host"] == [host]
                assert b.echo()["hdrs"]["x-forwarded-proto"] == ["http"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_transparent_gzip_like_gos_transport(tmp_path: Path, backends: tuple[int, int]) -> None:
    b0, _ = backends
    with both(tmp_path, f"reverse_proxy 127.0.0.1:{b0}") as (cport, rport):
        for sent in ([], [("Accept-Encoding", "gzip")], [("Accept-Encoding", "br")]):
            a = request(cport, "/gzip", headers=sent)
            b = request(rport, "/gzip", headers=sent)
            same_response(a, b, ("content-encoding", "transfer-encoding"))
            assert a.body == b.body
