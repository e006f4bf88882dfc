"""FileServer: status, body and headers for a file tree, checked against caddy; escapes refused."""

from __future__ import annotations

import gzip
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from yarl import URL

from rpctest.handlers import handler_server, run_caddy, site_handlers
from rpctest.procs import free_port

HEADERS = (
    "Content-Type",
    "Content-Length",
    "Etag",
    "Last-Modified",
    "Location",
    "Content-Range",
    "Accept-Ranges",
    "Vary",
    "Content-Encoding",
    "Allow",
)

SITES = {
    "plain": "\tfile_server",
    "hide": "\tfile_server {\n\t\thide secret.txt .secret\n\t\tindex x.txt index.html\n\t}",
    "pre": "\tfile_server {\n\t\tprecompressed gzip br\n\t}",
    "status": "\tfile_server {\n\t\tstatus 203\n\t}",
    "pass": '\troute {\n\t\tfile_server {\n\t\t\tpass_thru\n\t\t}\n\t\trespond "fallback"\n\t}',
    "nocanon": "\tfile_server {\n\t\tdisable_canonical_uris\n\t}",
}

BIG = "big line of text\n" * 200

# (site, method, target, headers)
REQUESTS: list[tuple[str, str, str, dict[str, str]]] = [
    ("plain", "GET", "/", {}),
    ("plain", "GET", "/index.html", {}),
    ("plain", "GET", "/a.txt", {}),
    ("plain", "GET", "/a.txt/", {}),
    ("plain", "GET", "/A.TXT", {}),
    ("plain", "GET", "/sub", {}),
    ("plain", "GET", "/sub?q=1", {}),
    ("plain", "GET", "/sub/", {}),
    ("plain", "GET", "/sub/x.txt", {}),
    ("plain", "GET", "/nodir", {}),
    ("plain", "GET", "/nodir/", {}),
    ("plain", "GET", "/missing", {}),
    ("plain", "GET", "/../a.txt", {}),
    ("plain", "GET", "/%2e%2e/%2e%2e/a.txt", {}),
    ("plain", "GET", "/sub/../a.txt", {}),
    ("plain", "GET", "//a.txt", {}),
    ("plain", "GET", "/b.js", {}),
    ("plain", "GET", "/c.css", {}),
    ("plain", "GET", "/d.json", {}),
    ("plain", "GET", "/e.svg", {}),
    ("plain", "GET", "/f.md", {}),
    ("plain", "GET", "/noext", {}),
    ("plain", "GET", "/%C3%BC.txt", {}),
    ("plain", "GET", "/link_in", {}),
    ("plain", "POST", "/a.txt", {}),
    ("plain", "HEAD", "/a.txt", {}),
    ("plain", "GET", "/big.txt", {"Range": "bytes=0-4"}),
    ("plain", "GET", "/big.txt", {"Range": "bytes=-3"}),
    ("plain", "GET", "/big.txt", {"Range": "bytes=3390-"}),
    ("plain", "GET", "/big.txt", {"Range": "bytes=9999-"}),
    ("plain", "GET", "/big.txt", {"Range": "bytes=abc"}),
    ("plain", "GET", "/big.txt", {"Range": "items=1-2"}),
    ("plain", "GET", "/a.txt", {"If-Modified-Since": "Sun, 01 Jan 2040 00:00:00 GMT"}),
    ("plain", "GET", "/a.txt", {"If-Modified-Since": "Sun, 01 Jan 2000 00:00:00 GMT"}),
    ("plain", "GET", "/a.txt", {"If-None-Match": "*"}),
    ("plain", "GET", "/a.txt", {"If-None-Match": '"nope"'}),
    ("plain", "GET", "/a.txt", {"If-Match": '"nope"'}),
    ("plain", "GET", "/a.txt", {"If-Unmodified-Since": "Sun, 01 Jan 2000 00:00:00 GMT"}),
    ("hide", "GET", "/secret.txt", {}),
    ("hide", "GET", "/.secret", {}),
    ("hide", "GET", "/sub/", {}),
    ("hide", "GET", "/", {}),
    ("pre", "GET", "/big.txt", {"Accept-Encoding": "gzip"}),
    ("pre", "GET", "/big.txt", {"Accept-Encoding": "br;q=0.5, gzip;q=0.4"}),
    ("pre", "GET", "/big.txt", {"Accept-Encoding": "gzip;q=0, zstd"}),
    ("pre", "GET", "/big.txt", {"Accept-Encoding": "gzip", "Range": "bytes=0-3"}),
    ("status", "GET", "/a.txt", {}),
    ("pass", "GET", "/missing", {}),
    ("pass", "GET", "/a.txt", {}),
    ("nocanon", "GET", "/sub", {}),
    ("nocanon", "GET", "/a.txt/", {}),
]


def _tree(root: Path) -> None:
    (root / "sub").mkdir()
    (root / "nodir").mkdir()
    files = {
        "index.html": "<h1>home</h1>",
        "a.txt": "hello",
        "b.js": "let x = 1;",
        "c.css": "a{}",
        "d.json": "{}",
        "e.svg": "<svg/>",
        "f.md": "# md",
        "noext": "raw",
        "ü.txt": "umlaut",
        "secret.txt": "s",
        ".secret": "s",
        "sub/index.html": "<p>sub</p>",
        "sub/x.txt": "x",
        "big.txt": BIG,
    }
    for name, text in files.items():
        (root / name).write_text(text)
    (root / "big.txt.gz").write_bytes(gzip.compress(BIG.encode()))
    (root / "big.txt.br").write_bytes(b"not really brotli")
    os.symlink(root / "a.txt", root / "link_in")
    os.symlink("/etc/hostname", root / "link_out")
    for p in root.rglob("*"):
        os.utime(p, (1_700_000_000.123456789, 1_700_000_000.123456789), follow_symlinks=False)


@pytest.fixture(scope="module")
def site_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("files") / "www"
    root.mkdir()
    _tree(root)
    return root


@pytest.fixture(scope="module")
def caddy_port(
    caddy: str, site_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    port = free_port()
    text = "".join(
        f"http://{name}.test:{port} {{\n\troot * {site_root}\n{body}\n}}\n"
        for name, body in SITES.items()
    )
    with run_caddy(tmp_path_factory.mktemp("fileserver"), text, port):
        yield port


@pytest.fixture
async def ours(site_root: Path) -> AsyncIterator[dict[str, int]]:
    servers = {}
    for name, body in SITES.items():
        server = handler_server(site_handlers(body, root=str(site_root)))
        await server.start_server()
        servers[name] = server
    yield {name: s.port for name, s in servers.items()}  # type: ignore[misc]
    for s in servers.values():
        await s.close()


async def _fetch(port: int, site: str, method: str, target: str, headers: dict[str, str]) -> Any:
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        url = URL(f"http://127.0.0.1:{port}{target}", encoded=True)
        async with session.request(
            method,
            url,
            headers={"Host": f"{site}.test", **headers},
            allow_redirects=False,
            skip_auto_headers=("Accept-Encoding", "User-Agent"),
        ) as resp:
            body = await resp.read()
            picked = {h: resp.headers.getall(h, None) for h in HEADERS}
            return resp.status, picked, body


@pytest.mark.caddy
@pytest.mark.parametrize("req", REQUESTS, ids=[f"{s}-{m}-{t}-{h}" for s, m, t, h in REQUESTS])
async def test_file_server_matches_caddy(
    caddy_port: int, ours: dict[str, int], req: tuple[str, str, str, dict[str, str]]
) -> None:
    site, method, target, headers = req
    want = await _fetch(caddy_port, site, method, target, headers)
    got = await _fetch(ours[site], site, method, target, headers)
    assert got == want


async def test_symlink_out_of_root_is_missing(ours: dict[str, int]) -> None:
    status, _, body = await _fetch(ours["plain"], "plain", "GET", "/link_out", {})
    assert status == 404 and body == b""
    status, _, body = await _fetch(ours["plain"], "plain", "GET", "/link_in", {})
    assert (status, body) == (200, b"hello")
