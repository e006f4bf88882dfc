"""Ports of the Caddyfile syntax of client authentication and its CA trust pools.

Input: a dispenser over a `client_auth` block or a trust pool module's segment
(positioned as `caddyfile.UnmarshalModule` leaves it); output: a `ClientAuth`
IR node, or a `Module` for a pool (`inline`, `file`, `pki_root`,
`pki_intermediate`, `storage`, `http`, `combined`, `system`) or a verifier.
`trusted_*_file` options read PEM files at compile time, as Caddy does.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from pathlib import Path

from rpc.compiler.directives.modparse import duration, unmarshal_module
from rpc.compiler.directives.tlsmodules import parse_storage
from rpc.compiler.dispenser import Dispenser
from rpc.compiler.ir.logs import Module, Obj
from rpc.compiler.ir.tls import ClientAuth

__all__ = ["parse_client_auth", "parse_trust_pool"]


# ---------------------------------------------------------------- client authentication


def parse_client_auth(d: Dispenser) -> ClientAuth:
    """`client_auth { mode, trust_pool <module>, trusted_ca_cert[_file],
    trusted_leaf_cert[_file], verifier <module> }`."""
    while d.next_arg():
        pass
    ca: Module | None = None
    trusted_ca: list[str] = []
    leaf: list[str] = []
    verifiers: list[Module] = []
    mode = ""
    nesting = d.nesting
    conflict = "cannot specify both 'trust_pool' and 'trusted_ca_cert' or 'trusted_ca_cert_file'"
    while d.next_block(nesting):
        sub = d.val
        if sub == "mode":
            if d.count_remaining_args() > 1 or not d.next_arg():
                raise d.arg_err()
            mode = d.val
        elif sub == "trusted_ca_cert":
            if ca is not None:
                raise d.error(conflict, code="RPC311")
            trusted_ca.append(d.require_arg())
        elif sub == "trusted_leaf_cert":
            leaf.append(d.require_arg())
        elif sub in ("trusted_ca_cert_file", "trusted_leaf_cert_file"):
            if sub == "trusted_ca_cert_file" and ca is not None:
                raise d.error(conflict, code="RPC311")
            ders = _pem_file_ders(d, d.require_arg())
            (trusted_ca if sub == "trusted_ca_cert_file" else leaf).extend(ders)
        elif sub == "trust_pool":
            if trusted_ca:
                raise d.error(conflict, code="RPC311")
            d.require_arg()
            ca = parse_trust_pool(d)
        elif sub == "verifier":
            d.require_arg()
            verifiers.append(unmarshal_module(d, "tls.client_auth.verifier.", {"leaf": _leaf}))
        else:
            raise d.error(f"unknown subdirective for client_auth: {sub}", code="RPC301")
    if trusted_ca:
        ca = Module(
            tag="provider", module="inline", settings=(("trusted_ca_certs", tuple(trusted_ca)),)
        )
    return ClientAuth(ca=ca, trusted_leaf_certs=tuple(leaf), verifiers=tuple(verifiers), mode=mode)


_PEM_BLOCK = re.compile(
    r"-----BEGIN ([^-]+)-----\s*(?:[A-Za-z-]+:[^\n]*\n)*\s*([A-Za-z0-9+/=\s]*?)-----END \1-----"
)


def _pem_file_ders(d: Dispenser, filename: str) -> list[str]:
    """Caddy's `convertPEMFilesToDER`: each CERTIFICATE block as base64 DER."""
    try:
        data = Path(filename).read_text(encoding="latin-1")
    except OSError as exc:
        raise d.error(f"open {filename}: {exc.strerror.lower() if exc.strerror else exc}") from None
    ders = []
    for m in _PEM_BLOCK.finditer(data):
        if m.group(1) != "CERTIFICATE":
            raise d.error(f"no CERTIFICATE pem block found in {filename}")
        raw = base64.b64decode("".join(m.group(2).split()))
        ders.append(base64.b64encode(raw).decode("ascii"))
    if not ders:
        raise d.error(f"no CERTIFICATE pem block found in {filename}")
    return ders


def _leaf(d: Dispenser) -> Module:
    """`leaf [<loader> <args...>] | leaf { <loader> <args...> ... }`."""
    d.next_arg()
    loaders: list[Module] = []
    if d.count_remaining_args() > 1:
        d.next_arg()
        loaders.append(unmarshal_module(d, "tls.leaf_cert_loader.", _LEAF_LOADERS))
    else:
        nesting = d.nesting
        while d.next_block(nesting):
            loaders.append(unmarshal_module(d, "tls.leaf_cert_loader.", _LEAF_LOADERS))
    settings = (("leaf_certs_loaders", tuple(loaders)),) if loaders else ()
    return Module(tag="verifier", module="leaf", settings=settings)


def _leaf_loader(module: str, key: str) -> Callable[[Dispenser], Module]:
    def parse(d: Dispenser) -> Module:
        d.next_arg()
        values = tuple(d.remaining_args())
        return Module(tag="loader", module=module, settings=((key, values),) if values else ())

    return parse


def _not_unmarshaler(go_type: str) -> Callable[[Dispenser], Module]:
    def parse(d: Dispenser) -> Module:
        d.next()
        module_id = f"tls.leaf_cert_loader.{d.val}"
        raise d.error(f"module {module_id} is not a Caddyfile unmarshaler; is {go_type}")

    return parse


_LEAF_LOADERS: dict[str, Callable[[Dispenser], Module]] = {
    "file": _leaf_loader("file", "files"),
    "folder": _leaf_loader("folder", "folders"),
    "pem": _leaf_loader("pem", "certificates"),
    "storage": _not_unmarshaler("*caddytls.LeafStorageLoader"),
}


# ---------------------------------------------------------------- trust pools


def parse_trust_pool(d: Dispenser) -> Module:
    """`<pool> ...`: inline, file, pki_root, pki_intermediate, storage, http, combined, system."""
    return unmarshal_module(d, "tls.ca_pool.source.", _POOLS)


def _pool(name: str, settings: list[tuple[str, object]]) -> Module:
    return Module(tag="provider", module=name, settings=tuple((k, v) for k, v in settings if v))


def _inline_pool(d: Dispenser) -> Module:
    d.next()
    if d.count_remaining_args() > 0:
        raise d.arg_err()
    certs: list[str] = []
    while d.next_block(0):
        if d.val != "trust_der":
            raise d.error(f"unrecognized directive: {d.val}", code="RPC301")
        certs.extend(d.remaining_args())
    if not certs:
        raise d.error("no certificates specified")
    return _pool("inline", [("trusted_ca_certs", tuple(certs))])


def _list_pool(name: str, key: str, sub: str, what: str) -> Callable[[Dispenser], Module]:
    """file (`pem_file`), pki_root / pki_intermediate (`authority`)."""

    def parse(d: Dispenser) -> Module:
        d.next()
        values = d.remaining_args()
        nesting = d.nesting
        while d.next_block(nesting):
            if d.val != sub:
                raise d.error(f"unrecognized directive: {d.val}", code="RPC301")
            values.extend(d.remaining_args())
        if not values:
            raise d.error(f"no {what} specified")
        return _pool(name, [(key, tuple(values))])

    return parse


def _storage_pool(d: Dispenser) -> Module:
    d.next()
    keys = d.remaining_args()
    storage: Module | None = None
    nesting = d.nesting
    while d.next_block(nesting):
        if d.val == "storage":
            if storage is not None:
                raise d.error("storage module already set")
            d.require_arg()
            storage = parse_storage(d)
        elif d.val == "keys":
            keys.extend(d.remaining_args())
        else:
            raise d.error(f"unrecognized directive: {d.val}", code="RPC301")
    return _pool("storage", [("pem_keys", tuple(keys)), ("storage", storage)])


def _http_pool(d: Dispenser) -> Module:
    d.next()
    endpoints = d.remaining_args()
    tls: list[tuple[str, object]] | None = None
    nesting = d.nesting
    while d.next_block(nesting):
        if d.val == "endpoints":
            if d.count_remaining_args() == 0:
                raise d.arg_err()
            endpoints.extend(d.remaining_args())
        elif d.val == "tls":
            if tls is not None:
                raise d.error("tls block already defined")
            tls = _pool_tls(d)
        else:
            raise d.error(f"unrecognized directive: {d.val}", code="RPC301")
    tls_obj = Obj(items=tuple(tls)) if tls is not None else None
    return _pool("http", [("endpoints", tuple(endpoints)), ("tls", tls_obj)])


def _pool_tls(d: Dispenser) -> list[tuple[str, object]]:
    out: dict[str, object] = {}
    nesting = d.nesting
    while d.next_block(nesting):
        opt = d.val
        if opt == "ca":
            d.require_arg()
            out["ca"] = parse_trust_pool(d)
        elif opt == "insecure_skip_verify":
            out["insecure_skip_verify"] = True
        elif opt == "handshake_timeout":
            text = d.require_arg()
            out["handshake_timeout"] = duration(d, text, f"bad timeout value '{text}': {{err}}")
        elif opt == "server_name":
            out["server_name"] = d.require_arg()
        elif opt == "renegotiation":
            level = d.require_arg()
            if level not in ("never", "once", "freely"):
                raise d.error("unrecognized renegotiation level: ")
            out["renegotiation"] = level
        else:
            raise d.error(f"unrecognized directive: {opt}", code="RPC301")
    return list(out.items())


def _combined_pool(d: Dispenser) -> Module:
    d.next()
    if d.next_arg():
        raise d.arg_err()
    sources: list[Module] = []
    nesting = d.nesting
    while d.next_block(nesting):
        if d.val != "source":
            raise d.error(f"unrecognized directive: {d.val}", code="RPC301")
        d.require_arg()
        sources.append(parse_trust_pool(d))
    if not sources:
        raise d.error("no sources specified")
    return _pool("combined", [("sources", tuple(sources))])


def _system_pool(d: Dispenser) -> Module:
    d.next()
    if d.next_arg():
        raise d.arg_err()
    return _pool("system", [])


_POOLS: dict[str, Callable[[Dispenser], Module]] = {
    "inline": _inline_pool,
    "file": _list_pool("file", "pem_files", "pem_file", "certificates"),
    "pki_root": _list_pool("pki_root", "authority", "authority", "authorities"),
    "pki_intermediate": _list_pool("pki_intermediate", "authority", "authority", "authorities"),
    "storage": _storage_pool,
    "http": _http_pool,
    "combined": _combined_pool,
    "system": _system_pool,
}
