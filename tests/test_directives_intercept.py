"""intercept: its JSON checked against the real caddy, and its refusal by
`rpc compile` (the runtime has no response interception)."""

from __future__ import annotations

import pytest

from rpc.compiler.caddyjson import to_caddy_json
from rpc.compiler.errors import RpcError
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpctest.oracle import assert_same_as_caddy


def site(*lines: str) -> str:
    return ":80\n" + "\n".join(lines) + "\n"


def intercept(*sub: str, args: str = "") -> str:
    head = f"intercept {args}".rstrip()
    body = "\n".join("\t" + ln for ln in sub)
    return site("respond hi", f"{head} {{\n{body}\n}}" if sub else head)


CASES = [
    intercept(),
    intercept("replace_status 404"),
    intercept("@err status 5xx", "replace_status @err 503"),
    intercept("@e status 4xx 500", "replace_status @e {http.intercept.status_code}"),
    intercept("@h header X-Accel-Redirect *", "handle_response @h {", "\trespond moved", "}"),
    intercept(
        "@h {",
        "\theader X-A *",
        "\theader X-B b",
        "\tstatus 200",
        "}",
        "handle_response @h {",
        "\trewrite * {resp.header.X-A}",
        "\tfile_server",
        "}",
    ),
    intercept("handle_response {", "\trespond any", "}", "@a status 401", "replace_status @a 403"),
    intercept("handle_response {", "}"),
    intercept("handle_response"),
    intercept("replace_status 404", args="/api/*"),
    intercept("replace_status 404", args="*"),
    site("@m method POST", "intercept @m {", "\treplace_status 201", "}", "respond hi"),
    intercept("replace_status 404", args="extra"),  # caddy ignores the block after an argument
    intercept("replace_status 404", args="/a extra"),
    site("route {", "\tintercept {", "\t\treplace_status 204", "\t}", "\trespond hi", "}"),
    site("handle /x {", "\tintercept {", "\t\treplace_status 204", "\t}", "}", "respond hi"),
    site(
        "reverse_proxy app:80",
        "intercept {",
        "\t@x header X-Sendfile *",
        "\thandle_response @x {",
        "\t\troot * /srv",
        "\t\trewrite * {resp.header.X-Sendfile}",
        "\t\tfile_server",
        "\t}",
        "}",
    ),
    intercept("handle_response {", "\tcopy_response 200", "}"),
    intercept("@h {", "\theader X-A", "}", "replace_status @h 200"),  # bare header: an error
    # errors caddy reports (rpc too)
    intercept("bogus"),
    intercept("replace_status"),
    intercept("replace_status a b c"),
    intercept("replace_status nope 404"),
    intercept("replace_status @missing 404"),
    intercept("replace_status 404 {", "\trespond x", "}"),
    intercept("handle_response header Foo {", "\trespond x", "}"),
    intercept("handle_response @missing {", "\trespond x", "}"),
    intercept("handle_response nope {", "\trespond x", "}"),
    intercept("@a status", "replace_status @a 200"),
    intercept("@a status abc", "replace_status @a 200"),
    intercept("@a bogus 1", "replace_status @a 200"),
    intercept("@a status 200", "@a status 300", "replace_status @a 200"),
    intercept("handle_response {", "\tbogus_directive", "}"),
    site("intercept @nope {", "\treplace_status 200", "}"),
]


@pytest.mark.parametrize("text", CASES)
def test_same_json_as_caddy(text: str, caddy: str) -> None:
    assert_same_as_caddy(text)


def test_unmatched_entries_come_last() -> None:
    text = intercept("replace_status 500", "@a status 401", "replace_status @a 403")
    result = compile_caddyfile(text, "Caddyfile", stop_after=Stage.IR, environ={})
    routes = to_caddy_json(result.ir)["apps"]["http"]["servers"]["srv0"]["routes"]
    (found,) = [h for r in routes for h in r["handle"] if h["handler"] == "intercept"]
    assert found["handle_response"] == [
        {"match": {"status_code": [401]}, "status_code": 403},
        {"status_code": 500},
    ]


@pytest.mark.parametrize(
    "text",
    [
        intercept("replace_status 404"),
        intercept(args="/api/*"),
        site("route {", "\tintercept {", "\t\treplace_status 204", "\t}", "\trespond hi", "}"),
    ],
)
def test_compile_refuses_it_naming_the_line(text: str) -> None:
    with pytest.raises(RpcError) as err:
        compile_caddyfile(text, "Caddyfile")
    (diag,) = err.value.errors
    assert diag.code == "RPC304" and "no response interception" in diag.message
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "intercept" in ln)
    assert diag.span is not None and diag.span.line == line
    assert diag.hint and "handle_response" in diag.hint


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (intercept("bogus"), 4, "unrecognized subdirective bogus"),
        (
            intercept("handle_response header Foo {", "\trespond x", "}"),
            4,
            "only a single response matcher name is allowed, but got: [header Foo]",
        ),
        (intercept("replace_status @missing 404"), 4, "no named response matcher defined"),
        (intercept("replace_status 404 {", "\trespond x", "}"), 5, "cannot define routes"),
    ],
)
def test_errors_read_like_caddys(text: str, line: int, fragment: str) -> None:
    with pytest.raises(RpcError) as err:
        compile_caddyfile(text, "Caddyfile", stop_after=Stage.IR, environ={})
    diag = err.value.errors[0]
    assert diag.span is not None and (diag.span.line, fragment in diag.message) == (line, True)
