"""Emitters for `file_server` (`FileServer`) and the `file` matcher / `try_files` (`MatchFile`).

Caddy expands the root, hide entries, status code and candidate files with
ReplaceAll (unknown placeholders become empty). Only the local file system
is supported, and browse listings use rpc's built-in page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rpc.compiler.backend.emit import Emitter, Unsupported
from rpc.compiler.backend.handlers import emits
from rpc.compiler.backend.matchers import condition
from rpc.compiler.ir.handlers import FileServer
from rpc.compiler.ir.matchers import MatchFile

if TYPE_CHECKING:
    from rpc.compiler.backend.routes import RouteCompiler


@emits(FileServer)
def file_server(e: Emitter, _rc: RouteCompiler, h: FileServer) -> str:
    if h.fs:
        raise Unsupported(
            f"file_server fs {h.fs!r}: only the local file system is supported",
            h.span,
            "remove `fs` to serve files from disk",
        )
    browse = None
    if h.browse is not None:
        if h.browse.template_file:
            raise Unsupported(
                "file_server browse templates are not supported",
                h.span,
                "remove the template file to get rpc's built-in listing",
            )
        fields = {
            "sort": e.lit(h.browse.sort) if h.browse.sort else None,
            "file_limit": e.lit(h.browse.file_limit) if h.browse.file_limit else None,
            "reveal_symlinks": "True" if h.browse.reveal_symlinks else None,
        }
        browse = f"{e.rt('Browse')}({e.kwargs(**fields)})"
    hide = "".join(e.text(t, keep_unknown=False) + ", " for t in h.hide)
    fields = {
        "root": e.text(h.root, keep_unknown=False) if h.root is not None else None,
        "hide": f"({hide})" if h.hide else None,
        "index_names": e.lit(h.index_names) if h.index_names else None,
        "browse": browse,
        "canonical_uris": "False" if h.canonical_uris is False else None,
        "status_code": e.text(h.status_code, keep_unknown=False) if h.status_code else None,
        "pass_thru": "True" if h.pass_thru else None,
        "precompressed": e.lit(h.precompressed) if h.precompressed else None,
        "precompressed_order": e.lit(h.precompressed_order) if h.precompressed_order else None,
        "etag_file_extensions": (e.lit(h.etag_file_extensions) if h.etag_file_extensions else None),
        "origin": e.lit(h.origin),
    }
    return e.declare("h", f"{e.rt('FileServer')}({e.kwargs(**fields)})", h.origin)


@condition(MatchFile)
def file_matcher(e: Emitter, m: MatchFile) -> str:
    """The condition for a `file` matcher: a declared runtime `MatchFile`."""
    files = "".join(e.text(t, keep_unknown=False) + ", " for t in m.try_files)
    fields = {
        "root": e.text(m.root, keep_unknown=False) if m.root is not None else None,
        "try_files": f"({files})" if m.try_files else None,
        "try_policy": e.lit(m.try_policy) if m.try_policy else None,
        "split_path": e.lit(m.split_path) if m.split_path else None,
    }
    name = e.declare("m", f"{e.rt('MatchFile')}({e.kwargs(**fields)})", m.origin)
    return f"{name}.match(ctx)"
