"""Bearer-token verification: a request's `Authorization` header → its verified claims, or 401.

`JWTVerifier` checks a JWT with pyjwt (imported when the first verifier is
built) against algorithms pinned by the config, never the token: `none` is
never accepted, each key is prepared for the pinned algorithms it fits at
startup (so an RSA public key can never serve as an HMAC secret), and with a
JWKS the token's `kid` picks the key. Keys are read from their file or
environment variable when the verifier is built and are never logged.
`JWTAuth` is the `jwt` handler: it verifies and publishes the claims as
`{http.auth.jwt.<claim>}` (nested claims dotted) and `{http.auth.user.id}`
(the `sub`). A failure raises `HandlerError(401)` with
`WWW-Authenticate: Bearer ...` set on the response; the description is one
of a few fixed texts and never echoes the token.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import time
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from rpc.runtime.context import Ctx
from rpc.runtime.errors import HandlerError

__all__ = ["DEFAULT_CLAIM_PATTERN", "JWTAuth", "JWTVerifier", "TokenRejected", "Verified"]

DEFAULT_CLAIM_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"

# Longer Authorization values are refused before any parsing.
MAX_TOKEN = 8192
# Verified tokens remembered (by their exact text) so repeated requests skip the crypto.
TOKEN_CACHE_SIZE = 4096
# A customer value longer than this is refused whatever the pattern allows.
MAX_CUSTOMER = 256
# Nested claims are published down to this depth.
MAX_CLAIM_DEPTH = 4

_SYMMETRIC = frozenset({"HS256", "HS384", "HS512"})
_TOKEN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _import_jwt() -> Any:
    try:
        import jwt
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("JWT verification needs pyjwt: pip install 'rpc[runtime]'") from exc
    return jwt


class TokenRejected(Exception):
    """A token that does not pass; `error` and `description` go into WWW-Authenticate."""

    def __init__(self, description: str, error: str = "invalid_token") -> None:
        super().__init__(description)
        self.description = description
        self.error = error


# pyjwt exception class name → the fixed description a client sees.
_DESCRIPTIONS = {
    "ExpiredSignatureError": "the token has expired",
    "ImmatureSignatureError": "the token is not valid yet",
    "InvalidAudienceError": "the token is for another audience",
    "InvalidIssuerError": "the token has the wrong issuer",
    "MissingRequiredClaimError": "the token lacks a required claim",
    "InvalidAlgorithmError": "the token's algorithm is not allowed",
    "InvalidSignatureError": "the token's signature is invalid",
    "InvalidIssuedAtError": "the token's iat claim is invalid",
}


class Verified:
    """A verified token: its claims, flattened placeholders, customer and time claims."""

    __slots__ = ("claims", "customer", "exp", "iat", "nbf", "placeholders", "problem")

    def __init__(
        self,
        claims: dict[str, Any],
        placeholders: dict[str, Any],
        customer: str | None,
        problem: str,
    ) -> None:
        self.claims = claims
        self.placeholders = placeholders
        self.customer = customer
        self.problem = problem  # why `customer` is None
        self.exp = _int_claim(claims, "exp")
        self.nbf = _int_claim(claims, "nbf")
        self.iat = _int_claim(claims, "iat")


def _int_claim(claims: dict[str, Any], name: str) -> int | None:
    value = claims.get(name)
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return None


class JWTVerifier:
    """Verifies bearer tokens for `jwt` and `jwt_shard_router` (docs/jwt-shard.md).

    `algorithms` are the only ones accepted; exactly one of `key_file`,
    `key_env` (the variable's name) and `jwks_file` gives the key. `issuer`
    must equal `iss`; `audience` must meet `aud` (a token carrying `aud`
    when no audience is configured is refused, as RFC 7519 asks); `leeway`
    is the clock skew allowed for `exp`/`nbf`/`iat`; `require` lists claims
    that must be present. `claim` (dotted for nested) names the customer,
    which must match `claim_pattern` in full.
    """

    __slots__ = (
        "_cache",
        "_decode",
        "_errors",
        "_fallback",
        "_fallback_any",
        "_keys",
        "algorithms",
        "audience",
        "claim",
        "claim_path",
        "claim_pattern",
        "issuer",
        "leeway",
        "origin",
        "require",
    )

    def __init__(
        self,
        *,
        algorithms: Sequence[str],
        key_file: str = "",
        key_env: str = "",
        jwks_file: str = "",
        issuer: str = "",
        audience: Sequence[str] = (),
        leeway: float = 0.0,
        require: Sequence[str] = ("exp",),
        claim: str = "customer",
        claim_pattern: re.Pattern[str] | str = DEFAULT_CLAIM_PATTERN,
        origin: str = "",
    ) -> None:
        jwt = _import_jwt()
        self.origin = origin
        self.algorithms = tuple(algorithms)
        if not self.algorithms or "none" in self.algorithms:
            raise ValueError(f"jwt ({origin}): the algorithms must be pinned (and never none)")
        if _SYMMETRIC & set(self.algorithms) and not _SYMMETRIC.issuperset(self.algorithms):
            raise ValueError(f"jwt ({origin}): HMAC and public-key algorithms cannot be mixed")
        self.issuer = issuer or None
        self.audience = tuple(audience) or None
        self.leeway = float(leeway)
        self.require = tuple(require)
        self.claim = claim
        self.claim_path = tuple(claim.split("."))
        self.claim_pattern = (
            claim_pattern if isinstance(claim_pattern, re.Pattern) else re.compile(claim_pattern)
        )
        self._decode = jwt.decode
        self._errors: tuple[type[Exception], ...] = (jwt.PyJWTError, ValueError, TypeError)
        self._keys: dict[tuple[str | None, str], Any] = {}
        self._fallback: dict[str, Any] | None = None
        self._fallback_any = False
        sources = [s for s in (key_file, key_env, jwks_file) if s]
        if len(sources) != 1:
            raise ValueError(f"jwt ({origin}): give exactly one of key_file, key_env, jwks_file")
        if jwks_file:
            self._load_jwks(jwt, jwks_file)
        else:
            self._load_key(jwt, _read_key(key_file, key_env, origin))
        self._cache: dict[str, Verified] = {}

    # ------------------------------------------------------------ keys (startup)

    def _load_key(self, jwt: Any, material: bytes) -> None:
        source: Any = material
        if material.lstrip().startswith(b"-----BEGIN CERTIFICATE-----"):
            source = _certificate_key(material, self.origin)
        for alg in self.algorithms:
            impl = jwt.get_algorithm_by_name(alg)
            try:
                key = _public(impl.prepare_key(source))
            except (jwt.InvalidKeyError, ValueError, TypeError):
                continue
            if (problem := impl.check_key_length(key)) is not None:
                raise ValueError(f"jwt ({self.origin}): key too weak for {alg}: {problem}")
            self._keys[(None, alg)] = key
        self._fallback = {alg: key for (_, alg), key in self._keys.items()}
        self._fallback_any = True
        if not self._keys:
            raise ValueError(
                f"jwt ({self.origin}): the key does not fit any of {', '.join(self.algorithms)}"
                " (HS* need a secret, the others a PEM public key of the matching type)"
            )

    def _load_jwks(self, jwt: Any, path: str) -> None:
        try:
            with open(path, "rb") as f:
                document = json.load(f)
        except (OSError, ValueError) as exc:
            raise ValueError(f"jwt ({self.origin}): cannot read jwks_file {path}: {exc}") from None
        entries = document.get("keys") if isinstance(document, dict) else None
        kids: set[str | None] = set()
        for entry in entries if isinstance(entries, list) else ():
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            if entry.get("kty") == "oct":  # never a shared secret from a key set
                continue
            kid = entry.get("kid") if isinstance(entry.get("kid"), str) else None
            declared = entry.get("alg")
            for alg in self.algorithms:
                if declared is not None and declared != alg:
                    continue
                try:
                    key = jwt.PyJWK(entry, algorithm=alg).key
                    key = _public(jwt.get_algorithm_by_name(alg).prepare_key(key))
                except (jwt.PyJWTError, ValueError, TypeError):
                    continue
                if jwt.get_algorithm_by_name(alg).check_key_length(key) is not None:
                    continue
                self._keys[(kid, alg)] = key
                kids.add(kid)
        if not self._keys:
            raise ValueError(
                f"jwt ({self.origin}): no key in {path} fits {', '.join(self.algorithms)}"
            )
        if len(kids) == 1:
            self._fallback = {alg: key for (_, alg), key in self._keys.items()}
            self._fallback_any = next(iter(kids)) is None

    # ------------------------------------------------------------ per request

    def verify(self, ctx: Ctx) -> Verified:
        """The verified token of the request; raises `TokenRejected`."""
        values = ctx.headers.getall("Authorization", ())
        if not values:
            raise TokenRejected("", error="")
        if len(values) > 1:
            raise TokenRejected("more than one Authorization header", error="invalid_request")
        value = values[0]
        if len(value) > MAX_TOKEN:
            raise TokenRejected("the token is too long")
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer":
            raise TokenRejected("", error="")
        token = token.strip(" ")
        if _TOKEN.fullmatch(token) is None:
            raise TokenRejected("the token is malformed")
        verified = self._cache.get(token)
        if verified is None:
            verified = self._verify(token)
        else:
            self._check_times(verified)
        return verified

    def _verify(self, token: str) -> Verified:
        header = _header(token)
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise TokenRejected("the token's algorithm is not allowed")
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise TokenRejected("the token is malformed")
        key = self._keys.get((kid, alg))
        if key is None and self._fallback is not None and (kid is None or self._fallback_any):
            # One key id: tokens need not name it, and a key without id fits any `kid`.
            key = self._fallback.get(alg)
        if key is None:
            raise TokenRejected("the token's key is unknown")
        try:
            claims = self._decode(
                token,
                key,
                algorithms=[alg],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": list(self.require), "enforce_minimum_key_length": True},
            )
        except self._errors as exc:
            description = _DESCRIPTIONS.get(type(exc).__name__, "the token is malformed")
            raise TokenRejected(description) from None
        verified = self._claims(claims)
        if len(self._cache) >= TOKEN_CACHE_SIZE:
            del self._cache[next(iter(self._cache))]
        self._cache[token] = verified
        return verified

    def _check_times(self, v: Verified) -> None:
        """Re-check the time claims of a token verified earlier (pyjwt's rules)."""
        now = time.time()
        if v.exp is not None and v.exp <= now - self.leeway:
            raise TokenRejected("the token has expired")
        if v.nbf is not None and v.nbf > now + self.leeway:
            raise TokenRejected("the token is not valid yet")
        if v.iat is not None and v.iat > now + self.leeway:
            raise TokenRejected("the token is not valid yet")

    def _claims(self, claims: dict[str, Any]) -> Verified:
        flat: dict[str, Any] = {}
        _flatten(claims, "http.auth.jwt.", flat, MAX_CLAIM_DEPTH)
        sub = claims.get("sub")
        if isinstance(sub, str):
            flat["http.auth.user.id"] = sub
        value: Any = claims
        for part in self.claim_path:
            value = value.get(part) if isinstance(value, dict) else None
        customer: str | None = None
        problem = ""
        if value is None:
            problem = "the token lacks the customer claim"
        elif (
            not isinstance(value, str)
            or len(value) > MAX_CUSTOMER
            or _CONTROL.search(value) is not None
            or self.claim_pattern.fullmatch(value) is None
        ):
            problem = "the token's customer claim is invalid"
        else:
            customer = value
        return Verified(claims, flat, customer, problem)

    def customer(self, verified: Verified) -> str:
        """The validated customer of a verified token; raises `TokenRejected`."""
        if verified.customer is None:
            raise TokenRejected(verified.problem)
        return verified.customer

    def reject(self, ctx: Ctx, rejected: TokenRejected) -> HandlerError:
        """The 401 for a rejected token, with its WWW-Authenticate header set."""
        if rejected.error:
            challenge = f'Bearer error="{rejected.error}"'
            if rejected.description:
                challenge += f', error_description="{rejected.description}"'
        else:  # no credentials at all: RFC 6750 §3.1 wants no error code
            challenge = "Bearer"
        ctx.resp_headers["WWW-Authenticate"] = challenge
        return HandlerError(401, rejected.description or "no bearer token", origin=self.origin)


def _read_key(key_file: str, key_env: str, origin: str) -> bytes:
    if key_file:
        try:
            with open(key_file, "rb") as f:
                material = f.read()
        except OSError as exc:
            raise ValueError(
                f"jwt ({origin}): cannot read key_file {key_file}: {exc.strerror}"
            ) from None
    else:
        text = os.environ.get(key_env)
        if text is None:
            raise ValueError(f"jwt ({origin}): environment variable {key_env} is not set")
        material = text.encode()
    # Files written by editors and `echo` end in a newline that is not part of a secret.
    material = material.rstrip(b"\r\n")
    if not material:
        raise ValueError(f"jwt ({origin}): the key is empty")
    return material


def _certificate_key(material: bytes, origin: str) -> Any:
    """The public key of a PEM certificate (identity providers often publish those)."""
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(material).public_key()
    except ValueError as exc:
        raise ValueError(f"jwt ({origin}): cannot read the certificate: {exc}") from None


def _public(key: Any) -> Any:
    """The public half of a private key (verification needs no more)."""
    public_key = getattr(key, "public_key", None)
    return public_key() if callable(public_key) else key


def _header(token: str) -> dict[str, Any]:
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise TokenRejected("the token is malformed") from None
    if not isinstance(header, dict):
        raise TokenRejected("the token is malformed")
    return header


def _flatten(claims: dict[str, Any], prefix: str, out: dict[str, Any], depth: int) -> None:
    for name, value in claims.items():
        if not isinstance(name, str):
            continue
        if isinstance(value, dict):
            if depth > 1:
                _flatten(value, f"{prefix}{name}.", out, depth - 1)
        else:
            out[prefix + name] = value


class JWTAuth:
    """The `jwt` handler: verify the bearer token and publish its claims, or answer 401.

    The customer claim (`claim`, `claim_pattern`) must be present and valid
    here too, since `{http.auth.jwt.<claim>}` may go into a Redis key or a
    header further down.
    """

    __slots__ = ("jwt", "origin")

    def __init__(self, *, jwt: JWTVerifier, origin: str = "") -> None:
        self.jwt = jwt
        self.origin = origin

    async def __call__(self, ctx: Ctx) -> web.StreamResponse | None:
        try:
            verified = self.jwt.verify(ctx)
            self.jwt.customer(verified)
        except TokenRejected as rejected:
            raise self.jwt.reject(ctx, rejected) from None
        ctx.extra.update(verified.placeholders)
        return None
