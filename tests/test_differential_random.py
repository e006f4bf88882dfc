"""Seeded random Caddyfiles served by caddy and by the compiled app: every answer must agree.

Routing: each seed builds a site from named matchers, nested `handle`/
`handle_path`/`route` blocks and handlers that interact through Caddy's
directive order (respond, header, rewrite, uri, vars, redir, error,
handle_errors). Proxying: a reverse_proxy with a random policy, upstreams,
header_up/down, rewrite, method and replace_status, whose upstream is the
same server (an echo route), so each of caddy and rpc proxies to itself.
Seeds are fixed, so a failure reproduces; `RPC_RANDOM_SEEDS=200` runs a longer
sweep by hand.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from rpctest.differential import serve_both

pytestmark = pytest.mark.usefixtures("caddy")

SEEDS = int(os.environ.get("RPC_RANDOM_SEEDS", "12"))
PATHS = ["/", "/a", "/a/", "/a/b", "/api/v1/x", "/b/c.txt", "/x/y/z", "/A/B", "/api", "/s/i.png"]
MATCHERS = [
    "path /a*",
    "path /api/*",
    "path *.txt",
    "path /a /x/*",
    "method POST",
    "method GET HEAD",
    "header X-T yes",
    "header X-T *",
    "query k=v",
    "path_regexp ^/(a|b)/",
    "not path /a*",
    "expression {method} == 'GET'",
    "path /s/*",
]


def _handler(r: random.Random) -> str:
    m = r.choice(["", f"@m{r.randrange(3)} "])
    return r.choice(
        [
            f'respond {m}"r{r.randrange(99)} {{path}} {{uri}}"',
            f'respond {m}"c{r.randrange(99)}" {r.choice([200, 201, 404, 418])}',
            f"header {m}X-H{r.randrange(3)} v{r.randrange(9)}",
            f"rewrite {m}/rw{r.randrange(9)}{{path}}",
            f"uri {m}strip_prefix /a",
            f"vars {m}k{r.randrange(3)} v{r.randrange(9)}",
            f"redir {m}/to{r.randrange(9)} {r.choice(['301', '302', 'permanent', 'temporary'])}",
            f'error {m}"bad" {r.choice([403, 404, 500, 503])}',
            f'respond {m}"{{vars.k0}}{{vars.k1}}-{{http.request.header.X-T}}"',
        ]
    )


def _block(r: random.Random, depth: int) -> list[str]:
    lines = [f"@m{i} {r.choice(MATCHERS)}" for i in range(3)] if depth == 0 else []
    for _ in range(r.randrange(2, 6)):
        if depth < 2 and r.random() < 0.35:
            kind = r.choice(["handle", "handle_path", "route"])
            if kind == "handle_path":
                matcher = r.choice(["/a*", "/api/*"])
            else:
                matcher = r.choice(["", "/a*", "/api/*", "@m0", "@m1"])
            lines += [f"{kind} {matcher} {{", *_block(r, depth + 1), "}"]
        else:
            lines.append(_handler(r))
    return lines


def caddyfile(r: random.Random) -> str:
    lines = [":@PORT@ {", *_block(r, 0)]
    if r.random() < 0.5:
        lines += ["handle_errors {", 'respond "err {err.status_code} {err.message}"', "}"]
    return "\n".join([*lines, "}"]) + "\n"


@pytest.mark.parametrize("seed", range(SEEDS))
def test_random_site_answers_as_caddy(tmp_path: Path, seed: int) -> None:
    r = random.Random(seed)
    text = caddyfile(r)
    differences = []
    with serve_both(tmp_path, text) as pair:
        for _ in range(8):
            method = r.choice(["GET", "POST", "HEAD"])
            target = r.choice(PATHS) + r.choice(["", "?k=v", "?x=1"])
            headers = r.choice([{}, {"X-T": "yes"}, {"X-T": "no"}])
            try:
                pair.check(method, target, headers)
            except AssertionError as exc:
                differences.append(str(exc))
    assert not differences, text + "\n" + "\n".join(differences)


POLICIES = [
    "first",
    "round_robin",
    "ip_hash",
    "uri_hash",
    "header X-K",
    "query k",
    "client_ip_hash",
    "least_conn",
    "random",
]
ECHO = "{method} {uri} {header.X-Up}|{header.X-Drop}|{header.X-Forwarded-Host}"


def proxy_caddyfile(r: random.Random) -> str:
    ups = r.sample(["127.0.0.1:@PORT@", "localhost:@PORT@", "[::1]:@PORT@"], r.randrange(1, 3))
    options = [f"lb_policy {r.choice(POLICIES)}"]
    if r.random() < 0.5:
        options.append(f"header_up X-Up u{r.randrange(9)}")
    if r.random() < 0.5:
        options.append("header_up -X-Drop")
    if r.random() < 0.5:
        options.append(f"header_down X-Down d{r.randrange(9)}")
    if r.random() < 0.3:
        options.append("header_down -X-Echo")
    if r.random() < 0.3:
        options.append("method PUT")
    if r.random() < 0.3:
        options += ["@e status 4xx", "replace_status @e 299"]
    wrapper = r.choice(["", "handle_path /p/*", "route /p/*"])
    if not wrapper.startswith("handle_path") or r.random() < 0.3:
        options.append("rewrite /echo{uri}")  # never proxy /p/... to itself
    proxy = [f"reverse_proxy {'' if wrapper else '/p/*'} {' '.join(ups)} {{", *options, "}"]
    if wrapper:
        proxy = [f"{wrapper} {{", *proxy, "}"]
    lines = [
        ":@PORT@ {",
        "handle /echo/* {",
        f'header X-Echo "{ECHO}|{{header.X-Forwarded-Proto}}|{{header.Via}}"',
        f'respond "echo {ECHO}|{{header.X-Forwarded-For}}|{{host}}"',
        "}",
        "handle /missing/* {",
        'respond "nope" 404',
        "}",
        *proxy,
        'respond "end {path}"',
        "}",
    ]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("seed", range(SEEDS))
def test_random_proxy_answers_as_caddy(tmp_path: Path, seed: int) -> None:
    r = random.Random(seed)
    text = proxy_caddyfile(r)
    differences = []
    with serve_both(tmp_path, text) as pair:
        for _ in range(6):
            target = r.choice(["/p/echo/a", "/p/echo/b?k=1", "/echo/d", "/p/missing/x", "/p/zz"])
            headers = r.choice([{}, {"X-Drop": "x", "X-K": "1"}, {"X-Forwarded-For": "1.2.3.4"}])
            try:
                pair.check(r.choice(["GET", "POST"]), target, headers)
            except AssertionError as exc:
                differences.append(str(exc))
    assert not differences, text + "\n" + "\n".join(differences)
