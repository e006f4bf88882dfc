"""rpc.runtime.jwt: bearer tokens verified against pinned algorithms and keys, or 401."""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import make_mocked_request
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from multidict import CIMultiDict

from rpc.runtime import jwt as rjwt
from rpc.runtime.context import Ctx
from rpc.runtime.errors import HandlerError
from rpc.runtime.jwt import JWTAuth, JWTVerifier, TokenRejected

SECRET = b"s" * 32


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: Any) -> bytes:
    public = key.public_key() if hasattr(key, "public_key") else key
    data: bytes = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data


@pytest.fixture
def pub_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> str:
    path = tmp_path / "pub.pem"
    path.write_bytes(pem(rsa_key))
    return str(path)


def claims(**extra: Any) -> dict[str, Any]:
    return {"customer": "waitrose", "sub": "user-1", "exp": int(time.time()) + 300, **extra}


def make_ctx(*auth: str, **headers: str) -> Ctx:
    h: CIMultiDict[str] = CIMultiDict(headers)
    for value in auth:
        h.add("Authorization", value)
    return Ctx(make_mocked_request("GET", "/", headers=h))


def bearer(token: str) -> str:
    return f"Bearer {token}"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], sign: Any = None) -> str:
    """A token assembled by hand (for what pyjwt refuses to sign)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    signature = sign(signing_input.encode()) if sign else b"x"
    return f"{signing_input}.{b64(signature)}"


def rejected(verifier: JWTVerifier, ctx: Ctx) -> TokenRejected:
    with pytest.raises(TokenRejected) as info:
        verifier.customer(verifier.verify(ctx))
    return info.value


async def status_of(handler: JWTAuth, ctx: Ctx) -> tuple[int, str]:
    """The status and WWW-Authenticate a handler answers with (200 = continued)."""
    try:
        assert await handler(ctx) is None
    except HandlerError as exc:
        return exc.status, ctx.resp_headers.get("WWW-Authenticate", "")
    return 200, ""


# ---------------------------------------------------------------- good tokens


async def test_good_token_publishes_claims(pub_file: str, rsa_key: rsa.RSAPrivateKey) -> None:
    token = jwt.encode(claims(org={"id": "o1", "tier": {"name": "gold"}}), rsa_key, "RS256")
    handler = JWTAuth(jwt=JWTVerifier(algorithms=["RS256"], key_file=pub_file))
    ctx = make_ctx(bearer(token))
    assert await status_of(handler, ctx) == (200, "")
    assert ctx.extra["http.auth.jwt.customer"] == "waitrose"
    assert ctx.extra["http.auth.user.id"] == "user-1"
    assert ctx.extra["http.auth.jwt.org.id"] == "o1"
    assert ctx.extra["http.auth.jwt.org.tier.name"] == "gold"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_scheme_is_case_insensitive(pub_file: str, rsa_key: Any, scheme: str) -> None:
    verifier = JWTVerifier(algorithms=["RS256"], key_file=pub_file)
    token = jwt.encode(claims(), rsa_key, "RS256")
    assert verifier.customer(verifier.verify(make_ctx(f"{scheme} {token}"))) == "waitrose"


@pytest.mark.parametrize("alg", ["ES256", "EdDSA", "PS256", "RS512", "HS384"])
def test_other_algorithms(tmp_path: Path, alg: str, rsa_key: Any) -> None:
    if alg == "ES256":
        key: Any = ec.generate_private_key(ec.SECP256R1())
    elif alg == "EdDSA":
        key = ed25519.Ed25519PrivateKey.generate()
    elif alg.startswith("HS"):
        key = SECRET + b"x" * 16
    else:
        key = rsa_key
    path = tmp_path / "key"
    path.write_bytes(key + b"\n" if isinstance(key, bytes) else pem(key))
    verifier = JWTVerifier(algorithms=[alg], key_file=str(path))
    token = jwt.encode(claims(), key, alg)
    assert verifier.customer(verifier.verify(make_ctx(bearer(token)))) == "waitrose"


def test_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RPC_TEST_SECRET", SECRET.decode())
    verifier = JWTVerifier(algorithms=["HS256"], key_env="RPC_TEST_SECRET")
    token = jwt.encode(claims(), SECRET, "HS256")
    assert verifier.customer(verifier.verify(make_ctx(bearer(token)))) == "waitrose"
    other = jwt.encode(claims(), b"t" * 32, "HS256")
    assert rejected(verifier, make_ctx(bearer(other))).description == (
        "the token's signature is invalid"
    )


def test_private_key_file_verifies_with_its_public_half(
    tmp_path: Path, rsa_key: rsa.RSAPrivateKey
) -> None:
    path = tmp_path / "private.pem"
    path.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    verifier = JWTVerifier(algorithms=["RS256"], key_file=str(path))
    token = jwt.encode(claims(), rsa_key, "RS256")
    assert verifier.customer(verifier.verify(make_ctx(bearer(token)))) == "waitrose"


def test_leeway_accepts_a_just_expired_token(pub_file: str, rsa_key: Any) -> None:
    token = jwt.encode(claims(exp=int(time.time()) - 5), rsa_key, "RS256")
    strict = JWTVerifier(algorithms=["RS256"], key_file=pub_file)
    assert rejected(strict, make_ctx(bearer(token))).description == "the token has expired"
    lenient = JWTVerifier(algorithms=["RS256"], key_file=pub_file, leeway=60)
    assert lenient.customer(lenient.verify(make_ctx(bearer(token)))) == "waitrose"


# ---------------------------------------------------------------- refused tokens


@pytest.mark.parametrize(
    ("make", "description"),
    [
        (lambda k: jwt.encode(claims(exp=int(time.time()) - 1), k, "RS256"), "expired"),
        (lambda k: jwt.encode(claims(nbf=int(time.time()) + 600), k, "RS256"), "not valid yet"),
        (lambda k: jwt.encode(claims(iat=int(time.time()) + 600), k, "RS256"), "not valid yet"),
        (lambda k: jwt.encode({"customer": "waitrose"}, k, "RS256"), "lacks a required claim"),
        (lambda k: jwt.encode(claims(), k, "RS384"), "algorithm is not allowed"),
        (lambda k: jwt.encode(claims(aud="other"), k, "RS256"), "another audience"),
        (lambda k: jwt.encode(claims(), k, "RS256", headers={"crit": ["exp2"]}), "malformed"),
        (lambda k: forge({"alg": "none"}, claims()), "algorithm is not allowed"),
        (lambda k: forge({"alg": "None"}, claims()), "algorithm is not allowed"),
        (lambda k: forge({"typ": "JWT"}, claims()), "algorithm is not allowed"),
        (lambda k: forge({"alg": "RS256"}, claims()), "signature is invalid"),
        (lambda k: "a.b.c", "malformed"),
        (lambda k: "a.b", "malformed"),
        (lambda k: "x" * 9000, "too long"),
        (lambda k: jwt.encode(claims(), k, "RS256")[:-1] + "$", "malformed"),
    ],
)
def test_refused(pub_file: str, rsa_key: Any, make: Any, description: str) -> None:
    verifier = JWTVerifier(algorithms=["RS256"], key_file=pub_file)
    token = make(rsa_key)
    problem = rejected(verifier, make_ctx(bearer(token)))
    assert description in problem.description
    assert token[:20] not in problem.description


def test_wrong_key(pub_file: str, other_rsa_key: Any) -> None:
    verifier = JWTVerifier(algorithms=["RS256"], key_file=pub_file)
    token = jwt.encode(claims(), other_rsa_key, "RS256")
    assert rejected(verifier, make_ctx(bearer(token))).description == (
        "the token's signature is invalid"
    )


def test_hs256_signed_with_the_public_key_is_refused(
    pub_file: str, rsa_key: rsa.RSAPrivateKey
) -> None:
    """The classic key-confusion attack: the RSA public key PEM used as an HMAC secret."""
    public = Path(pub_file).read_bytes()
    verifier = JWTVerifier(algorithms=["RS256"], key_file=pub_file)
    for secret in (public, public.rstrip(b"\n")):
        token = forge(
            {"alg": "HS256", "typ": "JWT"},
            claims(),
            lambda data, s=secret: hmac.new(s, data, hashlib.sha256).digest(),
        )
        assert rejected(verifier, make_ctx(bearer(token))).description == (
            "the token's algorithm is not allowed"
        )


def test_issuer_and_audience(pub_file: str, rsa_key: Any) -> None:
    verifier = JWTVerifier(
        algorithms=["RS256"], key_file=pub_file, issuer="https://id", audience=["a", "b"]
    )
    good = jwt.encode(claims(iss="https://id", aud=["x", "b"]), rsa_key, "RS256")
    assert verifier.customer(verifier.verify(make_ctx(bearer(good)))) == "waitrose"
    wrong_iss = jwt.encode(claims(iss="https://evil", aud="a"), rsa_key, "RS256")
    assert "wrong issuer" in rejected(verifier, make_ctx(bearer(wrong_iss))).description
    no_iss = jwt.encode(claims(aud="a"), rsa_key, "RS256")
    assert rejected(verifier, make_ctx(bearer(no_iss))).description
    wrong_aud = jwt.encode(claims(iss="https://id", aud="c"), rsa_key, "RS256")
    assert "audience" in rejected(verifier, make_ctx(bearer(wrong_aud))).description


def test_required_claims(pub_file: str, rsa_key: Any) -> None:
    verifier = JWTVerifier(algorithms=["RS256"], key_file=pub_file, require=("exp", "jti"))
    assert rejected(verifier, make_ctx(bearer(jwt.encode(claims(), rsa_key, "RS256"))))
    token = jwt.encode(claims(jti="1"), rsa_key, "RS256")
    assert verifier.customer(verifier.verify(make_ctx(bearer(token)))) == "waitrose"
    no_exp = JWTVerifier(algorithms=["RS256"], key_file=pub_file, require=())
    token = jwt.encode({"customer": "waitrose"}, rsa_key, "RS256")
    assert no_exp.customer(no_exp.verify(make_ctx(bearer(token)))) == "waitrose"


def test_cached_token_is_still_checked_for_expiry(
    pub_file: str, rsa_key: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    verifier = JWTVerifier(algorithms=["RS256"], key_file=pub_file)
    token = jwt.encode(claims(exp=int(time.time()) + 30), rsa_key, "RS256")
    assert verifier.customer(verifier.verify(make_ctx(bearer(token)))) == "waitrose"
    later = time.time() + 31
    monkeypatch.setattr(rjwt.time, "time", lambda: later)
    assert rejected(verifier, make_ctx(bearer(token))).description == "the token has expired"


# ---------------------------------------------------------------- the Authorization header


async def test_missing_credentials_get_a_bare_challenge(pub_file: str) -> None:
    handler = JWTAuth(jwt=JWTVerifier(algorithms=["RS256"], key_file=pub_file))
    assert await status_of(handler, make_ctx()) == (401, "Bearer")
    assert await status_of(handler, make_ctx("Basic dXNlcjpwYXNz")) == (401, "Bearer")


async def test_two_authorization_headers(pub_file: str, rsa_key: Any) -> None:
    handler = JWTAuth(jwt=JWTVerifier(algorithms=["RS256"], key_file=pub_file))
    token = jwt.encode(claims(), rsa_key, "RS256")
    status, challenge = await status_of(handler, make_ctx(bearer(token), bearer(token)))
    assert status == 401
    assert challenge.startswith('Bearer error="invalid_request"')


async def test_challenge_names_the_error_but_never_the_token(pub_file: str, rsa_key: Any) -> None:
    handler = JWTAuth(jwt=JWTVerifier(algorithms=["RS256"], key_file=pub_file))
    token = jwt.encode(claims(exp=int(time.time()) - 10), rsa_key, "RS256")
    status, challenge = await status_of(handler, make_ctx(bearer(token)))
    assert status == 401
    assert challenge == 'Bearer error="invalid_token", error_description="the token has expired"'
    for part in token.split("."):
        assert part not in challenge


# ---------------------------------------------------------------- the customer claim


@pytest.mark.parametrize(
    "value",
    [
        "../etc",
        "a/../b",
        "acme\r\nX-Admin: 1",
        "acme\n",
        "acme\x00",
        "a" * 65,
        "a" * 100_000,
        "",
        "-acme",
        "acmé",
        42,
        ["acme"],
        {"id": "acme"},
        None,
    ],
)
async def test_claim_injection_attempts_are_refused(
    pub_file: str, rsa_key: Any, value: Any
) -> None:
    handler = JWTAuth(jwt=JWTVerifier(algorithms=["RS256"], key_file=pub_file))
    token = jwt.encode(claims(customer=value), rsa_key, "RS256")
    status, challenge = await status_of(handler, make_ctx(bearer(token)))
    assert status == 401
    assert "customer claim" in challenge or "too long" in challenge
    assert "http.auth.jwt.customer" not in ctx_extra_after(handler, token)


def ctx_extra_after(handler: JWTAuth, token: str) -> dict[str, Any]:
    ctx = make_ctx(bearer(token))
    try:
        handler.jwt.customer(handler.jwt.verify(ctx))
    except TokenRejected:
        pass
    return ctx.extra


def test_nested_claim_and_custom_pattern(pub_file: str, rsa_key: Any) -> None:
    verifier = JWTVerifier(
        algorithms=["RS256"], key_file=pub_file, claim="org.id", claim_pattern=r"^[0-9]{3}$"
    )
    good = jwt.encode(claims(org={"id": "123"}), rsa_key, "RS256")
    assert verifier.customer(verifier.verify(make_ctx(bearer(good)))) == "123"
    bad = jwt.encode(claims(org={"id": "1234"}), rsa_key, "RS256")
    assert rejected(verifier, make_ctx(bearer(bad))).description == (
        "the token's customer claim is invalid"
    )
    flat = jwt.encode(claims(**{"org.id": "123"}), rsa_key, "RS256")
    assert rejected(verifier, make_ctx(bearer(flat))).description == (
        "the token lacks the customer claim"
    )


def test_a_pattern_cannot_let_a_newline_through(pub_file: str, rsa_key: Any) -> None:
    # `$` matches before a final newline; the whole value must match.
    verifier = JWTVerifier(algorithms=["RS256"], key_file=pub_file, claim_pattern=r"^.+$")
    token = jwt.encode(claims(customer="acme\n"), rsa_key, "RS256")
    assert rejected(verifier, make_ctx(bearer(token)))


# ---------------------------------------------------------------- JWKS


def jwk(key: Any, kid: str | None, alg: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    if kid is not None:
        data["kid"] = kid
    if alg is not None:
        data["alg"] = alg
    return data


def test_jwks_picks_the_key_by_kid(tmp_path: Path, rsa_key: Any, other_rsa_key: Any) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk(rsa_key, "one"), jwk(other_rsa_key, "two")]}))
    verifier = JWTVerifier(algorithms=["RS256", "PS256"], jwks_file=str(path))
    for kid, key in (("one", rsa_key), ("two", other_rsa_key)):
        for alg in ("RS256", "PS256"):
            token = jwt.encode(claims(), key, alg, headers={"kid": kid})
            assert verifier.customer(verifier.verify(make_ctx(bearer(token)))) == "waitrose"
    crossed = jwt.encode(claims(), rsa_key, "RS256", headers={"kid": "two"})
    assert "signature" in rejected(verifier, make_ctx(bearer(crossed))).description
    for headers in ({"kid": "three"}, {}):
        token = jwt.encode(claims(), rsa_key, "RS256", headers=headers)
        assert rejected(verifier, make_ctx(bearer(token))).description == (
            "the token's key is unknown"
        )


def test_jwks_alg_member_restricts_the_key(tmp_path: Path, rsa_key: Any) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [jwk(rsa_key, "one", alg="PS256")]}))
    verifier = JWTVerifier(algorithms=["RS256", "PS256"], jwks_file=str(path))
    ps = jwt.encode(claims(), rsa_key, "PS256")  # one key: the kid may be left out
    assert verifier.customer(verifier.verify(make_ctx(bearer(ps)))) == "waitrose"
    rs = jwt.encode(claims(), rsa_key, "RS256", headers={"kid": "one"})
    assert rejected(verifier, make_ctx(bearer(rs))).description == "the token's key is unknown"


def test_jwks_never_yields_a_shared_secret(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    oct_key = {"kty": "oct", "k": b64(SECRET), "kid": "s"}
    path.write_text(json.dumps({"keys": [oct_key]}))
    with pytest.raises(ValueError, match="no key"):
        JWTVerifier(algorithms=["HS256"], jwks_file=str(path))


# ---------------------------------------------------------------- startup checks


def test_startup_refusals(tmp_path: Path, pub_file: str, monkeypatch: pytest.MonkeyPatch) -> None:
    short = tmp_path / "short"
    short.write_bytes(b"tooshort\n")
    monkeypatch.delenv("RPC_TEST_MISSING", raising=False)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"algorithms": ["HS256"], "key_file": pub_file}, "does not fit"),
        ({"algorithms": ["ES256"], "key_file": pub_file}, "does not fit"),
        ({"algorithms": ["HS256"], "key_file": str(short)}, "too weak"),
        ({"algorithms": ["HS256"], "key_env": "RPC_TEST_MISSING"}, "not set"),
        ({"algorithms": ["RS256"], "key_file": str(tmp_path / "nope")}, "cannot read"),
        ({"algorithms": ["none"], "key_file": pub_file}, "pinned"),
        ({"algorithms": [], "key_file": pub_file}, "pinned"),
        ({"algorithms": ["HS256", "RS256"], "key_file": pub_file}, "mixed"),
        ({"algorithms": ["RS256"]}, "exactly one"),
    ]
    for kwargs, fragment in cases:
        with pytest.raises(ValueError, match=fragment):
            JWTVerifier(**kwargs)


def test_weak_rsa_key_is_refused(tmp_path: Path) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    path = tmp_path / "weak.pem"
    path.write_bytes(pem(weak))
    with pytest.raises(ValueError, match="too weak"):
        JWTVerifier(algorithms=["RS256"], key_file=str(path))


def test_certificate_key_file(tmp_path: Path, rsa_key: rsa.RSAPrivateKey) -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "id.example")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(rsa_key.public_key())
        .serial_number(1)
        .not_valid_before(datetime.datetime(2020, 1, 1))
        .not_valid_after(datetime.datetime(2040, 1, 1))
        .sign(rsa_key, hashes.SHA256())
    )
    path = tmp_path / "cert.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    verifier = JWTVerifier(algorithms=["RS256"], key_file=str(path))
    token = jwt.encode(claims(), rsa_key, "RS256")
    assert verifier.customer(verifier.verify(make_ctx(bearer(token)))) == "waitrose"
    with pytest.raises(ValueError, match="does not fit"):
        JWTVerifier(algorithms=["HS256"], key_file=str(path))
