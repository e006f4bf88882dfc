"""Vars and Map: variables and mapped placeholders as responses show them, checked against caddy."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import pytest

from rpctest.handlers import body_of, mock_ctx, run_caddy, serve, site_handlers
from rpctest.procs import free_port

MAP = """\
	map {path} {a} {b} {c} {d} {
		~^/re/(?P<w>\\w+)$ "r-$1-${w}-{path}" 7 1.5 true
		/lit "l-{path}{nope}" - 1e21 false
		/null - - - -
		~^/late "never" late - -
		default "d-{path}" dd 3 4
	}
	vars x 5
	vars y 2.50
	vars z {a}
	vars s "007"
	respond "a={a} b={b} c={c} d={d} unk={nope} z={vars.z} x={vars.x} y={vars.y} s={vars.s}"
"""

MAP_NO_DEFAULT = """\
	map {http.request.header.X} {out} {
		yes 1
		~^(n)o$ "$1$1$2"
	}
	respond "out=[{out}] h={http.request.header.X}"
"""

MAP_LAZY = """\
	map {path} {seen} {
		/after after
		default other
	}
	rewrite * /after
	respond "{seen}"
"""

VARS_BLOCK = """\
	vars {
		one "1"
		two 2
		t true
		empty ""
	}
	respond "{vars.one}|{vars.two}|{vars.t}|{vars.empty}|{vars.missing}|{http.vars.two}"
"""

SITES = {"map": MAP, "nodefault": MAP_NO_DEFAULT, "lazy": MAP_LAZY, "vars": VARS_BLOCK}

REQUESTS: list[tuple[str, str, dict[str, str]]] = [
    ("map", "/re/abc", {}),
    ("map", "/lit", {}),
    ("map", "/null", {}),
    ("map", "/late", {}),
    ("map", "/other", {}),
    ("nodefault", "/", {"X": "yes"}),
    ("nodefault", "/", {"X": "no"}),
    ("nodefault", "/", {"X": "maybe"}),
    ("nodefault", "/", {}),
    ("lazy", "/before", {}),
    ("vars", "/", {}),
]


@pytest.fixture(scope="module")
def caddy_port(caddy: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    text = "".join(f"http://{name}.test:{port} {{\n{body}}}\n" for name, body in SITES.items())
    with run_caddy(tmp_path_factory.mktemp("vars"), text, port):
        yield port


def _caddy_answer(port: int, site: str, target: str, headers: dict[str, str]) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", target, headers={"Host": f"{site}.test", **headers})
        return conn.getresponse().read().decode()
    finally:
        conn.close()


@pytest.mark.caddy
@pytest.mark.parametrize("req", REQUESTS, ids=[f"{s}{t}-{h}" for s, t, h in REQUESTS])
async def test_vars_and_map_match_caddy(
    caddy_port: int, req: tuple[str, str, dict[str, str]]
) -> None:
    site, target, headers = req
    want = _caddy_answer(caddy_port, site, target, headers)
    resp = await serve(site_handlers(SITES[site]), mock_ctx(target, headers=headers))
    assert body_of(resp).decode() == want


async def test_vars_keep_types_and_map_is_lazy() -> None:
    vars_h, *_ = site_handlers(VARS_BLOCK)
    ctx = mock_ctx()
    await vars_h(ctx)
    assert ctx.vars == {"one": "1", "two": 2, "t": True, "empty": ""}
    map_h, rewrite_h, _ = site_handlers(MAP_LAZY)
    ctx = mock_ctx("/before")
    await map_h(ctx)
    await rewrite_h(ctx)
    assert ctx.extra["seen"].get(ctx) == "after"


async def test_variable_names_expand_placeholders() -> None:
    (vars_h,) = site_handlers('\tvars "k-{http.request.header.X}" v')
    ctx = mock_ctx(headers={"X": "1"})
    await vars_h(ctx)
    assert ctx.vars == {"k-1": "v"}
