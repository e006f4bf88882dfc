"""Shard routing: a verified customer → its shard address in `{http.vars.<var>}`, or an error status.

`ShardRouter` is the `jwt_shard_router` handler (docs/jwt-shard.md): it
verifies the bearer token (`rpc.runtime.jwt`), looks the customer up in a
`ShardSource` (`MapFile`, `InlineMap`, or `rpc.runtime.rediskv.RedisLookup`),
checks that the answer is a plain `host:port` inside the `allow` list (so no
lookup backend can point the proxy at an arbitrary address), then sets the
variable the reverse proxy dials and the customer header the backend reads.
Unknown customers get `unknown_status`, a failed lookup `unavailable_status`
with `Retry-After`, a refused shard value 502; never a default shard.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from aiohttp import web

from rpc.runtime.context import Ctx
from rpc.runtime.errors import HandlerError
from rpc.runtime.jwt import JWTVerifier, TokenRejected

__all__ = [
    "AllowList",
    "InlineMap",
    "MapFile",
    "ShardRouter",
    "ShardSource",
    "ShardUnavailable",
    "split_shard",
]

log = logging.getLogger("rpc.runtime.shards")

# Shard values whose verdict (valid and allowed, or not) is remembered.
VERDICT_CACHE_SIZE = 10_000
# How often a map file's modification time is checked, in seconds.
MAP_FILE_CHECK_INTERVAL = 1.0

_HOSTNAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ShardUnavailable(Exception):
    """The lookup backend failed or was too slow, and nothing usable is cached."""


class ShardSource(Protocol):
    """Where a customer's shard is found."""

    async def lookup(self, customer: str) -> str | None:
        """The customer's shard value, None when unknown; raises `ShardUnavailable`."""
        ...


def split_shard(value: str) -> tuple[str, int] | None:
    """`host:port` → (host, port) when `value` is exactly that, else None.

    The host is an IPv4 address, a bracketed IPv6 address or a DNS name;
    nothing else (no scheme, user info, path, spaces or control characters)
    gets through.
    """
    host, sep, port_text = value.rpartition(":")
    if not sep or not port_text.isascii() or not port_text.isdigit() or len(port_text) > 5:
        return None
    port = int(port_text)
    if not 0 < port < 65536:
        return None
    if host.startswith("[") and host.endswith("]"):
        try:
            return str(ipaddress.IPv6Address(host[1:-1])), port
        except ValueError:
            return None
    try:
        return str(ipaddress.IPv4Address(host)), port
    except ValueError:
        pass
    name = host.lower().rstrip(".")
    # A numeric last label is an IP in disguise ("127.1"), which resolvers would accept.
    if host.isascii() and _HOSTNAME.fullmatch(host) and not name.rpartition(".")[2].isdigit():
        return name, port
    return None


class AllowList:
    """Which shard addresses may be dialled: host rules and port rules.

    Entries are CIDRs, IPs, host names, `*.domain` (any name under the
    domain) and `:port`. A value passes when its host fits a host rule (or
    there are none) and its port fits a port rule (or there are none). A
    host name never fits an IP rule: names are not resolved here.
    """

    __slots__ = ("hosts", "networks", "ports", "suffixes")

    def __init__(self, entries: Iterable[str] = ()) -> None:
        networks: list[Network] = []
        hosts: set[str] = set()
        suffixes: list[str] = []
        ports: set[int] = set()
        for entry in entries:
            if entry.startswith(":") and entry[1:].isdigit():  # not "::1"
                ports.add(int(entry[1:]))
            elif entry.startswith("*."):
                suffixes.append(entry[1:].lower())
            else:
                try:
                    networks.append(ipaddress.ip_network(entry, strict=False))
                except ValueError:
                    hosts.add(entry.lower().rstrip("."))
        self.networks = tuple(networks)
        self.hosts = frozenset(hosts)
        self.suffixes = tuple(suffixes)
        self.ports = frozenset(ports)

    def permits(self, host: str, port: int) -> bool:
        """Whether `host` (as `split_shard` returns it) and `port` fit."""
        if self.ports and port not in self.ports:
            return False
        if not (self.networks or self.hosts or self.suffixes):
            return True
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return host in self.hosts or host.endswith(self.suffixes)
        return any(ip in net for net in self.networks)


class InlineMap:
    """`map { <customer> <host:port> ... }`: entries compiled into the proxy."""

    __slots__ = ("entries",)

    def __init__(self, entries: Iterable[tuple[str, str]] | Mapping[str, str] = ()) -> None:
        self.entries = dict(entries.items() if isinstance(entries, Mapping) else entries)

    async def lookup(self, customer: str) -> str | None:
        return self.entries.get(customer)


class MapFile:
    """`map_file <path>`: a JSON object customer → "host:port", reloaded when it changes.

    The file must be readable when the proxy starts. Later it is re-read
    when its size, inode or modification time changes (checked at most every
    `check_interval` seconds, on a request); an unreadable or invalid new
    version is logged and the previous map stays in use.
    """

    __slots__ = ("_checked_at", "_entries", "_stamp", "check_interval", "path")

    def __init__(self, path: str, *, check_interval: float = MAP_FILE_CHECK_INTERVAL) -> None:
        self.path = path
        self.check_interval = check_interval
        self._checked_at = time.monotonic()
        stamp = self._stat()
        if stamp is None:
            raise ValueError(f"map_file {path}: cannot read it")
        self._entries = self._load()
        self._stamp = stamp

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return st.st_mtime_ns, st.st_size, st.st_ino

    def _load(self) -> dict[str, str]:
        try:
            with open(self.path, "rb") as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            raise ValueError(f"map_file {self.path}: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"map_file {self.path}: not a JSON object")  # noqa: TRY004
        # Non-string values are kept as their JSON text: the router refuses them as shards.
        return {k: v if isinstance(v, str) else json.dumps(v) for k, v in data.items()}

    def _refresh(self) -> None:
        stamp = self._stat()
        if stamp is None or stamp == self._stamp:
            return
        try:
            entries = self._load()
        except ValueError as exc:
            log.error("map_file reload failed; keeping the previous map: %s", exc)
            return
        self._entries, self._stamp = entries, stamp
        log.info(
            "map_file reloaded", extra={"fields": {"path": self.path, "entries": len(entries)}}
        )

    async def lookup(self, customer: str) -> str | None:
        now = time.monotonic()
        if now - self._checked_at >= self.check_interval:
            self._checked_at = now
            self._refresh()
        return self._entries.get(customer)


class ShardRouter:
    """The `jwt_shard_router` handler: bearer token → customer → shard → `{http.vars.<var>}`."""

    __slots__ = (
        "_retry_after",
        "_verdicts",
        "allow",
        "header",
        "jwt",
        "origin",
        "source",
        "unavailable_status",
        "unknown_status",
        "var",
    )

    def __init__(
        self,
        *,
        jwt: JWTVerifier,
        source: ShardSource,
        allow: Sequence[str] = (),
        header: str = "X-Customer",
        var: str = "shard.upstream",
        unknown_status: int = 403,
        unavailable_status: int = 503,
        retry_after: float = 5.0,
        origin: str = "",
    ) -> None:
        self.jwt = jwt
        self.source = source
        self.allow = AllowList(allow)
        self.header = header
        self.var = var
        self.unknown_status = unknown_status
        self.unavailable_status = unavailable_status
        self._retry_after = str(max(0, round(retry_after)))
        self.origin = origin
        self._verdicts: dict[str, bool] = {}

    async def __call__(self, ctx: Ctx) -> web.StreamResponse | None:
        jwt = self.jwt
        try:
            verified = jwt.verify(ctx)
            customer = jwt.customer(verified)
        except TokenRejected as rejected:
            raise jwt.reject(ctx, rejected) from None
        ctx.extra.update(verified.placeholders)
        ctx.extra["http.shard.customer"] = customer
        try:
            shard = await self.source.lookup(customer)
        except ShardUnavailable as exc:
            ctx.resp_headers["Retry-After"] = self._retry_after
            raise HandlerError(
                self.unavailable_status, f"shard lookup failed: {exc}", origin=self.origin
            ) from None
        if shard is None:
            raise HandlerError(self.unknown_status, "unknown customer", origin=self.origin)
        if not self._permitted(shard):
            log.error(
                "shard value refused: not host:port or outside allow",
                extra={"fields": {"customer": customer, "shard": shard[:200], "at": self.origin}},
            )
            raise HandlerError(502, "shard value refused", origin=self.origin)
        ctx.vars[self.var] = shard
        ctx.extra["http.shard.upstream"] = shard
        headers = ctx.writable_headers()
        headers.popall(self.header, None)  # a client-sent value never reaches the backend
        headers[self.header] = customer
        return None

    def _permitted(self, shard: str) -> bool:
        verdict = self._verdicts.get(shard)
        if verdict is None:
            split = split_shard(shard)
            verdict = split is not None and self.allow.permits(*split)
            if len(self._verdicts) >= VERDICT_CACHE_SIZE:
                self._verdicts.clear()
            self._verdicts[shard] = verdict
        return verdict
