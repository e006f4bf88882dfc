"""rpc.compiler: Caddyfile → concrete syntax tree → IR → a standalone Python proxy module.

The public API is the pipeline facade (`compile_caddyfile`, `parse_document`,
`Stage`) and the error model (`RpcError`, `Diagnostic`); the `rpc` command line
lives in `rpc.compiler.cli`.
"""

from rpc.compiler.errors import Diagnostic, Diagnostics, RpcError, Severity
from rpc.compiler.pipeline import Compilation, Stage, compile_caddyfile, parse_document

__version__ = "0.1.0"

__all__ = [
    "Compilation",
    "Diagnostic",
    "Diagnostics",
    "RpcError",
    "Severity",
    "Stage",
    "__version__",
    "compile_caddyfile",
    "parse_document",
]
