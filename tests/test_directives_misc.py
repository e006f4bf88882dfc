"""request_body, log_skip, log_append, log_name, metrics, copy_response(_headers), and the
directives rpc leaves unsupported: Caddy's JSON checked against the real caddy."""

from __future__ import annotations

import pytest

from rpc.compiler.directives.misc import parse_bytes
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpctest.lowering import adapt_error, handlers
from rpctest.oracle import assert_same_as_caddy


def site(*lines: str) -> str:
    return ":80\n" + "\n".join(lines) + "\n"


def in_proxy(*lines: str) -> str:
    body = "\n".join("\t\t" + ln for ln in lines)
    return site(
        f"reverse_proxy app:80 {{\n\t@err status 5xx\n\thandle_response @err {{\n{body}\n\t}}\n}}"
    )


CASES = [
    # reverse_proxy's fastcgi transport: adapted (rpc check sees it), refused by `rpc compile`
    site(
        "reverse_proxy 127.0.0.1:9000 {\n\ttransport fastcgi {\n\t\troot /var/www\n"
        '\t\tsplit .php .php5\n\t\tenv A 1\n\t\tenv B "two words"\n\t\tenv A 3\n'
        "\t\tresolve_root_symlink\n\t\tdial_timeout 3s\n\t\tread_timeout 1m\n"
        "\t\twrite_timeout 500ms\n\t\tcapture_stderr\n\t}\n}"
    ),
    site("reverse_proxy h {\n\ttransport fastcgi {\n\t\tsplit\n\t}\n}"),
    site("reverse_proxy h {\n\ttransport fastcgi {\n\t\tenv A\n\t}\n}"),
    site("reverse_proxy h {\n\ttransport fastcgi {\n\t\tcapture_stderr yes\n\t}\n}"),
    site("reverse_proxy h {\n\ttransport fastcgi {\n\t\tread_timeout soon\n\t}\n}"),
    site("reverse_proxy h {\n\ttransport fastcgi {\n\t\tbogus 1\n\t}\n}"),
    site("reverse_proxy h {\n\ttransport fastcgi\n}"),
    # request_body
    site("request_body {\n\tmax_size 1MB\n}"),
    site("request_body /upload* {\n\tmax_size 10MiB\n}"),
    site("request_body {\n\tmax_size 1,000\n}"),
    site("request_body {\n\tmax_size 1.5kb\n}"),
    site("request_body {\n\tmax_size 5 XB\n}"),
    site('request_body {\n\tmax_size "5 kb"\n}'),
    site('request_body {\n\tmax_size "5 XB"\n}'),
    site('request_body {\n\tmax_size " 5"\n}'),
    site("request_body {\n\tmax_size xyz\n}"),
    site("request_body {\n\tmax_size -1\n}"),
    site("request_body {\n\tmax_size 1 2\n}"),
    site("request_body {\n\tmax_size\n}"),
    site("request_body {\n\tmax_size 1e3\n}"),
    site("request_body {\n\tmax_size .5k\n}"),
    site("request_body {\n\tset foo\n}"),
    site('request_body {\n\tset "hello {path}"\n\tmax_size 100\n}'),
    site("request_body {\n\tset\n}"),
    site("request_body {\n\tset a b\n}"),
    site("request_body {\n\tread_timeout 5s\n}"),
    site("request_body {\n\tbogus\n}"),
    site("request_body"),
    site("request_body extra"),
    # log_skip / skip_log
    site("log_skip"),
    site("log_skip /health"),
    site("skip_log /x"),
    site("log_skip a b"),
    site("log_skip {\n}"),
    site("log_skip {\n\tx\n}"),
    site("log_skip /b* {\n\t0 {\n\t}\n}"),
    site("@static path *.css", "log_skip @static"),
    # log_append
    site("log_append k v"),
    site("log_append /p k {path}"),
    site("log_append k"),
    site("log_append"),
    site("log_append k v w"),
    site("log_append <k v"),
    site("log_append < v"),
    site("log_append <<k v"),
    site('log_append k ""'),
    site('log_append "" v'),
    site("log_append k v {\n\tx\n}"),
    site("log_append k {unknown.thing}"),
    # log_name
    site("log_name a b"),
    site("log_name"),
    site("log_name /x a"),
    site("log_name a {\n\tx\n}"),
    # metrics
    site("metrics"),
    site("metrics /metrics"),
    site("metrics /m {\n\tdisable_openmetrics\n}"),
    site("metrics {\n\tbogus\n}"),
    site("metrics x"),
    site("metrics x y"),
    site("metrics {\n\tdisable_openmetrics x\n}"),
    # copy_response, copy_response_headers (in handle_response, and anywhere)
    in_proxy("copy_response"),
    in_proxy("copy_response 404"),
    in_proxy("copy_response /x 404"),
    in_proxy("copy_response {", "\tstatus 500", "}"),
    in_proxy("copy_response 404 {", "\tstatus 500", "}"),
    in_proxy("copy_response a b"),
    in_proxy("copy_response abc"),
    in_proxy("copy_response 0"),
    in_proxy("copy_response {status}"),
    in_proxy("copy_response {", "\tstatus", "}"),
    in_proxy("copy_response {", "\tbogus", "}"),
    in_proxy("copy_response_headers", "copy_response"),
    in_proxy("copy_response_headers {", "\tinclude A b", "\texclude C", "}", "copy_response"),
    in_proxy("copy_response_headers /x {", "\tinclude", "}"),
    in_proxy("copy_response_headers x"),
    in_proxy("copy_response_headers {", "\tbogus", "}"),
    site("route {\n\tcopy_response 404\n\tcopy_response_headers {\n\t\texclude X\n\t}\n}"),
    site("copy_response"),
]


@pytest.mark.parametrize("text", CASES)
def test_same_json_as_caddy(text: str, caddy: str) -> None:
    assert_same_as_caddy(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1MB", 10**6),
        ("1MiB", 2**20),
        ("1,000", 1000),
        ("1.5kb", 1500),
        ("5 kb", 5000),
        ("512", 512),
    ],
)
def test_parse_bytes(text: str, size: int) -> None:
    assert parse_bytes(text) == size


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("xyz", 'strconv.ParseFloat: parsing "": invalid syntax'),
        ("-1", 'strconv.ParseFloat: parsing "": invalid syntax'),
        ("5 XB", "unhandled size name: xb"),
    ],
)
def test_parse_bytes_errors_read_like_go(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_bytes(text)


def test_log_skip_and_log_name_set_the_access_log_variables() -> None:
    assert handlers("\tlog_skip") == [{"handler": "vars", "log_skip": True}]
    assert handlers("\tlog_name") == [{"handler": "vars", "access_logger_names": None}]


def test_skip_log_is_deprecated_with_a_warning() -> None:
    result = compile_caddyfile(site("skip_log"), "Caddyfile", stop_after=Stage.IR, environ={})
    assert any("'skip_log' directive is deprecated" in w.message for w in result.diagnostics)


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        ("request_body {\n\tmax_size xyz\n}", "RPC303", "parsing max_size: strconv.ParseFloat"),
        ("request_body {\n\tbogus\n}", "RPC301", "unrecognized request_body subdirective 'bogus'"),
        ("log_append k", "RPC302", "wrong argument count or unexpected line ending after 'k'"),
        ("metrics {\n\tbogus\n}", "RPC301", 'unrecognized subdirective "bogus"'),
        ("copy_response {\n\tbogus\n}", "RPC301", "unrecognized subdirective 'bogus'"),
        ("copy_response_headers x", "RPC302", "wrong argument count"),
    ],
)
def test_errors_name_the_problem(body: str, code: str, fragment: str) -> None:
    diag = adapt_error(site(body))
    assert (diag.code, fragment in diag.message) == (code, True)
    assert diag.hint


# Directives a standard Caddy has that rpc does not implement: refused by name.
UNSUPPORTED = [
    "templates",
    "push",
    "tracing",
    "fs myfs",
    "acme_server",
    "timeouts 5s",
]


@pytest.mark.parametrize("body", UNSUPPORTED)
def test_unsupported_directives_are_refused_by_name(body: str) -> None:
    diag = adapt_error(site(body))
    assert diag.code == "RPC304" and body.split()[0] in diag.message
