"""Header operations (Caddy's HeaderOps order and wildcards) and the headers handler."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict

from rpc.runtime.context import Ctx
from rpc.runtime.headers import HeaderOps, Headers, Replacement, canonical_key, go_expand
from rpc.runtime.placeholders import Placeholder, Template
from rpc.runtime.respmatch import ResponseMatcher


def ctx(headers: dict[str, str] | None = None) -> Ctx:
    req = make_mocked_request("GET", "/p?q=1", headers={"Host": "a.example", **(headers or {})})
    return Ctx(req)


def test_canonical_key_is_gos() -> None:
    assert canonical_key("x-foo-bar") == "X-Foo-Bar"
    assert canonical_key("X-FOO") == "X-Foo"
    assert canonical_key("sec-websocket-key") == "Sec-Websocket-Key"
    assert canonical_key("bad key") == "bad key"  # not a token: left alone


def test_go_expand_matches_regexp_expand() -> None:
    m = re.search(r"(?P<w>a+)-(b+)", "xaa-bby")
    assert m is not None
    assert go_expand("$2=${1}")(m) == "bb=aa"
    assert go_expand("$1x")(m) == ""  # the group named "1x" does not exist
    assert go_expand("${w}$$")(m) == "aa$"
    assert go_expand("plain")(m) == "plain"


def test_order_delete_all_then_add_set_delete_replace() -> None:
    hdr = CIMultiDict([("A", "1"), ("B", "2"), ("X-One", "x"), ("X-Two", "y"), ("Keep", "abc")])
    HeaderOps(delete=("*",), add=(("A", ("new",)),)).apply(hdr, ctx())
    assert list(hdr.items()) == [("A", "new")]
    hdr = CIMultiDict([("A", "1"), ("X-One", "x"), ("two-x", "y"), ("Keep", "abc")])
    ops = HeaderOps(
        add=(("A", ("2", "3")),),
        set=(("S", ("v1", "v2")),),
        delete=("x-*", "*-x"),
        replace=(("keep", (Replacement(search_regexp=re.compile("(b)"), replace="[$1]"),)),),
    )
    ops.apply(hdr, ctx())
    assert hdr.getall("A") == ["1", "2", "3"]
    assert hdr["S"] == "v1,v2"
    assert "X-One" not in hdr and "two-x" not in hdr
    assert hdr["Keep"] == "a[b]c"


def test_values_render_placeholders_and_keep_unknown() -> None:
    tpl = Template(
        ("h=", Placeholder("http.request.host"), Placeholder("nope.x")), keep_unknown=True
    )
    hdr: CIMultiDict[str] = CIMultiDict()
    HeaderOps(set=(("X", (tpl,)),)).apply(hdr, ctx())
    assert hdr["X"] == "h=a.example{nope.x}"


def test_request_ops_can_set_host() -> None:
    c = ctx({"X-Drop": "1"})
    hdr = CIMultiDict(c.headers)
    hdr.popall("Host")
    host = HeaderOps(set=(("Host", ("b.example:8080",)),), delete=("X-Drop",)).apply_request(
        c, hdr, c.hostport
    )
    assert host == "b.example:8080"
    assert "Host" not in hdr and "X-Drop" not in hdr


async def test_handler_immediate_and_deferred_response_ops() -> None:
    c = ctx()
    await Headers(response=HeaderOps(set=(("X-Now", ("1",)),)))(c)
    assert c.resp_headers["X-Now"] == "1"
    deferred = Headers(
        response=HeaderOps(delete=("X-Up",)),
        require=ResponseMatcher(status_code=(2,)),
        deferred=True,
    )
    await deferred(c)
    ok = web.Response(status=200, headers={"X-Up": "u"})
    c.finalize(ok)
    assert "X-Up" not in ok.headers and ok.headers["X-Now"] == "1"
    c2 = ctx()
    await deferred(c2)
    bad = web.Response(status=500, headers={"X-Up": "u"})
    c2.finalize(bad)
    assert bad.headers["X-Up"] == "u"  # the matcher wants 2xx


async def test_request_header_handler_changes_host_and_headers() -> None:
    c = ctx({"X-Old": "1"})
    await Headers(request=HeaderOps(set=(("Host", ("Other.Example:81",)),), delete=("X-Old",)))(c)
    assert c.hostport == "Other.Example:81" and c.host == "other.example"
    assert "X-Old" not in c.headers


def test_response_matcher_rules() -> None:
    hdr = CIMultiDict([("Content-Type", "text/html; charset=utf-8"), ("X-A", "1")])
    assert ResponseMatcher(status_code=(5,)).match(503, hdr)
    assert not ResponseMatcher(status_code=(5, 404)).match(200, hdr)
    assert ResponseMatcher(headers=(("Content-Type", ("text/*",)),)).match(200, hdr)
    assert not ResponseMatcher(headers=(("Content-Type", ("*json",)),)).match(200, hdr)
    assert ResponseMatcher(headers=(("X-A", ()),)).match(200, hdr)  # present
    assert not ResponseMatcher(headers=(("X-B", ()),)).match(200, hdr)
    assert ResponseMatcher(headers=(("X-B", None),)).match(200, hdr)  # absent
    assert not ResponseMatcher(headers=(("X-A", None),)).match(200, hdr)
