"""respond, redir, error, abort: Caddy's JSON for each form, checked against the real caddy."""

from __future__ import annotations

import pytest

from rpctest.lowering import adapt_error, handlers
from rpctest.oracle import assert_same_as_caddy

CASES = [
    ":80\nrespond hi\n",
    ":80\nrespond 404\n",
    ":80\nrespond 0\n",
    ':80\nrespond "hello {host} {unknown}" 201\n',
    ':80\nrespond {"a":1}\n',
    ":80\nrespond /x 404 {\n\tclose\n}\n",
    ":80\nrespond {\n\tbody x\n}\n",
    ":80\nrespond hi {\n\tbody again\n}\n",
    ":80\nrespond hi 200 extra\n",
    ":80\nredir https://example.com{uri}\n",
    ":80\nredir /old /new permanent\n",
    ":80\nredir * /new html\n",
    ":80\nredir * /n 401\n",
    ":80\nredir * /n 200\n",
    ":80\nredir * /n {http.vars.code}\n",
    ":80\nredir /new\n",
    ":80\nerror 404\n",
    ':80\nerror "gone away" 410\n',
    ":80\nerror /admin* Forbidden 403\n",
    ":80\nerror {\n\tmessage nope\n}\n",
    ":80\nabort /secret*\n",
    ":80\nabort extra\n",
]


@pytest.mark.parametrize("text", CASES)
def test_same_json_as_caddy(text: str, caddy: str) -> None:
    assert_same_as_caddy(text)


def test_respond_body_keeps_unknown_placeholders_typed() -> None:
    (h,) = handlers('\trespond "hi {host}"')
    assert h == {"handler": "static_response", "body": "hi {http.request.host}"}


def test_errors_point_at_the_problem() -> None:
    diag = adapt_error(":80\nrespond hi {\n\tbodyy x\n}\n")
    assert (diag.code, diag.span and diag.span.line) == ("RPC301", 3)
    assert "unrecognized subdirective 'bodyy'" in diag.message
