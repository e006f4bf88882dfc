"""`--workers N`: a parent process forking N workers that each bind every listener.

Input: a function running one worker (`run(index, ready) -> exit code`) and
the worker count; output: the parent's exit code. Workers bind their own
sockets with `SO_REUSEPORT`, so the kernel spreads connections over them.
The parent forwards SIGTERM/SIGINT to the workers and waits for their
graceful shutdown; a worker that dies unexpectedly after startup is
replaced; a worker that fails before it is ready fails the whole start.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import select
import signal
import sys
import time
from collections.abc import Callable

__all__ = ["Supervisor"]

_log = logging.getLogger("rpc.runtime.workers")
_READY_TIMEOUT = 120.0
_PR_SET_PDEATHSIG = 1

Worker = Callable[[int, Callable[[], None]], int]


def _die_with_parent() -> None:
    # Linux: a worker must not outlive a parent killed with SIGKILL (it would hold the ports).
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class Supervisor:
    """Start, watch and stop the worker processes."""

    def __init__(self, run: Worker, count: int, on_exit: Callable[[int], None] | None = None):
        self.run = run
        self.count = count
        self.on_exit = on_exit
        self.children: dict[int, int] = {}  # pid -> worker index
        self.stopping = False
        self.failed = False

    def _spawn(self, index: int) -> tuple[int, int]:
        read_fd, write_fd = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child (covered by process tests)
            os.close(read_fd)
            code = 70
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                _die_with_parent()

                def ready() -> None:
                    os.write(write_fd, b"1")
                    os.close(write_fd)

                code = self.run(index, ready)
            except BaseException:  # noqa: BLE001
                _log.exception("worker %d crashed", index)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(write_fd)
        self.children[pid] = index
        return pid, read_fd

    def _forward(self, signum: int, _frame: object) -> None:
        self.stopping = True
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM if signum == signal.SIGINT else signum)

    def run_all(self) -> int:
        """Fork the workers, wait until all listen, supervise until they stop; the exit code."""
        signal.signal(signal.SIGTERM, self._forward)
        signal.signal(signal.SIGINT, self._forward)
        pending = dict(self._spawn(index) for index in range(self.count))
        if not self._await_ready(pending):
            code = 0 if self.stopping else 1  # asked to stop while starting, or a worker failed
            self._forward(signal.SIGTERM, None)
            self._reap_all()
            return code
        return self._supervise()

    def _await_ready(self, pending: dict[int, int]) -> bool:
        deadline = time.monotonic() + _READY_TIMEOUT
        fds = {fd: pid for pid, fd in pending.items()}
        while fds:
            left = deadline - time.monotonic()
            if left <= 0 or self.stopping:
                break
            readable, _, _ = select.select(list(fds), [], [], min(left, 1.0))
            for fd in readable:
                data = os.read(fd, 1)
                os.close(fd)
                pid = fds.pop(fd)
                if not data:
                    _log.error("worker %d (pid %d) exited during startup", self.children[pid], pid)
                    for other in fds:
                        os.close(other)
                    return False
        for fd in fds:
            os.close(fd)
        return not fds and not self.stopping

    def _supervise(self) -> int:
        code = 0
        while self.children:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                break
            index = self.children.pop(pid, None)
            if index is None:
                continue
            exit_code = os.waitstatus_to_exitcode(status)
            if self.on_exit is not None:
                self.on_exit(pid)
            if self.stopping:
                if exit_code != 0:
                    code = 1
                continue
            _log.error(
                "worker %d (pid %d) exited with %d; starting a new one", index, pid, exit_code
            )
            time.sleep(1.0)  # do not spin if a worker keeps dying
            if not self.stopping:
                _, fd = self._spawn(index)
                os.close(fd)
        return code

    def _reap_all(self) -> None:
        deadline = time.monotonic() + 10.0
        while self.children and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                time.sleep(0.05)
                continue
            self.children.pop(pid, None)
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
