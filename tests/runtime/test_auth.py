"""BasicAuth: bcrypt and argon2id hashes, realm, 401 with WWW-Authenticate, checked against caddy."""

from __future__ import annotations

import base64
import http.client
from collections.abc import Iterator

import bcrypt
import pytest

from rpc.runtime.auth import BasicAuth
from rpc.runtime.errors import HandlerError
from rpctest.handlers import body_of, mock_ctx, run_caddy, serve, site_handlers
from rpctest.procs import free_port

BCRYPT = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()
# `caddy hash-password --algorithm argon2id --plaintext secret`
ARGON2ID = "$argon2id$v=19$m=47104,t=1,p=1$39WajBkqDQQxDfXE0gM3IQ$/7MWRMTIxVEm0FZGPD9FYQK+aBjh0WeK2LvqWBh2lhI"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


SITES = {
    "bcrypt": f'\tbasic_auth bcrypt "My Realm" {{\n\t\tbob {BCRYPT}\n'
    f"\t\teve {base64.b64encode(BCRYPT.encode()).decode()}\n\t}}\n"
    '\trespond "hi {http.auth.user.id}"\n',
    "argon": f'\tbasic_auth argon2id {{\n\t\tann {ARGON2ID}\n\t}}\n\trespond "hi {{http.auth.user.id}}"\n',
}

REQUESTS: list[tuple[str, str | None]] = [
    ("bcrypt", None),
    ("bcrypt", _basic("bob", "secret")),
    ("bcrypt", _basic("bob", "wrong")),
    ("bcrypt", _basic("nobody", "secret")),
    ("bcrypt", _basic("eve", "secret")),
    ("bcrypt", "garbage"),
    ("bcrypt", "basic " + base64.b64encode(b"bob:secret").decode()),
    ("bcrypt", "Basic " + base64.b64encode(b"bob").decode()),
    ("argon", _basic("ann", "secret")),
    ("argon", _basic("ann", "Secret")),
]


@pytest.fixture(scope="module")
def caddy_port(caddy: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    port = free_port()
    text = "".join(f"http://{name}.test:{port} {{\n{body}}}\n" for name, body in SITES.items())
    with run_caddy(tmp_path_factory.mktemp("auth"), text, port):
        yield port


def _caddy_answer(port: int, site: str, auth: str | None) -> tuple[int, str | None, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Host": f"{site}.test"}
        if auth is not None:
            headers["Authorization"] = auth
        conn.request("GET", "/", headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.getheader("WWW-Authenticate"), resp.read().decode()
    finally:
        conn.close()


async def _our_answer(site: str, auth: str | None) -> tuple[int, str | None, str]:
    ctx = mock_ctx(headers={"Authorization": auth} if auth is not None else {})
    try:
        resp = await serve(site_handlers(SITES[site]), ctx)
    except HandlerError as exc:
        return exc.status, ctx.resp_headers.get("WWW-Authenticate"), ""
    return resp.status if resp else 200, None, body_of(resp).decode()


@pytest.mark.caddy
@pytest.mark.parametrize("req", REQUESTS, ids=[f"{s}-{a}" for s, a in REQUESTS])
async def test_basic_auth_matches_caddy(caddy_port: int, req: tuple[str, str | None]) -> None:
    want = _caddy_answer(caddy_port, *req)
    assert await _our_answer(*req) == want


async def test_user_id_published_and_results_cached() -> None:
    auth = BasicAuth((("bob", BCRYPT),), realm="r")
    ctx = mock_ctx(headers={"Authorization": _basic("bob", "secret")})
    assert await auth(ctx) is None
    assert ctx.extra["http.auth.user.id"] == "bob"
    assert len(auth._cache) == 1
    with pytest.raises(HandlerError) as info:
        await auth(mock_ctx(headers={"Authorization": _basic("bob", "nope")}))
    assert info.value.status == 401
    assert len(auth._cache) == 2


async def test_unknown_user_is_compared_against_a_real_hash() -> None:
    calls: list[bytes] = []
    auth = BasicAuth((("bob", BCRYPT),))
    original = auth._compare

    def spy(hashed: bytes, password: bytes) -> bool:
        calls.append(hashed)
        return original(hashed, password)

    auth._compare = spy
    with pytest.raises(HandlerError):
        await auth(mock_ctx(headers={"Authorization": _basic("mallory", "secret")}))
    assert calls == [BCRYPT.encode()]
