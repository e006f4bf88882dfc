"""Named logs: include/exclude routing, levels, JSON and console encodings, stdlib bridge."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from rpc.runtime import Log, logs


@pytest.fixture(autouse=True)
def _reset() -> Iterator[None]:
    yield
    logs.reset()


def test_include_exclude_longest_namespace_wins() -> None:
    allowed = logs.allowed
    assert allowed((), (), "anything")
    assert allowed(("http.log.access",), (), "http.log.access.log0")
    assert not allowed(("http.log.access",), (), "http.log.error")
    assert not allowed(("http.log.access",), (), "http.log.accessx")
    assert not allowed((), ("http.log.access.log0",), "http.log.access.log0")
    assert allowed((), ("http.log.access.log0",), "http.log.access")
    assert allowed(("http.log.access.log0",), ("http.log",), "http.log.access.log0")
    assert not allowed(("http",), ("http.log",), "http.log.access")


def test_entries_go_to_the_logs_that_accept_them(tmp_path: Path) -> None:
    access, default = tmp_path / "access.log", tmp_path / "default.log"
    logs.configure(
        (
            Log(output="file", filename=str(default), exclude=("http.log.access.log0",)),
            Log(
                name="log0", output="file", filename=str(access), include=("http.log.access.log0",)
            ),
        )
    )
    logs.emit("http.log.access.log0", 20, "handled request", {"status": 200})
    logs.emit("http.log.error", 40, "boom", {"status": 502})
    logs.emit("tls", 10, "debug only")
    (a,) = [json.loads(line) for line in access.read_text().splitlines()]
    assert (a["level"], a["logger"], a["msg"], a["status"]) == (
        "info",
        "http.log.access.log0",
        "handled request",
        200,
    )
    assert isinstance(a["ts"], float)
    (d,) = [json.loads(line) for line in default.read_text().splitlines()]
    assert (d["logger"], d["level"]) == ("http.log.error", "error")


def test_level_override_and_console_format(tmp_path: Path) -> None:
    out = tmp_path / "c.log"
    logs.configure((Log(output="file", filename=str(out), format="console"),), level="debug")
    logs.emit("http", 10, "dbg", {"k": "v"})
    stamp, level, name, msg, fields = out.read_text().rstrip("\n").split("\t")
    assert len(stamp) == len("2026/01/02 15:04:05.000")
    assert "DEBUG" in level and level.startswith("\x1b[")  # Caddy's console levels are coloured
    assert (name, msg, json.loads(fields)) == ("http", "dbg", {"k": "v"})


def test_file_logs_are_private_and_appended(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "f.log"
    out.parent.mkdir()
    out.write_text("old\n")
    logs.configure((Log(output="file", filename=str(out)),))
    logs.emit("x", 20, "new")
    assert out.read_text().startswith("old\n")
    logs.reset()
    fresh = tmp_path / "fresh.log"
    logs.configure((Log(output="file", filename=str(fresh)),))
    assert fresh.stat().st_mode & 0o777 == 0o600


def test_stdlib_logging_is_bridged(tmp_path: Path) -> None:
    out = tmp_path / "b.log"
    logs.configure((Log(output="file", filename=str(out)),))
    logs.install_bridge()
    logging.getLogger("rpc.runtime.health").info("host %s down", "a:1", extra={"fields": {"n": 2}})
    try:
        raise ValueError("bad")
    except ValueError:
        logging.getLogger("rpc.runtime.health").exception("failed")
    first, second = [json.loads(line) for line in out.read_text().splitlines()]
    assert (first["logger"], first["msg"], first["n"]) == ("rpc.runtime.health", "host a:1 down", 2)
    assert second["level"] == "error" and "ValueError: bad" in second["error"]


def test_invalid_log_specs_are_rejected() -> None:
    with pytest.raises(ValueError):
        Log(output="syslog")
    with pytest.raises(ValueError):
        Log(output="file")
    with pytest.raises(ValueError):
        Log(level="LOUD")


def test_default_log_writes_json_to_the_current_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    logs.reset()
    logs.emit("http.log.error", 40, "boom", {"status": 502})
    logs.emit("http", 10, "hidden at INFO")
    (line,) = capsys.readouterr().err.splitlines()
    assert json.loads(line)["msg"] == "boom"
