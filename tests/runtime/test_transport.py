"""The upstream HTTP/1.1 client against scripted loopback servers."""

from __future__ import annotations

import asyncio
import gzip
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from rpc.runtime.transport import (
    BadResponse,
    DialError,
    RequestBody,
    Transport,
    UpstreamTimeout,
    client_tls,
    split_dial,
)
from rpctest.procs import free_port

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def scripted(script: Script, ssl_ctx: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    """A server running `script` per connection; yields its dial address."""
    conns: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns.append(writer)
        try:
            await script(reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=ssl_ctx)
    try:
        yield f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for w in conns:
            w.close()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    body = b""
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            body = await reader.readexactly(int(line.split(b":")[1]))
    if b"transfer-encoding: chunked" in head.lower():
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            data = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += data[:-2]
    return head, body


async def read_all(resp: Any) -> bytes:
    out = b""
    while data := await resp.read():
        out += data
    return out


def test_split_dial() -> None:
    assert split_dial("a.example:80") == ("a.example", 80, "")
    assert split_dial("[::1]:8080") == ("::1", 8080, "")
    assert split_dial(":9000") == ("localhost", 9000, "")
    assert split_dial("unix//run/app.sock") == ("", 0, "/run/app.sock")
    with pytest.raises(DialError):
        split_dial("noport")


async def test_request_head_is_sent_as_given_and_chunked_response_parsed() -> None:
    seen: list[bytes] = []

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, body = await read_request(reader)
        seen.append(head + body)
        writer.write(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
            b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
        )
        await writer.drain()
        await reader.read()

    async with scripted(script) as addr:
        t = Transport(compression=False)
        body = RequestBody(None, 3, buffered=b"abc")
        resp = await t.round_trip(addr, "POST", "/p?q", "h.example", [("X-B", "2")], body)
        assert resp.status == 200 and resp.header("x-a") == "1"
        assert await read_all(resp) == b"hello world"
        resp.release()
    assert seen == [
        b"POST /p?q HTTP/1.1\r\nHost: h.example\r\nX-B: 2\r\nContent-Length: 3\r\n\r\nabc"
    ]


async def test_gzip_is_requested_and_undone_unless_the_client_asked() -> None:
    payload = b"compressible " * 100

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, _ = await read_request(reader)
            if b"accept-encoding: gzip" in head.lower():
                data = gzip.compress(payload)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n"
                    % len(data)
                    + data
                )
            else:
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload
                )
            await writer.drain()

    async with scripted(script) as addr:
        t = Transport()
        resp = await t.round_trip(addr, "GET", "/", "h", [], None)
        assert resp.header("Content-Encoding") is None and resp.content_length is None
        assert await read_all(resp) == payload
        resp.release()
        resp = await t.round_trip(addr, "GET", "/", "h", [("Accept-Encoding", "gzip")], None)
        assert resp.header("Content-Encoding") == "gzip"  # the client asked: passed through
        assert gzip.decompress(await read_all(resp)) == payload
        resp.release()


async def test_a_stale_keepalive_connection_is_retried_on_a_fresh_one() -> None:
    conns = 0

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal conns
        conns += 1
        await read_request(reader)
        # Keep-alive promised, but the connection is closed right after the reply.
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    async with scripted(script) as addr:
        t = Transport(compression=False)
        for _ in range(3):
            resp = await t.round_trip(addr, "GET", "/", "h", [], None)
            assert await read_all(resp) == b"ok"
            resp.release()
            await asyncio.sleep(0.05)  # let the close arrive (or not): either way it must work
    assert conns == 3


async def test_errors_map_to_their_kinds() -> None:
    t = Transport(dial_timeout=1.0, response_header_timeout=0.2)
    with pytest.raises(DialError):
        await t.round_trip(f"127.0.0.1:{free_port()}", "GET", "/", "h", [], None)

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async with scripted(silent) as addr:
        with pytest.raises(UpstreamTimeout):
            await t.round_trip(addr, "GET", "/", "h", [], None)

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SPDY/9 nonsense\r\n\r\n")
        await writer.drain()

    async with scripted(garbage) as addr:
        with pytest.raises(BadResponse):
            await t.round_trip(addr, "GET", "/", "h", [], None)

    async def truncated(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        await writer.drain()
        writer.close()

    async with scripted(truncated) as addr:
        resp = await t.round_trip(addr, "GET", "/", "h", [], None)
        with pytest.raises(BadResponse):
            await read_all(resp)
        resp.close()


async def test_max_conns_per_host_queues_requests() -> None:
    open_now = 0
    peak = 0

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal open_now, peak
        open_now += 1
        peak = max(peak, open_now)
        try:
            while True:
                await read_request(reader)
                await asyncio.sleep(0.02)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx")
                await writer.drain()
        finally:
            open_now -= 1

    async with scripted(script) as addr:
        t = Transport(max_conns_per_host=2, compression=False)

        async def one() -> bytes:
            resp = await t.round_trip(addr, "GET", "/", "h", [], None)
            data = await read_all(resp)
            resp.release()
            return data

        results = await asyncio.wait_for(asyncio.gather(*(one() for _ in range(8))), 20)
        assert results == [b"x"] * 8
    assert peak == 2


async def test_tls_upstream_with_skip_verify_and_sni(tmp_path: Any) -> None:
    pytest.importorskip("cryptography")
    from rpc.runtime.tls import InternalCA

    ca = InternalCA(tmp_path)
    cert_file, key_file = ca.leaf("upstream.test")
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert_file, key_file)
    names: list[str | None] = []
    server_ctx.sni_callback = lambda sock, name, ctx: names.append(name)  # type: ignore[assignment,func-returns-value]

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nsec")
        await writer.drain()
        await reader.read()

    ca_file = ca.root_cert_path
    async with scripted(script, server_ctx) as addr:
        trusted = Transport(tls=client_tls(root_ca_pem_files=(str(ca_file),)))
        resp = await trusted.round_trip(
            addr, "GET", "/", "h", [], None, server_name="upstream.test"
        )
        assert await read_all(resp) == b"sec"
        resp.release()
        with pytest.raises(DialError):  # 127.0.0.1 is not in the certificate
            await trusted.round_trip(addr, "GET", "/", "h", [], None)
        insecure = Transport(tls=client_tls(insecure_skip_verify=True))
        resp = await insecure.round_trip(addr, "GET", "/", "h", [], None)
        assert await read_all(resp) == b"sec"
        resp.release()
    assert names[0] == "upstream.test"
