"""php_fastcgi: the routes `rpc adapt` expands it to, checked against the real caddy,
and its refusal by `rpc compile` (the runtime has no FastCGI client)."""

from __future__ import annotations

import pytest

from rpc.compiler.errors import RpcError
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpctest.oracle import assert_same_as_caddy


def site(*lines: str) -> str:
    return ":80\n" + "\n".join(lines) + "\n"


def php(*sub: str, args: str = "localhost:9000") -> str:
    if not sub:
        return site(f"php_fastcgi {args}")
    body = "\n".join("\t" + ln for ln in sub)
    return site(f"php_fastcgi {args} {{\n{body}\n}}")


CASES = [
    php(),
    php(args="localhost:9000 localhost:9001"),
    php(args="unix//run/php/php-fpm.sock"),
    php(args="/api/* localhost:9000"),
    php(args="* localhost:9000"),
    site("@php host example.com", "php_fastcgi @php localhost:9000"),
    php(args="https://php:9000"),  # Caddy's quirk: an HTTPS upstream replaces the transport
    php(args="h2c://php:9000"),
    php(args=""),  # no upstream: still adapts
    php("root /var/www/html"),
    php("split .php .php5"),
    php("env A 1", 'env B "two words"', "env A 3"),
    php("index index.php5"),
    php("index off"),
    php("index off", "try_files {path} /index.php"),
    php("try_files {path} {path}/index.php =404"),
    php("try_files {path} /index.php"),
    php("try_files {path} {path}/index.php index.php"),
    php("try_files {path} {path}/index.php5", "index index.php5"),
    php("resolve_root_symlink", "capture_stderr"),
    php("resolve_root_symlink extra", "capture_stderr extra"),
    php("dial_timeout 3s", "read_timeout 10s", "write_timeout 1m"),
    php("lb_policy round_robin", "lb_retries 2", "health_uri /ping"),
    php("header_up X-A b", "header_down -Server", "trusted_proxies private_ranges"),
    php("to localhost:9001", "flush_interval -1"),
    php("@err status 5xx", "handle_response @err {", "\trespond oops", "}"),
    php("@err status 404", "replace_status @err 200"),
    php("transport http {", "\tsplit .php", "}", "header_up X-Foo bar"),
    site("route {", "\tphp_fastcgi localhost:9000", "\trespond hi", "}"),
    site("php_fastcgi localhost:9000", "file_server", "encode gzip"),
    site("handle /app/* {", "\troot * /srv/app", "\tphp_fastcgi localhost:9000", "}"),
    site("php_fastcgi /a/* localhost:9000", "php_fastcgi /b/* localhost:9001"),
    # errors caddy reports (rpc too)
    php("root"),
    php("split"),
    php("env A"),
    php("env A b c"),
    php("index"),
    php("index a b"),
    php("try_files"),
    php("dial_timeout"),
    php("read_timeout soon"),
    php("write_timeout 5"),
    php("transport fastcgi"),
    php("transport http"),
    php("header_up X root"),  # caddy reads `root` in an argument as its subdirective
    php("bogus 1"),
    php("lb_policy nope"),
    php("handle_response @missing {", "\trespond x", "}"),
    php(args="ws://php:9000"),
    site("@php host example.com", "php_fastcgi @nope localhost:9000"),
]


@pytest.mark.parametrize("text", CASES)
def test_same_json_as_caddy(text: str, caddy: str) -> None:
    assert_same_as_caddy(text)


@pytest.mark.parametrize(
    "text",
    [
        php(),
        php("index off"),
        php(args="/api/* localhost:9000"),
        site("route {", "\trespond /x hi", "\tphp_fastcgi localhost:9000", "}"),
    ],
)
def test_compile_refuses_it_naming_the_line(text: str) -> None:
    with pytest.raises(RpcError) as err:
        compile_caddyfile(text, "Caddyfile")
    (diag,) = err.value.errors
    assert diag.code == "RPC304"
    assert "no FastCGI client" in diag.message and "php_fastcgi" in diag.message
    assert (
        diag.span is not None
        and diag.span.line
        == text.splitlines().index(next(ln for ln in text.splitlines() if "php_fastcgi" in ln)) + 1
    )
    assert diag.hint and "PHP-FPM" in diag.hint


def test_adapt_shows_the_expanded_routes() -> None:
    result = compile_caddyfile(php("index off"), "Caddyfile", stop_after=Stage.IR, environ={})
    from rpc.compiler.caddyjson import to_caddy_json

    routes = to_caddy_json(result.ir)["apps"]["http"]["servers"]["srv0"]["routes"]
    assert routes == [
        {
            "match": [{"path": ["*.php"]}],
            "handle": [
                {
                    "handler": "reverse_proxy",
                    "transport": {"protocol": "fastcgi", "split_path": [".php"]},
                    "upstreams": [{"dial": "localhost:9000"}],
                }
            ],
        }
    ]


def test_an_error_in_a_subdirective_names_its_line() -> None:
    with pytest.raises(RpcError) as err:
        compile_caddyfile(php("root /srv", "dial_timeout soon"), "Caddyfile", stop_after=Stage.IR)
    (diag,) = err.value.errors
    assert (
        diag.span is not None and diag.span.line == 4 and "bad timeout value soon" in diag.message
    )


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        (php("split"), 2, "Unexpected token '{', expecting argument"),
        (php("root"), 3, "unexpected line ending after 'root'"),
        (php("header_up X root"), 3, "unexpected line ending after 'root'"),
        (php("read_timeout soon"), 3, "bad timeout value soon"),
        (php("transport http"), 3, "transport already specified"),
        (php("bogus 1"), 3, "unrecognized subdirective bogus"),
    ],
)
def test_errors_read_like_caddys(text: str, line: int, fragment: str) -> None:
    with pytest.raises(RpcError) as err:
        compile_caddyfile(text, "Caddyfile", stop_after=Stage.IR, environ={})
    diag = err.value.errors[0]
    assert diag.span is not None and (diag.span.line, fragment in diag.message) == (line, True)
