"""Upstream backends and their shared state (Caddy's `reverseproxy/hosts.go`).

A `Host` is the state of one backend address — in-flight requests, passive
failure count, active health verdict — and is shared process-wide by every
`reverse_proxy` that names the same dial address, as in Caddy. An `Upstream`
is one entry of one handler's pool: its dial address plus handler-level
limits (`max_requests`, the passive `max_fails`) over the shared `Host`.
"""

from __future__ import annotations

__all__ = ["Host", "Upstream", "host_for", "reset_hosts"]


class Host:
    """Mutable state of one backend address, shared by all handlers using it."""

    __slots__ = ("activity_at", "address", "fails", "num_requests", "unhealthy")

    def __init__(self, address: str) -> None:
        self.address = address
        self.num_requests = 0  # in flight right now
        self.fails = 0  # passive failures inside their fail_duration window
        self.unhealthy = False  # marked down by the active health checker
        self.activity_at = 0.0  # monotonic time of the last use (dynamic upstream expiry)

    def __repr__(self) -> str:
        return (
            f"Host({self.address!r}, requests={self.num_requests}, fails={self.fails}, "
            f"unhealthy={self.unhealthy})"
        )


_HOSTS: dict[str, Host] = {}


def host_for(address: str) -> Host:
    """The process-wide state of `address`, created on first use."""
    host = _HOSTS.get(address)
    if host is None:
        host = _HOSTS[address] = Host(address)
    return host


def reset_hosts() -> None:
    """Forget all host state (tests, and config reloads)."""
    _HOSTS.clear()


class Upstream:
    """One backend in a handler's pool.

    `dial` is the address as configured (it is also what hash policies hash,
    placeholders unexpanded); `address` is what is dialled (after expanding
    placeholders, for dynamic pools). `max_fails` is set when the handler has
    passive health checks (Caddy's healthCheckPolicy), else None.
    """

    __slots__ = ("address", "dial", "host", "max_fails", "max_requests")

    def __init__(
        self,
        dial: str,
        *,
        address: str | None = None,
        max_requests: int = 0,
        max_fails: int | None = None,
    ) -> None:
        self.dial = dial
        self.address = address if address is not None else dial
        self.host = host_for(self.address)
        self.max_requests = max_requests
        self.max_fails = max_fails

    def __repr__(self) -> str:
        return f"Upstream({self.dial!r})"

    def healthy(self) -> bool:
        """Not marked down actively, and under the passive failure limit."""
        host = self.host
        if host.unhealthy:
            return False
        return self.max_fails is None or host.fails < self.max_fails

    def full(self) -> bool:
        """At its in-flight request limit (`unhealthy_request_count`)."""
        return 0 < self.max_requests <= self.host.num_requests

    def available(self) -> bool:
        """May be selected: healthy and not full."""
        return self.healthy() and not self.full()
