"""Upstream/Host state: sharing by address, availability, dynamic host expiry."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rpc.runtime import upstreams as upstreams_mod
from rpc.runtime.upstreams import (
    DYNAMIC_HOST_IDLE,
    ActiveState,
    Upstream,
    all_hosts,
    dynamic_host_for,
    host_for,
    reset_hosts,
)


@pytest.fixture(autouse=True)
def _fresh_hosts() -> Iterator[None]:
    reset_hosts()
    yield
    reset_hosts()


def test_static_upstreams_share_host_state_by_address() -> None:
    a = Upstream("10.0.0.1:80")
    b = Upstream("10.0.0.1:80", max_requests=5)
    c = Upstream("10.0.0.2:80")
    assert a.host is b.host is host_for("10.0.0.1:80")
    assert a.host is not c.host
    a.host.num_requests += 1
    assert b.host.num_requests == 1


def test_passive_limit_applies_only_with_max_fails() -> None:
    without = Upstream("a:1")
    with_limit = Upstream("a:1", max_fails=2)
    without.host.fails = 5
    assert without.healthy()
    assert not with_limit.healthy()
    with_limit.host.fails = 1
    assert with_limit.available()


def test_full_at_max_requests() -> None:
    up = Upstream("a:1", max_requests=2)
    up.host.num_requests = 1
    assert up.available()
    up.host.num_requests = 2
    assert up.full() and not up.available()
    assert Upstream("a:1").available()  # no limit on this handler's entry


def test_active_verdict_belongs_to_the_upstream_not_the_host() -> None:
    checked = Upstream("a:1")
    other = Upstream("a:1")
    checked.active = ActiveState()
    checked.active.unhealthy = True
    assert not checked.available()
    assert other.available()  # another handler without that check still uses it


def test_dynamic_hosts_are_separate_and_listed_after_static() -> None:
    static = Upstream("a:1")
    dynamic = Upstream("a:1", dynamic=True)
    assert static.host is not dynamic.host
    assert Upstream("a:1", dynamic=True).host is dynamic.host
    assert all_hosts() == [static.host, dynamic.host]


def test_idle_dynamic_hosts_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(upstreams_mod.time, "monotonic", lambda: now[0])
    idle = dynamic_host_for("idle:1")
    busy = dynamic_host_for("busy:1")
    busy.num_requests = 1
    now[0] += DYNAMIC_HOST_IDLE + 61
    fresh = dynamic_host_for("fresh:1")
    addresses = [h.address for h in all_hosts()]
    assert "idle:1" not in addresses
    assert "busy:1" in addresses  # in use: kept
    assert fresh.address in addresses
    assert dynamic_host_for("idle:1") is not idle
