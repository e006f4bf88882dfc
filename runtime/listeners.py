"""Listening sockets of a server: address parsing, aiohttp's low-level server, HTTP/1 limits.

Input: a `ServerConfig`, its `Dispatcher` and the TLS context; output:
bound asyncio servers (one per address, with `SO_REUSEPORT` when several
worker processes share the ports) running aiohttp's `web_server.Server`
with a protocol that adds what aiohttp lacks: a read-header timeout (Go's
`ReadHeaderTimeout`, Caddy's 1 minute default) and Go-shaped replies to
requests that do not parse (400, or 431 for an oversized line).

aiohttp has no header-read deadline of its own; `_Protocol` arms one when a
connection opens and whenever the first bytes of a new request arrive on an
idle connection, and disarms it when the parser emits the request. On
expiry the connection is closed without a reply, as Go does. Limits of this
approach: it relies on `RequestHandler` internals (`_request_count`,
`_request_in_progress`, `_messages`), and bytes of a request pipelined
behind a request in progress are not timed until that request finishes
(the idle timeout still bounds them).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from dataclasses import dataclass
from typing import Any

from aiohttp import hdrs, web, web_protocol, web_server
from aiohttp.http import SERVER_SOFTWARE
from aiohttp.http_exceptions import LineTooLong

from rpc.runtime.app import ServerConfig
from rpc.runtime.dispatch import Dispatcher, bad_request

__all__ = ["Address", "make_server", "open_server", "parse_address"]

_log = logging.getLogger("http.stdlib")
_NO_IDLE_LIMIT = 365 * 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Address:
    """One socket address: network (`tcp`, `tcp4`, `tcp6`, `unix`), host ('' = all), port."""

    network: str
    host: str
    port: int

    def __str__(self) -> str:
        if self.network == "unix":
            return f"unix/{self.host}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_address(text: str) -> list[Address]:
    """Caddy network addresses: `[network/]host:port[-port]`, `unix//path`; ranges expanded."""
    network, sep, rest = text.partition("/")
    if not sep or network not in ("tcp", "tcp4", "tcp6", "unix"):
        network, rest = "tcp", text
    if network == "unix":
        if not rest:
            raise ValueError(f"listen address {text!r}: no socket path")
        return [Address("unix", rest, 0)]
    if rest.startswith("["):
        end = rest.find("]")
        if end < 0 or rest[end + 1 : end + 2] != ":":
            raise ValueError(f"listen address {text!r}: expected [host]:port")
        host, ports = rest[1:end], rest[end + 2 :]
    else:
        host, sep, ports = rest.rpartition(":")
        if not sep:
            raise ValueError(f"listen address {text!r}: missing port")
    first, dash, last = ports.partition("-")
    try:
        start = int(first)
        end_port = int(last) if dash else start
    except ValueError:
        raise ValueError(f"listen address {text!r}: bad port {ports!r}") from None
    if not (0 <= start <= end_port <= 65535):
        raise ValueError(f"listen address {text!r}: port out of range")
    return [Address(network, host, port) for port in range(start, end_port + 1)]


class _Protocol(web_protocol.RequestHandler):
    """aiohttp's HTTP/1 protocol plus a read-header deadline and Go-shaped parse errors.

    The deadline is lazy: arming sets `_hdr_deadline` and schedules a timer only
    when none is pending, disarming clears the deadline and leaves the timer; a
    timer that fires before the current deadline re-schedules itself for it. A
    busy keep-alive connection thus creates a timer about once per timeout
    instead of one (and a cancel) per request. `peer` caches what `Ctx` reads
    of the transport (peer address and TLS), the same for every request.
    """

    __slots__ = ("_hdr_deadline", "_hdr_timeout", "_hdr_timer", "peer")

    def __init__(self, manager: web_server.Server, *, header_timeout: float | None, **kwargs: Any):
        super().__init__(manager, **kwargs)
        self._hdr_timeout = header_timeout
        self._hdr_timer: asyncio.TimerHandle | None = None
        self._hdr_deadline: float | None = None
        self.peer: tuple[str, str, bool] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()  # the first request's headers are timed from the connection's start

    def connection_lost(self, exc: BaseException | None) -> None:
        self._hdr_deadline = None
        if self._hdr_timer is not None:
            self._hdr_timer.cancel()
            self._hdr_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        before = self._request_count
        if (
            self._hdr_deadline is None
            and data
            and not self._request_in_progress
            and not self._messages
        ):
            self._arm()
        super().data_received(data)
        if self._request_count != before:
            self._hdr_deadline = None  # disarm; a pending timer finds no deadline

    def _arm(self) -> None:
        if self._hdr_timeout is None or self._hdr_deadline is not None:
            return
        deadline = self._loop.time() + self._hdr_timeout
        self._hdr_deadline = deadline
        if self._hdr_timer is None:
            self._hdr_timer = self._loop.call_at(deadline, self._header_timeout)

    def _header_timeout(self) -> None:
        self._hdr_timer = None
        deadline = self._hdr_deadline
        if deadline is None:
            return  # disarmed since; the next arm schedules a new timer
        if self._loop.time() < deadline:
            self._hdr_timer = self._loop.call_at(deadline, self._header_timeout)
            return
        self._hdr_deadline = None
        if self._request_in_progress or self._messages:
            return
        _log.debug("closing connection: request headers not received in %ss", self._hdr_timeout)
        self.force_close()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status != 400:
            return super().handle_error(request, status, exc, message)
        _log.debug("http: bad request from %s: %s", request.remote, message or exc)
        if isinstance(exc, LineTooLong):
            return bad_request("", 431)
        if message and "Missing 'Host'" in message:
            return bad_request("missing required Host header")
        return bad_request()


class _Request(web.BaseRequest):
    """aiohttp's request, minus aiohttp's default `Server` header.

    aiohttp gives every response without a `Server` header its own
    (`Python/3.x aiohttp/3.x`). rpc's responses start with Caddy's, so one
    without it had it removed on purpose (`header -Server`), and Caddy then
    sends none. The identity test keeps an upstream's equal-looking value.
    """

    __slots__ = ()

    async def _prepare_hook(self, response: web.StreamResponse) -> None:
        if response.headers.get(hdrs.SERVER) is SERVER_SOFTWARE:
            del response.headers[hdrs.SERVER]


class _Server(web_server.Server):
    """aiohttp's low-level server making `_Protocol`s and `_Request`s."""

    def __init__(self, handler: Dispatcher, *, header_timeout: float | None, **kwargs: Any):
        super().__init__(handler, handler_cancellation=True, **kwargs)
        self._header_timeout = header_timeout

    def _make_request(
        self, message: Any, payload: Any, protocol: Any, writer: Any, task: Any
    ) -> web.BaseRequest:
        return _Request(message, payload, protocol, writer, task, self._loop)

    def __call__(self) -> web_protocol.RequestHandler:
        return _Protocol(self, header_timeout=self._header_timeout, loop=self._loop, **self._kwargs)


def make_server(config: ServerConfig, dispatcher: Dispatcher) -> web_server.Server:
    """The aiohttp server object shared by every listener of `config`."""
    timeouts = config.timeouts
    kwargs: dict[str, Any] = {
        "keepalive_timeout": (
            timeouts.idle_timeout if timeouts.idle_timeout is not None else _NO_IDLE_LIMIT
        ),
        "access_log": None,  # rpc writes Caddy-shaped access logs itself
        "auto_decompress": False,  # a proxy passes request bodies through untouched
        "logger": logging.getLogger("http.stdlib"),
    }
    if config.max_header_bytes is not None:
        kwargs["max_line_size"] = config.max_header_bytes
        kwargs["max_field_size"] = config.max_header_bytes
    return _Server(dispatcher, header_timeout=timeouts.read_header_timeout, **kwargs)


async def open_server(
    config: ServerConfig,
    server: web_server.Server,
    *,
    ssl_context: ssl.SSLContext | None,
    http_port: int,
    reuse_port: bool,
) -> list[asyncio.AbstractServer]:
    """Bind every listen address of `config` and start accepting; TLS except on `http_port`."""
    loop = asyncio.get_running_loop()
    handshake = config.timeouts.read_header_timeout or 60.0
    opened: list[asyncio.AbstractServer] = []
    try:
        for text in config.listen:
            for addr in parse_address(text):
                use_tls = ssl_context if config.tls and addr.port != http_port else None
                if addr.network == "unix":
                    opened.append(
                        await loop.create_unix_server(
                            server,
                            addr.host,
                            ssl=use_tls,
                            ssl_handshake_timeout=handshake if use_tls else None,
                        )
                    )
                    continue
                family = {"tcp4": socket.AF_INET, "tcp6": socket.AF_INET6}.get(addr.network, 0)
                opened.append(
                    await loop.create_server(
                        server,
                        addr.host or None,
                        addr.port,
                        family=family,
                        ssl=use_tls,
                        ssl_handshake_timeout=handshake if use_tls else None,
                        reuse_port=reuse_port or None,
                        reuse_address=True,
                        backlog=1024,
                    )
                )
    except BaseException:
        for srv in opened:
            srv.close()
        raise
    return opened
