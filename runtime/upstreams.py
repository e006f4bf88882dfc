"""Upstream backends and their shared state (Caddy's `reverseproxy/hosts.go`).

A `Host` is the state of one backend address — in-flight requests and passive
failure count — shared process-wide by every `reverse_proxy` that names the
same dial address, as in Caddy. An `Upstream` is one entry of one handler's
pool: its dial address plus handler-level limits (`max_requests`, the passive
`max_fails`) and the verdict of the handler's active health checker, which in
Caddy belongs to the handler's upstream, not to the shared host.

Static upstreams live in one registry for the life of the process; dynamic
upstreams (returned by a `dynamic` source on every attempt) live in a second
registry whose entries are forgotten after an hour without use.
"""

from __future__ import annotations

import time

__all__ = [
    "DYNAMIC_HOST_IDLE",
    "ActiveState",
    "Host",
    "Upstream",
    "all_hosts",
    "dynamic_host_for",
    "host_for",
    "reset_hosts",
]

# How long a dynamic upstream's state is kept after its last use (Caddy 2.11).
DYNAMIC_HOST_IDLE = 3600.0


class Host:
    """Mutable state of one backend address, shared by all handlers using it."""

    __slots__ = ("activity_at", "address", "fails", "num_requests")

    def __init__(self, address: str) -> None:
        self.address = address
        self.num_requests = 0  # in flight right now
        self.fails = 0  # passive failures inside their fail_duration window
        self.activity_at = 0.0  # monotonic time of the last use (dynamic upstream expiry)

    def __repr__(self) -> str:
        return f"Host({self.address!r}, requests={self.num_requests}, fails={self.fails})"


class ActiveState:
    """The active health verdict of one checked address under one check config.

    Counters are reset only when the verdict flips, so the failures (or
    passes) that flip it need not be consecutive (Caddy >= 2.8).
    """

    __slots__ = ("fails", "passes", "unhealthy")

    def __init__(self) -> None:
        self.unhealthy = False  # upstreams start "up"
        self.passes = 0
        self.fails = 0

    def __repr__(self) -> str:
        return f"ActiveState(unhealthy={self.unhealthy}, passes={self.passes}, fails={self.fails})"


_HOSTS: dict[str, Host] = {}
_DYNAMIC_HOSTS: dict[str, Host] = {}
_next_sweep = 0.0


def host_for(address: str) -> Host:
    """The process-wide state of static upstream `address`, created on first use."""
    host = _HOSTS.get(address)
    if host is None:
        host = _HOSTS[address] = Host(address)
    return host


def dynamic_host_for(address: str) -> Host:
    """The state of dynamic upstream `address`; idle entries expire after an hour."""
    global _next_sweep
    now = time.monotonic()
    if now >= _next_sweep:
        _next_sweep = now + 60.0
        for key, old in list(_DYNAMIC_HOSTS.items()):
            if now - old.activity_at > DYNAMIC_HOST_IDLE and old.num_requests == 0:
                del _DYNAMIC_HOSTS[key]
    host = _DYNAMIC_HOSTS.get(address)
    if host is None:
        host = _DYNAMIC_HOSTS[address] = Host(address)
    host.activity_at = now
    return host


def all_hosts() -> list[Host]:
    """Every known host: static ones first, then dynamic ones (admin endpoint)."""
    return [*_HOSTS.values(), *_DYNAMIC_HOSTS.values()]


def reset_hosts() -> None:
    """Forget all host state (tests, and config reloads)."""
    global _next_sweep
    _HOSTS.clear()
    _DYNAMIC_HOSTS.clear()
    _next_sweep = 0.0


class Upstream:
    """One backend in a handler's pool.

    `dial` is the address as configured (it is also what hash policies hash,
    placeholders unexpanded); `address` is what is dialled (after expanding
    placeholders, for dynamic pools). `max_fails` is set when the handler has
    passive health checks (Caddy's healthCheckPolicy), else None. `active` is
    the handler's active health verdict for this address, when it checks.
    `dynamic=True` keeps the state in the expiring registry of dynamic hosts.
    """

    __slots__ = ("active", "address", "dial", "host", "max_fails", "max_requests")

    def __init__(
        self,
        dial: str,
        *,
        address: str | None = None,
        max_requests: int = 0,
        max_fails: int | None = None,
        dynamic: bool = False,
    ) -> None:
        self.dial = dial
        self.address = address if address is not None else dial
        self.host = dynamic_host_for(self.address) if dynamic else host_for(self.address)
        self.max_requests = max_requests
        self.max_fails = max_fails
        self.active: ActiveState | None = None

    def __repr__(self) -> str:
        return f"Upstream({self.dial!r})"

    def healthy(self) -> bool:
        """Not marked down actively, and under the passive failure limit."""
        active = self.active
        if active is not None and active.unhealthy:
            return False
        return self.max_fails is None or self.host.fails < self.max_fails

    def full(self) -> bool:
        """At its in-flight request limit (`unhealthy_request_count`)."""
        return 0 < self.max_requests <= self.host.num_requests

    def available(self) -> bool:
        """May be selected: healthy and not full."""
        return self.healthy() and not self.full()
