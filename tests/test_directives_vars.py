"""vars and map: typed values, sorting, mappings; checked against the real caddy."""

from __future__ import annotations

import pytest

from rpc.compiler.ir.base import Text
from rpc.compiler.ir.handlers import MapHandler, Vars
from rpc.compiler.pipeline import Stage, compile_caddyfile
from rpctest.lowering import adapt_error, handlers
from rpctest.oracle import assert_same_as_caddy


def site(*lines: str) -> str:
    return ":80\n" + "\n".join(lines) + "\n"


CASES = [
    # vars: one line, a block, both; typed scalars
    site("vars foo bar"),
    site('vars {\n\tabc true\n\tdef 1\n\tghi 2.3\n\tjkl "mn op"\n}'),
    site("vars a 1 {\n\tb 2\n}"),
    site("vars"),
    site("vars {\n}"),
    site("vars a"),
    site("vars a b c"),
    site("vars {\n\ta\n}"),
    site("vars {\n\ta b c\n}"),
    site("vars handler x"),
    site("vars a {path} {\n\tb {query}\n}"),
    site('vars n "1"'),
    site("vars n `2`"),
    site("vars f 1e5", "vars g 1_000", "vars h 0x10", "vars i +5", "vars j .5"),
    site("vars k 1.", "vars l t", "vars m TRUE", "vars o -0", "vars p 1E3", "vars q F"),
    site("vars big 99999999999999999999"),
    site("vars neg -12", "vars tiny 0.000001", "vars small 1e-7", "vars huge 1e21"),
    site("vars e 0x1p-2", "vars f 1_0.5", "vars g 0b101", "vars h 0o17", "vars i 1e400"),
    site("vars a 1__0", "vars b _1", "vars c 1_", "vars d 0x_1p0", "vars e 1_e5", "vars f ١٢"),
    site("vars a x", "vars a y"),
    site("vars {\n\ta x\n\ta y\n}"),
    # vars sorting: least specific first, so the most specific runs last
    site(
        "vars /foobar foo last", "vars /foo foo middle-last", "vars /foo* foo m", "vars * foo first"
    ),
    site("@m method GET", "vars @m a b", "vars c d"),
    site("vars @nope a b"),
    # map
    site("map {host} {a} {\n\texample.com x\n\tdefault y\n}"),
    site('map {host} {a} {b} {\n\texample.com true 3\n\tfoo.example.com "s v"\n}'),
    site('map {host} {a} {b} {\n\t(.*)\\.example.com "${1} sub" "5"\n}'),
    site('map {host} {a} {b} {\n\t~.*\\.net$ - `7`\n\t~.*\\.xyz$ 123.456 "false"\n}'),
    site('map {host} {a} {b} {\n\tdefault "unknown domain" \\"""\n}'),
    site("map {host} {a} {\n\tdefault\n}"),
    site("map {host} {a} {b} {\n\tdefault x\n}"),
    site("map {host} {a} {\n\tdefault x\n\tdefault y\n}"),
    site("map {host} {a} {\n\tx 1 2\n}"),
    site("map {host} {a} {\n\tx\n}"),
    site('map {host} {a} {\n\tx "-"\n}'),
    site("map {host} {a}"),
    site("map {host}"),
    site('map "" {a}'),
    site("map"),
    site("map {host} {path}"),
    site("map {host} http.request.host x"),
    site("map {host} {upstream_hostport}"),
    site("map {host} {remote_host}"),
    site("map /api* {path} {x} {\n\t/api/v1 a\n}"),
    site('map {http.request.header.X} {a} {\n\t~^(\\d+)$ $1\n\t"default" z\n}'),
    site("map {host} {a} {\n\tone 1 {\n\t}\n}"),
    site("map {host} {a} {\n\tx 1e5\n\ty 2.50\n\tz yes\n}"),
    # map + reverse_proxy, as in Caddy's corpus
    site(
        "map {host} {upstream} {\n\tfoo.example.com 1.2.3.4\n\tdefault 2.3.4.5\n}",
        "reverse_proxy {upstream}:80",
    ),
]


@pytest.mark.parametrize("text", CASES)
def test_same_json_as_caddy(text: str, caddy: str) -> None:
    assert_same_as_caddy(text)


def _handler(text: str) -> object:
    result = compile_caddyfile(text, "Caddyfile", stop_after=Stage.IR, environ={})
    assert result.ir.http is not None
    (server,) = result.ir.http.servers
    return server.routes[0].handle[0]


def test_vars_values_are_typed() -> None:
    h = _handler(site('vars {\n\ta 1\n\tb 2.5\n\tc true\n\td "1"\n\te {path}\n}'))
    assert isinstance(h, Vars)
    values = dict(h.values)
    assert values["a"] == 1 and values["b"] == 2.5 and values["c"] is True
    assert isinstance(values["d"], Text) and values["d"].raw == "1"
    assert isinstance(values["e"], Text) and values["e"].placeholders


def test_map_outputs_are_typed_and_dash_is_null() -> None:
    h = _handler(site('map {host} {a} {b} {c} {\n\tx 1 - "-"\n\t~y z\n}'))
    assert isinstance(h, MapHandler)
    first, second = h.mappings
    assert first.input == "x" and first.outputs == (1, None, None)
    assert second.input_regexp == "y" and second.outputs[1:] == (None, None)


def test_whole_floats_print_like_go() -> None:
    assert handlers("\tvars x 1e5") == [{"handler": "vars", "x": 100000}]


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        ("vars a", "RPC302", "wrong argument count or unexpected line ending after 'a'"),
        ("map {host}", "RPC302", "missing destination argument(s)"),
        (
            "map {host} {path}",
            "RPC303",
            "destination {path} conflicts with a Caddyfile placeholder",
        ),
        ("map {host} {a} {\n\tx 1 2\n}", "RPC302", "too many outputs"),
        ("map {host} {a} {\n\tdefault x\n\tdefault y\n}", "RPC307", "defaults already defined"),
    ],
)
def test_errors_name_the_problem(body: str, code: str, fragment: str) -> None:
    diag = adapt_error(site(body))
    assert (diag.code, fragment in diag.message) == (code, True)
    assert diag.hint


@pytest.mark.parametrize("value", ["NaN", "inf", "-Infinity"])
def test_nan_and_infinity_are_refused(value: str) -> None:
    # Caddy writes a `null` handler for these (json: unsupported value) and then cannot load it.
    diag = adapt_error(site(f"vars x {value}"))
    assert "unsupported value" in diag.message
    assert diag.hint is not None and f'"{value}"' in diag.hint
