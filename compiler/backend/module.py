"""IR `Config` → the text of the generated module (template, compile() gate, black).

The module is deterministic: the same Caddyfile gives byte-identical output.
Its single `from rpc.runtime import ...` line is checked against
`rpc.runtime.__all__`, and the ABI number is baked in and checked at import.
"""

from __future__ import annotations

import functools
import hashlib
import types
from dataclasses import dataclass

import black
import jinja2

from rpc.compiler.backend import handlers as handler_emitters
from rpc.compiler.backend import matchers as matcher_code
from rpc.compiler.backend.app import app_expr
from rpc.compiler.backend.emit import Emitter, Unsupported
from rpc.compiler.backend.routes import RouteCompiler, TraceEntry
from rpc.compiler.errors import Diagnostic, Diagnostics, InternalError, RpcError
from rpc.compiler.ir.config import Config

__all__ = ["Generated", "generate"]


@dataclass(frozen=True, slots=True)
class Generated:
    """A generated module, the names it imports from the runtime, and its trace table."""

    source: str
    imports: tuple[str, ...]
    traces: tuple[TraceEntry, ...] = ()


@functools.cache
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("rpc.templates", "."),
        autoescape=False,  # the output is Python, not HTML
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def generate(
    config: Config,
    *,
    source_name: str,
    source_text: str,
    diags: Diagnostics,
    trace: bool = False,
) -> Generated | None:
    """Render the module; RPC304 diagnostics for anything the runtime cannot run.

    `trace` compiles the module for `rpc explain`: the same routes, with every
    matcher check and handler call reported to `rpc.runtime.trace`.
    """
    from rpc import runtime
    from rpc.compiler import __version__

    e = Emitter()
    e.rt("RUNTIME_ABI")
    e.rt("Ctx")
    e.rt("Reply")
    e.rt("main")
    e.rt("building")
    e.std("sys")
    rc = RouteCompiler(
        e,
        handler_expr=lambda h: handler_emitters.handler(e, rc, h),
        condition=lambda ms: matcher_code.matcher_set(e, ms),
        matcher_condition=lambda m: matcher_code.matcher(e, m),
        trace=trace,
    )
    try:
        digest = hashlib.sha256(source_text.encode("utf-8")).hexdigest()
        version = f"compiled by rpc {__version__} from {source_name} (sha256 {digest})"
        app = app_expr(e, rc, config, "VERSION")
    except Unsupported as exc:
        diags.add(Diagnostic.error("RPC304", exc.message, exc.span, exc.hint))  # type: ignore[arg-type]
        return None
    if any(fn.tail is not None for fn in rc.functions):
        e.std("collections.abc")  # the return type of routes emitted as a plain `def`
    missing = sorted(e.imports - set(runtime.__all__))
    if missing:
        raise InternalError(f"generated code needs runtime names that do not exist: {missing}")
    text = (
        _env()
        .get_template("module.py.jinja")
        .render(
            version=__version__,
            source=e.lit(source_name),
            source_hash=e.lit(digest),
            version_text=e.lit(version),
            stdlib=sorted(e.stdlib),
            imports=sorted(e.imports),
            abi=runtime.RUNTIME_ABI,
            decls=e.decls,
            functions=rc.functions,
            app=app,
        )
    )
    try:
        compile(text, "<rpc generated module>", "exec")
    except SyntaxError as exc:
        raise InternalError(f"generated module does not compile: {exc}") from exc
    mode = black.Mode(target_versions={black.mode.TargetVersion.PY311}, line_length=100)
    if trace:  # never shipped: black's formatting is for readers
        return Generated(text, tuple(sorted(e.imports)), tuple(rc.traces))
    return Generated(black.format_str(text, mode=mode), tuple(sorted(e.imports)))


def load(source: str, name: str) -> types.ModuleType:
    """Run a generated module's `source` in memory as module `name` (`rpc run`, `rpc explain`).

    A deployment problem met while its objects are built (a missing key file, an
    unset variable) is a config error, RPC303, as `python app.py` reports it.
    """
    from rpc.runtime.server import BUILD_ERRORS

    module = types.ModuleType(name)
    module.__file__ = f"<{name}>"
    try:
        exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - our output
    except BUILD_ERRORS as exc:
        hint = (
            "the proxy's objects are built as the app builds them: run where the files and "
            "environment variables the Caddyfile names exist"
        )
        raise RpcError(
            [Diagnostic.error("RPC303", f"cannot build the app: {exc}", None, hint)]
        ) from None
    return module
