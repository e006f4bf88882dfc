"""`rpc explain` and `rpc test`: the traced module tells the truth about the live app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rpc.compiler.cli import main as rpc_main
from rpc.compiler.explain import RequestSpec, load
from rpc.compiler.source import SourceMap
from rpctest.apps import run_app
from rpctest.differential import fetch
from rpctest.procs import free_port

CADDYFILE = """\
{
\tadmin off
}
:@PORT@ {
\t@api path /api/*
\trespond @api "api {path}" 201
\thandle /x/* {
\t\trespond "x {method} {query}"
\t}
\t@post expression `{method} == "POST" && path('/p*')`
\trespond @post "posted"
\t@h header X-Token secret*
\terror @h "denied" 403
\trespond "hello {host}"
\thandle_errors {
\t\trespond "oops {err.status_code}: {err.message}"
\t}
}
"""

REQUESTS = [
    ("GET", "/api/a", {}),
    ("GET", "/x/y?q=1", {}),
    ("POST", "/pq", {}),
    ("GET", "/pq", {}),
    ("GET", "/other", {"X-Token": "secret-1"}),
    ("GET", "/", {"Host": "example.test"}),
]


def _traced(text: str, name: str = "Caddyfile"):  # type: ignore[no-untyped-def]
    return load(text, name, SourceMap())


def test_explain_agrees_with_the_live_app(tmp_path: Path) -> None:
    port = free_port()
    text = CADDYFILE.replace("@PORT@", str(port))
    (tmp_path / "Caddyfile").write_text(text)
    assert rpc_main(["compile", str(tmp_path / "Caddyfile"), "-o", str(tmp_path / "app.py")]) == 0
    traced = _traced(text)
    with run_app(tmp_path / "app.py", port):
        for method, target, headers in REQUESTS:
            live = fetch(port, method, target, headers)
            host = headers.get("Host", "localhost")
            url = f"http://{host}:{port}{target}" if ":" not in host else f"http://{host}{target}"
            spec = RequestSpec(
                method, url, tuple((k, v) for k, v in headers.items() if k != "Host")
            )
            x = traced.explain(spec)
            assert x.status == live.status, (method, target)
            assert x.body == live.body, (method, target)
            for name in ("content-type", "server"):
                assert {k.lower(): v for k, v in x.headers}.get(name) == live.header(name)


def test_explain_says_why_a_route_did_not_match() -> None:
    x = _traced(CADDYFILE.replace("@PORT@", "8080")).explain(
        RequestSpec("GET", "http://localhost:8080/apix")
    )
    skipped = [s for s in x.steps if s.kind == "route" and not s.matched]
    assert any("path /api/* ✗ (request has /apix)" in s.text for s in skipped)
    assert x.route_origin == ""  # only the catch-all respond ran
    assert x.body == b"hello localhost"


def test_explain_notes_directive_reordering() -> None:
    x = _traced(CADDYFILE.replace("@PORT@", "8080")).explain(
        RequestSpec("GET", "http://localhost:8080/api/1")
    )
    # `handle` (line 7) and `error` (line 13) are tried before `respond @api` (line 6).
    note = "runs before line 6 though written after it (Caddy's directive order)"
    assert [(s.origin, s.matched, s.notes) for s in x.steps[:3]] == [
        ("Caddyfile:7", False, [note]),
        ("Caddyfile:13", False, [note]),
        ("Caddyfile:6", True, []),
    ]


def test_explain_error_route() -> None:
    x = _traced(CADDYFILE.replace("@PORT@", "8080")).explain(
        RequestSpec("GET", "http://localhost:8080/z", (("X-Token", "secret"),))
    )
    assert x.error.startswith("403")
    assert x.status == 403
    assert x.body == b"oops 403: denied"


def test_explain_proxy_is_described_not_contacted() -> None:
    text = """\
:8080 {
\treverse_proxy /api/* 10.9.9.1:1 10.9.9.2:1 {
\t\tlb_policy first
\t}
}
"""
    traced = _traced(text)
    x = traced.explain(RequestSpec("GET", "http://localhost:8080/api/a"))
    assert x.proxied is not None
    assert x.proxied["upstreams"] == ["10.9.9.1:1", "10.9.9.2:1"]
    assert x.proxied["policy"] == "first"
    # `first` is deterministic: explain names the upstream the app would pick.
    assert x.proxied["chosen"] == "10.9.9.1:1"


def test_explain_names_a_stable_hashed_upstream_from_the_whole_pool() -> None:
    text = """\
:8080 {
\treverse_proxy 10.9.9.1:1 10.9.9.2:1 10.9.9.3:1 {
\t\tlb_policy uri_hash
\t}
}
"""
    traced = _traced(text)
    chosen = set()
    for i in range(40):
        x = traced.explain(RequestSpec("GET", f"http://localhost:8080/p{i}"))
        assert x.proxied is not None
        again = traced.explain(RequestSpec("GET", f"http://localhost:8080/p{i}"))
        assert again.proxied is not None and again.proxied["chosen"] == x.proxied["chosen"]
        chosen.add(x.proxied["chosen"])
    assert chosen == {"10.9.9.1:1", "10.9.9.2:1", "10.9.9.3:1"}


def test_explain_cli_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "Caddyfile"
    f.write_text(CADDYFILE.replace("@PORT@", "8080"))
    assert rpc_main(["explain", str(f), "GET http://localhost:8080/api/q"]) == 0
    out = capsys.readouterr().out
    assert "route matched: path /api/* ✓" in out
    assert "result    201 'api /api/q'" in out
    assert rpc_main(["explain", str(f), "POST http://localhost:8080/p", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["response"]["body"] == "posted"
    assert rpc_main(["explain", str(f), "GET http://localhost:9999/"]) == 2
    assert "no server listens on port 9999" in capsys.readouterr().err
    assert rpc_main(["explain", str(f), "GET http://localhost:8080/", "-H", "bad"]) == 2


CASES = """\
[[case]]
name = "api"
request = "GET http://localhost:8080/api/x"
[case.expect]
status = 201
route = 6
body = "api /api/x"
headers = { "Server" = "Caddy", "Content-Type" = "text/plain; charset=utf-8" }

[[case]]
request = "GET http://localhost:8080/x/1?a=b"
[case.expect]
body_contains = "a=b"
proxied = false
"""


def test_rpc_test_passes_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "Caddyfile"
    f.write_text(CADDYFILE.replace("@PORT@", "8080"))
    cases = tmp_path / "cases.toml"
    cases.write_text(CASES)
    assert rpc_main(["test", str(f), str(cases)]) == 0
    assert "2 passed, 0 failed" in capsys.readouterr().out
    cases.write_text(CASES.replace("status = 201", "status = 200"))
    assert rpc_main(["test", str(f), str(cases), "--format", "github"]) == 1
    out = capsys.readouterr().out
    assert "status is 201, expected 200" in out
    assert "::error file=" in out
    cases.write_text(
        '[[case]]\nrequest = "GET http://localhost:8080/"\n[case.expect]\nstatuz = 1\n'
    )
    assert rpc_main(["test", str(f), str(cases)]) == 2
    assert "unknown expectation 'statuz'" in capsys.readouterr().err


def test_build_zipapp_runs_with_runtime_only(tmp_path: Path) -> None:
    import zipfile

    port = free_port()
    f = tmp_path / "Caddyfile"
    f.write_text(f':{port} {{\n\trespond "from the zipapp"\n}}\n')
    out = tmp_path / "proxy.pyz"
    assert (
        rpc_main(["build", str(f), "-o", str(out), "--dockerfile", str(tmp_path / "Dockerfile")])
        == 0
    )
    names = zipfile.ZipFile(out).namelist()
    assert "__main__.py" in names and "rpc/runtime/server.py" in names
    assert not any(n.startswith("rpc/compiler") for n in names)
    reqs = (tmp_path / "requirements.txt").read_text()
    assert reqs.startswith("aiohttp==")
    assert "lark" not in reqs and "jinja2" not in reqs and "black" not in reqs
    assert "COPY requirements.txt proxy.pyz" in (tmp_path / "Dockerfile").read_text()
    with run_app(out, port):
        assert fetch(port, "GET", "/").body == b"from the zipapp"


def test_a_missing_key_file_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "Caddyfile"
    f.write_text(
        "http://localhost:8080 {\n\tjwt {\n\t\talg RS256\n\t\tkey_file missing.pem\n\t}\n"
        "\trespond ok\n}\n"
    )
    assert rpc_main(["explain", str(f), "GET http://localhost:8080/"]) == 1
    err = capsys.readouterr().err
    assert "RPC303" in err and "missing.pem" in err and "internal error" not in err
