"""Per-request state shared by generated routes and runtime handlers.

`Ctx` is Caddy's `*http.Request` plus its replacer and response writer, in
one slotted object built once per request: the (possibly rewritten) method,
URI and headers, the variables table, the headers handlers set for the
response, and the hooks that run just before the response is written.
Everything here is cheap to create; derived values are computed lazily.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from aiohttp import web
from multidict import CIMultiDict

if TYPE_CHECKING:
    from rpc.runtime.errors import HandlerError
    from rpc.runtime.typedefs import SendHook

__all__ = ["Ctx"]


class Ctx:
    """Everything about one request that handlers read or change."""

    __slots__ = (
        "_headers_copied",
        "client_ip",
        "error",
        "extra",
        "headers",
        "host",
        "hostport",
        "log_fields",
        "method",
        "orig_method",
        "orig_query",
        "orig_raw_path",
        "path",
        "query",
        "raw_path",
        "remote_ip",
        "remote_port",
        "request",
        "resp_headers",
        "scheme",
        "send_hooks",
        "server",
        "started",
        "tls",
        "trusted_proxy",
        "vars",
    )

    request: web.BaseRequest
    method: str
    path: str  # decoded path, as Caddy's r.URL.Path (after rewrites)
    raw_path: str  # escaped path sent upstream, as r.URL.EscapedPath()
    query: str  # raw query string without "?" (after rewrites)
    host: str  # request host without port, lower-cased (what host matchers see)
    hostport: str  # the Host header as the client sent it
    headers: CIMultiDict[str]  # request headers (handlers may change them)
    vars: dict[str, Any]  # {http.vars.*}
    extra: dict[str, Any]  # other placeholder values set by handlers (regexp captures, rp, ...)
    resp_headers: CIMultiDict[str]  # headers set for the response before it is written
    send_hooks: list[SendHook]
    error: HandlerError | None  # set while error routes run
    remote_ip: str
    remote_port: str
    client_ip: str  # the remote IP, or the forwarded one when the peer is trusted
    trusted_proxy: bool  # the peer is in the server's trusted_proxies (Caddy's TrustedProxyVarKey)
    tls: bool
    scheme: str
    server: Any  # rpc.runtime.server.ServerConfig of the listener
    started: float
    orig_method: str
    orig_raw_path: str
    orig_query: str
    log_fields: dict[str, Any]

    def __init__(self, request: web.BaseRequest, server: Any = None) -> None:
        self.request = request
        self.server = server
        self.method = request.method
        url = request.rel_url
        self.path = url.path
        self.raw_path = url.raw_path
        self.query = url.raw_query_string
        hostport = request.headers.get("Host", "")
        self.hostport = hostport
        self.host = host_of(hostport).lower()
        self.headers = request.headers  # type: ignore[assignment]  # copied on first write
        self._headers_copied = False
        self.vars = {}
        self.extra = {}
        self.resp_headers = CIMultiDict()
        self.send_hooks = []
        self.error = None
        # The server's protocol caches the connection's peer and TLS state (`peer`).
        protocol = request.protocol
        info = getattr(protocol, "peer", None)
        if type(info) is not tuple:
            info = _peer_info(request.transport)
            if info[0] and hasattr(type(protocol), "peer"):
                protocol.peer = info  # type: ignore[attr-defined]  # listeners._Protocol
        self.remote_ip, self.remote_port, self.tls = info
        self.client_ip = self.remote_ip
        self.trusted_proxy = False
        self.scheme = "https" if self.tls else "http"
        self.started = time.monotonic()
        self.orig_method = self.method
        self.orig_raw_path = self.raw_path
        self.orig_query = self.query
        self.log_fields = {}

    def writable_headers(self) -> CIMultiDict[str]:
        """The request headers as a mutable dict (copied from the request once)."""
        if not self._headers_copied:
            self.headers = CIMultiDict(self.headers)
            self._headers_copied = True
        return self.headers

    @property
    def uri(self) -> str:
        """The request-target as Caddy's `{http.request.uri}`: escaped path and query."""
        return f"{self.raw_path}?{self.query}" if self.query else self.raw_path

    def finalize(self, resp: web.StreamResponse) -> web.StreamResponse:
        """Apply what handlers set for the response: headers first, then hooks.

        Headers set by earlier handlers are kept and a handler's own headers
        are added after them (Caddy copies upstream headers with add
        semantics); hooks run last so deferred operations see everything.
        """
        if self.resp_headers:
            merged = CIMultiDict(self.resp_headers)
            for key, value in resp.headers.items():
                merged.add(key, value)
            resp.headers.clear()
            resp.headers.extend(merged)
        for hook in self.send_hooks:
            hook(self, resp)
        return resp

    async def prepare(self, resp: web.StreamResponse) -> web.StreamResponse:
        """Finalize and send the headers of a streaming response."""
        self.finalize(resp)
        await resp.prepare(self.request)
        return resp


def _peer_info(transport: Any) -> tuple[str, str, bool]:
    """(peer IP, peer port, TLS) of a connection; empty strings when it has no IP peer."""
    if transport is None:
        return "", "", False
    peer = transport.get_extra_info("peername")
    tls = transport.get_extra_info("sslcontext") is not None
    if isinstance(peer, tuple) and len(peer) >= 2:
        return str(peer[0]), str(peer[1]), tls
    return "", "", tls


def split_host(hostport: str) -> str | None:
    """The host of Go's `net.SplitHostPort(hostport)`, or None where Go reports an error
    (no port, too many colons, brackets out of place)."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end > 0 and hostport[end + 1 : end + 2] == ":" and ":" not in hostport[end + 2 :]:
            return hostport[1:end]
        return None
    head, sep, _ = hostport.rpartition(":")
    if not sep or ":" in head or "[" in head or "]" in head:
        return None
    return head


def host_of(hostport: str) -> str:
    """The host Caddy's host matcher reads from a Host header: without the port, and
    without IPv6 brackets when there is no port either."""
    host = split_host(hostport)
    return host if host is not None else hostport.removeprefix("[").removesuffix("]")
