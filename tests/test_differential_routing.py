"""Routing, matchers and static responses: the generated app answers as caddy does.

Each scenario is one Caddyfile served by the real caddy and by rpc's compiled
app; every request is sent to both and status, headers and body must agree.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rpctest.differential import serve_both

pytestmark = pytest.mark.usefixtures("caddy")

Request = tuple[str, str, dict[str, str]]

SCENARIOS: dict[str, tuple[str, list[Request]]] = {
    "respond_forms": (
        """
        :@PORT@ {
            respond /empty 204
            respond /json `{"a": [1, 2]}`
            respond /arr "[1, 2"
            respond /code "made" 201
            respond /ph "{method} {path} {query} {host} {uri} {unknown.thing}"
            respond /br `braces {} {{}} \\{x\\} {"a": {"b": 1}} {$NOPE} {env.NOPE}`
            respond /hdr "x" {
                close
            }
            respond "fallback"
        }
        """,
        [
            ("GET", "/empty", {}),
            ("GET", "/br", {}),
            ("GET", "/json", {}),
            ("GET", "/arr", {}),
            ("GET", "/code", {}),
            ("POST", "/ph?a=1&b=%20x", {}),
            ("GET", "/other", {}),
            ("HEAD", "/code", {}),
        ],
    ),
    "path_patterns": (
        """
        :@PORT@ {
            @exact path /a
            @prefix path /b/*
            @suffix path *.php
            @contains path */mid/*
            @glob path /g/*/x /g/?
            @multi path /m1 /m2*
            respond @exact "exact"
            respond @prefix "prefix"
            respond @suffix "suffix"
            respond @contains "contains"
            respond @glob "glob"
            respond @multi "multi"
            respond "none"
        }
        """,
        [
            ("GET", "/a", {}),
            ("GET", "/A", {}),
            ("GET", "/a/", {}),
            ("GET", "/b/c/d", {}),
            ("GET", "/b", {}),
            ("GET", "/x/y.PHP", {}),
            ("GET", "/q/mid/z", {}),
            ("GET", "/g/1/x", {}),
            ("GET", "/g/1/2/x", {}),
            ("GET", "/g/z", {}),
            ("GET", "/m2345", {}),
            ("GET", "//a", {}),
            ("GET", "/c/../a", {}),
            ("GET", "/%61", {}),
        ],
    ),
    "host_method_header_query": (
        """
        :@PORT@ {
            @h host a.example *.wild.example
            @m method POST put
            @hdr header X-A foo* 
            @hdrabsent header !X-B
            @q query k=v other=*
            @qempty query
            respond @h "host"
            respond @m "method"
            respond @hdr "header"
            respond @q "query"
            respond @qempty "noquery"
            respond @hdrabsent "absent"
            respond "none"
        }
        """,
        [
            ("GET", "/?z=1", {"Host": "a.example"}),
            ("GET", "/?z=1", {"Host": "A.Example:99"}),
            ("GET", "/?z=1", {"Host": "x.wild.example"}),
            ("GET", "/?z=1", {"Host": "x.y.wild.example", "X-B": "1"}),
            ("POST", "/?z=1", {}),
            ("PUT", "/?z=1", {}),
            ("GET", "/?z=1", {"X-A": "foobar"}),
            ("GET", "/?k=v&other=", {"X-B": "1"}),
            ("GET", "/?k=w&other=1", {"X-B": "1"}),
            ("GET", "/", {"X-B": "1"}),
            ("GET", "/?bad=%zz", {"X-B": "1"}),
        ],
    ),
    "regexp_captures": (
        """
        :@PORT@ {
            @user path_regexp user ^/u/(?P<name>\\w+)/(\\d+)$
            respond @user "{re.user.name} {re.user.2} {http.regexp.user.0}"
            @hr header_regexp tok Authorization ^Bearer\\s+(.+)$
            respond @hr "token={re.tok.1}"
            respond "none"
        }
        """,
        [
            ("GET", "/u/bob/42", {}),
            ("GET", "/u/bob/x", {}),
            ("GET", "/", {"Authorization": "Bearer abc.def"}),
        ],
    ),
    "not_and_expression": (
        """
        :@PORT@ {
            @notapi not path /api/*
            @expr expression `{method} == "POST" && path('/e*')`
            @num expression `{http.request.port} > 0 && {query} != ""`
            respond @expr "expr"
            respond @notapi "notapi {http.request.port}" {
                close
            }
            respond @num "num"
            respond "api"
        }
        """,
        [
            ("GET", "/x", {}),
            ("POST", "/e1", {}),
            ("GET", "/api/a?x=1", {}),
            ("GET", "/api/a", {}),
        ],
    ),
    "handle_groups": (
        """
        :@PORT@ {
            handle /api/* {
                respond "api"
            }
            handle /api/special {
                respond "special"
            }
            handle {
                respond "default"
            }
        }
        """,
        [("GET", "/api/x", {}), ("GET", "/api/special", {}), ("GET", "/z", {})],
    ),
    "route_order_and_errors": (
        """
        :@PORT@ {
            route {
                error /boom "it broke" 418
                respond /r "from route"
            }
            error /e500 "bad"
            respond "ok"
            handle_errors 418 {
                respond "teapot {err.status_code} {err.message} {err.status_text}"
            }
            handle_errors {
                respond "other {err.status_code}" 599
            }
        }
        """,
        [("GET", "/boom", {}), ("GET", "/r", {}), ("GET", "/e500", {}), ("GET", "/x", {})],
    ),
    "redir": (
        """
        :@PORT@ {
            redir /t /target
            redir /p https://example.com{uri} permanent
            redir /h /html html
            redir /c /code 307
        }
        """,
        [
            ("GET", "/t", {}),
            ("GET", "/p?q=1", {}),
            ("GET", "/h", {}),
            ("GET", "/c", {}),
            ("GET", "/none", {}),
        ],
    ),
    "sites_by_host": (
        """
        http://a.localhost:@PORT@ {
            respond "a"
        }
        http://b.localhost:@PORT@, http://c.localhost:@PORT@ {
            respond "b or c {host}"
        }
        http://*.w.localhost:@PORT@ {
            respond "wild {labels.2}"
        }
        """,
        [
            ("GET", "/", {"Host": "a.localhost"}),
            ("GET", "/", {"Host": "c.localhost:1"}),
            ("GET", "/", {"Host": "q.w.localhost"}),
            ("GET", "/", {"Host": "other.localhost"}),
        ],
    ),
    "many_path_routes": (
        ":@PORT@ {\n"
        + "".join(f'    handle /p{i}/* {{\n        respond "p{i}"\n    }}\n' for i in range(40))
        + '    handle {\n        respond "last"\n    }\n}\n',
        [("GET", "/p0/x", {}), ("GET", "/p39/y", {}), ("GET", "/p3", {}), ("GET", "/q", {})],
    ),
    "header_ops": (
        """
        :@PORT@ {
            header X-Set one
            header +X-Add two
            header -Server
            header /d {
                X-Deferred "{path}"
                defer
            }
            header X-Replace "a-b-c"
            header X-Replace "-" "_"
            header ?X-Default d
            request_header X-In "from-proxy"
            request_header -X-Drop
            respond "{header.X-In}|{header.X-Drop}|{header.X-Keep}"
        }
        """,
        [
            ("GET", "/", {"X-Drop": "gone", "X-Keep": "kept"}),
            ("GET", "/d", {}),
            ("HEAD", "/", {}),
        ],
    ),
    "handle_path_and_uri": (
        """
        :@PORT@ {
            handle_path /api/* {
                uri query +added yes
                uri query -drop
                respond "api {path} {query}"
            }
            handle /u/* {
                uri strip_prefix /u
                uri replace /old/ /new/
                respond "u {path}"
            }
            handle {
                rewrite /r /rewritten?x=1
                respond "rest {uri}"
            }
        }
        """,
        [
            ("GET", "/api/v1/users?drop=1&keep=2", {}),
            ("GET", "/u/old/x", {}),
            ("GET", "/r", {}),
            ("GET", "/else?q", {}),
        ],
    ),
    "vars_map_matchers": (
        """
        :@PORT@ {
            map {path} {kind} {
                /a      alpha
                ~/n/(.*) "num-${1}"
                default other
            }
            vars tier gold
            @gold vars tier gold
            @re vars_regexp {kind} ^num-(\\d+)$
            respond @re "re {re.1} {kind}"
            respond @gold "gold {kind} {vars.tier}"
        }
        """,
        [("GET", "/a", {}), ("GET", "/n/42", {}), ("GET", "/zzz", {})],
    ),
    "request_body_limits": (
        """
        :@PORT@ {
            request_body /small {
                max_size 10
            }
            respond "got it"
        }
        """,
        [("GET", "/small", {}), ("GET", "/big", {})],
    ),
    "remote_ip_and_protocol": (
        """
        :@PORT@ {
            @local remote_ip 127.0.0.1/8
            @far not remote_ip 127.0.0.1/8
            @http protocol http
            respond @far "far"
            respond @local "local {remote_host} {scheme}"
            respond @http "http"
        }
        """,
        [("GET", "/", {}), ("GET", "/", {"X-Forwarded-For": "8.8.8.8"})],
    ),
    "named_routes_and_invoke": (
        """
        &(shared) {
            header X-Shared yes
            respond "shared {path}"
        }
        :@PORT@ {
            handle /s/* {
                invoke shared
            }
            respond "direct"
        }
        """,
        [("GET", "/s/x", {}), ("GET", "/t", {})],
    ),
    "abort_and_static_errors": (
        """
        :@PORT@ {
            error /forbidden "nope" 403
            respond /teapot 418 {
                body "short and stout"
            }
            handle_errors {
                header X-Err "{err.status_code}"
                respond "{err.status_code}: {err.message}"
            }
            respond "fine"
        }
        """,
        [("GET", "/forbidden", {}), ("GET", "/teapot", {}), ("GET", "/ok", {})],
    ),
    "placeholders_in_respond": (
        """
        :@PORT@ {
            respond "{method} {host} {hostport} {port} {path.0} {path.1} {file} {dir} {query.a} {cookie.c} {http.request.orig_uri} {header.User-Agent} {scheme}"
        }
        """,
        [
            ("GET", "/one/two/file.txt?a=1&a=2", {"Cookie": "c=cv; d=1", "User-Agent": "ua"}),
            ("POST", "/x%20y/", {}),
        ],
    ),
    "forward_auth_to_itself": (
        """
        :@PORT@ {
            handle /auth {
                header X-User alice
                @ok header Authorization "Bearer good"
                respond @ok "ok" 200
                respond "denied {header.X-Forwarded-Method} {header.X-Forwarded-Uri}" 401
            }
            handle {
                forward_auth 127.0.0.1:@PORT@ {
                    uri /auth
                    copy_headers X-User
                }
                respond "hello {header.X-User}"
            }
        }
        """,
        [
            ("GET", "/page?q=1", {"Authorization": "Bearer good"}),
            ("GET", "/page?q=1", {"Authorization": "Bearer bad"}),
            ("POST", "/form", {}),
            ("GET", "/page", {"Authorization": "Bearer good", "X-User": "mallory"}),
        ],
    ),
    "dead_upstream_abort_error_redir": (
        """
        http://a.localhost:@PORT@ {
            respond /x "x"
        }
        :@PORT@ {
            @dead path /dead*
            reverse_proxy @dead 127.0.0.1:1
            abort /abort
            error /err 503
            redir /r https://{host}{uri} 301
            respond /big 200 {
                body "{http.request.uri.path.0}/{http.request.uri.path.1}"
            }
            header /h Cache-Control "max-age=60"
            respond /h "cached"
        }
        """,
        [
            ("GET", "/dead", {}),
            ("GET", "/err", {}),
            ("GET", "/r?a=b", {}),
            ("GET", "/big/two/three", {}),
            ("GET", "/h", {}),
            ("GET", "/", {"Host": "a.localhost"}),
            ("GET", "/y", {"Host": "a.localhost"}),
            ("GET", "/nothing", {}),
            ("OPTIONS", "*", {}),
        ],
    ),
    "methods_queries_header_regexp": (
        """
        :@PORT@ {
            @post method POST PUT
            respond @post "write {method}" 201
            @q query a=1 b=*
            respond @q "q"
            @h header_regexp ua User-Agent ^curl/(\\d+)
            respond @h "curl {re.ua.1}"
            respond "{method} {query} {header.Content-Length}"
        }
        """,
        [
            ("POST", "/", {}),
            ("PUT", "/x", {}),
            ("GET", "/?a=1&b=2", {}),
            ("GET", "/?a=1", {}),
            ("GET", "/", {"User-Agent": "curl/8.1"}),
            ("DELETE", "/d?z=%41", {}),
            ("HEAD", "/", {}),
        ],
    ),
    "host_and_path_placeholders": (
        """
        :@PORT@ {
            respond "{host}|{hostport}|{labels.0}|{labels.1}|{path.0}|{path.1}|{path.2}|{http.request.uri.path.file.base}|{http.request.uri.path.file.ext}|{file}|{dir}"
        }
        """,
        [
            ("GET", "/", {"Host": "WWW.Example.COM."}),
            ("GET", "//a//b/", {"Host": "[::1]:80"}),
            ("GET", "/x/", {"Host": "A.b"}),
            ("GET", "/", {"Host": "Ex.com:8080"}),
            ("GET", "/", {"Host": "[::1]"}),
            ("GET", "/d/f.tar.gz", {}),
            ("GET", "/a/.hidden", {}),
            ("GET", "/a.b/", {}),
        ],
    ),
    "path_forms": (
        """
        :@PORT@ {
            handle /api/* {
                respond "api {path} {uri} {http.request.uri.path.0}"
            }
            @enc path /a%2Fb
            respond @enc "enc {path}"
            @dot path /x/y
            respond @dot "dot {path}"
            handle_path /strip/* {
                respond "strip {path} {uri}"
            }
            respond "other {path} {query}"
        }
        """,
        [
            ("GET", "/API/x", {}),
            ("GET", "//api/x", {}),
            ("GET", "/api/../x/y", {}),
            ("GET", "/a%2Fb", {}),
            ("GET", "/a/b", {}),
            ("GET", "/x/./y", {}),
            ("GET", "/x//y", {}),
            ("GET", "/strip/a%20b?q=%20", {}),
            ("GET", "/%7Euser", {}),
            ("GET", "/?a=%zz", {}),
            ("GET", "/strip", {}),
            ("GET", "/api", {}),
        ],
    ),
    "cel_expressions": (
        """
        :@PORT@ {
            @a expression path('/a/*') && method('GET')
            respond @a "a"
            @b expression {http.request.uri.path}.startsWith("/b") || header({'X-B': 'yes'})
            respond @b "b"
            @c expression `{query.n} == "5" && {method} != "POST"`
            respond @c "c"
            @d expression `{path}.matches("^/d[0-9]+$")`
            respond @d "d"
            @e expression query({'k': ['v1', 'v2']})
            respond @e "e"
            @f expression `{header.X-N}.size() > 3`
            respond @f "f"
            @g expression `'x' in ['x','y'] && {remote_host} == '127.0.0.1'`
            respond @g "g {path}"
            respond "none"
        }
        """,
        [
            ("GET", "/a/1", {}),
            ("POST", "/a/1", {}),
            ("GET", "/bee", {}),
            ("GET", "/z", {"X-B": "yes"}),
            ("GET", "/?n=5", {}),
            ("POST", "/?n=5", {}),
            ("GET", "/d12", {}),
            ("GET", "/d1x", {}),
            ("GET", "/?k=v2", {}),
            ("GET", "/?k=v3", {}),
            ("GET", "/q", {"X-N": "abcd"}),
        ],
    ),
    "client_ip_behind_trusted_proxy": (
        """
        {
            servers {
                trusted_proxies static 127.0.0.1/32
                client_ip_headers X-Forwarded-For
            }
        }
        :@PORT@ {
            @priv client_ip 10.0.0.0/8
            respond @priv "priv {client_ip}"
            @loc remote_ip 127.0.0.1
            respond @loc "loc {client_ip} {remote_host}"
        }
        """,
        [
            ("GET", "/", {"X-Forwarded-For": "10.1.2.3"}),
            ("GET", "/", {"X-Forwarded-For": "8.8.8.8, 10.1.1.1"}),
            ("GET", "/", {}),
            ("GET", "/", {"X-Forwarded-For": "garbage"}),
        ],
    ),
    "nested_named_routes": (
        """
        &(b) {
            respond "b {path}"
        }
        &(a) {
            route {
                header X-A yes
                invoke b
            }
        }
        :@PORT@ {
            handle /a/* {
                invoke a
            }
            invoke b
        }
        """,
        [("GET", "/a/x", {}), ("GET", "/y", {})],
    ),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_same_as_caddy(tmp_path: Path, name: str) -> None:
    caddyfile, requests = SCENARIOS[name]
    with serve_both(tmp_path, caddyfile) as pair:
        for method, target, headers in requests:
            pair.check(method, target, headers)
