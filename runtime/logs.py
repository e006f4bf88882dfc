"""Structured log writers as Caddy's `logging` app: named logs, writers, encoders, levels.

Input: the app's `Log` specs (one per Caddy `log` block, global or site) and
entries `(logger name, level, message, fields)`; output: one line per entry
written to every log whose level, `include` and `exclude` accept the logger
name, in Caddy's JSON (`{"level","ts","logger","msg",...}`) or console shape.
Python `logging` records under the `rpc` and `aiohttp` loggers are bridged
into the same writers so runtime modules can use the standard library.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable
from typing import IO, Any

from rpc.runtime.app import Log

__all__ = ["LEVELS", "allowed", "configure", "emit", "enabled", "install_bridge", "reset"]

LEVELS = {"DEBUG": 10, "INFO": 20, "WARN": 30, "WARNING": 30, "ERROR": 40, "PANIC": 50, "FATAL": 50}
_NAMES = {10: "debug", 20: "info", 30: "warn", 40: "error", 50: "fatal"}
_COLORS = {10: "\x1b[35m", 20: "\x1b[34m", 30: "\x1b[33m", 40: "\x1b[31m", 50: "\x1b[31m"}

# The default log Caddy writes when none is configured: stderr, INFO.
_DEFAULT = Log()


class _Writer:
    """One open output shared by every log that names it."""

    __slots__ = ("lock", "std", "stream")

    def __init__(self, stream: IO[str] | None, std: str = "") -> None:
        self.stream = stream
        self.std = std  # "stdout"/"stderr": looked up per write, so a replaced sys.stderr is used
        self.lock = threading.Lock()

    def write(self, line: str) -> None:
        stream = getattr(sys, self.std) if self.std else self.stream
        if stream is None:
            return
        with self.lock:
            stream.write(line)
            stream.flush()


class _Sink:
    __slots__ = ("color", "console", "exclude", "include", "level", "writer")

    def __init__(self, spec: Log, writer: _Writer, level_override: int | None) -> None:
        self.level = LEVELS[spec.level.upper()]
        if level_override is not None and spec.name == "default":
            self.level = level_override
        self.include = spec.include
        self.exclude = spec.exclude
        self.console = spec.format == "console"
        self.color = self.console  # Caddy's console encoder colours levels by default
        self.writer = writer


_sinks: list[_Sink] = []
_writers: dict[str, _Writer] = {}
_min_level = 20


def _open(spec: Log) -> _Writer:
    key = spec.output if spec.output != "file" else f"file:{spec.filename}"
    writer = _writers.get(key)
    if writer is not None:
        return writer
    stream: IO[str] | None
    if spec.output in ("stdout", "stderr"):
        writer = _writers[key] = _Writer(None, spec.output)
        return writer
    if spec.output == "discard":
        stream = None
    else:
        assert spec.filename is not None
        directory = os.path.dirname(spec.filename)
        if directory:
            os.makedirs(directory, exist_ok=True)
        # Caddy creates log files 0600; append, never truncate.
        fd = os.open(spec.filename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, spec.mode)
        stream = os.fdopen(fd, "a", encoding="utf-8")
    writer = _writers[key] = _Writer(stream)
    return writer


def configure(logs: Iterable[Log], level: str | None = None) -> None:
    """Open the writers of `logs` (plus the implicit default log) and route entries to them.

    `level` overrides the level of the `default` log (the `--log-level` flag).
    """
    global _sinks, _min_level
    specs = list(logs)
    if not any(spec.name == "default" for spec in specs):
        specs.insert(0, _DEFAULT)
    override = LEVELS[level.upper()] if level else None
    sinks = [_Sink(spec, _open(spec), override) for spec in specs]
    _sinks = sinks
    _min_level = min(sink.level for sink in sinks)


def reset() -> None:
    """Back to the unconfigured state (tests): only the default log, to the current stderr.

    Also removes the `logging` bridge, so other code sees stdlib logging untouched.
    """
    for name in list(_bridged):
        py_logger = logging.getLogger(name)
        py_logger.removeHandler(_bridge)
        py_logger.propagate = True
        py_logger.setLevel(logging.NOTSET)
    _bridged.clear()
    for writer in _writers.values():
        if writer.stream is not None:
            writer.stream.close()
    _writers.clear()
    configure(())


def allowed(spec_include: tuple[str, ...], spec_exclude: tuple[str, ...], name: str) -> bool:
    """Whether a log with these include/exclude lists takes entries of logger `name`.

    Caddy's rule (`logging.go` `loggerAllowed`): the longest matching
    namespace wins; a non-empty include list must match.
    """
    if not spec_include and not spec_exclude:
        return True
    dotted = name + "." if name not in ("", "*", ".") else name
    accept = 0
    for namespace in spec_include:
        if dotted.startswith(namespace + ".") and len(namespace) > accept:
            accept = len(namespace)
    if spec_include and accept == 0:
        return False
    reject = 0
    for namespace in spec_exclude:
        if (namespace == "*" and name != ".") or (namespace == "." and name == "."):
            return False
        if dotted.startswith(namespace + ".") and len(namespace) > reject:
            reject = len(namespace)
    if reject > accept:
        return False
    return (bool(spec_include) and accept > 0) or (bool(spec_exclude) and reject == 0)


def enabled(level: int) -> bool:
    """Cheap pre-check: would any log write an entry of `level`?"""
    return level >= _min_level


def emit(logger: str, level: int, msg: str, fields: dict[str, Any] | None = None) -> None:
    """Write one entry to every log that accepts `logger` at `level`."""
    if level < _min_level:
        return
    now = time.time()
    json_line: str | None = None
    for sink in _sinks:
        if level < sink.level or not allowed(sink.include, sink.exclude, logger):
            continue
        if sink.console:
            sink.writer.write(_console(now, level, logger, msg, fields, sink.color))
        else:
            if json_line is None:
                json_line = _json(now, level, logger, msg, fields)
            sink.writer.write(json_line)


def _json(now: float, level: int, logger: str, msg: str, fields: dict[str, Any] | None) -> str:
    entry: dict[str, Any] = {"level": _NAMES.get(level, "info"), "ts": now}
    if logger:
        entry["logger"] = logger
    entry["msg"] = msg
    if fields:
        entry.update(fields)
    return json.dumps(entry, separators=(",", ":"), ensure_ascii=False, default=str) + "\n"


def _console(
    now: float, level: int, logger: str, msg: str, fields: dict[str, Any] | None, color: bool
) -> str:
    # zap's console encoder: wall_milli time (UTC), level, logger, message, then JSON fields.
    stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}"
    name = _NAMES.get(level, "info").upper()
    if color:
        name = f"{_COLORS.get(level, '')}{name}\x1b[0m"
    parts = [stamp, name]
    if logger:
        parts.append(logger)
    parts.append(msg)
    if fields:
        parts.append(json.dumps(fields, ensure_ascii=False, default=str))
    return "\t".join(parts) + "\n"


class _Bridge(logging.Handler):
    """Python `logging` records → entries (logger name kept, `extra={"fields": {...}}` merged)."""

    def emit(self, record: logging.LogRecord) -> None:
        level = (
            10
            if record.levelno < 20
            else 20
            if record.levelno < 30
            else 30
            if (record.levelno < 40)
            else 40
        )
        fields: dict[str, Any] = dict(getattr(record, "fields", None) or {})
        if record.exc_info and record.exc_info[0] is not None:
            fields["error"] = self.format_exception(record)
        try:
            msg = record.getMessage()
        except Exception:  # a bad format string must not take the server down  # noqa: BLE001
            msg = str(record.msg)
        emit(record.name, level, msg, fields)

    @staticmethod
    def format_exception(record: logging.LogRecord) -> str:
        return logging.Formatter().formatException(record.exc_info)  # type: ignore[arg-type]


_bridge = _Bridge()
_bridged: set[str] = set()


def install_bridge(names: Iterable[str] = ("rpc", "aiohttp")) -> None:
    """Route Python `logging` output of these loggers into the configured logs."""
    for name in names:
        py_logger = logging.getLogger(name)
        if _bridge not in py_logger.handlers:
            py_logger.addHandler(_bridge)
        py_logger.propagate = False
        py_logger.setLevel(logging.DEBUG if _min_level <= 10 else logging.INFO)
        _bridged.add(name)


configure(())
