"""`main(APP)`: what `python app.py` runs — checks, listeners, workers, graceful shutdown.

Input: the `App` a generated module built and the command line; output: an
exit code (0 served and stopped cleanly or `--check` passed, 1 the config
cannot be served, 2 bad usage, 70 internal error). One process serves every
server's listeners with aiohttp's low-level server on uvloop when installed;
`--workers N` forks N such processes sharing the ports through
`SO_REUSEPORT`. SIGTERM/SIGINT stop gracefully: keep serving for
`shutdown_delay`, stop accepting, close idle keep-alive connections, let
in-flight requests finish within `grace_period` (then cancel them), exit 0;
a second SIGINT cancels at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import os
import shutil
import signal
import ssl
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web, web_server

from rpc.runtime import logs, metrics
from rpc.runtime.app import App
from rpc.runtime.dispatch import Dispatcher
from rpc.runtime.listeners import make_server, open_server, parse_address
from rpc.runtime.tls import CertStore, acme_error, default_data_dir

__all__ = [
    "BUILD_ERRORS",
    "EXIT_CONFIG",
    "EXIT_INTERNAL",
    "EXIT_OK",
    "EXIT_USAGE",
    "building",
    "main",
    "python_parser_in_use",
]

EXIT_OK = 0
EXIT_CONFIG = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70

_RENEW_INTERVAL = 600.0  # seconds between checks of `tls internal` leaf lifetimes


@dataclass(frozen=True, slots=True)
class Options:
    """The command line of a generated app."""

    workers: int = 1
    check: bool = False
    log_level: str | None = None
    allow_python_parser: bool = False
    data_dir: str | None = None


def _parse_args(app: App, argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        description=app.version or "A reverse proxy compiled from a Caddyfile by rpc.",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes sharing the ports with SO_REUSEPORT (0: one per CPU; default 1)",
    )
    parser.add_argument("--check", action="store_true", help="load and validate, then exit")
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warn", "error"],
        help="minimum level of the default log (overrides the Caddyfile)",
    )
    parser.add_argument(
        "--allow-python-parser",
        action="store_true",
        help="serve even when aiohttp's C HTTP parser is unavailable (not recommended)",
    )
    parser.add_argument(
        "--data-dir",
        metavar="DIR",
        help="where `tls internal` keeps its CA and certificates (default $XDG_DATA_HOME/rpc)",
    )
    parser.add_argument("--version", action="store_true", help="print versions and exit")
    ns = parser.parse_args(argv)
    if ns.version:
        print(_version_line(app.version))
        raise SystemExit(EXIT_OK)
    if ns.workers < 0:
        parser.error("--workers must be 0 or more")
    workers = ns.workers or (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )
    return Options(workers, ns.check, ns.log_level, ns.allow_python_parser, ns.data_dir)


# What building a generated module's objects raises for a deployment problem
# (a missing key file, an unset variable), as opposed to a bug in rpc.
BUILD_ERRORS = (ValueError, OSError, RuntimeError)


@contextlib.contextmanager
def building(module: str, version: str) -> Iterator[None]:
    """Around a generated module's declarations: a config problem found while the app is
    built (a key file that is missing, an unset environment variable) ends a program run
    as `python app.py` like any config error, one line and exit 1, never a traceback.
    Imported modules (tests, `rpc explain`) get the exception. `--version` still answers.
    """
    try:
        yield
    except BUILD_ERRORS as exc:
        if module != "__main__":
            raise
        if "--version" in sys.argv[1:]:
            print(_version_line(version))
            sys.exit(EXIT_OK)
        logs.emit("", logs.LEVELS["ERROR"], f"cannot build the app: {exc}")
        sys.exit(EXIT_CONFIG)


def _version_line(head: str) -> str:
    import aiohttp

    from rpc.runtime import RUNTIME_ABI

    try:
        from importlib.metadata import version

        rpc_version = version("rpc")
    except Exception:  # noqa: BLE001
        rpc_version = "unknown"
    head = head or "rpc app"
    return (
        f"{head} (rpc {rpc_version}, runtime ABI {RUNTIME_ABI}, aiohttp {aiohttp.__version__}, "
        f"Python {sys.version.split()[0]})"
    )


def python_parser_in_use() -> bool:
    """Whether aiohttp's server would parse requests with its pure-Python parser."""
    from aiohttp import http_parser, web_protocol

    return web_protocol.HttpRequestParser is http_parser.HttpRequestParserPy  # type: ignore[attr-defined]


def _fail(msg: str, code: int = EXIT_CONFIG) -> int:
    logs.emit("", logs.LEVELS["ERROR"], msg)
    return code


def _validate(app: App, opts: Options) -> str | None:
    """What makes `app` unservable with these options (None: fine). Binds nothing."""
    if python_parser_in_use() and not opts.allow_python_parser:
        return (
            "aiohttp is using its pure-Python HTTP parser (its C extension is missing or "
            "AIOHTTP_NO_EXTENSIONS is set); that parser is slower and has had request "
            "smuggling bugs the C parser had not. Install aiohttp with its C extension, or "
            "pass --allow-python-parser to serve anyway."
        )
    seen: dict[str, str] = {}
    for server in app.servers:
        for text in server.listen:
            try:
                addresses = parse_address(text)
            except ValueError as exc:
                return f"server {server.name}: {exc}"
            for addr in addresses:
                if addr.network == "unix" and opts.workers > 1:
                    return f"server {server.name}: unix socket {addr.host} cannot be shared by --workers"
                key = f"{addr.network}:{addr}"
                if key in seen:
                    return (
                        f"server {server.name}: listener address repeated: {addr} "
                        f"(already claimed by server {seen[key]!r})"
                    )
                seen[key] = server.name
    if app.admin is not None:
        admin_problem = _admin_problem(app.admin)
        if admin_problem is not None:
            return admin_problem
    tls_servers = [server.name for server in app.servers if server.tls]
    data_dir = _data_dir(app, opts)
    problem = acme_error(app.tls, data_dir)
    if problem is not None:
        return problem
    if tls_servers and not app.tls.certificates and not app.tls.internal:
        return f"server(s) {', '.join(tls_servers)} serve TLS but no certificate is configured"
    if app.tls.internal:
        try:
            import cryptography  # noqa: F401
        except ImportError:
            return "`tls internal` needs the cryptography package: pip install 'rpc[runtime]'"
    for cert in app.tls.certificates:
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(cert.cert_file, cert.key_file)
        except (OSError, ssl.SSLError) as exc:
            return f"certificate {cert.cert_file} / {cert.key_file}: {exc}"
    return None


def _data_dir(app: App, opts: Options) -> Path:
    return Path(opts.data_dir or app.tls.data_dir or default_data_dir())


def main(app: App, argv: Sequence[str] | None = None) -> int:
    """Serve `app` until SIGTERM/SIGINT; the process exit code (see the module doc)."""
    try:
        opts = _parse_args(app, argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    try:
        logs.configure(app.logs, level=opts.log_level)
    except (OSError, ValueError) as exc:
        print(f"rpc: cannot open logs: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    logs.install_bridge()
    problem = _validate(app, opts)
    if problem is not None:
        return _fail(problem)
    if opts.check:
        logs.emit("", logs.LEVELS["INFO"], "Valid configuration")
        return EXIT_OK
    try:
        if opts.workers == 1:
            return _run_worker(app, opts, 0, lambda: None)
        return _run_many(app, opts)
    except Exception as exc:  # a bug: say so, with the traceback, and exit distinctly  # noqa: BLE001
        import traceback

        logs.emit(
            "", logs.LEVELS["ERROR"], f"internal error: {exc}", {"error": traceback.format_exc()}
        )
        return EXIT_INTERNAL


def _run_many(app: App, opts: Options) -> int:
    from rpc.runtime.workers import Supervisor

    # Issue `tls internal` certificates once, before the workers race to create them.
    if app.tls.internal:
        CertStore(app.tls, _data_dir(app, opts)).issue_only()
    multiproc_dir = None
    if app.metrics is not None or app.admin is not None:
        multiproc_dir = tempfile.mkdtemp(prefix="rpc-metrics-")
        os.environ[metrics.MULTIPROC_ENV] = multiproc_dir
    try:
        supervisor = Supervisor(
            lambda index, ready: _run_worker(app, opts, index, ready),
            opts.workers,
            on_exit=metrics.worker_exited if multiproc_dir else None,
        )
        return supervisor.run_all()
    finally:
        if multiproc_dir is not None:
            shutil.rmtree(multiproc_dir, ignore_errors=True)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def _run_worker(app: App, opts: Options, index: int, ready: Callable[[], None]) -> int:
    with asyncio.Runner(loop_factory=_new_loop) as runner:
        return runner.run(_serve(app, opts, index, ready))


class _Stopper:
    """Turns SIGTERM/SIGINT into a graceful stop, and a second SIGINT into a forced one."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.stop = asyncio.Event()
        self.force = asyncio.Event()
        self.signal = ""
        loop.add_signal_handler(signal.SIGTERM, self._on, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, self._on, "SIGINT")

    def _on(self, name: str) -> None:
        if self.stop.is_set():
            if name == "SIGINT":
                self.force.set()
            return
        self.signal = name
        self.stop.set()


async def _serve(app: App, opts: Options, index: int, ready: Callable[[], None]) -> int:
    loop = asyncio.get_running_loop()
    stopper = _Stopper(loop)
    metrics.enable(app.metrics)
    certs: CertStore | None = None
    if any(server.tls for server in app.servers):
        certs = CertStore(app.tls, _data_dir(app, opts))
        try:
            certs.prepare()
        except (OSError, ValueError, ssl.SSLError, RuntimeError) as exc:
            return _fail(f"TLS: {exc}")
    reuse_port = opts.workers > 1
    servers: list[tuple[web_server.Server, list[asyncio.AbstractServer]]] = []
    admin: web.AppRunner | None = None
    try:
        for config in app.servers:
            low = make_server(config, Dispatcher(config))
            opened = await open_server(
                config,
                low,
                ssl_context=certs.server_context() if certs and config.tls else None,
                http_port=app.http_port,
                reuse_port=reuse_port,
            )
            servers.append((low, opened))
            logs.emit(
                "http.log",
                logs.LEVELS["INFO"],
                "server running",
                {"name": config.name, "protocols": ["h1"], "listen": list(config.listen)},
            )
        if app.admin is not None and index == 0:
            admin = await _open_admin(app.admin)
    except OSError as exc:
        for _, opened in servers:
            for srv in opened:
                srv.close()
        return _fail(f"listening: {exc}")
    tasks = []
    if certs is not None and certs.ca is not None:
        tasks.append(asyncio.create_task(_renew_loop(certs)))
    ready()
    await stopper.stop.wait()
    code = await _shutdown(app, stopper, servers)
    for task in tasks:
        task.cancel()
    if admin is not None:
        await admin.cleanup()
        logs.emit("admin", logs.LEVELS["INFO"], "stopped previous server", {"address": app.admin})
    return code


async def _renew_loop(certs: CertStore) -> None:
    while True:
        await asyncio.sleep(_RENEW_INTERVAL)
        try:
            renewed = await asyncio.to_thread(certs.renew)
        except Exception as exc:  # noqa: BLE001
            logs.emit(
                "tls",
                logs.LEVELS["ERROR"],
                "renewing internal certificates failed",
                {"error": str(exc)},
            )
            continue
        for host in renewed:
            logs.emit("tls", logs.LEVELS["INFO"], "certificate renewed", {"identifier": host})


async def _shutdown(
    app: App,
    stopper: _Stopper,
    servers: list[tuple[web_server.Server, list[asyncio.AbstractServer]]],
) -> int:
    info = logs.LEVELS["INFO"]
    logs.emit("", info, "shutting down apps, then terminating", {"signal": stopper.signal})
    if app.shutdown_delay > 0:
        logs.emit("http", info, "shutdown scheduled", {"delay_duration": app.shutdown_delay})
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stopper.force.wait(), app.shutdown_delay)
    for _, opened in servers:
        for srv in opened:
            srv.close()  # stop accepting; open connections carry on
    grace = app.grace_period
    if grace is None:
        logs.emit("http", info, "servers shutting down with eternal grace period")
    else:
        logs.emit(
            "http", info, "servers shutting down; grace period initiated", {"duration": grace}
        )
    for low, _ in servers:
        low.pre_shutdown()  # idle keep-alive connections close now, busy ones after their response
    drain: asyncio.Future[Any] = asyncio.gather(*(low.shutdown(grace) for low, _ in servers))
    forced: asyncio.Future[Any] = asyncio.create_task(stopper.force.wait())
    done, _ = await asyncio.wait({drain, forced}, return_when=asyncio.FIRST_COMPLETED)
    if forced in done:
        drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await drain
        logs.emit("", logs.LEVELS["WARN"], "forced shutdown: in-flight requests cancelled")
        return EXIT_CONFIG
    forced.cancel()
    logs.emit("", info, "shutdown complete", {"signal": stopper.signal, "exit_code": EXIT_OK})
    return EXIT_OK


async def _open_admin(address: str) -> web.AppRunner:
    """The admin endpoint: `rpc.runtime.admin`'s app plus `/metrics`, on a loopback address."""
    from rpc.runtime.admin import admin_app

    addr = parse_address(address)[0]
    host = addr.host or "localhost"

    async def metrics_page(request: web.Request) -> web.StreamResponse:
        body, content_type = metrics.exposition(request.headers.get("Accept", ""))
        resp = web.Response(body=body)
        resp.headers["Content-Type"] = content_type
        return resp

    app = admin_app(host)
    app.router.add_route(
        "GET", "/metrics", metrics_page
    )  # exact paths resolve before the catch-all
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, addr.port, reuse_address=True).start()
    logs.emit("admin", logs.LEVELS["INFO"], "admin endpoint started", {"address": address})
    return runner


def _admin_problem(address: str) -> str | None:
    try:
        addr = parse_address(address)[0]
    except ValueError as exc:
        return f"admin: {exc}"
    host = addr.host or "localhost"
    if host == "localhost":
        return None
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    return None if loopback else f"admin: the admin endpoint listens on loopback only, not {host!r}"
