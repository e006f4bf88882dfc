"""The `reverse_proxy` handler: select an upstream, send the request, stream the answer back.

Input: the request context; output: the upstream's response streamed to
the client, `None` when a `handle_response` route wrote nothing (the next
handlers run, as `forward_auth` relies on), or a `HandlerError` mapped as
Caddy's `statusError` does (503 no upstream, 502 connection/response
failures, 504 timeouts, `ClientGone` when the client left). The loop is
Caddy 2.11's `ServeHTTP` / `proxyLoopIteration` / `tryAgain`: every attempt
re-reads dynamic upstreams and re-selects, failures are counted for passive
health, and retries stop at `lb_retries` or `lb_try_duration`, whichever
comes first; non-dial failures are retried only for GET unless
`lb_retry_match` says otherwise.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from rpc.runtime.context import Ctx
from rpc.runtime.dynamic import UpstreamSource
from rpc.runtime.errors import ClientGone, HandlerError
from rpc.runtime.forwarding import (
    IPNetwork,
    forwarded_headers,
    strip_response_hop_by_hop,
    upgrade_type,
)
from rpc.runtime.goduration import GoDuration
from rpc.runtime.headers import _CANONICAL, HeaderOps, canonical_key
from rpc.runtime.health import ActiveHealthCheck, PassiveHealth
from rpc.runtime.placeholders import Template
from rpc.runtime.policies import Policy, Random
from rpc.runtime.respmatch import ResponseMatcher
from rpc.runtime.sniff import detect_content_type
from rpc.runtime.transport import (
    BadResponse,
    DialError,
    RequestBody,
    Transport,
    UpstreamResponse,
    UpstreamTimeout,
)
from rpc.runtime.typedefs import Reply, Route
from rpc.runtime.upstreams import Upstream

__all__ = [
    "CopyResponse",
    "CopyResponseHeaders",
    "ResponseHandler",
    "ReverseProxy",
    "start_health_checks",
]

log = logging.getLogger("rpc.runtime.proxy")

# Bytes of a request body kept so a retry can resend it, when retries are on.
REPLAY_LIMIT = 64 * 1024
# ctx.extra key of the response a handle_response route may copy (not a placeholder).
RESPONSE_CONTEXT = "_rp.response"

_RP = "http.reverse_proxy."
_RP_HEADER = _RP + "header."
_NO_UPSTREAM = "no upstreams available"
_STARTED: list[ActiveHealthCheck] = []
_PENDING: list[ActiveHealthCheck] = []


async def start_health_checks() -> None:
    """Start the active health checks of every proxy built so far (server startup)."""
    while _PENDING:
        check = _PENDING.pop()
        await check.start()
        _STARTED.append(check)


class ResponseHandler:
    """One `replace_status` (`status_code`) or `handle_response` (`routes`) entry."""

    __slots__ = ("match", "routes", "status_code")

    def __init__(
        self,
        *,
        match: ResponseMatcher | None = None,
        status_code: int | str | Template | None = None,
        routes: Route | None = None,
    ) -> None:
        self.match = match
        self.status_code = status_code
        self.routes = routes


class _Exchange:
    """An upstream response while `handle_response` routes may still copy it."""

    __slots__ = ("proxy", "resp", "status")

    def __init__(self, proxy: ReverseProxy, resp: UpstreamResponse, status: int) -> None:
        self.proxy = proxy
        self.resp = resp
        self.status = status


class _RoundTripDone(Exception):
    """An error after a successful round trip: not retried, not an upstream failure."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error


def _dial_text(value: str | Template) -> str:
    if isinstance(value, str):
        return value
    return "".join(p if isinstance(p, str) else "{" + p.key + "}" for p in value.parts)


class ReverseProxy:
    """Caddy's `reverse_proxy` handler (keyword arguments mirror its JSON fields).

    `upstreams` are dial addresses (`host:port`, `unix//path`) or templates
    expanded per request; `dynamic_upstreams` a source from
    `rpc.runtime.dynamic`. `active_health` builds the active checker from
    the static pool; `passive_health` counts failures. `retry_match` are
    request predicates (one per `lb_retry_match` set). `request_headers`
    are the `header_up` ops, `response_headers` / `response_require` the
    `header_down` ops and their response matcher. `handle_response` entries
    are tried in order, the first matching one wins.
    """

    __slots__ = (
        "_active",
        "_retry_on",
        "_tls_host",
        "dynamic_upstreams",
        "flush_interval",
        "handle_response",
        "origin",
        "passive_health",
        "request_buffers",
        "request_headers",
        "response_buffers",
        "response_headers",
        "response_require",
        "retries",
        "retry_match",
        "rewrite_method",
        "rewrite_uri",
        "selection_policy",
        "stream_buffer_size",
        "stream_close_delay",
        "stream_timeout",
        "templates",
        "transport",
        "trusted_proxies",
        "try_duration",
        "try_interval",
        "upstreams",
        "verbose_logs",
    )

    def __init__(
        self,
        *,
        upstreams: Sequence[str | Template] = (),
        dynamic_upstreams: UpstreamSource | None = None,
        transport: Transport | None = None,
        selection_policy: Policy | None = None,
        retries: int = 0,
        try_duration: float = 0.0,
        try_interval: float | None = None,
        retry_match: Sequence[Callable[[Ctx], bool]] | None = None,
        active_health: Callable[[Sequence[Upstream]], ActiveHealthCheck] | None = None,
        passive_health: PassiveHealth | None = None,
        flush_interval: float = 0.0,
        trusted_proxies: Sequence[IPNetwork | str] = (),
        request_headers: HeaderOps | None = None,
        response_headers: HeaderOps | None = None,
        response_require: ResponseMatcher | None = None,
        request_buffers: int = 0,
        response_buffers: int = 0,
        stream_timeout: float | None = None,
        stream_close_delay: float | None = None,
        stream_buffer_size: int = 0,
        rewrite_method: str | Template | None = None,
        rewrite_uri: str | Template | None = None,
        handle_response: Sequence[ResponseHandler] = (),
        verbose_logs: bool = False,
        origin: str = "",
    ) -> None:
        self.origin = origin
        self.transport = transport if transport is not None else Transport()
        self.passive_health = passive_health
        pool = []
        templates: list[Template | None] = []
        for dial in upstreams:
            up = Upstream(_dial_text(dial))
            if passive_health is not None:
                passive_health.provision(up)
            pool.append(up)
            templates.append(dial if isinstance(dial, Template) and dial.const is None else None)
        self.upstreams = tuple(pool)
        self.templates = tuple(templates) if any(t is not None for t in templates) else ()
        self.dynamic_upstreams = dynamic_upstreams
        self.selection_policy: Policy = selection_policy or Random()
        self.retries = retries
        self.try_duration = try_duration
        if try_interval is None:
            try_interval = 0.25 if try_duration > 0 else 0.0
        self.try_interval = try_interval
        self.retry_match = tuple(retry_match) if retry_match is not None else None
        self._retry_on = retries > 0 or try_duration > 0
        self._active = active_health(self.upstreams) if active_health is not None else None
        if self._active is not None and self._active.enabled:
            _PENDING.append(self._active)
        self.flush_interval = flush_interval
        self.trusted_proxies = tuple(
            ipaddress.ip_network(r, strict=False) if isinstance(r, str) else r
            for r in trusted_proxies
        )
        self.request_headers = request_headers
        self.response_headers = response_headers
        self.response_require = response_require
        self.request_buffers = request_buffers
        self.response_buffers = response_buffers
        self.stream_timeout = stream_timeout
        self.stream_close_delay = stream_close_delay
        self.stream_buffer_size = stream_buffer_size
        self.rewrite_method = rewrite_method
        self.rewrite_uri = rewrite_uri
        self.handle_response = tuple(handle_response)
        self.verbose_logs = verbose_logs
        # Caddy >= 2.11 sends Host: {upstream_hostport} to TLS upstreams (a transport op).
        self._tls_host = self.transport.tls is not None
        if self.upstreams:
            from rpc.runtime import metrics

            metrics.watch_upstreams(self.upstreams)

    # ------------------------------------------------------------ the handler

    async def __call__(self, ctx: Ctx, /) -> Reply:
        if _PENDING:
            await start_health_checks()
        start = time.monotonic()
        extra = ctx.extra
        retries = 0
        try:
            # One coroutine for the whole handler: every level of `await` is paid again
            # each time the request waits for the upstream.
            method = ctx.method
            target = ctx.uri
            if self.rewrite_method is not None or self.rewrite_uri is not None:
                method, target = self._rewrite(ctx, method, target)
            upgrade = upgrade_type(ctx.headers)
            headers = forwarded_headers(ctx, self.trusted_proxies, upgrade)
            request = ctx.request
            body = await self._body(ctx, method) if request.body_exists else None
            proxy_error: BaseException | None = None
            try:
                while True:
                    done, proxy_error, reply = await self._attempt(
                        ctx, start, retries, proxy_error, method, target, headers, body, upgrade
                    )
                    if done:
                        break
                    retries += 1
            finally:
                extra[_RP + "retries"] = retries
            if proxy_error is not None:
                raise _status_error(proxy_error, self.origin)
            return reply
        finally:
            elapsed = time.monotonic() - start
            extra[_RP + "duration"] = GoDuration(elapsed)
            extra[_RP + "duration_ms"] = elapsed * 1e3

    def _rewrite(self, ctx: Ctx, method: str, target: str) -> tuple[str, str]:
        if self.rewrite_method is not None:
            new = _render(self.rewrite_method, ctx)
            if new:
                method = new.upper()
        if self.rewrite_uri is not None:
            uri = _render(self.rewrite_uri, ctx)
            path, sep, query = uri.partition("?")
            if not path:
                path = ctx.raw_path
            if not sep:
                query = ctx.query
            target = f"{path}?{query}" if query else path
        return method, target

    async def _body(self, ctx: Ctx, method: str) -> RequestBody | None:
        request = ctx.request
        if not request.body_exists:
            return None
        if self.rewrite_method is not None and method in ("GET", "HEAD"):
            return None
        length = request.content_length
        if length == 0:
            return None
        replay = REPLAY_LIMIT if self._retry_on else 0
        limit = self.request_buffers
        if limit:
            buffered = bytearray()
            content = request.content
            while limit < 0 or len(buffered) < limit:
                data = await content.read(65536 if limit < 0 else min(65536, limit - len(buffered)))
                if not data:
                    return RequestBody(None, len(buffered), buffered=bytes(buffered))
                buffered += data
            if content.at_eof():
                return RequestBody(None, len(buffered), buffered=bytes(buffered))
            return RequestBody(content, length, replay_limit=replay, buffered=bytes(buffered))
        return RequestBody(request.content, length, replay_limit=replay)

    async def _upstreams(self, ctx: Ctx) -> Sequence[Upstream]:
        source = self.dynamic_upstreams
        if source is None:
            return self.upstreams
        try:
            found = await source.get_upstreams(ctx)
        except Exception as exc:  # noqa: BLE001 - any source failure falls back
            log.error(
                "failed getting dynamic upstreams; falling back to static upstreams",
                extra={"fields": {"error": str(exc)}},
            )
            return self.upstreams
        if self.passive_health is not None:
            for up in found:
                self.passive_health.provision(up)
        return found

    async def _attempt(
        self,
        ctx: Ctx,
        start: float,
        retries: int,
        proxy_error: BaseException | None,
        method: str,
        target: str,
        headers: CIMultiDict[str],
        body: RequestBody | None,
        upgrade: str,
    ) -> tuple[bool, BaseException | None, Reply]:
        if retries and self.dynamic_upstreams is not None:
            self.dynamic_upstreams.reset()
        pool = self.upstreams if self.dynamic_upstreams is None else await self._upstreams(ctx)
        upstream = self.selection_policy.select(pool, ctx)
        if upstream is None:
            if proxy_error is None:
                proxy_error = HandlerError(503, _NO_UPSTREAM, origin=self.origin)
            return not await self._try_again(ctx, start, retries, proxy_error), proxy_error, None
        address = upstream.address
        if self.templates and upstream in self.upstreams:
            tpl = self.templates[self.upstreams.index(upstream)]
            if tpl is not None:
                address = tpl.render(ctx)
        parts = _ADDRESS_PARTS.get(address)
        if parts is None:
            parts = _address_parts(address)
        extra = ctx.extra
        extra.update(parts)
        extra[_RP + "upstream.requests"] = upstream.host.num_requests
        extra[_RP + "upstream.max_requests"] = upstream.max_requests
        extra[_RP + "upstream.fails"] = upstream.host.fails

        host = ctx.hostport
        out: Any = headers
        if self.request_headers is not None or self._tls_host:
            out = CIMultiDict(headers)
            if self._tls_host:
                host = address
            if self.request_headers is not None:
                host = self.request_headers.apply_request(ctx, out, host)
        try:
            reply = await self._round_trip(
                ctx, upstream, address, method, target, host, out, body, upgrade
            )
            return True, None, reply
        except _RoundTripDone as done:
            return True, done.error, None
        except (asyncio.CancelledError, ClientGone, ConnectionResetError) as exc:
            if _client_gone(ctx, exc):
                raise
            proxy_error = exc
        except (DialError, BadResponse, UpstreamTimeout, OSError, HandlerError) as exc:
            proxy_error = exc
        if self.passive_health is not None:
            self.passive_health.count_failure(upstream)
        if self.verbose_logs or log.isEnabledFor(logging.DEBUG):
            log.debug(
                "upstream attempt failed",
                extra={"fields": {"upstream": address, "error": str(proxy_error)}},
            )
        if body is not None and body.started and not body.replayable:
            if self._retry_on:
                log.warning(
                    "not retrying: the request body was larger than the replay buffer",
                    extra={"fields": {"upstream": address, "replay_limit": body.replay_limit}},
                )
            return True, proxy_error, None
        return not await self._try_again(ctx, start, retries, proxy_error), proxy_error, None

    async def _try_again(self, ctx: Ctx, start: float, retries: int, error: BaseException) -> bool:
        if not self._retry_on:
            return False
        if self.try_duration > 0 and time.monotonic() - start >= self.try_duration:
            return False
        if self.retries > 0 and retries >= self.retries:
            return False
        no_upstream = isinstance(error, HandlerError) and error.message == _NO_UPSTREAM
        if not isinstance(error, DialError) and not no_upstream:
            matchers = self.retry_match
            if matchers is None:
                if ctx.method != "GET":
                    return False
            elif matchers and not any(m(ctx) for m in matchers):
                return False
        if self.try_interval > 0:
            await asyncio.sleep(self.try_interval)
        return True

    # ------------------------------------------------------------ one round trip

    async def _round_trip(
        self,
        ctx: Ctx,
        upstream: Upstream,
        address: str,
        method: str,
        target: str,
        host: str,
        headers: Any,
        body: RequestBody | None,
        upgrade: str,
    ) -> Reply:
        counted = upstream.host
        counted.num_requests += 1
        resp: UpstreamResponse | None = None
        try:
            sent = time.monotonic()
            transport = self.transport
            sni = transport.tls_server_name
            if sni is not None and not isinstance(sni, str):
                sni = sni.render(ctx)
            resp = await transport.round_trip(
                address, method, target, host, headers.items(), body, server_name=sni or None
            )
            latency = time.monotonic() - sent
            extra = ctx.extra
            extra[_RP + "upstream.latency"] = GoDuration(latency)
            extra[_RP + "upstream.latency_ms"] = latency * 1e3
            status = resp.status
            extra[_RP + "status_code"] = status
            extra[_RP + "status_text"] = f"{status} {resp.reason}".rstrip()
            for key, value in resp.headers:
                field = _CANONICAL.get(key)
                extra[_RP_HEADER + (field if field is not None else canonical_key(key))] = value
            passive = self.passive_health
            if passive is not None:
                for _ in range(passive.strikes(status, latency)):
                    passive.count_failure(upstream)
            try:
                if self.handle_response or upgrade:
                    return await self._respond(ctx, resp, status, method, upgrade)
                return await self.finalize(ctx, resp, status, method)
            except (asyncio.CancelledError, ClientGone, ConnectionResetError):
                raise
            except (HandlerError, BadResponse, UpstreamTimeout, OSError) as exc:
                raise _RoundTripDone(exc) from exc
        finally:
            counted.num_requests -= 1
            if resp is not None:
                if resp.done:
                    resp.release()
                else:
                    resp.close()

    async def _respond(
        self, ctx: Ctx, resp: UpstreamResponse, status: int, method: str, upgrade: str
    ) -> Reply:
        for rh in self.handle_response:
            if rh.match is not None and not rh.match.match(status, _as_multidict(resp.headers)):
                continue
            if rh.status_code is not None:
                code = rh.status_code
                text = code if isinstance(code, (str, int)) else code.render(ctx)
                try:
                    value = int(text)
                except ValueError as exc:
                    raise HandlerError(500, str(exc), origin=self.origin) from exc
                if value:
                    status = value
                break
            if rh.routes is None:
                break
            ctx.extra[_RP + "status_code"] = status
            exchange = _Exchange(self, resp, status)
            ctx.extra[RESPONSE_CONTEXT] = exchange
            try:
                return await rh.routes(ctx)
            finally:
                ctx.extra.pop(RESPONSE_CONTEXT, None)
        if status == 101 and upgrade:
            from rpc.runtime.websocket import switch_protocols

            return await switch_protocols(ctx, self, resp, upgrade)
        return await self.finalize(ctx, resp, status, method)

    async def finalize(
        self, ctx: Ctx, up: UpstreamResponse, status: int, method: str | None = None
    ) -> web.StreamResponse:
        """Copy an upstream response to the client (Caddy's finalizeResponse)."""
        ctx.resp_headers.popall("Server", None)
        resp = web.StreamResponse(status=status)
        out = resp.headers
        out["Via"] = f"{up.version[5:]} Caddy"
        pairs = strip_response_hop_by_hop(up.headers)
        ops = self.response_headers
        if ops is not None:
            hdrs: CIMultiDict[str] = CIMultiDict((canonical_key(k), v) for k, v in pairs)
            if self.response_require is None or self.response_require.match(status, hdrs):
                ops.apply(hdrs, ctx)
            out.extend(hdrs)
        else:
            canon = _CANONICAL.get
            out.extend([(canon(k) or canonical_key(k), v) for k, v in pairs])
        first = b""
        if not up.done and "Content-Type" not in out and status not in (204, 304):
            first = await up.read()
            if first:
                out["Content-Type"] = detect_content_type(first)
        immediate = (
            self.flush_interval != 0
            or up.content_length is None
            or out.get("Content-Type", "").split(";", 1)[0].strip().lower() == "text/event-stream"
        )
        if not immediate:
            # Send the headers with the first piece of the body (one write for small bodies).
            resp._send_headers_immediately = False
        await ctx.prepare(resp)
        if first:
            await resp.write(first)
        elif immediate and not up.done:
            _send_headers(resp)
        try:
            while True:
                data = await up.read()
                if not data:
                    break
                await resp.write(data)
        except (BadResponse, UpstreamTimeout, OSError) as exc:
            if isinstance(exc, ConnectionResetError) and _client_closed(ctx):
                raise
            # Headers are out: all we can do is cut the client's response short.
            raise HandlerError(
                502, f"reading upstream response: {exc}", origin=self.origin
            ) from exc
        return resp


def _send_headers(resp: web.StreamResponse) -> None:
    writer = resp._payload_writer
    send = getattr(writer, "send_headers", None)
    if send is not None:
        send()


def _as_multidict(headers: list[tuple[str, str]]) -> CIMultiDict[str]:
    return CIMultiDict(headers)


def _render(value: str | Template, ctx: Ctx) -> str:
    return value if isinstance(value, str) else value.render(ctx)


_ADDRESS_PARTS: dict[str, dict[str, str]] = {}


def _address_parts(address: str) -> dict[str, str]:
    """`{rp.upstream.address|hostport|host|port}` for a dial address (cached, bounded)."""
    host, port = _split(address)
    parts = {
        _RP + "upstream.address": address if address.startswith("unix/") else "tcp/" + address,
        _RP + "upstream.hostport": address,
        _RP + "upstream.host": host,
        _RP + "upstream.port": port,
    }
    if len(_ADDRESS_PARTS) < 4096:
        _ADDRESS_PARTS[address] = parts
    return parts


def _split(address: str) -> tuple[str, str]:
    if address.startswith("unix/"):
        return address[len("unix/") :], ""
    if address.startswith("["):
        end = address.find("]")
        return address[1:end], address[end + 2 :]
    host, sep, port = address.rpartition(":")
    if not sep:
        return address, ""
    return host, port


def _client_closed(ctx: Ctx) -> bool:
    transport = ctx.request.transport
    return transport is None or transport.is_closing()


def _client_gone(ctx: Ctx, exc: BaseException) -> bool:
    if isinstance(exc, (asyncio.CancelledError, ClientGone)):
        return True
    return _client_closed(ctx)


def _status_error(error: BaseException, origin: str) -> HandlerError:
    """Caddy's statusError: 504 for timeouts, 499 for a gone client, else 502."""
    if isinstance(error, _RoundTripDone):
        error = error.error
    if isinstance(error, HandlerError):
        return error
    if isinstance(error, (UpstreamTimeout, TimeoutError)):
        return HandlerError(504, str(error) or "i/o timeout", origin=origin, cause=error)
    return HandlerError(502, str(error) or type(error).__name__, origin=origin, cause=error)


# ---------------------------------------------------------------- handle_response helpers


class CopyResponse:
    """`copy_response [<status>]`: write the upstream response (inside `handle_response`)."""

    __slots__ = ("origin", "status_code")

    def __init__(
        self, *, status_code: int | str | Template | None = None, origin: str = ""
    ) -> None:
        self.status_code = status_code
        self.origin = origin

    async def __call__(self, ctx: Ctx, /) -> Reply:
        exchange = ctx.extra.get(RESPONSE_CONTEXT)
        if not isinstance(exchange, _Exchange):
            raise HandlerError(
                500,
                "cannot use 'copy_response' outside of reverse_proxy's handle_response routes",
                origin=self.origin,
            )
        status = exchange.status
        if self.status_code is not None:
            code = self.status_code
            text = code if isinstance(code, (str, int)) else code.render(ctx)
            try:
                status = int(text)
            except ValueError as exc:
                raise HandlerError(500, str(exc), origin=self.origin) from exc
        return await exchange.proxy.finalize(ctx, exchange.resp, status)


class CopyResponseHeaders:
    """`copy_response_headers { include|exclude <fields...> }` (inside `handle_response`)."""

    __slots__ = ("exclude", "include", "origin")

    def __init__(
        self, *, include: Sequence[str] = (), exclude: Sequence[str] = (), origin: str = ""
    ) -> None:
        self.include = frozenset(canonical_key(f) for f in include) or None
        self.exclude = frozenset(canonical_key(f) for f in exclude) or None
        self.origin = origin

    async def __call__(self, ctx: Ctx, /) -> Reply:
        exchange = ctx.extra.get(RESPONSE_CONTEXT)
        if not isinstance(exchange, _Exchange):
            raise HandlerError(
                500,
                "cannot use 'copy_response_headers' outside of reverse_proxy's "
                "handle_response routes",
                origin=self.origin,
            )
        out = ctx.resp_headers
        for key, value in exchange.resp.headers:
            field = canonical_key(key)
            if self.include is not None and field not in self.include:
                continue
            if self.exclude is not None and field in self.exclude:
                continue
            out.add(field, value)
        return None
