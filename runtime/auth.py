"""`basic_auth`: HTTP basic authentication against bcrypt or argon2id password hashes.

A port of Caddy 2.11's `authentication` handler with its `http_basic`
provider (`modules/caddyhttp/caddyauth/`). A request without valid
credentials fails with `HandlerError(401)` and `WWW-Authenticate: Basic
realm="..."` on the response; a valid one publishes `{http.auth.user.id}`.
An unknown user costs one hash comparison like a known one, the final
comparison is constant-time, hashing runs off the event loop, and results
are cached (as Caddy does) so a slow hash is paid once per credential pair.
bcrypt and cryptography are imported lazily.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import random
from collections.abc import Callable, Sequence

from rpc.runtime.context import Ctx
from rpc.runtime.errors import HandlerError

__all__ = ["BasicAuth"]

_CACHE_SIZE = 1000
_EXTRA = "pip install 'rpc[runtime]'"


class BasicAuth:
    """Check `Authorization: Basic` credentials against `accounts` (username, password hash)."""

    __slots__ = ("_cache", "_compare", "_fallback", "accounts", "origin", "realm")

    def __init__(
        self,
        accounts: Sequence[tuple[str, str]],
        *,
        hash_algorithm: str = "bcrypt",
        realm: str = "",
        origin: str = "",
    ) -> None:
        self.accounts = {user: _decode_hash(pw) for user, pw in accounts}
        self.realm = realm or "restricted"
        self.origin = origin
        self._compare = _comparer(hash_algorithm)
        # What an unknown user is compared against, so it costs the same time.
        self._fallback = next(iter(self.accounts.values()), b"")
        self._cache: dict[bytes, bool] = {}

    async def __call__(self, ctx: Ctx) -> None:
        credentials = _basic_credentials(ctx.headers.get("Authorization", ""))
        if credentials is not None:
            username, password = credentials
            stored = self.accounts.get(username)
            same = await self._check(stored if stored is not None else self._fallback, password)
            if same and stored is not None:
                ctx.extra["http.auth.user.id"] = username
                return
        ctx.resp_headers["WWW-Authenticate"] = f'Basic realm="{self.realm}"'
        raise HandlerError(401, "not authenticated", origin=self.origin)

    async def _check(self, hashed: bytes, password: bytes) -> bool:
        if not hashed:
            return False
        key = hashlib.sha256(hashed + b"\x00" + password).digest()
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        same = await asyncio.to_thread(self._compare, hashed, password)
        if len(self._cache) >= _CACHE_SIZE:
            del self._cache[random.choice(list(self._cache))]
        self._cache[key] = same
        return same


def _decode_hash(text: str) -> bytes:
    """A hash as written (`$2a$...`), or base64 of it as older Caddyfiles have."""
    if text.startswith("$"):
        return text.encode()
    try:
        return base64.b64decode(text, validate=False).strip()
    except (binascii.Error, ValueError):
        return text.encode()


def _basic_credentials(header: str) -> tuple[str, bytes] | None:
    """Go's `Request.BasicAuth`: `Basic` (any case), base64, split at the first `:`."""
    if len(header) < 6 or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:], validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(b":")
    if not sep:
        return None
    return user.decode("utf-8", "surrogateescape"), password


def _comparer(algorithm: str) -> Callable[[bytes, bytes], bool]:
    if algorithm == "bcrypt":
        try:
            import bcrypt
        except ImportError as exc:
            raise RuntimeError(f"basic_auth with bcrypt needs bcrypt: {_EXTRA}") from exc

        def compare_bcrypt(hashed: bytes, password: bytes) -> bool:
            try:
                return bool(bcrypt.checkpw(password, hashed))
            except ValueError:
                return False

        return compare_bcrypt
    if algorithm == "argon2id":
        return _compare_argon2id
    raise ValueError(f"unknown password hash algorithm {algorithm!r}")


def _b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def _compare_argon2id(hashed: bytes, password: bytes) -> bool:
    """Verify a PHC string `$argon2id$v=19$m=..,t=..,p=..$salt$hash` (cryptography's Argon2id)."""
    try:
        from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
    except ImportError as exc:
        raise RuntimeError(f"basic_auth with argon2id needs cryptography>=44: {_EXTRA}") from exc
    try:
        _, name, _version, params, salt, digest = hashed.decode().split("$")
        if name != "argon2id":
            return False
        p = dict(item.split("=", 1) for item in params.split(","))
        want = _b64(digest)
        kdf = Argon2id(
            salt=_b64(salt),
            length=len(want),
            iterations=int(p["t"]),
            lanes=int(p["p"]),
            memory_cost=int(p["m"]),
        )
        got = kdf.derive(password)
    except (ValueError, KeyError, UnicodeDecodeError):
        return False
    return hmac.compare_digest(got, want)
