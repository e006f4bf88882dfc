"""Which listener, site, routes and handlers a request gets: the generated code, traced.

`load(text, name)` compiles the Caddyfile into a module in trace mode (the
same route code `rpc compile` writes, with each matcher check and handler
call reported to `rpc.runtime.trace`) and executes it in memory.
`Traced.explain(request)` then runs one request through it without any
network: handlers that would contact another machine (reverse_proxy,
forward_auth, shard lookups) are described instead of run, with the upstream
a deterministic policy would pick.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from rpc.compiler.backend.module import generate
from rpc.compiler.backend.module import load as load_module
from rpc.compiler.backend.routes import TraceEntry
from rpc.compiler.errors import Diagnostic, RpcError
from rpc.compiler.ir.base import Node
from rpc.compiler.ir.proxy import ReverseProxy
from rpc.compiler.ir.routes import Matcher
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpc.compiler.source import SourceMap
from rpc.runtime.app import App, ServerConfig
from rpc.runtime.dispatch import enter_error_route, new_context
from rpc.runtime.errors import HandlerError
from rpc.runtime.trace import KEY, Event, Recorder

__all__ = ["Explanation", "RequestSpec", "Step", "Traced", "load"]


@dataclass(frozen=True)
class RequestSpec:
    """The request to explain: `GET http://host:port/path?q` plus headers and peer."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    remote_ip: str = "127.0.0.1"


@dataclass
class Step:
    """One line of the explanation."""

    kind: str  # "route" | "handler" | "stub" | "error"
    origin: str
    text: str
    matched: bool | None = None
    status: int | None = None
    notes: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "origin": self.origin, "text": self.text}
        for key in ("matched", "status"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.notes:
            out["notes"] = self.notes
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass
class Explanation:
    """Everything `rpc explain` prints, and what `rpc test` checks."""

    request: RequestSpec
    server: str
    listen: tuple[str, ...]
    steps: list[Step]
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    proxied: dict[str, Any] | None = None  # the final reverse_proxy, when there is one
    error: str = ""

    @property
    def route_origin(self) -> str:
        """The origin of the last route whose matchers matched (or of the last handler)."""
        routes = [s.origin for s in self.steps if s.kind == "route" and s.matched]
        return routes[-1] if routes else ""

    @property
    def site_origin(self) -> str:
        routes = [s.origin for s in self.steps if s.kind == "route" and s.matched]
        return routes[0] if routes else ""

    def as_json(self) -> dict[str, Any]:
        return {
            "request": {
                "method": self.request.method,
                "url": self.request.url,
                "headers": [list(h) for h in self.request.headers],
                "remote_ip": self.request.remote_ip,
            },
            "server": self.server,
            "listen": list(self.listen),
            "steps": [s.as_json() for s in self.steps],
            "response": {
                "status": self.status,
                "headers": [list(h) for h in self.headers],
                "body": self.body.decode("utf-8", "replace"),
            },
            "proxied": self.proxied,
            "error": self.error,
        }


class _Transport:
    """What `Ctx` asks the transport: the peer and whether TLS is on."""

    def __init__(self, remote_ip: str, tls: bool) -> None:
        self._extra = {"peername": (remote_ip, 50000), "sslcontext": object() if tls else None}

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    def is_closing(self) -> bool:
        return False

    def abort(self) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class Traced:
    """A Caddyfile compiled in trace mode and loaded in memory."""

    app: App
    traces: tuple[TraceEntry, ...]
    sources: SourceMap | None = None

    def line_of(self, origin: str) -> str:
        """The Caddyfile line an origin (`file:line`) points at, stripped."""
        file, _, line = origin.rpartition(":")
        source = self.sources.get(file) if self.sources is not None else None
        if source is None or not line.isdigit():
            return ""
        return source.line_text(int(line)).strip()

    def server_for(self, port: int) -> ServerConfig | None:
        for server in self.app.servers:
            for address in server.listen:
                if _listen_ports(address, port):
                    return server
        return None

    def explain(self, spec: RequestSpec) -> Explanation:
        return asyncio.run(self._explain(spec))

    async def _explain(self, spec: RequestSpec) -> Explanation:
        parts = urlsplit(spec.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the URL must be absolute, like http://localhost/path: {spec.url!r}")
        tls = parts.scheme == "https"
        port = parts.port or (443 if tls else 80)
        server = self.server_for(port)
        if server is None:
            listening = sorted({a for s in self.app.servers for a in s.listen})
            raise ValueError(
                f"no server listens on port {port} (listeners: {', '.join(listening)})"
            )
        headers = CIMultiDict(spec.headers)
        if "Host" not in headers:
            headers["Host"] = parts.netloc
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        request = make_mocked_request(
            spec.method, target, headers=headers, transport=_Transport(spec.remote_ip, tls)
        )
        ctx = new_context(request, server)
        ctx.send_hooks.append(lambda _ctx, _resp: None)  # the server's own hook comes first
        recorder = Recorder(
            stubbed=frozenset(k for k, t in enumerate(self.traces) if t.stubbed),
            stub=self._stub,
        )
        ctx.extra[KEY] = recorder
        error = ""
        try:
            resp = await server.route(ctx)
            if resp is None:
                resp = web.Response()
        except HandlerError as err:
            error = f"{err.status} {err.message}".strip()
            enter_error_route(ctx, err)
            resp = None
            if server.errors is not None:
                try:
                    resp = await server.errors(ctx)
                except HandlerError:
                    resp = None
            if resp is None:
                resp = web.Response(status=err.status)
        ctx.finalize(resp)
        body = resp.body if isinstance(resp, web.Response) and isinstance(resp.body, bytes) else b""
        steps = [self._step(ev, ctx) for ev in recorder.events]
        _note_reordering(steps)
        proxied = next((s.detail for s in reversed(steps) if s.kind == "stub"), None)
        return Explanation(
            request=spec,
            server=server.name,
            listen=tuple(server.listen),
            steps=steps,
            status=resp.status,
            headers=[(k, v) for k, v in resp.headers.items()],
            body=body,
            proxied=proxied,
            error=error,
        )

    # ------------------------------------------------------------ steps

    def _stub(self, ctx: Any, k: int, handler: Any) -> web.StreamResponse:
        entry = self.traces[k]
        detail = _proxy_detail(entry, ctx, handler)
        ctx.extra.setdefault("_explain_stub", {})[k] = detail
        resp = web.Response(status=200, reason="Proxied (not sent by rpc explain)")
        return resp

    def _step(self, ev: Event, ctx: Any) -> Step:
        entry = self.traces[ev.k]
        if ev.kind == "match":
            assert entry.route is not None
            return Step(
                "route",
                entry.origin,
                _describe_match(entry, ev, ctx),
                matched=ev.matched,
            )
        assert entry.handler is not None
        name = entry.handler.CADDY_TAG[1] if entry.handler.CADDY_TAG else "handler"
        step = Step(ev.kind, entry.origin, self.line_of(entry.origin) or name, status=ev.status)
        step.detail["handler"] = name
        if ev.method_after and (ev.method_after, ev.uri_after) != (ev.method_before, ev.uri_before):
            step.notes.append(
                f"rewrote {ev.method_before} {ev.uri_before} → {ev.method_after} {ev.uri_after}"
            )
        if ev.kind == "error":
            step.notes.append(
                f"error {ev.status}: {ev.error}" if ev.error else f"error {ev.status}"
            )
        if ev.kind == "stub":
            step.detail.update(ctx.extra.get("_explain_stub", {}).get(ev.k, {}))
        return step


def _listen_ports(address: str, port: int) -> bool:
    hostport = address.split("/", 1)[1] if "/" in address.split(":", 1)[0] else address
    _, _, ports = hostport.rpartition(":")
    low, _, high = ports.partition("-")
    try:
        return int(low) <= port <= int(high or low)
    except ValueError:
        return False


def _describe_matcher(m: Matcher) -> str:
    value = m.caddy_json()  # type: ignore[attr-defined]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return f"{m.KEY} {' '.join(value)}"
    if isinstance(value, str):
        return f"{m.KEY} {value}"
    return f"{m.KEY} {json.dumps(value, separators=(',', ':'))}"


# What each kind of matcher looked at, to say why it did not match.
_SEEN: dict[str, Callable[[Any], str]] = {
    "path": lambda ctx: ctx.path,
    "path_regexp": lambda ctx: ctx.path,
    "host": lambda ctx: ctx.host,
    "method": lambda ctx: ctx.method,
    "query": lambda ctx: ctx.query or "(empty)",
    "remote_ip": lambda ctx: ctx.remote_ip,
    "client_ip": lambda ctx: ctx.client_ip,
    "protocol": lambda ctx: "https" if ctx.tls else "http",
}


def _describe_match(entry: TraceEntry, ev: Event, ctx: Any) -> str:
    assert entry.route is not None
    texts = []
    for matchers, results in zip(entry.route.match, ev.sets, strict=False):
        row = []
        for m, ok in zip(matchers.matchers, results, strict=False):
            text = _describe_matcher(m)
            if ok:
                row.append(f"{text} ✓")
            else:
                seen = _SEEN.get(m.KEY)
                why = f" (request has {seen(ctx)})" if seen is not None else ""
                row.append(f"{text} ✗{why}")
        texts.append(" and ".join(row))
    return " or ".join(texts) if texts else "(no matcher)"


def _proxy_detail(entry: TraceEntry, ctx: Any, handler: Any) -> dict[str, Any]:
    h = entry.handler
    if not isinstance(h, ReverseProxy):
        name = h.CADDY_TAG[1] if h is not None and h.CADDY_TAG else "handler"
        return {"handler": name, "note": "not run by rpc explain (it would contact other services)"}
    from rpc.runtime.placeholders import Template

    policy = "random"
    if h.load_balancing is not None and h.load_balancing.selection_policy is not None:
        policy = _tag(h.load_balancing.selection_policy)
    upstreams = []
    for u in h.upstreams:
        if u.dial.is_constant:
            upstreams.append(u.dial.constant)
        else:
            parts = [p if isinstance(p, str) else _placeholder(p.key) for p in u.dial.parts]
            upstreams.append(Template(parts).render(ctx))
    detail: dict[str, Any] = {"handler": "reverse_proxy", "policy": policy, "upstreams": upstreams}
    if h.dynamic_upstreams is not None:
        detail["dynamic"] = _tag(h.dynamic_upstreams)
    chosen = _chosen(handler, ctx)
    if chosen is not None:
        detail["chosen"] = chosen
    return detail


def _tag(node: Node) -> str:
    return node.CADDY_TAG[1] if node.CADDY_TAG else type(node).__name__


def _placeholder(key: str) -> Any:
    from rpc.runtime.placeholders import Placeholder

    return Placeholder(key)


# Policies whose choice depends only on the request (and the pool's health).
_DETERMINISTIC = frozenset(
    {"First", "IPHash", "ClientIPHash", "URIHash", "QueryHash", "HeaderHash", "CookieHash"}
)


def _chosen(handler: Any, ctx: Any) -> str | None:
    policy = getattr(handler, "selection_policy", None)
    pool = getattr(handler, "upstreams", None)
    if policy is None or not pool or type(policy).__name__ not in _DETERMINISTIC:
        return None
    try:
        picked = policy.select(pool, ctx)
    except Exception:  # noqa: BLE001 - explain reports what it can
        return None
    return getattr(picked, "dial", None) if picked is not None else None


def _note_reordering(steps: Sequence[Step]) -> None:
    """Mark steps Caddy's directive order runs before something written above them."""
    handlers = list(steps)
    for i, step in enumerate(handlers):
        file, _, line = step.origin.rpartition(":")
        if not line.isdigit():
            continue
        for later in handlers[i + 1 :]:
            lfile, _, lline = later.origin.rpartition(":")
            if lfile == file and lline.isdigit() and int(lline) < int(line):
                step.notes.append(
                    f"runs before line {lline} though written after it (Caddy's directive order)"
                )
                break


def load(text: str, name: str, sources: SourceMap, environ: dict[str, str] | None = None) -> Traced:
    """Compile `text` in trace mode and load the module in memory."""
    result = compile_caddyfile(
        text, name, stop_after=Stage.OPTIMIZE, sources=sources, environ=environ
    )
    assert result.ir is not None
    diags = result.diagnostics
    generated = generate(result.ir, source_name=name, source_text=text, diags=diags, trace=True)
    diags.check()
    if generated is None:  # pragma: no cover - generate reports why through diags
        raise RpcError([Diagnostic.error("RPC304", "cannot compile this Caddyfile", None)])
    module = load_module(generated.source, "rpc_explain")
    return Traced(app=module.APP, traces=generated.traces, sources=sources)
