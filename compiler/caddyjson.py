"""IR `Config` → the JSON config Caddy 2.11 produces for the same Caddyfile.

Most nodes serialise generically: a node's `CADDY_TAG` becomes its type key
(`"handler": "static_response"`), each field its `jfield` JSON name, empty
values are omitted like Go's `omitempty`, `Text` becomes its raw string and
`Duration` integer nanoseconds. The few places where Caddy's JSON nests or
flattens differently from the IR have a function in `SPECIAL`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from rpc.compiler.ir.base import Duration, Node, Ph, Text
from rpc.compiler.ir.config import Config, HTTPApp, PKIApp, Server
from rpc.compiler.ir.logs import Logging, Module, Obj
from rpc.compiler.ir.routes import Matcher, MatcherSet
from rpc.compiler.ir.tls import AutomationPolicy, ConnectionPolicy, Issuer, TLSApp

__all__ = ["SPECIAL", "dump_ir", "to_caddy_json", "value"]


def _empty(v: Any) -> bool:
    return v is None or v is False or v == 0 or v == "" or v == () or v == {} or v == []


def value(v: Any) -> Any:
    """Any IR value as JSON data."""
    if isinstance(v, Node):
        special = SPECIAL.get(type(v))
        return special(v) if special is not None else fields(v)
    if isinstance(v, Text):
        return v.raw
    if isinstance(v, Duration):
        return v.ns
    if isinstance(v, tuple):
        return [value(x) for x in v]
    if isinstance(v, dict):
        return {k: value(x) for k, x in v.items()}
    return v


def fields(n: Node, *, tag: bool = True) -> dict[str, Any]:
    """A node's JSON object from its `jfield` metadata."""
    out: dict[str, Any] = {}
    if tag and n.CADDY_TAG is not None:
        out[n.CADDY_TAG[0]] = n.CADDY_TAG[1]
    if isinstance(n, Matcher):
        return n.caddy_json()  # type: ignore[attr-defined, no-any-return]
    for f in dataclasses.fields(n):
        name = f.metadata.get("json", f.name)
        if name is None:
            continue
        v = getattr(n, f.name)
        if v is None or (_empty(v) and not f.metadata.get("keep_zero")):
            continue
        out[name or f.name] = value(v)
    return out


def pairs(items: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    return {k: value(v) for k, v in items}


def _matcher_set(ms: MatcherSet) -> dict[str, Any]:
    return {m.KEY: m.caddy_json() for m in ms.matchers}  # type: ignore[attr-defined]


def _server(s: Server) -> dict[str, Any]:
    out = fields(s)
    if s.timeouts is not None:
        out.update(fields(s.timeouts))
    if s.errors:
        out["errors"] = {"routes": value(s.errors)}
    if s.named_routes:
        out["named_routes"] = pairs(s.named_routes)
    if s.logs is not None:
        logs = fields(s.logs)
        if s.logs.logger_names:
            logs["logger_names"] = {h: list(names) for h, names in s.logs.logger_names}
        out["logs"] = logs
    return out


def _http(h: HTTPApp) -> dict[str, Any]:
    out = fields(h)
    out["servers"] = {s.name: value(s) for s in h.servers}
    return out


def _conn_policy(cp: ConnectionPolicy) -> dict[str, Any]:
    out = fields(cp)
    if cp.match_sni:
        out["match"] = {"sni": list(cp.match_sni)}
    if cp.certificate_tags:
        out["certificate_selection"] = {"any_tag": list(cp.certificate_tags)}
    out.update(pairs(cp.extra))
    return out


def _issuer(i: Issuer) -> dict[str, Any]:
    out = {"module": i.module}
    out.update(pairs(i.settings))
    return out


def _policy(p: AutomationPolicy) -> dict[str, Any]:
    out = fields(p)
    out.update(pairs(p.extra))
    return out


def _tls(t: TLSApp) -> dict[str, Any]:
    out = fields(t)
    certs: dict[str, Any] = {}
    if t.automate:
        certs["automate"] = list(t.automate)
    if t.load_files:
        certs["load_files"] = value(t.load_files)
    if t.load_folders:
        certs["load_folders"] = list(t.load_folders)
    if t.load_pem:
        certs["load_pem"] = [
            {"certificate": c, "key": k, **({"tags": list(tags)} if tags else {})}
            for c, k, tags in t.load_pem
        ]
    if certs:
        out["certificates"] = certs
    automation: dict[str, Any] = {}
    if t.policies:
        automation["policies"] = value(t.policies)
    if t.on_demand:
        automation["on_demand"] = pairs(t.on_demand)
    if t.ocsp_interval is not None:
        automation["ocsp_interval"] = t.ocsp_interval.ns
    if t.renew_interval is not None:
        automation["renew_interval"] = t.renew_interval.ns
    if t.storage_clean_interval is not None:
        automation["storage_clean_interval"] = t.storage_clean_interval.ns
    if automation:
        out["automation"] = automation
    out.update(pairs(t.extra))
    return out


def _module(m: Module) -> dict[str, Any]:
    out: dict[str, Any] = {m.tag: m.module} if m.tag else {}
    out.update(pairs(m.settings))
    return out


def _obj(o: Obj) -> dict[str, Any]:
    return pairs(o.items)


def _pki(p: PKIApp) -> dict[str, Any]:
    return {"certificate_authorities": {ca.id: value(ca) for ca in p.certificate_authorities}}


def _logging(lg: Logging) -> dict[str, Any]:
    out: dict[str, Any] = {"logs": {x.name: value(x) for x in lg.logs}}
    if lg.sink:
        out["sink"] = pairs(lg.sink)
    return out


SPECIAL: dict[type, Callable[[Any], Any]] = {
    MatcherSet: _matcher_set,
    Server: _server,
    HTTPApp: _http,
    ConnectionPolicy: _conn_policy,
    Issuer: _issuer,
    AutomationPolicy: _policy,
    TLSApp: _tls,
    Module: _module,
    Obj: _obj,
    PKIApp: _pki,
    Logging: _logging,
}


def register(cls: type) -> Callable[[Callable[[Any], Any]], Callable[[Any], Any]]:
    """Register a special serialiser for an IR class defined in another module."""

    def deco(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        SPECIAL[cls] = fn
        return fn

    return deco


def to_caddy_json(config: Config) -> dict[str, Any]:
    """The whole config as Caddy's JSON."""
    out: dict[str, Any] = {}
    if config.admin is not None:
        admin = fields(config.admin)
        if config.admin.config_persist is not None:
            admin["config"] = {"persist": config.admin.config_persist}
        out["admin"] = admin
    if config.logging is not None:
        out["logging"] = value(config.logging)
    if config.storage is not None:
        out["storage"] = value(config.storage)
    apps: dict[str, Any] = {}
    if config.events is not None:
        apps["events"] = pairs(config.events)
    if config.filesystems is not None:
        apps["caddy.filesystems"] = pairs(config.filesystems)
    if config.http is not None:
        apps["http"] = value(config.http)
    if config.tls is not None:
        apps["tls"] = value(config.tls)
    if config.pki is not None:
        apps["pki"] = value(config.pki)
    if apps:
        out["apps"] = apps
    return out


def dump_ir(v: Any) -> Any:
    """The IR itself as JSON (`rpc adapt --format ir`): class names, fields, spans."""
    if isinstance(v, Node):
        out: dict[str, Any] = {"node": type(v).__name__}
        if v.span is not None:
            out["span"] = {
                "file": v.span.file,
                "line": v.span.line,
                "column": v.span.column,
                "end_line": v.span.end_line,
                "end_column": v.span.end_column,
            }
        for f in dataclasses.fields(v):
            if f.name == "span":
                continue
            item = getattr(v, f.name)
            if not _empty(item):
                out[f.name] = dump_ir(item)
        return out
    if isinstance(v, Text):
        return {
            "text": v.raw,
            "parts": [p if isinstance(p, str) else {"placeholder": p.key} for p in v.parts],
        }
    if isinstance(v, Ph):
        return {"placeholder": v.key}
    if isinstance(v, Duration):
        return {"duration_ns": v.ns}
    if isinstance(v, tuple):
        return [dump_ir(x) for x in v]
    if isinstance(v, dict):
        return {str(k): dump_ir(x) for k, x in v.items()}
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return repr(v)
