"""The failover lab's pieces: example Caddyfiles with ports swapped, controllable backends, load.

`example_caddyfile(name, replace)` reads `examples/<name>/Caddyfile` and
applies exact text replacements (each must be present, so an edited example
fails loudly instead of drifting); `compile_text` turns the result into an
`app.py` for `rpctest.apps.run_app`. `LabBackend` is an in-process aiohttp
backend on a fixed loopback port that can be stopped and started again on the
same port, hang on `/hang`, hold requests on `/jam` until released, and
answer `/health` with a chosen status. `load` drives a proxy with a few
concurrent clients until a deadline and records who answered.
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from rpc.compiler.pipeline import Stage, compile_caddyfile

__all__ = [
    "EXAMPLES",
    "LabBackend",
    "Reply",
    "compile_text",
    "example_caddyfile",
    "fetch",
    "load",
]

EXAMPLES = Path(__file__).parent.parent.parent / "examples"


def example_caddyfile(name: str, replace: dict[str, str]) -> str:
    """`examples/<name>/Caddyfile` with every `old → new` of `replace` applied (all present)."""
    text = (EXAMPLES / name / "Caddyfile").read_text()
    for old, new in replace.items():
        assert old in text, f"examples/{name}/Caddyfile no longer contains {old!r}"
        text = text.replace(old, new)
    return text


def compile_text(directory: Path, text: str) -> Path:
    """Compile Caddyfile `text` into `directory/app.py`."""
    result = compile_caddyfile(text, "Caddyfile", stop_after=Stage.PYTHON, environ={})
    assert result.python is not None, [d.message for d in result.diagnostics]
    path = directory / "app.py"
    path.write_text(result.python)
    return path


class LabBackend:
    """A loopback backend answering its name (body and `X-Backend`), counting requests.

    `/health` answers `health_status`; `/hang` sleeps `hang_seconds` when
    `hangs` is set (else answers at once); `/jam` waits until `release()`
    when `jams` is set. Every other path answers at once.
    """

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self.hits: collections.Counter[str] = collections.Counter()
        self.health_status = 200
        self.hangs = False
        self.hang_seconds = 5.0
        self.jams = False
        self.jammed = 0  # /jam requests being held right now
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def dial(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.Response:
        path = request.path
        self.hits[path] += 1
        if path == "/health":
            return web.Response(status=self.health_status, text="health")
        if path == "/hang" and self.hangs:
            # Bounded, and cut short at release() so teardown is quick.
            try:
                await asyncio.wait_for(self._release.wait(), self.hang_seconds)
            except TimeoutError:
                pass
        if path == "/jam" and self.jams:
            self.jammed += 1
            try:
                await asyncio.wait_for(self._release.wait(), 10.0)
            finally:
                self.jammed -= 1
        return web.Response(text=self.name, headers={"X-Backend": self.name})

    async def start(self) -> None:
        """Listen on 127.0.0.1:`port` (again, after `stop`)."""
        self._release = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port, reuse_address=True).start()
        self._runner = runner

    async def stop(self) -> None:
        """Close the listener and every open connection (the backend is gone)."""
        self.release()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def release(self) -> None:
        """Let every held `/hang` and `/jam` request answer."""
        self._release.set()


@dataclass(frozen=True)
class Reply:
    """One client request's outcome: status (0 = transport error), backend, Set-Cookie.

    `sent` and `at` are the monotonic times the request started and the
    reply (or error) arrived.
    """

    status: int
    backend: str
    sent: float
    at: float
    set_cookie: tuple[str, ...] = ()


async def fetch(
    session: aiohttp.ClientSession,
    port: int,
    path: str = "/",
    *,
    cookies: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Reply:
    """GET `path` from the proxy on `port`; errors become status 0 instead of raising."""
    sent = time.monotonic()
    headers = {}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    try:
        async with session.get(
            f"http://127.0.0.1:{port}{path}",
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            body = await resp.text()
            backend = resp.headers.get("X-Backend", "")
            if resp.status != 200:
                backend = f"{backend}!{body[:200]}"
            cookies_set = tuple(resp.headers.getall("Set-Cookie", ()))
            return Reply(resp.status, backend, sent, time.monotonic(), cookies_set)
    except (aiohttp.ClientError, TimeoutError) as exc:
        return Reply(0, f"error: {exc!r}", sent, time.monotonic())


async def load(
    port: int, seconds: float, *, clients: int = 4, path: str = "/", pause: float = 0.01
) -> list[Reply]:
    """`clients` concurrent request loops against the proxy until `seconds` have passed."""
    deadline = time.monotonic() + seconds
    replies: list[Reply] = []

    async def client() -> None:
        # A fresh session (no shared cookie jar), one keep-alive connection per client.
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
            while time.monotonic() < deadline:
                replies.append(await fetch(session, port, path))
                await asyncio.sleep(pause)

    await asyncio.gather(*(client() for _ in range(clients)))
    return replies
