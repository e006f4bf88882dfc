"""rpc.runtime: what generated proxy modules import (aiohttp and the standard library).

`__all__` is the contract with generated code: a generated module imports one
sorted list of these names and checks `RUNTIME_ABI` at import. Optional
dependencies (redis, pyjwt, bcrypt, prometheus-client, uvloop, xxhash,
cryptography) are imported lazily by the modules that need them, so a proxy
installs only what its Caddyfile uses. This package never imports the compiler.
"""

from __future__ import annotations

from rpc.runtime import cel, trace
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
from rpc.runtime.cel import MatchExpression
from rpc.runtime.context import Ctx
from rpc.runtime.errors import ClientGone, HandlerError
from rpc.runtime.matchers import (
    MatchClientIP,
    MatchHeader,
    MatchHeaderRE,
    MatchHost,
    MatchMethod,
    MatchPath,
    MatchPathRE,
    MatchProtocol,
    MatchQuery,
    MatchRemoteIP,
    MatchVars,
    MatchVarsRE,
    compile_regex,
)
from rpc.runtime.metrics import Instrumented, MetricsHandler
from rpc.runtime.pathmatch import match_path
from rpc.runtime.placeholders import Placeholder, Template
from rpc.runtime.routing import NOMATCH, PathTable
from rpc.runtime.server import main
from rpc.runtime.static import StaticError, StaticResponse
from rpc.runtime.typedefs import Reply

# Bump when a name in __all__ changes meaning or signature; generated modules
# refuse to run against a runtime with a different ABI.
RUNTIME_ABI = 1

__all__ = [
    "NOMATCH",
    "RUNTIME_ABI",
    "App",
    "Certificate",
    "ClientGone",
    "Ctx",
    "HandlerError",
    "Instrumented",
    "Log",
    "MatchClientIP",
    "MatchExpression",
    "MatchHeader",
    "MatchHeaderRE",
    "MatchHost",
    "MatchMethod",
    "MatchPath",
    "MatchPathRE",
    "MatchProtocol",
    "MatchQuery",
    "MatchRemoteIP",
    "MatchVars",
    "MatchVarsRE",
    "MetricsConfig",
    "MetricsHandler",
    "PathTable",
    "Placeholder",
    "Reply",
    "ServerConfig",
    "ServerLogs",
    "StaticError",
    "StaticResponse",
    "TLSConfig",
    "Template",
    "Timeouts",
    "cel",
    "compile_regex",
    "main",
    "match_path",
    "trace",
]
