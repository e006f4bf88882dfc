"""Single-file artifacts: the generated app and `rpc.runtime` in one zipapp, plus what it needs.

`build_zipapp` writes `proxy.pyz` (runnable as `python proxy.pyz` wherever
aiohttp is installed: the runtime travels inside, the compiler does not);
`requirements` lists the exact runtime packages a compiled Caddyfile uses,
pinned to the versions installed here; `dockerfile` is a minimal image.
"""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import zipfile
from pathlib import Path

from rpc.compiler.ir.config import Config
from rpc.compiler.walk import nodes

__all__ = ["build_zipapp", "dockerfile", "requirements"]

# IR class name → the optional runtime packages it imports (see the `runtime` extra).
_NEEDS: dict[str, tuple[str, ...]] = {
    "JWTAuth": ("pyjwt[crypto]",),
    "ShardRouter": ("pyjwt[crypto]", "redis"),
    "RedisUpstreams": ("redis",),
    "Authentication": ("bcrypt",),
    "Metrics": ("prometheus-client",),
    "ServerMetrics": ("prometheus-client",),
    "SRVUpstreams": ("dnspython",),
    "IPHash": ("xxhash",),
    "ClientIPHash": ("xxhash",),
    "URIHash": ("xxhash",),
    "QueryHash": ("xxhash",),
    "HeaderHash": ("xxhash",),
    "CookieHash": ("xxhash",),
    "Zstd": ("zstandard",),
}

_DIST = {"pyjwt[crypto]": "pyjwt", "prometheus-client": "prometheus_client"}


def _pinned(requirement: str) -> str:
    dist = _DIST.get(requirement, requirement).split("[")[0]
    try:
        return f"{requirement}=={importlib.metadata.version(dist)}"
    except importlib.metadata.PackageNotFoundError:
        return requirement


def requirements(config: Config) -> list[str]:
    """The runtime requirements of a compiled Caddyfile, pinned to the installed versions."""
    from rpc.compiler.certplan import serves_tls

    needed = {"aiohttp"}
    if serves_tls(config):
        needed.add("cryptography")
    for node in nodes(config):
        needed.update(_NEEDS.get(type(node).__name__, ()))
    lines = sorted(_pinned(r) for r in needed)
    lines.append("uvloop; sys_platform != 'win32'  # optional: faster event loop")
    return lines


def build_zipapp(target: Path, module_source: str) -> None:
    """Write `target`: `__main__.py` is the generated module; `rpc/runtime/` rides along."""
    runtime = importlib.resources.files("rpc.runtime")
    with target.open("wb") as fh:
        fh.write(b"#!/usr/bin/env python3\n")  # zipfile records offsets after it, as zipapp does
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("__main__.py", module_source)
            # zipimport does not do implicit namespace packages: `rpc` needs an __init__ here.
            zf.writestr("rpc/__init__.py", '"""rpc.runtime, bundled by `rpc build`."""\n')
            for entry in sorted(runtime.iterdir(), key=lambda p: p.name):
                if entry.name.endswith((".py", ".typed")):
                    zf.writestr(f"rpc/runtime/{entry.name}", entry.read_bytes())
    target.chmod(0o755)


def dockerfile(artifact: str, requirements_file: str) -> str:
    """A minimal image running the artifact."""
    return (
        "FROM python:3.11-slim\n"
        "WORKDIR /app\n"
        f"COPY {requirements_file} {artifact} ./\n"
        f"RUN pip install --no-cache-dir -r {requirements_file}\n"
        "USER nobody\n"
        f'ENTRYPOINT ["python", "/app/{artifact}"]\n'
    )
