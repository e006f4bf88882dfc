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
from rpc.runtime.auth import BasicAuth
from rpc.runtime.browse import Browse
from rpc.runtime.cel import MatchExpression
from rpc.runtime.context import Ctx
from rpc.runtime.dynamic import AUpstreams, MultiUpstreams, SRVUpstreams
from rpc.runtime.encode import Encode, Gzip, Zstd
from rpc.runtime.errors import ClientGone, HandlerError
from rpc.runtime.filematch import MatchFile
from rpc.runtime.fileserver import FileServer
from rpc.runtime.headers import HeaderOps, Headers, Replacement
from rpc.runtime.health import ActiveHealthCheck, PassiveHealth
from rpc.runtime.jwt import JWTAuth, JWTVerifier
from rpc.runtime.logappend import LogAppend
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
from rpc.runtime.policies import (
    ClientIPHash,
    CookieHash,
    First,
    HeaderHash,
    IPHash,
    LeastConn,
    QueryHash,
    Random,
    RandomChoose,
    RoundRobin,
    URIHash,
    WeightedRoundRobin,
)
from rpc.runtime.proxy import (
    CopyResponse,
    CopyResponseHeaders,
    ResponseHandler,
    ReverseProxy,
    start_health_checks,
)
from rpc.runtime.rediskv import RedisLookup, RedisUpstreams
from rpc.runtime.requestbody import RequestBody
from rpc.runtime.respmatch import ResponseMatcher
from rpc.runtime.rewrite import (
    QueryArg,
    QueryOps,
    QueryReplace,
    RegexReplace,
    Rewrite,
    SubstringReplace,
)
from rpc.runtime.routing import NOMATCH, PathTable
from rpc.runtime.server import building, main
from rpc.runtime.shards import InlineMap, MapFile, ShardRouter
from rpc.runtime.static import StaticError, StaticResponse
from rpc.runtime.transport import Transport, client_tls
from rpc.runtime.typedefs import Reply
from rpc.runtime.vars import Map, MapEntry, Vars

# Bump when a name in __all__ changes meaning or signature; generated modules
# refuse to run against a runtime with a different ABI.
RUNTIME_ABI = 1

__all__ = [
    "NOMATCH",
    "RUNTIME_ABI",
    "AUpstreams",
    "ActiveHealthCheck",
    "App",
    "BasicAuth",
    "Browse",
    "Certificate",
    "ClientGone",
    "ClientIPHash",
    "CookieHash",
    "CopyResponse",
    "CopyResponseHeaders",
    "Ctx",
    "Encode",
    "FileServer",
    "First",
    "Gzip",
    "HandlerError",
    "HeaderHash",
    "HeaderOps",
    "Headers",
    "IPHash",
    "InlineMap",
    "Instrumented",
    "JWTAuth",
    "JWTVerifier",
    "LeastConn",
    "Log",
    "LogAppend",
    "Map",
    "MapEntry",
    "MapFile",
    "MatchClientIP",
    "MatchExpression",
    "MatchFile",
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
    "MultiUpstreams",
    "PassiveHealth",
    "PathTable",
    "Placeholder",
    "QueryArg",
    "QueryHash",
    "QueryOps",
    "QueryReplace",
    "Random",
    "RandomChoose",
    "RedisLookup",
    "RedisUpstreams",
    "RegexReplace",
    "Replacement",
    "Reply",
    "RequestBody",
    "ResponseHandler",
    "ResponseMatcher",
    "ReverseProxy",
    "Rewrite",
    "RoundRobin",
    "SRVUpstreams",
    "ServerConfig",
    "ServerLogs",
    "ShardRouter",
    "StaticError",
    "StaticResponse",
    "SubstringReplace",
    "TLSConfig",
    "Template",
    "Timeouts",
    "Transport",
    "URIHash",
    "Vars",
    "WeightedRoundRobin",
    "Zstd",
    "building",
    "cel",
    "client_tls",
    "compile_regex",
    "main",
    "match_path",
    "start_health_checks",
    "trace",
]
