"""The handler directives together: seeded random sites (sorting, grouping, nesting) vs caddy.

Each case is a site built from a fixed seed, so the cases are the same on
every run; they exercise how the directives sort, group and consolidate
with each other inside sites, `handle`, `route` and `handle_path`.
"""

from __future__ import annotations

import random

import pytest

from rpctest.oracle import assert_same_as_caddy

LINES = [
    "rewrite /a /b",
    "rewrite * /c?{query}",
    "rewrite /d",
    "uri strip_prefix /api",
    "uri replace a b 2",
    "uri query +x y",
    "uri query {\n\t-a\n\tb>c\n}",
    "uri path_regexp ^/x /y",
    "method /m POST",
    "root * /srv",
    "root /x* /x",
    "root /y",
    "root /z/* /zz",
    "vars a 1",
    "vars /p b c",
    "vars /a* a 1",
    "vars /a/b* a 2",
    "vars {\n\tq true\n}",
    "map {host} {d} {\n\ta 1\n\tdefault 2\n}",
    "map /m* {path} {e} {\n\t~(.*) $1\n}",
    "encode",
    "encode gzip {\n\tminimum_length 10\n}",
    "encode zstd {\n\tmatch status 2xx\n}",
    "file_server",
    "file_server /s* browse",
    "file_server {\n\thide x\n\tindex a.html\n}",
    "try_files {path} /i.html",
    "try_files {path} /i.php?{query}",
    "try_files a b?c d",
    "basic_auth /adm* {\n\tu $2a$14$abc\n}",
    "forward_auth /fa* :9 {\n\turi /a\n\tcopy_headers X\n}",
    "request_body {\n\tmax_size 1k\n}",
    "log_skip /h",
    "log_append k v",
    "log_name n",
    "metrics /metrics",
    "respond /r hi",
    "reverse_proxy /up* a:1",
    (
        "reverse_proxy a:1 {\n\t@e status 500\n\thandle_response @e {\n\t\tcopy_response_headers {\n"
        "\t\t\tinclude A\n\t\t}\n\t\tcopy_response 502\n\t\tvars z 1\n\t}\n}"
    ),
    "header X y",
    "redir /o /n",
    "@g method GET\nvars @g g 1",
    "@p path /p*\nrewrite @p /q",
]
WRAPPERS = [
    "handle /h* {{\n{}\n}}",
    "route {{\n{}\n}}",
    "handle {{\n{}\n}}",
    "handle_path /hp* {{\n{}\n}}",
]


def _site(seed: int) -> str:
    rnd = random.Random(seed)
    body = "\n".join(rnd.sample(LINES, rnd.randint(1, 6)))
    if rnd.random() < 0.4:
        rest = "\n".join(rnd.sample(LINES, rnd.randint(0, 3)))
        body = rnd.choice(WRAPPERS).format(body) + "\n" + rest
    text = f"example.com {{\n{body}\n}}\n"
    if rnd.random() < 0.2:
        text += "other.example.com {\n" + "\n".join(rnd.sample(LINES, 2)) + "\n}\n"
    return text


@pytest.mark.parametrize("seed", range(120))
def test_same_json_as_caddy(seed: int, caddy: str) -> None:
    assert_same_as_caddy(_site(seed))
