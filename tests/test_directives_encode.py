"""encode: formats, encoder options, minimum_length, match; checked against the real caddy."""

from __future__ import annotations

import pytest

from rpc.compiler.ir.handlers import ENCODE_DEFAULT_CONTENT_TYPES
from rpctest.lowering import adapt_error, handlers
from rpctest.oracle import assert_same_as_caddy


def site(*lines: str) -> str:
    return ":80\n" + "\n".join(lines) + "\n"


CASES = [
    site("encode"),
    site("encode gzip"),
    site("encode zstd gzip"),
    site("encode gzip zstd"),
    site("encode gzip gzip"),
    site("encode /x zstd {\n\tgzip\n}"),
    site("encode gzip {\n\tgzip 3\n}"),
    site("encode {\n\tgzip\n\tgzip 4\n}"),
    site("encode {\n\tzstd {\n\t\tdisable_checksum\n\t}\n\tgzip 5\n}"),
    site("encode {\n\tzstd better\n\tgzip 9\n\tminimum_length 100\n}"),
    site("encode {\n\tzstd fastest {\n\t\tdisable_checksum\n\t}\n}"),
    site("encode {\n\tzstd best\n}"),
    site("encode {\n\tzstd default\n}"),
    site("encode {\n\tzstd bogus\n}"),
    site("encode {\n\tzstd 3\n}"),
    site("encode {\n\tzstd {\n\t\tbogus\n\t}\n}"),
    site("encode {\n\tgzip x\n}"),
    site("encode {\n\tgzip 1 2\n}"),
    site("encode {\n\tgzip 10\n}"),
    site("encode {\n\tgzip -1\n}"),
    site("encode {\n\tbogus\n}"),
    site("encode br"),
    site("encode gzip 5"),
    site("encode {\n\tminimum_length\n}"),
    site("encode {\n\tminimum_length x\n}"),
    site("encode {\n\tminimum_length 0\n}"),
    # response matchers
    site("encode {\n\tmatch header Content-Type text/*\n}"),
    site("encode {\n\tmatch status 2xx 404\n}"),
    site("encode {\n\tmatch {\n\t\tstatus 2xx\n\t}\n}"),
    site(
        "encode gzip zstd {\n\tminimum_length 256\n\tmatch {\n\t\tstatus 2xx 4xx 500\n"
        "\t\theader Content-Type text/*\n\t\theader Content-Type application/json*\n"
        "\t\theader content-type image/svg+xml*\n\t}\n}"
    ),
    site("encode {\n\tmatch {\n\t\theader !Content-Encoding\n\t\theader X a\n\t}\n}"),
    site("encode {\n\tmatch status 200\n\tmatch header Foo\n}"),
    site("encode {\n\tmatch {\n\t\tbogus\n\t}\n}"),
    site("encode {\n\tmatch {\n\t\tstatus\n\t}\n}"),
    site("encode {\n\tmatch {\n\t\tstatus abc\n\t}\n}"),
    site("encode {\n\tmatch {\n\t\theader Foo\n\t}\n}"),
    site("encode {\n\tmatch\n}"),
    site("@m path *.js", "encode @m"),
]


@pytest.mark.parametrize("text", CASES)
def test_same_json_as_caddy(text: str, caddy: str) -> None:
    assert_same_as_caddy(text)


def test_defaults_are_zstd_then_gzip_and_match_is_left_to_the_runtime() -> None:
    (h,) = handlers("\tencode")
    assert h == {
        "handler": "encode",
        "encodings": {"zstd": {}, "gzip": {}},
        "prefer": ["zstd", "gzip"],
    }
    assert "text/*" in ENCODE_DEFAULT_CONTENT_TYPES
    assert (
        "font/ttf*" in ENCODE_DEFAULT_CONTENT_TYPES and "font/*" not in ENCODE_DEFAULT_CONTENT_TYPES
    )


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        ("encode br", "RPC301", "module not registered: http.encoders.br"),
        ("encode {\n\tbogus\n}", "RPC301", "module not registered: http.encoders.bogus"),
        ("encode {\n\tzstd 3\n}", "RPC303", "unexpected compression level"),
        ("encode {\n\tgzip x\n}", "RPC303", 'strconv.Atoi: parsing "x": invalid syntax'),
        ("encode {\n\tmatch status 200\n\tmatch status 404\n}", "RPC307", "defined more than once"),
    ],
)
def test_errors_name_the_problem(body: str, code: str, fragment: str) -> None:
    diag = adapt_error(site(body))
    assert (diag.code, fragment in diag.message) == (code, True)
