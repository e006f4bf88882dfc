"""rpc.runtime: what generated proxy modules import (aiohttp and the standard library).

`__all__` is the contract with generated code: a generated module imports one
sorted list of these names and checks `RUNTIME_ABI` at import. Optional
dependencies (redis, pyjwt, bcrypt, prometheus-client, uvloop, xxhash,
cryptography) are imported lazily by the modules that need them, so a proxy
installs only what its Caddyfile uses. This package never imports the compiler.
"""

from __future__ import annotations

from rpc.runtime.app import (
    App,
    Certificate,
    Log,
    MetricsConfig,
    ServerConfig,
    ServerLogs,
    Timeouts,
    TLSConfig,
)
from rpc.runtime.auth import BasicAuth
from rpc.runtime.context import Ctx
from rpc.runtime.encode import Encode, Gzip, ResponseMatch, Zstd
from rpc.runtime.errors import ClientGone, HandlerError
from rpc.runtime.filematch import MatchFile
from rpc.runtime.fileserver import Browse, FileServer
from rpc.runtime.logappend import LogAppend
from rpc.runtime.metrics import Instrumented, MetricsHandler
from rpc.runtime.placeholders import Placeholder, Template
from rpc.runtime.requestbody import RequestBody
from rpc.runtime.rewrite import (
    QueryArg,
    QueryOps,
    QueryReplace,
    RegexReplace,
    Rewrite,
    SubstringReplace,
)
from rpc.runtime.server import main
from rpc.runtime.vars import Map, MapEntry, Vars

# Bump when a name in __all__ changes meaning or signature; generated modules
# refuse to run against a runtime with a different ABI.
RUNTIME_ABI = 1

__all__ = [
    "RUNTIME_ABI",
    "App",
    "BasicAuth",
    "Browse",
    "Certificate",
    "ClientGone",
    "Ctx",
    "Encode",
    "FileServer",
    "Gzip",
    "HandlerError",
    "Instrumented",
    "Log",
    "LogAppend",
    "Map",
    "MapEntry",
    "MatchFile",
    "MetricsConfig",
    "MetricsHandler",
    "Placeholder",
    "QueryArg",
    "QueryOps",
    "QueryReplace",
    "RegexReplace",
    "RequestBody",
    "ResponseMatch",
    "Rewrite",
    "ServerConfig",
    "ServerLogs",
    "SubstringReplace",
    "TLSConfig",
    "Template",
    "Timeouts",
    "Vars",
    "Zstd",
    "main",
]
