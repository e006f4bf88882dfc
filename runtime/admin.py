"""The admin endpoint: upstream state as JSON, served on a loopback address only.

`GET /reverse_proxy/upstreams` answers like Caddy 2.11's admin API — a JSON
list of `{"address", "num_requests", "fails"}`, one entry per known backend
address (static, then dynamic). As Caddy does for a local admin listener,
requests whose Host or Origin is not the listener itself are refused (DNS
rebinding protection), other methods get 405, and errors are
`{"error": "..."}`.
"""

from __future__ import annotations

import ipaddress
import json
import re
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Handler

from rpc.runtime.upstreams import all_hosts

__all__ = ["UPSTREAMS_PATH", "AdminServer", "admin_app", "upstreams_json"]

UPSTREAMS_PATH = "/reverse_proxy/upstreams"

# The bytes Go's httpguts.ValidHostHeader accepts.
_VALID_HOST = re.compile(r"[A-Za-z0-9!$%&'()*+,\-.:;=\[\]_~]*")


def _go_json(value: object) -> str:
    """JSON as Go's json.Encoder writes it: compact, HTML-safe, newline-terminated."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(char, escape)
    return text + "\n"


def upstreams_json() -> str:
    """The body of `GET /reverse_proxy/upstreams`."""
    return _go_json(
        [
            {"address": h.address, "num_requests": h.num_requests, "fails": h.fails}
            for h in all_hosts()
        ]
    )


def _error(status: int, message: str) -> web.Response:
    return _json(status, _go_json({"error": message}))


def _json(status: int, text: str) -> web.Response:
    # Exactly `application/json`, without aiohttp's charset parameter (as Caddy).
    return web.Response(
        status=status, body=text.encode(), headers={"Content-Type": "application/json"}
    )


async def _not_found(request: web.Request) -> web.Response:
    # Go's http.NotFound, which Caddy's admin mux answers for unknown paths.
    return web.Response(
        status=404,
        text="404 page not found\n",
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


def _allowed_hosts(host: str, port: int) -> frozenset[str]:
    names = {host, "localhost", "127.0.0.1", "::1"}
    return frozenset(f"[{n}]:{port}" if ":" in n else f"{n}:{port}" for n in names)


def admin_app(host: str = "127.0.0.1") -> web.Application:
    """An aiohttp application serving the admin endpoint for a listener on `host`.

    The allowed Host/Origin values are the listener's own addresses
    (`localhost`, `127.0.0.1`, `[::1]` and `host`, with the listening port).
    """

    @web.middleware
    async def origin_check(request: web.Request, handler: Handler) -> web.StreamResponse:
        sockname = request.transport.get_extra_info("sockname") if request.transport else None
        port = int(sockname[1]) if isinstance(sockname, tuple) and len(sockname) >= 2 else 0
        allowed = _allowed_hosts(host, port)
        sent_host = request.headers.get("Host", "")
        if not _VALID_HOST.fullmatch(sent_host):
            # Go's HTTP server refuses these before any handler runs.
            return web.Response(
                status=400,
                body=b"400 Bad Request: malformed Host header",
                headers={"Content-Type": "text/plain; charset=utf-8", "Connection": "close"},
            )
        if sent_host not in allowed:
            return _error(403, f"host not allowed: {sent_host}")
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc not in allowed:
            return _error(403, f"client is not allowed to access from origin '{origin}'")
        return await handler(request)

    async def upstreams(request: web.Request) -> web.StreamResponse:
        if request.method != "GET":
            return _error(405, "method not allowed")
        return _json(200, upstreams_json())

    app = web.Application(middlewares=[origin_check])
    app.router.add_route("*", UPSTREAMS_PATH, upstreams)
    app.router.add_route("*", "/{tail:.*}", _not_found)
    return app


class AdminServer:
    """Runs the admin endpoint on a loopback address (non-loopback hosts are refused)."""

    __slots__ = ("_runner", "host", "port")

    def __init__(self, host: str = "127.0.0.1", port: int = 2019) -> None:
        if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
            raise ValueError(f"the admin endpoint listens on loopback only, not {host!r}")
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Bind and serve; with `port` 0 the OS picks one (read `port` afterwards)."""
        runner = web.AppRunner(admin_app(self.host), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        if self.port == 0:
            for address in runner.addresses:
                self.port = int(address[1])
                break

    async def stop(self) -> None:
        """Close the listener."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
