"""Running generated-style app modules as real processes on loopback.

`write_app(tmp_path, body)` writes a module shaped like the compiler's
output (imports from `rpc.runtime`, route functions, an `APP`, and
`sys.exit(main(APP))`); `run_app(path, port)` starts it with `python`, waits
until the port accepts, and stops it at the end. Log lines (JSON) written to
stdout/stderr are parsed by `AppProcess.entries()`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from rpctest.procs import wait_port

__all__ = ["AppProcess", "run_app", "run_to_exit", "write_app"]

PRELUDE = """\
import asyncio
import os
import sys

from aiohttp import web

from rpc.runtime import (
    App,
    Certificate,
    ClientGone,
    HandlerError,
    Instrumented,
    Log,
    MetricsConfig,
    MetricsHandler,
    ServerConfig,
    ServerLogs,
    Timeouts,
    TLSConfig,
    main,
)
"""

FOOTER = """

if __name__ == "__main__":
    sys.exit(main(APP))
"""


def write_app(directory: Path, body: str, name: str = "app.py") -> Path:
    """Write a module: the shared imports, `body` (dedented), then `sys.exit(main(APP))`."""
    path = directory / name
    path.write_text(PRELUDE + "\n" + textwrap.dedent(body).strip() + "\n" + FOOTER)
    return path


class AppProcess:
    """A running app and its captured output."""

    def __init__(self, proc: subprocess.Popen[bytes], out: Path, err: Path) -> None:
        self.proc = proc
        self.out = out
        self.err = err

    def output(self) -> str:
        return self.out.read_text(errors="replace") + self.err.read_text(errors="replace")

    def entries(self) -> list[dict[str, Any]]:
        """Every JSON log line written so far (stdout, then stderr)."""
        found = []
        for line in self.output().splitlines():
            with contextlib.suppress(ValueError):
                value = json.loads(line)
                if isinstance(value, dict):
                    found.append(value)
        return found

    def wait_entry(self, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The first log entry whose fields equal `match` (waits, bounded)."""
        deadline = time.monotonic() + timeout
        while True:
            for entry in self.entries():
                if all(entry.get(key) == value for key, value in match.items()):
                    return entry
            if time.monotonic() > deadline:
                raise AssertionError(f"no log entry {match} in:\n{self.output()}")
            time.sleep(0.05)

    def signal(self, signum: int = signal.SIGTERM) -> None:
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 20.0) -> int:
        return self.proc.wait(timeout=timeout)


@contextlib.contextmanager
def run_app(
    path: Path,
    port: int | None,
    *args: str,
    env: dict[str, str] | None = None,
) -> Iterator[AppProcess]:
    """Run `python path args...`; wait for `port` (when given); terminate at exit."""
    out, err = path.with_suffix(".out"), path.with_suffix(".err")
    full_env = dict(os.environ)
    full_env.update(env or {})
    with out.open("wb") as out_fh, err.open("wb") as err_fh:
        proc = subprocess.Popen(
            [sys.executable, str(path), *args],
            stdout=out_fh,
            stderr=err_fh,
            cwd=path.parent,
            env=full_env,
            start_new_session=True,
        )
    app = AppProcess(proc, out, err)
    try:
        if port is not None:
            try:
                wait_port(port, timeout=15.0)
            except TimeoutError:
                proc.kill()
                raise AssertionError(f"app did not listen on {port}:\n{app.output()}") from None
        yield app
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def run_to_exit(
    path: Path, args: Sequence[str] = (), env: dict[str, str] | None = None, timeout: float = 30.0
) -> subprocess.CompletedProcess[str]:
    """Run an app that is expected to exit by itself (`--check`, `--version`, errors)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, str(path), *args],
        capture_output=True,
        check=False,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=path.parent,
    )
