"""One request through one server: context, client IP, route, error route, logs, metrics.

Input: an aiohttp request on a listener of a `ServerConfig`; output: the
response written to the client (or nothing, when the client is gone) and the
request's access/error log entries and metrics, following Caddy's
`Server.ServeHTTP`: a route's `None` is Caddy's empty 200; `HandlerError`
runs the error route with `{http.error.*}` set, or writes the bare status;
`ClientGone` is logged as 499 and writes nothing; any other exception is a
500 with an empty body and a traceback in the error log.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import string
import time
import traceback
from typing import Any

from aiohttp import web
from multidict import CIMultiDict

from rpc.runtime import accesslog, logs, metrics
from rpc.runtime.app import ServerConfig
from rpc.runtime.clientip import TRUSTED_PROXY_VAR, client_ip
from rpc.runtime.context import Ctx
from rpc.runtime.errors import ClientGone, HandlerError

__all__ = [
    "SERVER_HEADER",
    "Dispatcher",
    "bad_request",
    "enter_error_route",
    "new_context",
    "status_text",
]

SERVER_HEADER = "Caddy"  # what Caddy puts in every response before handlers run

_log = logging.getLogger("rpc.runtime.dispatch")

# Go's http.StatusText (what {http.error.status_text} shows; Python's phrases drift by version).
_STATUS_TEXT = {
    100: "Continue",
    101: "Switching Protocols",
    102: "Processing",
    103: "Early Hints",
    200: "OK",
    201: "Created",
    202: "Accepted",
    203: "Non-Authoritative Information",
    204: "No Content",
    205: "Reset Content",
    206: "Partial Content",
    207: "Multi-Status",
    208: "Already Reported",
    226: "IM Used",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Found",
    303: "See Other",
    304: "Not Modified",
    305: "Use Proxy",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    409: "Conflict",
    410: "Gone",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Request Entity Too Large",
    414: "Request URI Too Long",
    415: "Unsupported Media Type",
    416: "Requested Range Not Satisfiable",
    417: "Expectation Failed",
    418: "I'm a teapot",
    421: "Misdirected Request",
    422: "Unprocessable Entity",
    423: "Locked",
    424: "Failed Dependency",
    425: "Too Early",
    426: "Upgrade Required",
    428: "Precondition Required",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    451: "Unavailable For Legal Reasons",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    505: "HTTP Version Not Supported",
    506: "Variant Also Negotiates",
    507: "Insufficient Storage",
    508: "Loop Detected",
    510: "Not Extended",
    511: "Network Authentication Required",
}

# Go's httpguts.ValidHostHeader alphabet.
_HOST_BYTES = frozenset(string.ascii_letters + string.digits + "!$%&'()*+,-.:;=[]_~")
_ID_ALPHABET = string.ascii_lowercase + string.digits


def status_text(status: int) -> str:
    """Go's `http.StatusText` (empty for codes Go does not name, such as 499)."""
    return _STATUS_TEXT.get(status, "")


def bad_request(detail: str = "", status: int = 400) -> web.Response:
    """Go's reply to a request it cannot parse: `<code> <text>[: detail]`, then close."""
    text = f"{status} {status_text(status)}" + (f": {detail}" if detail else "")
    resp = web.Response(
        status=status,
        reason=text.split(" ", 1)[1],
        text=text,
        headers={"Server": SERVER_HEADER, "Connection": "close"},
    )
    resp.force_close()
    return resp


class _Exchange:
    """What the server observes of one request while handlers run."""

    __slots__ = ("resp", "resp_headers", "size", "snapshot")

    def __init__(self, snapshot: bool) -> None:
        self.resp: web.StreamResponse | None = None
        self.resp_headers: CIMultiDict[str] | None = None
        self.size = 0
        self.snapshot = snapshot

    def on_send(self, ctx: Ctx, resp: web.StreamResponse) -> None:
        # First send hook: note the response; for the access log, append a hook that
        # copies the headers after every other hook ran (finalize iterates the live list)
        # and before aiohttp adds Date and Content-Length, which Go's map never shows.
        self.resp = resp
        if self.snapshot:
            ctx.send_hooks.append(self._copy_headers)

    def _copy_headers(self, ctx: Ctx, resp: web.StreamResponse) -> None:
        self.resp_headers = CIMultiDict(resp.headers)

    def count(self, body_size: int, _output_size: int) -> None:
        self.size += body_size


def _error_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(9))


def _host_problem(request: web.BaseRequest) -> str | None:
    # aiohttp >= 3.13.4 rejects duplicate and missing Host in its parser already;
    # these checks keep older versions from routing on an ambiguous host.
    hosts = request.headers.getall("Host", ())
    if len(hosts) > 1:
        return ""
    if not hosts:
        return "missing required Host header" if request.version >= (1, 1) else None
    if not _HOST_BYTES.issuperset(hosts[0]):
        return "malformed Host header"
    return None


def new_context(request: web.BaseRequest, config: ServerConfig) -> Ctx:
    """The context of a request as Caddy's server prepares it before the first route."""
    ctx = Ctx(request, config)
    target = request.raw_path
    if not target.startswith("/") and "://" in target:
        # Absolute-form target: its authority is the host (RFC 9112 §3.2.2), as in Go.
        ctx.hostport = request.url.raw_authority
        ctx.host = (request.url.raw_host or "").lower()
    trusted, ip = client_ip(
        ctx.remote_ip,
        request.headers,
        config.trusted_proxies,
        config.client_ip_headers,
        config.trusted_proxies_strict,
    )
    ctx.client_ip = ip
    ctx.trusted_proxy = trusted
    ctx.vars[TRUSTED_PROXY_VAR] = trusted  # `{http.vars.trusted_proxy}`, as Caddy keeps it
    ctx.resp_headers["Server"] = SERVER_HEADER
    return ctx


def enter_error_route(ctx: Ctx, err: HandlerError) -> None:
    """Set the context up for `handle_errors` as Caddy does: original URI, `{http.error.*}`."""
    # Caddy restores the original method and URI for the error routes (issue #3717);
    # headers stay as handlers left them, and so do response headers already set.
    url = ctx.request.rel_url
    ctx.method = ctx.orig_method
    ctx.path, ctx.raw_path, ctx.query = url.path, url.raw_path, url.raw_query_string
    if not err.error_id:
        err.error_id = _error_id()
    text = status_text(err.status)
    ctx.error = err
    ctx.extra["http.error.status_code"] = err.status
    ctx.extra["http.error.status_text"] = text
    ctx.extra["http.error.message"] = err.message or text
    ctx.extra["http.error.id"] = err.error_id
    ctx.extra["http.error.trace"] = err.origin
    # Deferred header operations and body encoders wrapped the primary chain only.
    del ctx.send_hooks[1:]


class Dispatcher:
    """The aiohttp request handler of every listener of one server."""

    __slots__ = ("access", "config")

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.access = config.logs

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        problem = _host_problem(request)
        if problem is not None:
            return bad_request(problem)
        if request.raw_path == "*" and request.method == "OPTIONS":
            # Go's server answers `OPTIONS *` itself; Caddy's handlers never see it.
            return web.Response()  # 200, Content-Length: 0 and no Server, as Go
        started = time.monotonic()
        config = self.config
        ctx = new_context(request, config)
        access = self.access
        logging_on = access is not None and accesslog.should_log(access, ctx.host)
        ex = _Exchange(logging_on)
        ctx.send_hooks.append(ex.on_send)
        counting = hasattr(request.writer, "on_body_write")
        if counting:
            request.writer.on_body_write = ex.count
        timers = self._start_timers(request)
        status = 0
        unhandled = False
        try:
            try:
                resp = await config.route(ctx)
                if resp is None:
                    unhandled = True
                    resp = web.Response()
                status = await self._send(ctx, resp)
                if unhandled:
                    status = 0
            except ClientGone:
                raise
            except HandlerError as err:
                status = await self._handle_error(ctx, ex, err, started)
        except (ClientGone, ConnectionResetError, BrokenPipeError):
            status = 499
            _abort(request)
        except asyncio.CancelledError:
            # aiohttp cancels the handler when the client disconnects.
            status = 499
            self._finish(ctx, ex, status, started, unhandled, counting)
            raise
        except Exception as exc:  # noqa: BLE001
            status = await self._crash(ctx, ex, exc, started)
        finally:
            for timer in timers:
                timer.cancel()
        self._finish(ctx, ex, status, started, unhandled, counting)
        return ex.resp if ex.resp is not None and status != 499 else _gone_response()

    def _start_timers(self, request: web.BaseRequest) -> list[asyncio.TimerHandle]:
        timeouts = self.config.timeouts
        if timeouts.read_timeout is None and timeouts.write_timeout is None:
            return []
        loop = asyncio.get_running_loop()
        timers = []
        if timeouts.read_timeout is not None and not request.content.is_eof():
            timers.append(loop.call_later(timeouts.read_timeout, _body_timeout, request))
        if timeouts.write_timeout is not None:
            timers.append(loop.call_later(timeouts.write_timeout, _abort, request))
        return timers

    async def _send(self, ctx: Ctx, resp: web.StreamResponse) -> int:
        if not resp.prepared:
            ctx.finalize(resp)
            await resp.prepare(ctx.request)
        await resp.write_eof()
        return resp.status

    async def _handle_error(
        self, ctx: Ctx, ex: _Exchange, err: HandlerError, started: float
    ) -> int:
        request = ctx.request
        if ex.resp is not None:
            # Headers are out: nothing can be said any more but the truncation.
            self._log_error(ctx, err, started, handled=False)
            _abort(request)
            return ex.resp.status
        enter_error_route(ctx, err)
        resp: web.StreamResponse | None = None
        errors = self.config.errors
        if errors is None:
            self._log_error(ctx, err, started, handled=False)
        else:
            try:
                resp = await errors(ctx)
                self._log_error(ctx, err, started, handled=True)
            except ClientGone:
                raise
            except HandlerError as err2:
                self._log_error(ctx, err, started, handled=False, second=err2)
                resp = None
            except Exception as exc:  # noqa: BLE001
                self._log_error(ctx, err, started, handled=False, second=exc)
                resp = None
            if ex.resp is not None and resp is None:
                _abort(request)  # the error route started a response and then failed
                return ex.resp.status
        if resp is None:
            resp = web.Response(status=err.status)
        return await self._send(ctx, resp)

    async def _crash(self, ctx: Ctx, ex: _Exchange, exc: Exception, started: float) -> int:
        fields = {
            "request": accesslog.request_fields(ctx, self._credentials()),
            "duration": time.monotonic() - started,
            "status": 500,
            "error": "".join(traceback.format_exception(exc)),
        }
        origin = getattr(exc, "origin", "")
        self._emit_error(
            ctx,
            logs.LEVELS["ERROR"],
            f"handler raised {type(exc).__name__}: {exc}" + (f" ({origin})" if origin else ""),
            fields,
        )
        if ex.resp is not None:
            _abort(ctx.request)
            return ex.resp.status
        resp = web.Response(status=500, headers={"Server": SERVER_HEADER})
        ex.resp = resp
        try:
            await resp.prepare(ctx.request)
            await resp.write_eof()
        except (ConnectionResetError, BrokenPipeError):
            return 499
        return 500

    def _credentials(self) -> bool:
        return self.access is not None and self.access.should_log_credentials

    def _log_error(
        self,
        ctx: Ctx,
        err: HandlerError,
        started: float,
        *,
        handled: bool,
        second: BaseException | None = None,
    ) -> None:
        level = logs.LEVELS["DEBUG"]
        if second is not None or (not handled and err.status >= 500):
            level = logs.LEVELS["ERROR"]
        if not logs.enabled(level):
            return
        msg = err.message or str(err)
        fields: dict[str, Any] = {}
        if second is not None:
            fields["error"] = str(second) or type(second).__name__
            fields["first_error"] = {"msg": msg}
            msg = "error handling handler error"
        fields["request"] = accesslog.request_fields(ctx, self._credentials())
        fields["duration"] = time.monotonic() - started
        fields["status"] = err.status
        fields["err_id"] = err.error_id
        fields["err_trace"] = err.origin
        if err.cause is not None:
            fields["cause"] = repr(err.cause)
        self._emit_error(ctx, level, msg, fields)

    def _emit_error(self, ctx: Ctx, level: int, msg: str, fields: dict[str, Any]) -> None:
        access = self.access
        names = (
            accesslog.logger_names(ctx, access, accesslog.ERROR_LOGGER)
            if access is not None
            else [accesslog.ERROR_LOGGER]
        )
        for name in names:
            logs.emit(name, level, msg, fields)

    def _finish(
        self, ctx: Ctx, ex: _Exchange, status: int, started: float, unhandled: bool, counting: bool
    ) -> None:
        size = ex.size if counting else _fallback_size(ex.resp)
        if status == 499:
            size = 0
        try:
            metrics.finish(ctx, status, size)
        except Exception:  # metrics must never fail a request  # noqa: BLE001
            _log.exception("recording metrics failed")
        access = self.access
        if access is None or ex.snapshot is False:
            return
        if ctx.vars.get(accesslog.LOG_SKIP_VAR) is True:
            return
        level = logs.LEVELS["ERROR"] if status >= 500 else logs.LEVELS["INFO"]
        if not logs.enabled(level):
            return
        payload = ctx.request.content
        bytes_read = max(0, payload.total_bytes - getattr(payload, "_size", 0))
        headers = ex.resp_headers if ex.resp_headers is not None else ctx.resp_headers
        fields = accesslog.access_entry(
            ctx,
            credentials=access.should_log_credentials,
            status=status,
            size=size,
            bytes_read=bytes_read,
            duration=time.monotonic() - started,
            resp_headers=headers.items(),
        )
        accesslog.emit_access(ctx, access, level, "NOP" if unhandled else "handled request", fields)


def _fallback_size(resp: web.StreamResponse | None) -> int:
    if isinstance(resp, web.Response):
        return resp.content_length or 0
    return 0


def _gone_response() -> web.StreamResponse:
    # aiohttp needs a response object; the transport is closed, so nothing is written.
    resp = web.Response(status=499)
    resp.force_close()
    return resp


def _abort(request: web.BaseRequest) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


def _body_timeout(request: web.BaseRequest) -> None:
    payload = request.content
    if not payload.is_eof():
        payload.set_exception(HandlerError(408, "timed out reading the request body"))
