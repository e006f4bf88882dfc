"""IR `Config` → a routing diagram: listeners → sites → routes → handlers → upstream pools.

Two renderings of one graph model: Mermaid (renders on code hosts) and DOT
(Graphviz). Labels are config text, so both renderers escape them for their
syntax; node ids are allocated here, never taken from the config.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rpc.compiler.ir.config import Config
from rpc.compiler.ir.handlers import Invoke, StaticError, StaticResponse
from rpc.compiler.ir.headers import Headers
from rpc.compiler.ir.matchers import MatchHost, MatchNot, MatchPath
from rpc.compiler.ir.proxy import ReverseProxy
from rpc.compiler.ir.routes import Handler, Matcher, MatcherSet, Route, Subroute

__all__ = ["Graph", "build_graph", "to_dot", "to_mermaid"]


@dataclass
class GNode:
    id: str
    label: str
    kind: str  # listener, site, route, handler, pool, named


@dataclass
class Graph:
    nodes: list[GNode] = field(default_factory=list)
    edges: list[tuple[str, str, str]] = field(default_factory=list)  # (from, to, label)

    def add(self, label: str, kind: str) -> str:
        node_id = f"n{len(self.nodes)}"
        self.nodes.append(GNode(node_id, label, kind))
        return node_id

    def link(self, a: str, b: str, label: str = "") -> None:
        self.edges.append((a, b, label))


def _matcher(m: Matcher) -> str:
    if isinstance(m, MatchPath):
        return "path " + " ".join(p.raw for p in m.patterns)
    if isinstance(m, MatchHost):
        return "host " + " ".join(h.raw for h in m.hosts)
    if isinstance(m, MatchNot):
        return "not(" + " | ".join(_set(s) for s in m.sets) + ")"
    return f"{m.KEY} {_words(m.caddy_json())}"  # type: ignore[attr-defined]


def _words(value: object) -> str:
    """A matcher's JSON value spelled like Caddyfile arguments."""
    if isinstance(value, dict):
        if set(value) <= {"name", "pattern"}:
            return " ".join(str(value[k]) for k in ("name", "pattern") if value.get(k))
        return "; ".join(f"{k} {_words(v)}".strip() for k, v in value.items())
    if isinstance(value, list):
        return " ".join(_words(v) for v in value)
    if value is None:
        return "(absent)"
    return str(value)


def _set(ms: MatcherSet) -> str:
    return " and ".join(_matcher(m) for m in ms.matchers)


def _route_label(route: Route) -> str:
    cond = " or ".join(_set(ms) for ms in route.match) if route.match else "every request"
    extra = " (first match in group)" if route.group else ""
    return f"{cond}{extra}"


def _handler_label(h: Handler) -> str:
    tag = h.CADDY_TAG[1] if h.CADDY_TAG else type(h).__name__
    if isinstance(h, StaticResponse):
        if h.abort:
            return "abort"
        status = h.status_code.raw if h.status_code is not None else "200"
        location = dict(h.headers).get("Location")
        if location:
            return f"redirect {status} to {location[0].raw}"
        return f"respond {status}"
    if isinstance(h, StaticError):
        status = h.status_code.raw if h.status_code is not None else "500"
        return f"error {status}"
    if isinstance(h, Invoke):
        return f"invoke {h.name}"
    if isinstance(h, Headers):
        ops = h.request if h.request is not None else (h.response.ops if h.response else None)
        side = "request" if h.request is not None else "response"
        if ops is not None:
            parts = [f"set {k.raw}" for k, _ in ops.set] + [f"add {k.raw}" for k, _ in ops.add]
            parts += [f"delete {d.raw}" for d in ops.delete] + [
                f"replace {k}" for k, _ in ops.replace
            ]
            return f"{side} headers: " + ", ".join(parts)
    return tag


def build_graph(config: Config) -> Graph:
    """The routing tree of every server."""
    g = Graph()
    if config.http is None:
        return g
    named: dict[str, str] = {}
    for server in config.http.servers:
        listener = g.add(f"{server.name}\n" + ", ".join(server.listen), "listener")
        for name, route in server.named_routes:
            if name not in named:
                named[name] = g.add(f"&({name})", "named")
                _routes(g, named[name], (route,), named)
        _routes(g, listener, server.routes, named)
        if server.errors:
            errors = g.add(f"{server.name} errors", "named")
            g.link(listener, errors, "on error")
            _routes(g, errors, server.errors, named)
    return g


def _routes(g: Graph, parent: str, routes: tuple[Route, ...], named: dict[str, str]) -> None:
    for route in routes:
        origin = f"\n{route.origin}" if route.origin else ""
        kind = "site" if route.terminal and any(ms.get("host") for ms in route.match) else "route"
        rid = g.add(_route_label(route) + origin, kind)
        g.link(parent, rid)
        prev = rid
        for h in route.handle:
            if isinstance(h, Subroute):
                _routes(g, prev, h.routes, named)
                continue
            hid = g.add(_handler_label(h) + (f"\n{h.origin}" if h.origin else ""), "handler")
            g.link(prev, hid)
            if isinstance(h, ReverseProxy):
                _pool(g, hid, h)
                for rh in h.handle_response:
                    _routes(g, hid, rh.routes, named)
            if isinstance(h, Invoke) and h.name in named:
                g.link(hid, named[h.name], "invoke")
            prev = hid


def _pool(g: Graph, hid: str, rp: ReverseProxy) -> None:
    lb = rp.load_balancing
    policy = "random"
    if lb is not None and lb.selection_policy is not None and lb.selection_policy.CADDY_TAG:
        policy = lb.selection_policy.CADDY_TAG[1]
    ups = [u.dial.raw for u in rp.upstreams]
    if rp.dynamic_upstreams is not None and rp.dynamic_upstreams.CADDY_TAG:
        ups.append(f"dynamic {rp.dynamic_upstreams.CADDY_TAG[1]}")
    health = []
    if rp.health_checks is not None:
        if rp.health_checks.active is not None:
            health.append("active health")
        if rp.health_checks.passive is not None:
            health.append("passive health")
    label = f"pool ({policy})\n" + "\n".join(ups) + ("\n" + ", ".join(health) if health else "")
    pid = g.add(label, "pool")
    g.link(hid, pid)


# ---------------------------------------------------------------- renderers

_MERMAID_SHAPES = {
    "listener": ('(["', '"])'),
    "site": ('[["', '"]]'),
    "route": ('{{"', '"}}'),
    "handler": ('["', '"]'),
    "pool": ('[("', '")]'),
    "named": ('[/"', '"/]'),
}


def _mermaid_text(text: str) -> str:
    # Mermaid labels: entity codes for characters that would end or break the label.
    out = text.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")
    out = out.replace(">", "#gt;").replace("{", "#123;").replace("}", "#125;")
    return out.replace("|", "#124;").replace("\n", "<br/>")


def to_mermaid(g: Graph) -> str:
    lines = ["flowchart LR"]
    for n in g.nodes:
        left, right = _MERMAID_SHAPES[n.kind]
        lines.append(f"    {n.id}{left}{_mermaid_text(n.label)}{right}")
    for a, b, label in g.edges:
        arrow = f" -->|{_mermaid_text(label)}| " if label else " --> "
        lines.append(f"    {a}{arrow}{b}")
    return "\n".join(lines) + "\n"


_DOT_SHAPES = {
    "listener": "oval",
    "site": "box3d",
    "route": "diamond",
    "handler": "box",
    "pool": "cylinder",
    "named": "parallelogram",
}


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def to_dot(g: Graph) -> str:
    lines = [
        "digraph routes {",
        "    rankdir=LR;",
        '    node [fontname="Helvetica", fontsize=10];',
    ]
    for n in g.nodes:
        lines.append(f'    {n.id} [shape={_DOT_SHAPES[n.kind]}, label="{_dot_text(n.label)}"];')
    for a, b, label in g.edges:
        attrs = f' [label="{_dot_text(label)}"]' if label else ""
        lines.append(f"    {a} -> {b}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"
