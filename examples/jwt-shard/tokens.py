"""Keys, tokens and Redis entries for the jwt-shard example.

    python tokens.py keys                    # keys/jwt-private.pem + keys/jwt-public.pem (RSA 2048)
    python tokens.py token walmart [SECONDS] # an RS256 token for a customer (default: 1 hour)
    python tokens.py seed [REDIS_URL]        # SET shard:walmart, shard:waitrose (loopback backends)
    python tokens.py move walmart 127.0.0.1:9002 [REDIS_URL]  # change a shard, announce it

Needs `pip install 'rpc[runtime]'` (pyjwt, cryptography, redis).
"""

import sys
import time
from pathlib import Path

KEYS = Path(__file__).parent / "keys"
SHARDS = {"walmart": "127.0.0.1:9001", "waitrose": "127.0.0.1:9002"}
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def keys() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    KEYS.mkdir(exist_ok=True)
    private = KEYS / "jwt-private.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    private.chmod(0o600)
    (KEYS / "jwt-public.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    print(f"wrote {private} and {KEYS / 'jwt-public.pem'}")


def token(customer: str, seconds: int = 3600) -> None:
    import jwt

    now = int(time.time())
    claims = {"sub": f"user@{customer}", "customer": customer, "iat": now, "exp": now + seconds}
    print(jwt.encode(claims, (KEYS / "jwt-private.pem").read_bytes(), algorithm="RS256"))


def seed(url: str = DEFAULT_REDIS) -> None:
    import redis

    client = redis.Redis.from_url(url)
    for customer, shard in SHARDS.items():
        client.set(f"shard:{customer}", shard)
        print(f"SET shard:{customer} {shard}")


def move(customer: str, shard: str, url: str = DEFAULT_REDIS) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.set(f"shard:{customer}", shard)
    client.publish("shard-changes", customer)  # the proxy drops its cached entry at once
    print(f"SET shard:{customer} {shard}; PUBLISH shard-changes {customer}")


if __name__ == "__main__":
    command, *args = sys.argv[1:] or ["help"]
    if command == "keys":
        keys()
    elif command == "token":
        token(args[0], *(int(a) for a in args[1:]))
    elif command == "seed":
        seed(*args)
    elif command == "move":
        move(*args)
    else:
        print(__doc__)
