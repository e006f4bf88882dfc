"""Rewrite (rewrite, uri, method): the request line after rewriting, checked against caddy."""

from __future__ import annotations

import http.client
from collections.abc import Iterator

import pytest

from rpc.runtime.rewrite import Rewrite
from rpctest.handlers import mock_ctx, run_caddy, site_handlers
from rpctest.procs import free_port

# (directive lines, method, target, headers)
CASES: list[tuple[str, str, str, dict[str, str]]] = [
    ("rewrite /foo", "GET", "/bar?x=1", {}),
    ("rewrite /foo?a=b", "GET", "/bar?x=1", {}),
    ("rewrite ?a=b", "GET", "/bar?x=1", {}),
    ("rewrite /foo?", "GET", "/bar?x=1", {}),
    ("rewrite * /x{path}", "GET", "/a%20b/c?q", {}),
    ("rewrite * /x{uri}", "GET", "/a%2Fb/c?q=1", {}),
    ("rewrite * /new?{query}&z=1", "GET", "/p?a=1&b=%20", {}),
    ("rewrite * /a%20b", "GET", "/p", {}),
    ("rewrite * /p?q={http.request.header.X}", "GET", "/", {"X": "a b&c=d"}),
    ("rewrite * {http.request.header.X}", "GET", "/orig?keep=1", {"X": "/hdr?inj=1&b={path}"}),
    ("rewrite * /{http.request.header.X}", "GET", "/", {"X": "a?"}),
    ("rewrite * /k?{http.request.header.X}=v", "GET", "/", {"X": "k y"}),
    ("rewrite * /m?a=b=c&&d", "GET", "/", {}),
    ("rewrite * /f#frag", "GET", "/x?y", {}),
    ("uri strip_prefix /api", "GET", "/api/v1?x", {}),
    ("uri strip_prefix /api", "GET", "/API/v1", {}),
    ("uri strip_prefix /api", "GET", "/apix", {}),
    ("uri strip_prefix api/", "GET", "/api/x", {}),
    ("uri strip_prefix /a/b", "GET", "/a%2Fb/c", {}),
    ("uri strip_prefix /a%2Fb", "GET", "/a%2Fb/c", {}),
    ("uri strip_prefix /a%2Fb", "GET", "/a/b/c", {}),
    ("uri strip_prefix /api", "GET", "//api/../api/x", {}),
    ("uri strip_suffix .html", "GET", "/a.HTML", {}),
    ("uri strip_prefix /{http.request.header.X}", "GET", "/abc/d", {"X": "abc"}),
    ("uri strip_suffix {http.request.header.X}", "GET", "/d.abc", {"X": ".abc"}),
    ("uri strip_suffix /", "GET", "/dir/", {}),
    ("uri replace foo bar", "GET", "/foo/foo?x=foo", {}),
    ("uri replace foo bar 1", "GET", "/foo/foo?x=foo", {}),
    ("uri replace / //", "GET", "/a/b", {}),
    ("uri path_regexp ^/(\\w+)/(.*)$ /$2/$1", "GET", "/one/two/three", {}),
    ("uri path_regexp \\.php$ .html", "GET", "/a.php?x", {}),
    ("uri path_regexp a ${1}x$$", "GET", "/banana", {}),
    ("uri query +a 1", "GET", "/?a=0&b=2", {}),
    ("uri query -b", "GET", "/?a=0&b=2&b=3", {}),
    ("uri query a>c", "GET", "/?a=0&b=2", {}),
    ("uri query a x", "GET", "/?a=0&a=1&b=2", {}),
    ("uri query a ^(.*)$ v$1", "GET", "/?a=0&a=1&b=2", {}),
    ("uri query * 0 z", "GET", "/?a=0&b=10", {}),
    (
        "uri query {\n\t\t+n {http.request.header.X}\n\t\t-b\n\t\tz>y\n\t}",
        "GET",
        "/?b=1&z=2",
        {"X": "h v"},
    ),
    ("uri query -nothing", "GET", "/?b=1;c=2&a=%zz&d=+x", {}),
    ("method post", "GET", "/", {}),
    ("method {http.request.header.X}", "GET", "/", {"X": "patch"}),
]


def _site(i: int, port: int, lines: str) -> str:
    return (
        f"http://c{i}.test:{port} {{\n\t{lines}\n"
        '\trespond "{method} {uri}|{path}|{query}"\n}\n'
    )


@pytest.fixture(scope="module")
def caddy_port(caddy: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    text = "".join(_site(i, port, c[0]) for i, c in enumerate(CASES))
    with run_caddy(tmp_path_factory.mktemp("rewrite"), text, port):
        yield port


def _caddy_answer(port: int, i: int, method: str, target: str, headers: dict[str, str]) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, target, headers={"Host": f"c{i}.test", **headers})
        return conn.getresponse().read().decode()
    finally:
        conn.close()


async def _our_answer(lines: str, method: str, target: str, headers: dict[str, str]) -> str:
    (handler,) = site_handlers("\t" + lines)
    assert isinstance(handler, Rewrite)
    ctx = mock_ctx(target, method, headers)
    assert await handler(ctx) is None
    return f"{ctx.method} {ctx.uri}|{ctx.path}|{ctx.query}"


@pytest.mark.caddy
@pytest.mark.parametrize("i", range(len(CASES)), ids=[c[0] + " " + c[2] for c in CASES])
async def test_rewrite_matches_caddy(caddy_port: int, i: int) -> None:
    lines, method, target, headers = CASES[i]
    want = _caddy_answer(caddy_port, i, method, target, headers)
    assert await _our_answer(lines, method, target, headers) == want


async def test_rewrite_keeps_raw_path_a_valid_escaping() -> None:
    (handler,) = site_handlers("\turi strip_prefix /a")
    ctx = mock_ctx("/a/b%2Fc%3F?x=1")
    await handler(ctx)
    assert (ctx.path, ctx.raw_path, ctx.query) == ("/b/c?", "/b%2Fc%3F", "x=1")
