"""The upstream HTTP/1.1 client: one request out, one streamed response back.

Input: a dial address, a request head (method, target, Host, headers) and
an optional body stream; output: an `UpstreamResponse` whose body is read
chunk by chunk. A lean asyncio protocol rather than aiohttp's ClientSession:
headers go out exactly as given (no defaults added, names as Go's header
map has them), bodies stream both ways under flow control (memory stays
bounded whatever the size), and connections are kept alive in per-upstream
pools. Behaviour follows Caddy's `HTTPTransport` on Go's `http.Transport`:
dial timeout 3 s, optional response-header and per-read/write timeouts,
idle keep-alive 2 min with 32 idle connections per host, `max_conns_per_host`,
TLS to upstreams (SNI, trusted CAs, skip-verify, client certificates), a
request on a reused connection the upstream had closed is retried once on
a fresh one, and `Accept-Encoding: gzip` is added and undone transparently
unless `compression` is off.
"""

from __future__ import annotations

import asyncio
import ssl
import time
import zlib
from collections import deque
from collections.abc import AsyncIterator, Iterable, Sequence
from itertools import islice
from typing import Any

__all__ = [
    "BadResponse",
    "DialError",
    "RequestBody",
    "Transport",
    "UpstreamResponse",
    "UpstreamTimeout",
    "client_tls",
    "split_dial",
]

# Bytes buffered from an upstream before reading pauses (flow control).
READ_HIGH_WATER = 256 * 1024
# Largest body piece handed out while gunzipping (bounds the inflated size).
CHUNK = 64 * 1024
# Largest body piece handed out otherwise: received pieces (at most the loop's
# read size, 256 KiB) pass through whole, without a copy.
PIECE = 1024 * 1024


class DialError(Exception):
    """The connection to the upstream could not be made (always safe to retry)."""


class UpstreamTimeout(TimeoutError):
    """A transport deadline passed (Go's net.Error with Timeout(): status 504)."""


class BadResponse(Exception):
    """The upstream broke the connection or sent something that is not HTTP/1.x."""


class _Stale(Exception):
    """A reused connection turned out closed before any response byte (retry it)."""


def split_dial(address: str) -> tuple[str, int, str]:
    """`host:port` / `[v6]:port` / `:port` / `unix//path` → (host, port, unix path)."""
    if address.startswith("unix/"):
        return "", 0, address[len("unix/") :]
    network, sep, rest = address.partition("/")
    if sep and network in ("tcp", "tcp4", "tcp6", "ip", "ip4", "ip6"):
        address = rest
    if address.startswith("["):
        end = address.find("]")
        host = address[1:end]
        port = address[end + 2 :] if address[end + 1 : end + 2] == ":" else ""
    else:
        host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise DialError(f"dial {address}: missing or bad port")
    return host or "localhost", int(port), ""


def client_tls(
    *,
    root_ca_pem_files: Sequence[str] = (),
    insecure_skip_verify: bool = False,
    client_certificate_file: str = "",
    client_certificate_key_file: str = "",
) -> ssl.SSLContext:
    """The TLS client context for upstreams (`tls_trusted_ca_certs`, `tls_insecure_skip_verify`,
    `tls_client_auth`); system roots unless CA files are given; ALPN `http/1.1`."""
    if root_ca_pem_files:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # only the given roots
        for path in root_ca_pem_files:
            ctx.load_verify_locations(cafile=path)
    else:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    if insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if client_certificate_file:
        ctx.load_cert_chain(client_certificate_file, client_certificate_key_file or None)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2  # Go's client default
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


# ---------------------------------------------------------------- the connection


class _Buffer:
    """Bytes received from an upstream and not yet consumed: a queue of the
    `bytes` objects the loop handed over, plus an offset into the first.

    Body reads pop whole received pieces (no copy) or slice the first one
    (one copy); parsers that need contiguous bytes (`find`, `peek`, `get`)
    only ever look at or join the small head they need.
    """

    __slots__ = ("_chunks", "_off", "_size")

    def __init__(self) -> None:
        self._chunks: deque[bytes] = deque()
        self._off = 0  # bytes of _chunks[0] already consumed
        self._size = 0  # bytes pending in all

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def append(self, data: bytes) -> None:
        if data:
            if type(data) is not bytes:  # a loop reusing its read buffer: keep a copy
                data = bytes(data)
            self._chunks.append(data)
            self._size += len(data)

    def clear(self) -> None:
        self._chunks.clear()
        self._off = 0
        self._size = 0

    def take(self, n: int) -> bytes:
        """Up to `n` (> 0) bytes from the front, from the first received piece only:
        that piece itself when it fits whole, else one slice of it."""
        chunks = self._chunks
        if not chunks:
            return b""
        chunk = chunks[0]
        off = self._off
        avail = len(chunk) - off
        if avail <= n:
            chunks.popleft()
            self._off = 0
            if off:
                chunk = chunk[off:]
        else:
            self._off = off + n
            chunk = chunk[off : off + n]
            avail = n
        self._size -= avail
        return chunk

    def get(self, n: int) -> bytes:
        """Exactly min(n, len) bytes from the front, joined into one `bytes`."""
        n = min(n, self._size)
        first = self.take(n)
        if len(first) == n:
            return first
        parts = [first]
        left = n - len(first)
        while left > 0:
            piece = self.take(left)
            parts.append(piece)
            left -= len(piece)
        return b"".join(parts)

    def peek(self, n: int) -> bytes:
        """The first min(n, len) bytes without consuming them (a copy: keep `n` small)."""
        chunks = self._chunks
        if not chunks:
            return b""
        off = self._off
        first = chunks[0]
        if len(first) - off >= n:
            return first[off : off + n]
        parts = [first[off:]]
        got = len(parts[0])
        for chunk in islice(chunks, 1, None):
            if got >= n:
                break
            piece = chunk[: n - got]
            parts.append(piece)
            got += len(piece)
        return b"".join(parts)

    def skip(self, n: int) -> None:
        """Drop min(n, len) bytes from the front."""
        chunks = self._chunks
        n = min(n, self._size)
        self._size -= n
        off = self._off + n
        while chunks and off >= len(chunks[0]):
            off -= len(chunks.popleft())
        self._off = off

    def find(self, sep: bytes, start: int = 0) -> int:
        """Where `sep` first occurs at or after `start` (offsets from the front), or -1;
        looks across piece boundaries without joining the pieces."""
        keep = len(sep) - 1
        pos = -self._off  # offset of the current piece's start
        carry = b""  # the last `keep` bytes before the current piece (at or after start)
        for chunk in self._chunks:
            size = len(chunk)
            if pos + size <= start:
                pos += size
                continue
            local = max(start - pos, 0)
            if carry:
                joint = carry + chunk[local : local + keep]
                hit = joint.find(sep)
                if hit >= 0:
                    return pos - len(carry) + hit
            hit = chunk.find(sep, local)
            if hit >= 0:
                return pos + hit
            if keep:
                tail = chunk[max(local, size - keep) :]
                carry = (carry + tail)[-keep:] if len(tail) < keep else tail
            pos += size
        return -1


class _Conn(asyncio.Protocol):
    """One upstream connection: a byte buffer fed by the loop, waited on by one reader."""

    __slots__ = (
        "_drain",
        "_paused",
        "_waiter",
        "_write_paused",
        "buf",
        "closed",
        "eof",
        "error",
        "idle_at",
        "key",
        "loop",
        "transport",
        "used",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, key: tuple[Any, ...]) -> None:
        self.loop = loop
        self.key = key
        self.transport: asyncio.Transport | None = None
        self.buf = _Buffer()
        self.eof = False
        self.closed = False
        self.error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._drain: asyncio.Future[None] | None = None
        self._paused = False
        self._write_paused = False
        self.idle_at = 0.0
        self.used = 0  # requests sent on this connection

    # -- protocol callbacks

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buf.append(data)
        if len(self.buf) > READ_HIGH_WATER and not self._paused and self.transport is not None:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.eof = True
        self.error = exc
        self._wake()
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_exception(ConnectionResetError("upstream connection lost"))

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        drain = self._drain
        if drain is not None and not drain.done():
            drain.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- used by readers and writers

    def take(self, n: int) -> bytes:
        """Up to `n` buffered bytes, at most one received piece (no copy when it fits
        whole), resuming reading once the buffer drained below half the high water."""
        data = self.buf.take(n)
        if self._paused:
            self._consumed()
        return data

    def skip(self, n: int) -> None:
        """Drop `n` buffered bytes (framing already parsed)."""
        self.buf.skip(n)
        if self._paused:
            self._consumed()

    def _consumed(self) -> None:
        if self._paused and len(self.buf) < READ_HIGH_WATER // 2 and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()

    async def wait_data(self, timeout: float | None) -> None:
        """Wait until more bytes (or EOF) arrive; UpstreamTimeout after `timeout`."""
        if self.eof:
            return
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        waiter = self._waiter = self.loop.create_future()
        timer = None
        if timeout is not None:
            timer = self.loop.call_later(timeout, _expire, waiter)
        try:
            await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.transport is None or self.closed:
            raise ConnectionResetError("upstream connection closed")
        self.transport.write(data)

    def writelines(self, parts: list[bytes]) -> None:
        """Several pieces in one go (no joining copy on uvloop)."""
        if self.transport is None or self.closed:
            raise ConnectionResetError("upstream connection closed")
        self.transport.writelines(parts)

    async def drain(self, timeout: float | None) -> None:
        if not self._write_paused:
            return
        if self.closed:
            raise ConnectionResetError("upstream connection closed")
        drain = self._drain = self.loop.create_future()
        timer = None
        if timeout is not None:
            timer = self.loop.call_later(timeout, _expire, drain)
        try:
            await drain
        finally:
            self._drain = None
            if timer is not None:
                timer.cancel()

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


def _writer_done(task: asyncio.Task[None], conn: _Conn) -> None:
    if task.cancelled():
        return
    if task.exception() is not None:
        conn.abort()  # the reader then sees EOF instead of waiting for a response


def _expire(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(UpstreamTimeout("i/o timeout"))


# ---------------------------------------------------------------- request bodies


class RequestBody:
    """A request body to send: a client stream, optionally kept for replay on retries.

    `length` is the Content-Length to announce (None: chunked). Up to
    `replay_limit` bytes read from the client are kept so a retried attempt
    can send the same body; past that, `replayable` turns False.
    """

    __slots__ = (
        "_kept",
        "_kept_size",
        "_source",
        "_started",
        "length",
        "replay_limit",
        "replayable",
    )

    def __init__(
        self,
        source: Any,
        length: int | None,
        *,
        replay_limit: int = 0,
        buffered: bytes | None = None,
    ) -> None:
        self._source = source  # an aiohttp StreamReader (or anything with readany())
        self.length = length
        self.replay_limit = replay_limit
        self._kept: list[bytes] = []
        self._kept_size = 0
        self._started = False
        self.replayable = True
        if buffered is not None:
            self._kept = [buffered]
            self._kept_size = len(buffered)
            self.replay_limit = max(replay_limit, len(buffered))

    @property
    def started(self) -> bool:
        """Some of the client's stream was consumed by an attempt."""
        return self._started

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body from its start: what earlier attempts kept, then the rest of the stream."""
        if self._started and not self.replayable:
            raise BadResponse("request body was already sent and cannot be replayed")
        for piece in list(self._kept):
            yield piece
        source = self._source
        if source is None:
            return
        while True:
            data = await source.readany()
            if not data:
                self._source = None
                return
            self._started = True
            if self.replayable:
                if self._kept_size + len(data) <= self.replay_limit:
                    self._kept.append(data)
                    self._kept_size += len(data)
                else:
                    self.replayable = False
                    self._kept = []
            yield data


# ---------------------------------------------------------------- the response


class UpstreamResponse:
    """Status, headers, and a body read with `read()` until it returns b""."""

    __slots__ = (
        "_chunk_left",
        "_conn",
        "_done",
        "_gunzip",
        "_mode",
        "_no_reuse",
        "_remaining",
        "_reusable",
        "_transport",
        "content_length",
        "headers",
        "reason",
        "status",
        "version",
    )

    def __init__(
        self,
        transport: Transport,
        conn: _Conn,
        status: int,
        reason: str,
        version: str,
        headers: list[tuple[str, str]],
    ) -> None:
        self._transport = transport
        self._conn: _Conn | None = conn
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers
        self.content_length: int | None = None
        self._mode = "close"  # "length", "chunked", "close", "none"
        self._remaining = 0
        self._chunk_left = -1  # -1: expecting a chunk-size line
        self._done = False
        self._reusable = False
        self._no_reuse = False  # the connection is closed after this response
        self._gunzip: Any = None

    def header(self, name: str) -> str | None:
        """The first value of a header field (case-insensitive)."""
        low = name.lower()
        for key, value in self.headers:
            if key.lower() == low:
                return value
        return None

    @property
    def done(self) -> bool:
        return self._done

    async def read(self) -> bytes:
        """The next piece of the body (b"" at its end)."""
        while True:
            if self._done:
                return b""
            data = await self._read_raw()
            if self._gunzip is None:
                return data
            if not data:
                tail: bytes = self._gunzip.flush()
                return tail
            data = self._gunzip.decompress(data)
            if data:
                out: bytes = data
                return out

    async def _read_raw(self) -> bytes:
        conn = self._conn
        assert conn is not None
        timeout = self._transport.read_timeout
        mode = self._mode
        cap = PIECE if self._gunzip is None else CHUNK
        if mode == "length":
            if self._remaining == 0:
                self._finish(True)
                return b""
            while not conn.buf:
                if conn.eof:
                    raise BadResponse("unexpected EOF reading response body")
                await conn.wait_data(timeout)
            data = conn.take(min(self._remaining, cap))
            self._remaining -= len(data)
            if self._remaining == 0:
                self._finish(True)
            return data
        if mode == "chunked":
            return await self._read_chunked(conn, timeout, cap)
        if mode == "none":
            self._finish(True)
            return b""
        # until close
        while not conn.buf:
            if conn.eof:
                self._finish(False)
                return b""
            await conn.wait_data(timeout)
        return conn.take(cap)

    async def _read_chunked(self, conn: _Conn, timeout: float | None, cap: int) -> bytes:
        while True:
            buf = conn.buf
            if self._chunk_left > 0:
                if buf:
                    data = conn.take(min(self._chunk_left, cap))
                    self._chunk_left -= len(data)
                    if self._chunk_left == 0:
                        self._chunk_left = -2  # expect the CRLF after the data
                    return data
            elif self._chunk_left == -2:
                if len(buf) >= 2:
                    if buf.peek(2) != b"\r\n":
                        raise BadResponse("malformed chunked encoding")
                    conn.skip(2)
                    self._chunk_left = -1
                    continue
            else:
                end = buf.find(b"\r\n")
                if end >= 0:
                    line = buf.peek(end).split(b";", 1)[0].strip()
                    try:
                        size = int(line, 16)
                    except ValueError:
                        raise BadResponse("malformed chunked encoding") from None
                    if size < 0:
                        raise BadResponse("malformed chunked encoding")
                    if size == 0:
                        # Trailers (dropped) end with an empty line.
                        last = buf.find(b"\r\n\r\n", end)
                        if last >= 0:
                            conn.skip(last + 4)
                            self._finish(True)
                            return b""
                        if len(buf) > 65536:
                            raise BadResponse("response trailers too large")
                    else:
                        conn.skip(end + 2)
                        self._chunk_left = size
                        continue
                elif len(buf) > 4096:
                    raise BadResponse("malformed chunked encoding")
            if conn.eof:
                raise BadResponse("unexpected EOF reading chunked response body")
            await conn.wait_data(timeout)

    def _finish(self, reusable: bool) -> None:
        self._done = True
        self._reusable = reusable and not self._no_reuse

    def release(self) -> None:
        """Give the connection back: to the idle pool if the body was read to its end."""
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        if self._done and self._reusable and not conn.buf:
            self._transport._put_idle(conn)
        else:
            self._transport._discard(conn)

    def close(self) -> None:
        """Drop the connection (the body was not read to its end)."""
        conn = self._conn
        if conn is None:
            return
        self._conn = None
        self._transport._discard(conn)

    def detach(self) -> tuple[asyncio.Transport, bytes, _Conn]:
        """Take the raw connection over after a 101 (the upgrade's byte stream)."""
        conn = self._conn
        assert conn is not None and conn.transport is not None
        self._conn = None
        self._transport._forget(conn)
        leftover = conn.buf.get(len(conn.buf))
        return conn.transport, leftover, conn


# ---------------------------------------------------------------- the transport


class _Host:
    """Connections of one pool key: idle ones, the count open, and who waits for one."""

    __slots__ = ("idle", "open", "waiters")

    def __init__(self) -> None:
        self.idle: deque[_Conn] = deque()
        self.open = 0
        self.waiters: deque[asyncio.Future[None]] = deque()


class Transport:
    """Caddy's `transport http` for HTTP/1.1 upstreams.

    Durations are seconds (None = no limit). `keepalive=False` closes every
    connection after its response (and sends `Connection: close`).
    `tls` (an `ssl.SSLContext`) makes every upstream HTTPS except ports in
    `tls_except_ports`; `tls_server_name` overrides the SNI name (default:
    the upstream host).
    """

    __slots__ = (
        "_hosts",
        "_idle_total",
        "compression",
        "dial_timeout",
        "idle_timeout",
        "keepalive",
        "max_conns_per_host",
        "max_idle_conns",
        "max_idle_conns_per_host",
        "max_response_header_size",
        "read_timeout",
        "response_header_timeout",
        "tls",
        "tls_except_ports",
        "tls_handshake_timeout",
        "tls_server_name",
        "write_timeout",
    )

    def __init__(
        self,
        *,
        dial_timeout: float | None = 3.0,
        response_header_timeout: float | None = None,
        read_timeout: float | None = None,
        write_timeout: float | None = None,
        keepalive: bool = True,
        idle_timeout: float | None = 120.0,
        max_idle_conns: int = 0,
        max_idle_conns_per_host: int = 32,
        max_conns_per_host: int = 0,
        compression: bool = True,
        max_response_header_size: int = 10 << 20,
        tls: ssl.SSLContext | None = None,
        tls_server_name: str | Any = None,
        tls_except_ports: Sequence[int | str] = (),
        tls_handshake_timeout: float | None = 10.0,
    ) -> None:
        self.dial_timeout = dial_timeout if dial_timeout and dial_timeout > 0 else None
        self.response_header_timeout = response_header_timeout or None
        self.read_timeout = read_timeout or None
        self.write_timeout = write_timeout or None
        self.keepalive = keepalive
        self.idle_timeout = idle_timeout if idle_timeout and idle_timeout > 0 else None
        self.max_idle_conns = max_idle_conns
        self.max_idle_conns_per_host = (
            max_idle_conns_per_host if max_idle_conns_per_host > 0 else 32
        )
        self.max_conns_per_host = max_conns_per_host
        self.compression = compression
        self.max_response_header_size = max_response_header_size or (10 << 20)
        self.tls = tls
        self.tls_server_name = tls_server_name  # a str, or a Template rendered by the proxy
        self.tls_except_ports = frozenset(int(p) for p in tls_except_ports)
        self.tls_handshake_timeout = tls_handshake_timeout or None
        self._hosts: dict[tuple[Any, ...], _Host] = {}
        self._idle_total = 0

    def uses_tls(self, address: str) -> bool:
        """Whether requests to `address` go over TLS."""
        if self.tls is None:
            return False
        try:
            _, port, path = split_dial(address)
        except DialError:
            return True
        return not path and port not in self.tls_except_ports

    # ------------------------------------------------------------ the round trip

    async def round_trip(
        self,
        address: str,
        method: str,
        target: str,
        host: str,
        headers: Iterable[tuple[str, str]],
        body: RequestBody | None,
        *,
        server_name: str | None = None,
    ) -> UpstreamResponse:
        """Send one request to `address` and return once the response headers arrived."""
        lines = [f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n"]
        added_gzip = False
        has_ae = has_range = False
        for key, value in headers:
            low = key.lower()
            if low == "accept-encoding":
                has_ae = True
            elif low == "range":
                has_range = True
            lines.append(f"{key}: {value}\r\n")
        if body is not None:
            if body.length is None:
                lines.append("Transfer-Encoding: chunked\r\n")
            else:
                lines.append(f"Content-Length: {body.length}\r\n")
        elif method in ("POST", "PUT", "PATCH"):
            lines.append("Content-Length: 0\r\n")
        if not self.keepalive:
            lines.append("Connection: close\r\n")
        if self.compression and not has_ae and not has_range and method != "HEAD":
            lines.append("Accept-Encoding: gzip\r\n")
            added_gzip = True
        lines.append("\r\n")
        head = "".join(lines).encode("utf-8", "surrogateescape")
        pool_key = self._key(address, server_name)
        for attempt in (0, 1):
            conn = await self._get(pool_key, address, server_name, fresh=attempt > 0)
            try:
                resp = await self._exchange(conn, head, body, method)
            except _Stale:
                self._discard(conn)
                if body is not None and body.started and not body.replayable:
                    raise BadResponse("upstream closed the connection") from None
                continue
            except BaseException:
                self._discard(conn)
                raise
            if added_gzip and (resp.header("Content-Encoding") or "").lower() == "gzip":
                resp._gunzip = zlib.decompressobj(wbits=31)
                resp.headers = [
                    (k, v)
                    for k, v in resp.headers
                    if k.lower() not in ("content-encoding", "content-length")
                ]
                resp.content_length = None
            return resp
        raise BadResponse("upstream closed the connection")

    async def _exchange(
        self, conn: _Conn, head: bytes, body: RequestBody | None, method: str
    ) -> UpstreamResponse:
        reused = conn.used > 0
        conn.used += 1
        writer: asyncio.Task[None] | None = None
        if body is None:
            conn.write(head)
        else:
            # Go writes the body while it waits for the response: an upstream
            # may answer early (413) without reading it all.
            writer = asyncio.ensure_future(self._write_body(conn, head, body))
            writer.add_done_callback(lambda t: _writer_done(t, conn))
        try:
            resp = await self._read_head(conn, method, reused)
        except BaseException as exc:
            if writer is not None:
                if writer.done() and not writer.cancelled():
                    failure = writer.exception()
                    if failure is not None and not isinstance(
                        exc, (asyncio.CancelledError, _Stale)
                    ):
                        raise failure from exc
                writer.cancel()
            raise
        if writer is not None and not (
            writer.done() and not writer.cancelled() and writer.exception() is None
        ):
            # Answered before the whole body went out: finish sending in the
            # background and close the connection after this response.
            resp._no_reuse = True
            resp._reusable = False
        return resp

    async def _write_body(self, conn: _Conn, head: bytes, body: RequestBody) -> None:
        conn.write(head)
        chunked = body.length is None
        timeout = self.write_timeout
        async for data in body.chunks():
            if chunked:
                conn.writelines([b"%x\r\n" % len(data), data, b"\r\n"])
            else:
                conn.write(data)
            await conn.drain(timeout)
        if chunked:
            conn.write(b"0\r\n\r\n")

    async def _read_head(self, conn: _Conn, method: str, reused: bool) -> UpstreamResponse:
        deadline = None
        if self.response_header_timeout is not None:
            deadline = time.monotonic() + self.response_header_timeout
        limit = self.max_response_header_size
        scanned = 0  # bytes already searched for the end of the head
        while True:
            buf = conn.buf
            end = buf.find(b"\r\n\r\n", scanned)
            if end >= 0:
                raw = buf.get(end)
                conn.skip(4)
                scanned = 0
                resp = self._parse_head(conn, raw, method)
                if resp is None:
                    continue  # an informational 1xx: the real response follows
                return resp
            scanned = max(len(buf) - 3, 0)
            if len(buf) > limit:
                raise BadResponse("upstream response headers too large")
            if conn.eof:
                if not buf and reused:
                    raise _Stale()
                raise BadResponse(
                    "upstream closed the connection before sending a response"
                    if not buf
                    else "unexpected EOF in upstream response headers"
                )
            timeout = self.read_timeout
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise UpstreamTimeout("timeout awaiting response headers")
                timeout = left if timeout is None else min(timeout, left)
            await conn.wait_data(timeout)

    def _parse_head(self, conn: _Conn, raw: bytes, method: str) -> UpstreamResponse | None:
        text = raw.decode("utf-8", "surrogateescape")
        lines = text.split("\r\n")
        status_line = lines[0]
        version, _, rest = status_line.partition(" ")
        code, _, reason = rest.partition(" ")
        if version not in ("HTTP/1.1", "HTTP/1.0") or len(code) != 3 or not code.isdigit():
            raise BadResponse(f"malformed HTTP response {status_line[:64]!r}")
        status = int(code)
        headers: list[tuple[str, str]] = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep or not name or name[-1] in " \t" or name[0] in " \t":
                raise BadResponse(f"malformed MIME header line: {line[:64]!r}")
            headers.append((name, value.strip(" \t")))
        if 100 <= status < 200 and status != 101:
            return None
        resp = UpstreamResponse(self, conn, status, reason, version, headers)
        te = cl = None
        close = version == "HTTP/1.0"
        for name, value in headers:
            low = name.lower()
            if low == "transfer-encoding":
                te = value.lower()
            elif low == "content-length":
                if cl is not None and cl != value:
                    raise BadResponse("message cannot contain multiple Content-Length headers")
                cl = value
            elif low == "connection":
                tokens = {t.strip().lower() for t in value.split(",")}
                if "close" in tokens:
                    close = True
                elif "keep-alive" in tokens and version == "HTTP/1.0":
                    close = False
        if method == "HEAD" or status in (101, 204, 304):
            resp._mode = "none"
            if cl is not None and cl.isdigit():
                resp.content_length = int(cl)
        elif te is not None:
            if te.rsplit(",", 1)[-1].strip() != "chunked":
                raise BadResponse(f"unsupported transfer encoding: {te!r}")
            resp._mode = "chunked"
        elif cl is not None:
            if not cl.isdigit():
                raise BadResponse(f"bad Content-Length {cl!r}")
            resp.content_length = resp._remaining = int(cl)
            resp._mode = "length"
        else:
            resp._mode = "close"
            close = True
        resp._no_reuse = close or not self.keepalive or status == 101
        if resp._mode == "none":
            resp._finish(True)
        return resp

    # ------------------------------------------------------------ the pool

    def _key(self, address: str, server_name: str | None) -> tuple[Any, ...]:
        return (address, server_name) if self.tls is not None else (address,)

    async def _get(
        self, key: tuple[Any, ...], address: str, server_name: str | None, *, fresh: bool
    ) -> _Conn:
        host = self._hosts.get(key)
        if host is None:
            host = self._hosts[key] = _Host()
        if not fresh:
            idle = host.idle
            now = time.monotonic()
            while idle:
                conn = idle.pop()
                self._idle_total -= 1
                expired = self.idle_timeout is not None and now - conn.idle_at > self.idle_timeout
                if conn.closed or conn.eof or conn.buf or expired:
                    self._drop(host, conn)
                    continue
                return conn
        limit = self.max_conns_per_host
        while limit > 0 and host.open >= limit:
            waiter = asyncio.get_running_loop().create_future()
            host.waiters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in host.waiters:
                    host.waiters.remove(waiter)
            if host.idle:
                conn = host.idle.pop()
                self._idle_total -= 1
                if not (conn.closed or conn.eof or conn.buf):
                    return conn
                self._drop(host, conn)
        host.open += 1
        try:
            return await self._dial(key, address, server_name)
        except BaseException:
            host.open -= 1
            self._notify(host)
            raise

    async def _dial(self, key: tuple[Any, ...], address: str, server_name: str | None) -> _Conn:
        loop = asyncio.get_running_loop()
        hostname, port, path = split_dial(address)
        conn = _Conn(loop, key)
        use_tls = self.tls is not None and not path and port not in self.tls_except_ports
        try:
            if path:
                coro = loop.create_unix_connection(lambda: conn, path)
            elif use_tls:
                coro = loop.create_connection(
                    lambda: conn,
                    hostname,
                    port,
                    ssl=self.tls,
                    server_hostname=server_name or hostname,
                    ssl_handshake_timeout=self.tls_handshake_timeout,
                )
            else:
                coro = loop.create_connection(lambda: conn, hostname, port)
            if self.dial_timeout is None:
                await coro
            else:
                await asyncio.wait_for(coro, self.dial_timeout)
        except TimeoutError as exc:
            raise DialError(f"dial tcp {address}: i/o timeout") from exc
        except (OSError, ssl.SSLError) as exc:
            raise DialError(f"dial {address}: {exc}") from exc
        return conn

    def _put_idle(self, conn: _Conn) -> None:
        host = self._hosts.get(conn.key)
        if host is None or conn.closed or not self.keepalive:
            self._discard(conn)
            return
        if len(host.idle) >= self.max_idle_conns_per_host or (
            self.max_idle_conns > 0 and self._idle_total >= self.max_idle_conns
        ):
            self._discard(conn)
            return
        conn.idle_at = time.monotonic()
        host.idle.append(conn)
        self._idle_total += 1
        self._notify(host)

    def _discard(self, conn: _Conn) -> None:
        conn.abort() if conn.buf else conn.close()
        host = self._hosts.get(conn.key)
        if host is not None:
            host.open -= 1
            self._notify(host)

    def _forget(self, conn: _Conn) -> None:
        """The connection leaves the pool's accounting (upgraded to a raw stream)."""
        host = self._hosts.get(conn.key)
        if host is not None:
            host.open -= 1
            self._notify(host)

    def _drop(self, host: _Host, conn: _Conn) -> None:
        conn.close()
        host.open -= 1

    def _notify(self, host: _Host) -> None:
        while host.waiters:
            waiter = host.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        """Close every idle connection."""
        for host in self._hosts.values():
            while host.idle:
                self._drop(host, host.idle.pop())
        self._idle_total = 0


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()
