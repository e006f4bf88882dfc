"""The upstream HTTP/1.1 client against scripted loopback servers."""

from __future__ import annotations

import asyncio
import gzip
import random
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from rpc.runtime.transport import (
    READ_HIGH_WATER,
    BadResponse,
    DialError,
    RequestBody,
    Transport,
    UpstreamTimeout,
    _Buffer,
    _Conn,
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


# ---------------------------------------------------------------- the receive buffer


class FakeTransport:
    """Stands in for the loop's transport under a `_Conn` fed by hand."""

    def __init__(self) -> None:
        self.paused = False
        self.pauses = 0
        self.resumes = 0
        self.aborted = False
        self.closed = False
        self.written: list[bytes] = []

    def pause_reading(self) -> None:
        self.paused = True
        self.pauses += 1

    def resume_reading(self) -> None:
        self.paused = False
        self.resumes += 1

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    def writelines(self, parts: list[bytes]) -> None:
        self.written.append(b"".join(parts))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True


def fed_conn(pieces: list[bytes], *, eof: bool = False) -> tuple[_Conn, FakeTransport]:
    conn = _Conn(asyncio.get_running_loop(), ("test",))
    fake = FakeTransport()
    conn.connection_made(fake)  # type: ignore[arg-type]
    for piece in pieces:
        conn.data_received(piece)
    if eof:
        conn.eof_received()
    return conn, fake


def splits(data: bytes, seed: int, count: int = 30) -> list[list[bytes]]:
    """`data` cut into pieces several ways: 1-byte pieces, every 2-way cut, random cuts."""
    ways = [[data[i : i + 1] for i in range(len(data))]]
    ways += [[data[:i], data[i:]] for i in range(1, len(data))]
    rng = random.Random(seed)
    for _ in range(count):
        cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(1, 8))))
        ways.append([data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)])
    return ways


def test_buffer_find_take_get_peek_skip_across_pieces() -> None:
    data = b"HTTP/1.1 200 OK\r\nA: b\r\n\r\nbody\r\n\r\nmore"
    for pieces in splits(data, 1):
        buf = _Buffer()
        for piece in pieces:
            buf.append(piece)
        assert len(buf) == len(data) and buf
        for sep in (b"\r\n\r\n", b"\r\n", b"y\r", b"x"):
            for start in range(0, len(data), 5):
                assert buf.find(sep, start) == data.find(sep, start), (pieces, sep, start)
        assert buf.peek(12) == data[:12]
        buf.skip(3)
        assert buf.find(b"\r\n\r\n") == data.find(b"\r\n\r\n") - 3
        assert buf.get(10) == data[3:13]
        assert buf.peek(2) == data[13:15]
        out = b""
        while buf:
            piece = buf.take(7)
            assert 0 < len(piece) <= 7
            out += piece
        assert out == data[13:] and len(buf) == 0 and buf.take(5) == b""


def test_buffer_hands_whole_pieces_over_without_copying() -> None:
    a, b, c = b"x" * 100, b"y" * 200, b"z" * 50
    buf = _Buffer()
    for piece in (a, b, c):
        buf.append(piece)
    assert buf.take(1000) is a  # fits: the very object received
    assert buf.take(200) is b
    assert buf.take(20) == c[:20]  # split: a slice of the last one
    assert buf.take(1000) == c[20:]
    assert not buf


async def test_head_and_body_split_anywhere() -> None:
    body = bytes(range(256)) * 3
    data = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nX-A: 1\r\n\r\n" % len(body) + body
    t = Transport(compression=False)
    for pieces in splits(data, 2):
        conn, _ = fed_conn(pieces)
        resp = await t._read_head(conn, "GET", False)
        assert resp.status == 200 and resp.header("X-A") == "1"
        assert await read_all(resp) == body
        assert resp.done and not conn.buf
    # Pieces after the head are passed on as received.
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 15000\r\n\r\n"
    first, second = b"a" * 10000, b"b" * 5000
    conn, _ = fed_conn([head + first, second])
    resp = await t._read_head(conn, "GET", False)
    got = []
    while piece := await resp.read():
        got.append(piece)
    assert got == [first, second] and got[1] is second


async def test_chunked_sizes_straddling_reads() -> None:
    chunks = [b"a" * 17, b"b" * 1, b"c" * 300, b"d" * 16]
    wire = b"".join(b"%x;e=1\r\n%s\r\n" % (len(c), c) for c in chunks)
    data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + wire + b"0\r\nT: x\r\n\r\n"
    t = Transport(compression=False)
    for pieces in splits(data, 3):
        conn, _fake = fed_conn(pieces)
        resp = await t._read_head(conn, "GET", False)
        assert await read_all(resp) == b"".join(chunks)
        assert resp.done and not conn.buf
    # A missing CRLF after a chunk's data is an error, not a silent resync.
    bad = data.replace(b"a" * 17 + b"\r\n", b"a" * 17 + b"!!")
    for pieces in ([bad], [bad[:60], bad[60:]]):
        conn, _ = fed_conn(pieces, eof=True)
        resp = await t._read_head(conn, "GET", False)
        with pytest.raises(BadResponse):
            await read_all(resp)


async def test_bytes_after_a_response_stay_buffered() -> None:
    t = Transport(compression=False)
    first = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
    second = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nde"
    for pieces in splits(first + second, 4, count=10):
        conn, fake = fed_conn(pieces)
        resp = await t._read_head(conn, "GET", False)
        assert await read_all(resp) == b"abc"
        assert len(conn.buf) == len(second)  # pipelined bytes: the connection is not reusable
        resp2 = await t._read_head(conn, "GET", False)
        assert await read_all(resp2) == b"de" and not conn.buf
    # An interim 1xx and the response in one piece; then a 101 with the upgraded
    # stream's first bytes: detach() hands them over as `leftover`.
    interim = b"HTTP/1.1 100 Continue\r\n\r\n"
    upgrade = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"
    for pieces in splits(interim + upgrade + b"\x81\x02hi", 5, count=10):
        conn, fake = fed_conn(pieces)
        resp = await t._read_head(conn, "GET", False)
        assert resp.status == 101
        _, leftover, same = resp.detach()
        assert leftover == b"\x81\x02hi" and same is conn and not conn.buf
    # Pending bytes at release: dropped (aborted), not pooled.
    conn, fake = fed_conn([first + b"junk"])
    resp = await t._read_head(conn, "GET", False)
    assert await read_all(resp) == b"abc"
    resp.release()
    assert fake.aborted


async def test_read_back_pressure_pauses_and_resumes() -> None:
    size = READ_HIGH_WATER * 2
    piece = b"p" * (32 * 1024)
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size
    conn, fake = fed_conn([head])
    t = Transport(compression=False)
    resp = await t._read_head(conn, "GET", False)
    fed = 0
    while not fake.paused:
        conn.data_received(piece)
        fed += len(piece)
    assert fake.pauses == 1 and len(conn.buf) > READ_HIGH_WATER
    conn.data_received(piece)  # a read already under way still lands
    fed += len(piece)
    got = 0
    while len(conn.buf) >= READ_HIGH_WATER // 2:
        assert fake.paused
        got += len(await resp.read())
    assert not fake.paused and fake.resumes == 1
    while fed < size:
        conn.data_received(piece)
        fed += len(piece)
    conn.eof_received()
    while data := await resp.read():
        got += len(data)
    assert got == size and resp.done


async def test_chunked_request_body_is_framed() -> None:
    class Source:
        def __init__(self, parts: list[bytes]) -> None:
            self.parts = parts

        async def readany(self) -> bytes:
            return self.parts.pop(0) if self.parts else b""

    conn, fake = fed_conn([])
    t = Transport(compression=False)
    await t._write_body(conn, b"HEAD\r\n\r\n", RequestBody(Source([b"abc", b"x" * 20]), None))
    assert (
        b"".join(fake.written) == b"HEAD\r\n\r\n3\r\nabc\r\n14\r\n" + b"x" * 20 + b"\r\n0\r\n\r\n"
    )
