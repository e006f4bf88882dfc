"""Dynamic upstream sources: the pool for one proxy attempt, looked up at request time.

`AUpstreams` (`dynamic a`) resolves a name to addresses, `SRVUpstreams`
(`dynamic srv`) reads SRV records, and `MultiUpstreams` (`dynamic multi`)
concatenates other sources. Input is the request context (names and ports
may hold placeholders); output is a fresh list of `Upstream`s whose state
lives in the expiring registry of dynamic hosts. Lookups are cached for
`refresh` seconds, as in Caddy 2.11 (`reverseproxy/upstreams.go`). A failed
lookup raises `UpstreamSourceError`; the proxy loop then falls back to the
static upstreams.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import random
import socket
import time
from collections.abc import Sequence
from typing import Any, Protocol

from rpc.runtime.context import Ctx
from rpc.runtime.placeholders import Template
from rpc.runtime.upstreams import Upstream

__all__ = [
    "AUpstreams",
    "MultiUpstreams",
    "SRVUpstreams",
    "UpstreamSource",
    "UpstreamSourceError",
    "parse_resolver",
]

log = logging.getLogger("rpc.runtime.dynamic")

# Caddy keeps at most this many cached lookups per source kind.
CACHE_SIZE = 100


class UpstreamSourceError(Exception):
    """A dynamic source could not produce upstreams (lookup failed)."""


class UpstreamSource(Protocol):
    """Where a handler's upstreams come from on each attempt."""

    async def get_upstreams(self, ctx: Ctx) -> list[Upstream]: ...

    def reset(self) -> None:
        """Drop cached results (called between retries, as Caddy does)."""
        ...


def _render(value: str | Template, ctx: Ctx) -> str:
    return value if isinstance(value, str) else value.render(ctx)


def _join_host_port(host: str, port: str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_resolver(address: str) -> tuple[str, int, bool]:
    """`[udp/|tcp/]host[:port]` → (host, port, use_tcp); the port defaults to 53."""
    network, sep, rest = address.partition("/")
    if not sep:
        network, rest = "udp", address
    if network not in ("udp", "tcp", "udp4", "udp6", "tcp4", "tcp6"):
        raise ValueError(f"unsupported resolver network: {address!r}")
    host, port = rest, 53
    if rest.startswith("["):
        end = rest.find("]")
        host = rest[1:end]
        if rest[end + 1 :].startswith(":"):
            port = int(rest[end + 2 :])
    elif rest.count(":") == 1:
        host, _, port_text = rest.partition(":")
        port = int(port_text)
    return host, port, network.startswith("tcp")


def _import_dns() -> Any:
    try:
        import dns.asyncresolver
        import dns.exception
        import dns.nameserver
        import dns.rdatatype
        import dns.resolver
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("dynamic upstreams need dnspython: pip install 'rpc[runtime]'") from exc
    return dns


class _Resolver:
    """dnspython's async resolver, pointed at configured servers or the system's."""

    __slots__ = ("_resolver", "_servers", "_tcp", "timeout")

    def __init__(self, servers: Sequence[str], timeout: float) -> None:
        self._servers = [parse_resolver(s) for s in servers]
        self._tcp = any(tcp for _, _, tcp in self._servers)
        self.timeout = timeout if timeout > 0 else 5.0
        self._resolver: Any = None

    async def get(self) -> Any:
        if self._resolver is not None:
            return self._resolver
        dns = _import_dns()
        if not self._servers:
            resolver = dns.asyncresolver.Resolver()
        else:
            resolver = dns.asyncresolver.Resolver(configure=False)
            nameservers = []
            loop = asyncio.get_running_loop()
            for host, port, _ in self._servers:
                try:
                    ipaddress.ip_address(host)
                    addresses = [host]
                except ValueError:  # a resolver given by name: resolve it once
                    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
                    addresses = [str(info[4][0]) for info in infos]
                nameservers += [dns.nameserver.Do53Nameserver(a, port) for a in addresses]
            resolver.nameservers = nameservers
            resolver.rotate = True  # Go picks a configured resolver at random
        resolver.lifetime = self.timeout
        self._resolver = resolver
        return resolver

    async def query(self, name: str, rdtype: str) -> list[Any]:
        """The records of one type; [] when the name exists without them."""
        resolver = await self.get()
        answer = await resolver.resolve(
            name, rdtype, tcp=self._tcp, search=False, raise_on_no_answer=False
        )
        return list(answer.rrset) if answer.rrset is not None else []

    @property
    def system(self) -> bool:
        return not self._servers


class _Cached:
    __slots__ = ("dials", "fetched_at")

    def __init__(self, dials: tuple[str, ...], fetched_at: float) -> None:
        self.dials = dials
        self.fetched_at = fetched_at


class _Cache:
    """Lookups by expanded key, fresh for `refresh` seconds, at most CACHE_SIZE entries."""

    __slots__ = ("entries", "lock", "refresh")

    def __init__(self, refresh: float) -> None:
        self.refresh = refresh
        self.entries: dict[str, _Cached] = {}
        self.lock = asyncio.Lock()

    def fresh(self, key: str) -> _Cached | None:
        entry = self.entries.get(key)
        if entry is not None and time.monotonic() - entry.fetched_at < self.refresh:
            return entry
        return None

    def store(self, key: str, dials: tuple[str, ...]) -> None:
        if key not in self.entries and len(self.entries) >= CACHE_SIZE:
            del self.entries[next(iter(self.entries))]
        self.entries[key] = _Cached(dials, time.monotonic())

    def expire(self) -> None:
        # Stale, not gone: SRV's grace period may still serve the old list.
        for entry in self.entries.values():
            entry.fetched_at = float("-inf")


def _upstreams(dials: Sequence[str]) -> list[Upstream]:
    return [Upstream(dial, dynamic=True) for dial in dials]


class AUpstreams:
    """`dynamic a [<name> <port>] { name; port; refresh; resolvers; versions ipv4|ipv6 }`.

    One upstream per A/AAAA address of `name`, with `port` (default 80).
    `ipv4`/`ipv6` mirror Caddy's `versions` (both unset: both families).
    Without `resolvers`, the system resolver (hosts file included) answers;
    with them, DNS queries go to those servers.
    """

    __slots__ = ("_cache", "_resolver", "_version", "name", "port", "refresh")

    def __init__(
        self,
        name: str | Template,
        port: str | Template = "80",
        *,
        refresh: float = 60.0,
        resolvers: Sequence[str] = (),
        dial_timeout: float = 0.0,
        dial_fallback_delay: float = 0.0,
        ipv4: bool | None = None,
        ipv6: bool | None = None,
    ) -> None:
        self.name = name
        self.port = port or "80"
        self.refresh = refresh if refresh > 0 else 60.0
        self._resolver = _Resolver(resolvers, dial_timeout)
        self._version = _ip_version(ipv4, ipv6)
        self._cache = _Cache(self.refresh)

    async def get_upstreams(self, ctx: Ctx) -> list[Upstream]:
        name = _render(self.name, ctx)
        port = _render(self.port, ctx)
        key = _join_host_port(name, port) + self._version
        cached = self._cache.fresh(key)
        if cached is None:
            async with self._cache.lock:
                cached = self._cache.fresh(key)
                if cached is None:
                    ips = await self._lookup(name)
                    self._cache.store(key, tuple(_join_host_port(ip, port) for ip in ips))
                    cached = self._cache.entries[key]
        return _upstreams(cached.dials)

    def reset(self) -> None:
        self._cache.expire()

    async def _lookup(self, name: str) -> list[str]:
        version = self._version
        try:
            literal = ipaddress.ip_address(name)
        except ValueError:
            literal = None
        if literal is not None:
            if (version == "ip4" and literal.version == 6) or (
                version == "ip6" and literal.version == 4
            ):
                raise UpstreamSourceError(f"dynamic a: {name}: no suitable address")
            return [str(literal)]
        try:
            if self._resolver.system:
                ips = await self._system_lookup(name, version)
            else:
                ips = await self._dns_lookup(name, version)
        except UpstreamSourceError:
            raise
        except Exception as exc:
            raise UpstreamSourceError(f"dynamic a: looking up {name}: {exc}") from exc
        if not ips:
            raise UpstreamSourceError(f"dynamic a: looking up {name}: no such host")
        return ips

    async def _system_lookup(self, name: str, version: str) -> list[str]:
        family = {"ip4": socket.AF_INET, "ip6": socket.AF_INET6}.get(version, socket.AF_UNSPEC)
        infos = await asyncio.get_running_loop().getaddrinfo(
            name, None, family=family, type=socket.SOCK_STREAM
        )
        return list(dict.fromkeys(str(info[4][0]) for info in infos))

    async def _dns_lookup(self, name: str, version: str) -> list[str]:
        dns_error = _import_dns().exception.DNSException
        kinds = {"ip4": ["A"], "ip6": ["AAAA"]}.get(version, ["A", "AAAA"])
        ips: list[str] = []
        errors: list[Exception] = []
        for kind in kinds:
            try:
                ips += [record.address for record in await self._resolver.query(name, kind)]
            except dns_error as exc:
                errors.append(exc)
        if not ips and errors:
            raise errors[0]
        return list(dict.fromkeys(ips))


def _ip_version(ipv4: bool | None, ipv6: bool | None) -> str:
    """Caddy's resolveIpVersion: "ip4", "ip6" or "ip" (both)."""
    both_unset = ipv4 is None and ipv6 is None
    want4 = both_unset or bool(ipv4)
    want6 = both_unset or bool(ipv6)
    if want4 and not want6:
        return "ip4"
    if want6 and not want4:
        return "ip6"
    return "ip"


class SRVUpstreams:
    """`dynamic srv [<name>] { service; proto; name; refresh; resolvers; grace_period }`.

    Looks up `_service._proto.name` (or `name` itself when service and
    proto are empty); one upstream `target:port` per record, ordered by
    priority and then shuffled by weight (RFC 2782, as Go does). Targets keep
    their trailing dot, as Go returns them. On a failed lookup with
    `grace_period` > 0 the last good list is served for that long.
    """

    __slots__ = (
        "_cache",
        "_resolver",
        "_rng",
        "grace_period",
        "name",
        "proto",
        "refresh",
        "service",
    )

    def __init__(
        self,
        name: str | Template = "",
        *,
        service: str | Template = "",
        proto: str | Template = "",
        refresh: float = 60.0,
        resolvers: Sequence[str] = (),
        dial_timeout: float = 0.0,
        dial_fallback_delay: float = 0.0,
        grace_period: float = 0.0,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.service = service
        self.proto = proto
        self.refresh = refresh if refresh > 0 else 60.0
        self.grace_period = grace_period
        self._resolver = _Resolver(resolvers, dial_timeout)
        self._cache = _Cache(self.refresh)
        self._rng = rng if rng is not None else random.Random()

    def _qname(self, ctx: Ctx) -> str:
        name = _render(self.name, ctx)
        if self.service == "" and self.proto == "":
            return name
        return f"_{_render(self.service, ctx)}._{_render(self.proto, ctx)}.{name}"

    async def get_upstreams(self, ctx: Ctx) -> list[Upstream]:
        qname = self._qname(ctx)
        cached = self._cache.fresh(qname)
        if cached is None:
            async with self._cache.lock:
                cached = self._cache.fresh(qname)
                if cached is None:
                    return _upstreams(await self._refresh(qname))
        return _upstreams(cached.dials)

    def reset(self) -> None:
        self._cache.expire()

    async def _refresh(self, qname: str) -> tuple[str, ...]:
        try:
            records = await self._resolver.query(qname, "SRV")
        except Exception as exc:
            if self.grace_period > 0:
                log.error("SRV lookup failed; using previously cached", exc_info=exc)
                stale = self._cache.entries.get(qname)
                if stale is None:
                    return ()
                stale.fetched_at = time.monotonic() + self.grace_period - self.refresh
                return stale.dials
            raise UpstreamSourceError(f"dynamic srv: looking up {qname}: {exc}") from exc
        ordered = _sort_srv(
            [(r.priority, r.weight, r.target.to_text(), r.port) for r in records], self._rng
        )
        dials = tuple(_join_host_port(target, str(port)) for _, _, target, port in ordered)
        self._cache.store(qname, dials)
        return dials


_SRV = tuple[int, int, str, int]


def _sort_srv(records: list[_SRV], rng: random.Random) -> list[_SRV]:
    """Go's byPriorityWeight.sort: by priority, each priority shuffled by weight."""
    records = sorted(records, key=lambda r: (r[0], r[1]))
    out: list[_SRV] = []
    start = 0
    for end in range(1, len(records) + 1):
        if end == len(records) or records[end][0] != records[start][0]:
            out += _shuffle_by_weight(records[start:end], rng)
            start = end
    return out


def _shuffle_by_weight(group: list[_SRV], rng: random.Random) -> list[_SRV]:
    total = sum(r[1] for r in group)
    rest = list(group)
    out: list[_SRV] = []
    while total > 0 and len(rest) > 1:
        pick = rng.randrange(total)
        running = 0
        for i, record in enumerate(rest):
            running += record[1]
            if running > pick:
                if i > 0:
                    rest[0], rest[i] = rest[i], rest[0]
                break
        total -= rest[0][1]
        out.append(rest.pop(0))
    return out + rest


class MultiUpstreams:
    """`dynamic multi { <source> ...; <source> ... }`: the sources' upstreams, in order.

    A source that fails or returns nothing is logged and skipped, so this
    source itself never fails (with `lb_policy first`, later sources act as
    failover).
    """

    __slots__ = ("sources",)

    def __init__(self, sources: Sequence[UpstreamSource]) -> None:
        self.sources = tuple(sources)

    async def get_upstreams(self, ctx: Ctx) -> list[Upstream]:
        upstreams: list[Upstream] = []
        for index, source in enumerate(self.sources):
            try:
                found = await source.get_upstreams(ctx)
            except Exception as exc:
                log.error(
                    "upstream source returned error", extra={"source_idx": index}, exc_info=exc
                )
                continue
            if not found:
                log.warning("upstream source returned 0 upstreams", extra={"source_idx": index})
                continue
            upstreams += found
        return upstreams

    def reset(self) -> None:
        for source in self.sources:
            source.reset()
