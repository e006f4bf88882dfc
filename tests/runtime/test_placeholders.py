"""Request placeholders whose text Caddy takes from Go's formatting (durations, path parts).

The values that depend only on the request are also compared with the real
caddy in tests/test_differential_routing.py; these cover what a differential
run cannot pin down (elapsed time) or reach cheaply.
"""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import make_mocked_request

from rpc.runtime.context import Ctx, host_of, split_host
from rpc.runtime.goduration import go_duration
from rpc.runtime.placeholders import resolver_for


def _ctx(path: str = "/", host: str = "example.com") -> Ctx:
    return Ctx(make_mocked_request("GET", path, headers={"Host": host}))


def _value(key: str, ctx: Ctx) -> object:
    fn = resolver_for(key)
    assert fn is not None, key
    return fn(ctx)


def test_durations_are_whole_nanoseconds_in_gos_text() -> None:
    ctx = _ctx()
    text = str(_value("http.request.duration", ctx))
    assert re.fullmatch(r"\d+(\.\d+)?(ns|µs|ms|s)", text), text
    ms = _value("http.request.duration_ms", ctx)
    assert isinstance(ms, float) and ms >= 0
    assert len(repr(ms).partition(".")[2]) <= 6  # at most nanosecond digits


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.000000005, "5ns"),
        (0.000105749, "105.749µs"),
        (0.0075571730, "7.557173ms"),
        (1.5, "1.5s"),
        (123, "2m3s"),
        (3600, "1h0m0s"),
        (-0.002, "-2ms"),
    ],
)
def test_go_duration(seconds: float, text: str) -> None:
    assert go_duration(seconds) == text


@pytest.mark.parametrize(
    ("hostport", "go_host", "matched_host"),
    [
        ("Example.com:8080", "Example.com", "Example.com"),
        ("example.com", None, "example.com"),
        ("[::1]:80", "::1", "::1"),
        ("[::1]", None, "::1"),
        ("host:", "host", "host"),
        ("a:b:c", None, "a:b:c"),
    ],
)
def test_host_of_a_host_header(hostport: str, go_host: str | None, matched_host: str) -> None:
    # Go's SplitHostPort for placeholders; Caddy's host matcher also drops lone brackets.
    assert split_host(hostport) == go_host
    assert host_of(hostport) == matched_host
