"""`rpc check`: provision-time errors and reviewer warnings, one case per code."""

from __future__ import annotations

import pytest

from rpc.compiler.commands.check import check_text
from rpc.compiler.source import SourceMap
from rpctest.caddyfiles import dedent


def codes(text: str) -> list[str]:
    return [d.code for d in check_text(dedent(text), "Caddyfile", SourceMap())]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (':80\nrespond "{hots}"\n', "RPC401"),
        (":80\nroute {\n\trespond a\n\trespond b\n}\n", "RPC402"),
        (":80\nroute {\n\trespond /x a\n\trespond b\n\trespond /y c\n}\n", "RPC402"),
        (":80\nhandle /api {\n\trespond a\n}\n", "RPC403"),
        (":80\nreverse_proxy {http.request.header.X} {\n\thealth_uri /h\n}\n", "RPC404"),
        (":80\nreverse_proxy a {\n\tdynamic a b 80\n\thealth_uri /h\n}\n", "RPC404"),
        (":80\nreverse_proxy a {\n\tlb_try_duration 5s\n\tlb_try_interval 0\n}\n", "RPC405"),
        (":80\nreverse_proxy a b {\n\tlb_policy cookie\n}\n", "RPC406"),
        (":80\nreverse_proxy a {\n\tlb_policy query k {\n\t\tfallback cookie\n\t}\n}\n", "RPC406"),
        (
            ":80\nreverse_proxy a {\n\ttransport http {\n\t\ttls_insecure_skip_verify\n\t}\n}\n",
            "RPC407",
        ),
        (":80\n@p method POST\nreverse_proxy @p a b {\n\tlb_retries 2\n}\n", "RPC408"),
        ("example.com {\n\trespond hi\n}\n", "RPC411"),
        ("&(x) {\n\theader A b\n\trespond x\n}\n:80 {\n\tinvoke x\n}\n", "RPC414"),
        (
            ":80\nroute {\n\thandle {\n\t\trespond a\n\t}\n\thandle /x* {\n\t\trespond b\n\t}\n}\n",
            "RPC413",
        ),
        (
            ":80\nroute {\n\thandle /a* {\n\t\trespond a\n\t}\n\thandle /ab* {\n\t\trespond b\n\t}\n}\n",
            "RPC413",
        ),
        (":80\n@m remote_ip 10.0.0.300/8\nrespond @m x\n", "RPC303"),
        (":80\nreverse_proxy a {\n\ttrusted_proxies nope\n}\n", "RPC303"),
        (":80\n@m expression `{x} == 1 ? true : false`\nrespond @m x\n", "RPC306"),
        (":80\n@m url_pattern /a/:id\nrespond @m x\n", "RPC304"),
    ],
)
def test_each_code(text: str, code: str) -> None:
    assert code in codes(text)


@pytest.mark.parametrize(
    "text",
    [
        ":80\nhandle /api/* {\n\trespond a\n}\nhandle {\n\trespond b\n}\n",
        ":80\nreverse_proxy a b {\n\tlb_policy cookie lb s3cret\n\tlb_try_duration 5s\n}\n",
        ":80\n@get method GET\nreverse_proxy @get a {\n\tlb_retries 2\n}\n",
        ':80\nrespond "{http.request.host} {http.vars.x} {env.HOME}"\n',
        ':80\nrespond `{"status":"ok"} {a b}`\n',
        ":80\nroute {\n\trespond /x a\n\trespond b\n}\n",
        "example.com {\n\ttls internal\n\trespond hi\n}\nhttp://example.org {\n\trespond hi\n}\n",
        "localhost {\n\trespond hi\n}\n",
        "&(x) {\n\troute {\n\t\theader A b\n\t\trespond x\n\t}\n}\n:80 {\n\tinvoke x\n}\n",
    ],
)
def test_clean_configs_have_no_findings(text: str) -> None:
    assert codes(text) == []
