"""Every example compiles, loads, and passes its route tests; the README's main job serves.

The examples are what users copy first, so they are held to the same bar as
the code: `rpc check` finds no error, the generated module loads
(`python app.py --check`), each `routes.toml` passes under `rpc test`, and
the README's main job (compile examples/simple-proxy and serve it) answers
through the real proxy. The load-balancing and failover labs run as processes
in tests/test_failover_lab.py, the JWT example in tests/test_jwt_shard_e2e.py.
"""

from __future__ import annotations

import http.client
import re
from pathlib import Path

import pytest

from rpc.compiler.cli import main as rpc_main
from rpctest.apps import run_app, run_to_exit
from rpctest.procs import free_port

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CADDYFILES = sorted(EXAMPLES.glob("*/Caddyfile*"))
ROUTE_TESTS = sorted(EXAMPLES.glob("*/routes.toml"))
# Keys, Redis and backends come from the example's own script (see its README).
NEEDS_SETUP = {"jwt-shard"}


def _id(path: Path) -> str:
    return f"{path.parent.name}/{path.name}"


@pytest.mark.parametrize("caddyfile", CADDYFILES, ids=_id)
def test_example_checks_and_compiles(
    caddyfile: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)  # paths inside the examples are relative to the repository
    # Examples are what users copy: no warning either.
    assert rpc_main(["check", "--strict", str(caddyfile.relative_to(ROOT))]) == 0
    assert rpc_main(["fmt", "--check", str(caddyfile.relative_to(ROOT))]) == 0
    app = tmp_path / "app.py"
    assert rpc_main(["compile", str(caddyfile.relative_to(ROOT)), "-o", str(app)]) == 0
    if caddyfile.parent.name in NEEDS_SETUP:
        return
    done = run_to_exit(app, ["--check"])
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("cases", ROUTE_TESTS, ids=_id)
def test_example_route_tests_pass(
    cases: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    caddyfile = cases.with_name("Caddyfile").relative_to(ROOT)
    code = rpc_main(["test", str(caddyfile), str(cases.relative_to(ROOT))])
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.search(r"\b[1-9]\d* passed, 0 failed\b", out), out


def test_every_servable_example_has_route_tests() -> None:
    missing = [
        d.name
        for d in sorted(EXAMPLES.iterdir())
        if (d / "Caddyfile").is_file() and not (d / "routes.toml").is_file()
    ]
    # The labs are exercised as processes instead (their backends are real).
    assert set(missing) <= {"jwt-shard", "failover", "load-balancing-lab"}, missing


def test_readme_main_job_serves_through_the_proxy(tmp_path: Path) -> None:
    """The README's first command: compile examples/simple-proxy and serve it."""
    readme = (ROOT / "README.md").read_text()
    assert "rpc compile examples/simple-proxy/Caddyfile -o app.py" in readme
    front, back = free_port(), free_port()
    text = (EXAMPLES / "simple-proxy" / "Caddyfile").read_text()
    text = text.replace("127.0.0.1:8080", f"127.0.0.1:{front}")
    text = text.replace("127.0.0.1:9001", f"127.0.0.1:{back}")
    source = tmp_path / "Caddyfile"
    source.write_text(text)
    app = tmp_path / "app.py"
    assert rpc_main(["compile", str(source), "-o", str(app)]) == 0
    with run_app(app, front):
        conn = http.client.HTTPConnection("127.0.0.1", front, timeout=10)
        conn.request("GET", "/hello?x=1")
        resp = conn.getresponse()
        body = resp.read()
        conn.close()
    assert resp.status == 200
    assert body == b"hello from the backend behind rpc: GET /hello?x=1\n"
    assert resp.getheader("X-Backend") == "demo"  # the backend site's header came through
