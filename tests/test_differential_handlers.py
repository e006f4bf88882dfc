"""rewrite, uri, vars, map, encode, file_server, try_files, basic_auth: compiled app vs caddy.

Each scenario is one Caddyfile served by the real caddy and by rpc's compiled
app; every request goes to both and status, headers and body must agree.
Compressed bodies are compared after decompression (gzip and zstd streams
from Go and Python differ byte-wise but not in content).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
import zstandard

from rpctest.differential import Exchange, assert_same, serve_both

pytestmark = pytest.mark.usefixtures("caddy")

Request = tuple[str, str, dict[str, str]]

# `caddy hash-password --plaintext secret` with cost 4 (fast)
BCRYPT = "$2a$04$JdF9pmItP5Q5C2ZwkTfW2e.9R7nYLfwJ7kBp/wX08q5EoyH2Nx5vC"
BASIC_BOB = "Basic Ym9iOnNlY3JldA=="  # bob:secret
BIG = "encode me please " * 100

SCENARIOS: dict[str, tuple[str, list[Request]]] = {
    "rewrite_uri_method": (
        """
        :@PORT@ {
            @old path /old/*
            rewrite @old /new{path}?{query}&r=1
            @q path /q
            uri @q query {
                +add {http.request.header.X}
                -drop
                ren>amed
            }
            handle_path /api/* {
                respond "api {uri}"
            }
            handle /strip/* {
                uri strip_prefix /strip
                uri replace a A 1
                respond "strip {uri} {path}"
            }
            @m path /m
            method @m put
            respond "{method} {uri} | {http.request.orig_uri}"
        }
        """,
        [
            ("GET", "/old/x%20y?k=v", {}),
            ("GET", "/q?drop=1&ren=2&keep=%2F", {"X": "a b"}),
            ("GET", "/api/v1/users?x", {}),
            ("GET", "/API/v1", {}),
            ("GET", "/api", {}),
            ("GET", "/strip/banana?a=a", {}),
            ("GET", "/m", {}),
            ("GET", "/other", {}),
        ],
    ),
    "vars_map": (
        """
        :@PORT@ {
            map {http.request.header.X-Tier} {backend} {weight} {
                gold    g-{path}  10
                ~^s(.*)$  "s-$1"  -
                default   d       1
            }
            vars {
                n 42
                name "{backend}"
            }
            @gold vars {backend} g-/v
            respond @gold "gold {weight}"
            @num vars n 42
            respond @num "n={vars.n} name={vars.name} w={weight}"
        }
        """,
        [
            ("GET", "/v", {"X-Tier": "gold"}),
            ("GET", "/w", {"X-Tier": "gold"}),
            ("GET", "/w", {"X-Tier": "silver"}),
            ("GET", "/w", {}),
        ],
    ),
    "basic_auth": (
        f"""
        :@PORT@ {{
            basic_auth /private/* bcrypt "Area 51" {{
                bob {BCRYPT}
            }}
            respond "user={{http.auth.user.id}}"
        }}
        """,
        [
            ("GET", "/private/x", {}),
            ("GET", "/private/x", {"Authorization": BASIC_BOB}),
            ("GET", "/private/x", {"Authorization": "Basic Ym9iOndyb25n"}),
            ("GET", "/public", {}),
        ],
    ),
}

FILE_SCENARIOS: dict[str, tuple[str, list[Request]]] = {
    "file_server": (
        """
        :@PORT@ {
            root * @ROOT@
            file_server {
                hide .git
            }
        }
        """,
        [
            ("GET", "/", {}),
            ("GET", "/a.txt", {}),
            ("GET", "/sub", {}),
            ("GET", "/sub/", {}),
            ("GET", "/.git/config", {}),
            ("GET", "/../../etc/passwd", {}),
            ("GET", "/missing", {}),
            ("HEAD", "/a.txt", {}),
            ("GET", "/a.txt", {"Range": "bytes=1-2"}),
            ("GET", "/big.txt", {"Range": "bytes=0-4, 10-14,-3"}),
            ("HEAD", "/big.txt", {"Range": "bytes=0-4, 10-14"}),
            ("GET", "/big.txt", {"Range": "bytes=0-1000,0-1000"}),
            ("DELETE", "/a.txt", {}),
        ],
    ),
    "try_files": (
        """
        :@PORT@ {
            root * @ROOT@
            try_files {path} {path}/ /index.html
            file_server
        }
        """,
        [
            ("GET", "/a.txt", {}),
            ("GET", "/sub", {}),
            ("GET", "/nothing/here", {}),
            ("GET", "/sub/x.txt?q=1", {}),
        ],
    ),
    "file_matcher": (
        """
        :@PORT@ {
            root * @ROOT@
            route /teapot/* {
                @t file {path} =418
                respond @t "found"
            }
            @big file {
                try_files {path}.txt {path}
                try_policy largest_size
            }
            respond @big "{http.matchers.file.relative} {http.matchers.file.type}"
            @php file {
                try_files {path} index.php
                split_path .php
            }
            respond @php "php {http.matchers.file.relative} rest={http.matchers.file.remainder}"
            respond "none"
        }
        """,
        [
            ("GET", "/a", {}),
            ("GET", "/index.php/extra/path", {}),
            ("GET", "/nope", {}),
            ("GET", "/teapot/a.txt", {}),
            ("GET", "/teapot/missing", {}),
        ],
    ),
    "encode": (
        """
        :@PORT@ {
            root * @ROOT@
            encode zstd gzip
            respond /small "tiny"
            respond /big "@BIG@"
            respond /img "@BIG@" {
                close
            }
            file_server
        }
        """,
        [
            ("GET", "/big", {"Accept-Encoding": "gzip"}),
            ("GET", "/big", {"Accept-Encoding": "zstd, gzip"}),
            ("GET", "/big", {"Accept-Encoding": "gzip;q=1, zstd;q=0.5"}),
            ("GET", "/big", {"Accept-Encoding": "br"}),
            ("GET", "/big", {}),
            ("GET", "/small", {"Accept-Encoding": "gzip"}),
            ("GET", "/big.txt", {"Accept-Encoding": "gzip"}),
            ("GET", "/big.txt", {"Accept-Encoding": "gzip", "Range": "bytes=0-9"}),
            ("GET", "/big", {"Accept-Encoding": "gzip", "Cache-Control": "no-transform"}),
            ("HEAD", "/big", {"Accept-Encoding": "gzip"}),
            ("HEAD", "/big.txt", {"Accept-Encoding": "gzip"}),
            ("GET", "/big.txt", {"Accept-Encoding": "gzip", "Range": "bytes=0-999"}),
            ("GET", "/big.txt", {"Accept-Encoding": "gzip", "If-None-Match": '"x"'}),
            ("GET", "/missing", {"Accept-Encoding": "gzip"}),
        ],
    ),
    "encode_match": (
        """
        :@PORT@ {
            root * @ROOT@
            encode gzip {
                minimum_length 4
                match {
                    header Content-Type text/html*
                    status 2xx 404
                }
            }
            handle /nf {
                respond "<p>not found page</p>" 404
            }
            handle /err {
                respond "<p>server error!</p>" 500
            }
            handle {
                file_server {
                    hide *.php
                }
            }
        }
        """,
        [
            ("GET", "/", {"Accept-Encoding": "gzip"}),
            ("GET", "/a.txt", {"Accept-Encoding": "gzip"}),
            ("GET", "/nf", {"Accept-Encoding": "gzip"}),
            ("GET", "/err", {"Accept-Encoding": "gzip"}),
            ("GET", "/index.php", {"Accept-Encoding": "gzip"}),
            ("GET", "/a.txt%00", {}),
            ("GET", "/a.txt%00.php", {}),
        ],
    ),
    "browse": (
        """
        :@PORT@ {
            root * @ROOT@
            file_server browse
        }
        """,
        [
            ("GET", "/sub", {}),
            ("GET", "/sub?x=1", {}),
            ("POST", "/sub/", {}),
            ("GET", "/a.txt", {}),
            ("GET", "/list", {}),
            ("HEAD", "/list", {}),
            ("HEAD", "/missing", {}),
            ("GET", "/list/", {"Accept": "application/json"}),
            ("GET", "/list/?sort=size&order=desc", {"Accept": "application/json"}),
            ("GET", "/list/?sort=name&limit=2&offset=1", {"Accept": "application/json"}),
            ("GET", "/list/", {"Accept": "application/json", "Cookie": "sort=size; order=desc"}),
            ("GET", "/list/", {"If-Modified-Since": "Sun, 01 Jan 2040 00:00:00 GMT"}),
            ("HEAD", "/list/", {"Accept": "application/json"}),
        ],
    ),
    "try_files_query": (
        """
        :@PORT@ {
            root * @ROOT@
            try_files {path} /index.php?{query}&p={path}
            # Not the file placeholders: caddy evaluates the matcher of every route of a
            # group (the second try_files route here) even after one matched.
            respond "{uri} {path} {query}"
        }
        """,
        [
            ("GET", "/a.txt?x=1", {}),
            ("GET", "/nowhere?a=b&c", {}),
            ("GET", "/no%20where?a=b%26&c", {}),
            ("GET", "/sub/", {}),
        ],
    ),
    "try_files_odd_names": (
        """
        :@PORT@ {
            root * @ROOT@
            try_files {path}.html {path}
            respond "{uri} {path} {http.matchers.file.relative}"
        }
        """,
        [
            ("GET", "/odd%20name", {}),
            ("GET", "/q%3Fmark", {}),
            ("GET", "/pct%2525", {}),
            ("GET", "/a.txt?x=1", {}),
        ],
    ),
}


def _tree(root: Path) -> None:
    (root / "sub").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "list" / "d").mkdir(parents=True)
    files = {
        "index.html": "<h1>home</h1>",
        "a.txt": "hello",
        "a": "small!",
        "index.php": "<?php",
        "sub/index.html": "<p>sub</p>",
        "sub/x.txt": "x",
        ".git/config": "secret",
        "big.txt": BIG,
        "odd name.html": "odd",
        "q?mark.html": "q",
        "pct%25.html": "pct",
        "list/one.txt": "1",
        "list/three.txt": "333",
        "list/weird <&> ü.txt": "22",
    }
    for name, text in files.items():
        (root / name).write_text(text)
    for p in root.rglob("*"):
        os.utime(p, (1_700_000_000, 1_700_000_000))


def _boundary_free(x: Exchange) -> Exchange:
    """A multipart/byteranges answer with its random boundary replaced by a fixed one."""
    ctype = x.header("content-type") or ""
    if "boundary=" not in ctype:
        return x
    boundary = ctype.split("boundary=", 1)[1]
    headers = tuple((k, v.replace(boundary, "B")) for k, v in x.headers)
    return Exchange(x.status, headers, x.body.replace(boundary.encode(), b"B"))


def _decoded(x: Exchange) -> Exchange:
    x = _boundary_free(x)
    enc = x.header("content-encoding")
    body = x.body
    if enc == "gzip":
        body = gzip.decompress(body)
    elif enc == "zstd":
        body = zstandard.ZstdDecompressor().decompressobj().decompress(body)
    # Length and framing of a compressed body differ between implementations.
    headers = tuple(
        (k, v) for k, v in x.headers if not (enc and k in ("content-length", "transfer-encoding"))
    )
    return Exchange(x.status, headers, body)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_as_caddy(tmp_path: Path, name: str) -> None:
    caddyfile, requests = SCENARIOS[name]
    with serve_both(tmp_path, caddyfile) as pair:
        for method, target, headers in requests:
            pair.check(method, target, headers)


@pytest.mark.parametrize("name", sorted(FILE_SCENARIOS))
def test_files_same_as_caddy(tmp_path: Path, name: str) -> None:
    caddyfile, requests = FILE_SCENARIOS[name]
    root = tmp_path / "www"
    _tree(root)
    text = caddyfile.replace("@ROOT@", str(root)).replace("@BIG@", BIG)
    with serve_both(tmp_path, text) as pair:
        for method, target, headers in requests:
            want, got = pair.send(method, target, headers)
            assert_same(_decoded(want), _decoded(got), what=f"{method} {target} {headers}")


def test_request_body_unread_is_not_limited(tmp_path: Path) -> None:
    caddyfile = """
    :@PORT@ {
        request_body {
            max_size 10
        }
        log_append size {http.request.header.Content-Length}
        respond "{method} ok"
    }
    """
    with serve_both(tmp_path, caddyfile) as pair:
        pair.check("GET", "/", {})
        pair.check("POST", "/", {}, b"0123456789")
        pair.check("POST", "/", {}, b"x" * 100)
