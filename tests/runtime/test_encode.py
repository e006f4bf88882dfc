"""Encode: negotiation, the decision rules, and streamed compression through a real server."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
import zstandard
from aiohttp import web
from multidict import CIMultiDict

from rpc.runtime.context import Ctx
from rpc.runtime.encode import Encode, Gzip, Zstd, accepted_encodings
from rpc.runtime.respmatch import ResponseMatcher
from rpctest.handlers import mock_ctx

TEXT = ResponseMatcher(headers=(("Content-Type", ("text/*",)),))


@pytest.mark.parametrize(
    ("header", "prefer", "want"),
    [
        ("gzip, zstd", ("zstd", "gzip"), ["zstd", "gzip"]),
        ("gzip;q=0.9, zstd;q=0.5", ("zstd", "gzip"), ["gzip", "zstd"]),
        ("gzip;q=0, zstd", (), ["zstd"]),
        ("GZIP;Q=1", (), ["gzip"]),
        ("br, gzip;q=2", (), ["br", "gzip"]),  # an out-of-range q counts as 1
        ("", (), []),
    ],
)
def test_accepted_encodings(header: str, prefer: tuple[str, ...], want: list[str]) -> None:
    assert accepted_encodings(mock_ctx(headers={"Accept-Encoding": header}), prefer) == want


def test_response_match_status_classes_and_header_patterns() -> None:
    m = ResponseMatcher(status_code=(2, 404), headers=(("Content-Type", ("*json*", "text/*")),))
    h = CIMultiDict
    assert m.match(204, h({"Content-Type": "application/json"}))
    assert m.match(404, h({"Content-Type": "text/html"}))
    assert not m.match(500, h({"Content-Type": "text/html"}))
    assert not m.match(200, h({"Content-Type": "image/png"}))
    absent = ResponseMatcher(headers=(("X-No", None),))
    assert absent.match(200, h()) and not absent.match(200, h({"X-No": "1"}))


async def _encode(enc: Encode, resp: web.StreamResponse, headers: dict[str, str]) -> Ctx:
    ctx = mock_ctx(headers=headers)
    await enc(ctx)
    ctx.finalize(resp)
    return ctx


async def test_whole_body_rules() -> None:
    enc = Encode((Gzip(),), minimum_length=10, match=TEXT)
    resp = web.Response(text="x" * 11)
    resp.headers["Etag"] = '"abc"'
    await _encode(enc, resp, {"Accept-Encoding": "gzip"})
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["Etag"] == '"abc-gzip"'
    assert resp.headers["Vary"] == "Accept-Encoding"
    assert isinstance(resp.body, bytes) and gzip.decompress(resp.body) == b"x" * 11
    short = web.Response(text="x" * 10)
    await _encode(enc, short, {"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in short.headers
    png = web.Response(body=b"x" * 50, content_type="image/png")
    await _encode(enc, png, {"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in png.headers
    not_modified = web.Response(status=304)
    await _encode(enc, not_modified, {"Accept-Encoding": "gzip"})
    assert not_modified.headers["Vary"] == "Accept-Encoding"


async def test_if_none_match_suffix_is_removed() -> None:
    enc = Encode((Gzip(),), match=TEXT)
    ctx = mock_ctx(headers={"Accept-Encoding": "gzip", "If-None-Match": '"abc-gzip"'})
    await enc(ctx)
    assert ctx.headers["If-None-Match"] == '"abc"'


def _app(enc: Encode, chunks: list[bytes], content_type: str) -> web.Application:
    async def handle(request: web.Request) -> web.StreamResponse:
        ctx = Ctx(request)
        await enc(ctx)
        resp = web.StreamResponse()
        resp.headers["Content-Type"] = content_type
        await ctx.prepare(resp)
        for c in chunks:
            await resp.write(c)
        await resp.write_eof()
        return resp

    app = web.Application()
    app.router.add_get("/", handle)
    return app


@pytest.mark.parametrize("encoder", [Gzip(6), Zstd("best")])
async def test_streamed_body_is_compressed(aiohttp_client: Any, encoder: Gzip | Zstd) -> None:
    chunks = [(b"data: %d\n\n" % i) * 60 for i in range(20)] + [b"z" * 100_000]
    client = await aiohttp_client(_app(Encode((encoder,), match=TEXT), chunks, "text/event-stream"))
    resp = await client.get("/", headers={"Accept-Encoding": encoder.name}, auto_decompress=False)
    raw = await resp.read()
    assert resp.headers["Content-Encoding"] == encoder.name
    assert "Content-Length" not in resp.headers
    if encoder.name == "gzip":
        assert gzip.decompress(raw) == b"".join(chunks)
    else:
        assert zstandard.ZstdDecompressor().decompressobj().decompress(raw) == b"".join(chunks)


@pytest.mark.parametrize(
    ("chunks", "encoded"),
    [
        ([b"x" * 512, b"y" * 10_000], False),  # the first write decides, as in caddy
        ([b"x" * 513, b"y"], True),
        ([], False),
    ],
)
async def test_unknown_length_decided_by_first_write(
    aiohttp_client: Any, chunks: list[bytes], encoded: bool
) -> None:
    client = await aiohttp_client(_app(Encode((Gzip(),), match=TEXT), chunks, "text/plain"))
    resp = await client.get("/", headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
    raw = await resp.read()
    assert ("Content-Encoding" in resp.headers) is encoded
    assert (gzip.decompress(raw) if encoded else raw) == b"".join(chunks)
