"""Access and error log entries in Caddy's shape (`server.go` logRequest, `marshalers.go`).

Input: a finished request (its context, response, sizes, duration) and the
server's `ServerLogs`; output: entries for `rpc.runtime.logs.emit` — logger
`http.log.access[.<name>]`, message `handled request` (or `NOP` when no
handler wrote anything), fields `request{remote_ip,remote_port,client_ip,
proto,method,host,uri,headers[,tls]}`, `bytes_read`, `user_id`, `duration`,
`size`, `status`, `resp_headers`, then the `log_append` fields. Credentials
(`Authorization`, `Cookie`, `Set-Cookie`, `Proxy-Authorization`) are logged
as `REDACTED` unless the server allows them. Error entries go to
`http.log.error[.<name>]` with `status`, `err_id`, `err_trace`.

Per-request hooks other handlers use (Caddy's variable names):
`ctx.vars["log_skip"] = True` drops the access entry (`log_skip`);
`ctx.vars["access_logger_names"] = ("name", ...)` overrides the log names
(`log_name`); `ctx.log_fields[key] = value` appends a field (`log_append`) —
a `Template` or a callable taking the context is evaluated when the entry is
written, after the response.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from rpc.runtime import logs
from rpc.runtime.app import ServerLogs

if TYPE_CHECKING:
    from rpc.runtime.context import Ctx

__all__ = [
    "ACCESS_LOGGER",
    "ERROR_LOGGER",
    "LOG_NAMES_VAR",
    "LOG_SKIP_VAR",
    "access_entry",
    "canonical_header",
    "emit_access",
    "header_fields",
    "logger_names",
    "request_fields",
    "should_log",
]

ACCESS_LOGGER = "http.log.access"
ERROR_LOGGER = "http.log.error"
LOG_SKIP_VAR = "log_skip"
LOG_NAMES_VAR = "access_logger_names"

_SECRET_HEADERS = frozenset({"cookie", "set-cookie", "authorization", "proxy-authorization"})
_REDACTED = ["REDACTED"]
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def canonical_header(name: str) -> str:
    """Go's `CanonicalMIMEHeaderKey`: `x-forwarded-for` → `X-Forwarded-For`."""
    if not name or any(ch not in _TOKEN for ch in name):
        return name
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def header_fields(
    headers: Iterable[tuple[str, str]], credentials: bool, skip_host: bool = False
) -> dict[str, list[str]]:
    """Headers as Caddy logs them: canonical names, value lists, secrets redacted."""
    out: dict[str, list[str]] = {}
    for key, value in headers:
        name = canonical_header(key)
        if skip_host and name == "Host":
            continue  # Go moves Host out of the header map
        out.setdefault(name, []).append(value)
    if not credentials:
        for name in out:
            if name.lower() in _SECRET_HEADERS:
                out[name] = _REDACTED
    return out


def request_fields(ctx: Ctx, credentials: bool) -> dict[str, Any]:
    """The `request` object of a log entry, from the request as the client sent it."""
    request = ctx.request
    version = request.version
    fields: dict[str, Any] = {
        "remote_ip": ctx.remote_ip,
        "remote_port": ctx.remote_port,
        "client_ip": ctx.client_ip,
        "proto": f"HTTP/{version.major}.{version.minor}",
        "method": ctx.orig_method,
        "host": ctx.hostport,
        "uri": request.raw_path,
        "headers": header_fields(request.headers.items(), credentials, skip_host=True),
    }
    transport = request.transport
    ssl_obj = transport.get_extra_info("ssl_object") if transport is not None else None
    if isinstance(ssl_obj, ssl.SSLObject):
        fields["tls"] = _tls_fields(ssl_obj)
    return fields


def _tls_fields(ssl_obj: ssl.SSLObject) -> dict[str, Any]:
    cipher = ssl_obj.cipher()
    return {
        "resumed": ssl_obj.session_reused,
        "version": _TLS_VERSIONS.get(ssl_obj.version() or "", 0),
        "cipher_suite": _cipher_id(ssl_obj.context, cipher[0] if cipher else ""),
        "proto": ssl_obj.selected_alpn_protocol() or "",
        "server_name": getattr(ssl_obj, "rpc_sni", None) or ssl_obj.server_hostname or "",
        "ech": False,
    }


_TLS_VERSIONS = {"TLSv1": 0x0301, "TLSv1.1": 0x0302, "TLSv1.2": 0x0303, "TLSv1.3": 0x0304}
_CIPHER_IDS: dict[str, int] = {}


def _cipher_id(context: ssl.SSLContext, name: str) -> int:
    # OpenSSL reports cipher names; the low 16 bits of its ids are the IANA numbers Go logs.
    if not _CIPHER_IDS:
        for info in context.get_ciphers():
            _CIPHER_IDS[str(info["name"])] = int(info["id"]) & 0xFFFF
    return _CIPHER_IDS.get(name, 0)


def should_log(config: ServerLogs, host: str) -> bool:
    """Caddy's `shouldLogRequest` for a request host without port."""
    if host in config.logger_names:
        return True
    if any(_match_wildcard(host, pattern) for pattern in config.skip_hosts):
        return False
    return not config.skip_unmapped_hosts


def _match_wildcard(host: str, pattern: str) -> bool:
    if host == pattern:
        return True
    labels, wanted = host.split("."), pattern.split(".")
    if len(labels) != len(wanted):
        return False
    return all(want == "*" or want == label for label, want in zip(labels, wanted))


def logger_names(ctx: Ctx, config: ServerLogs, base: str) -> list[str]:
    """The logger names an entry for this request goes to (Caddy's `wrapLogger`)."""
    override = ctx.vars.get(LOG_NAMES_VAR)
    names: Iterable[str]
    if override is not None and not isinstance(override, str):
        names = override
    else:
        names = _names_for_host(config.logger_names, ctx.host, config.default_logger_name)
    return [f"{base}.{name}" if name else base for name in names]


def _names_for_host(
    table: Mapping[str, tuple[str, ...]], host: str, default: str
) -> tuple[str, ...]:
    found = table.get(host)
    if found is not None:
        return found
    labels = host.split(".")
    for i, label in enumerate(labels):
        if not label:
            continue
        labels[i] = "*"
        found = table.get(".".join(labels))
        if found is not None:
            return found
    return (default,)


def access_entry(
    ctx: Ctx,
    *,
    credentials: bool,
    status: int,
    size: int,
    bytes_read: int,
    duration: float,
    resp_headers: Iterable[tuple[str, str]],
) -> dict[str, Any]:
    """The fields of one access log entry (everything after `msg`)."""
    fields: dict[str, Any] = {
        "request": request_fields(ctx, credentials),
        "bytes_read": bytes_read,
        "user_id": str(ctx.extra.get("http.auth.user.id", "") or ""),
        "duration": duration,
        "size": size,
        "status": status,
        "resp_headers": header_fields(resp_headers, credentials),
    }
    for key, value in ctx.log_fields.items():
        fields[key] = _late_value(ctx, value)
    return fields


def _late_value(ctx: Ctx, value: Any) -> Any:
    render = getattr(value, "render", None)
    if render is not None:
        return render(ctx)
    if callable(value):
        return value(ctx)
    return value


def emit_access(ctx: Ctx, config: ServerLogs, level: int, msg: str, fields: dict[str, Any]) -> None:
    """Write an access entry to each logger the request maps to."""
    for name in logger_names(ctx, config, ACCESS_LOGGER):
        logs.emit(name, level, msg, fields)
