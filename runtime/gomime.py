"""Go's `mime.TypeByExtension` on Unix: the Content-Type Caddy's file server sends for a name.

Go starts from a small built-in table, then adds the system's shared-mime-info
`globs2` database (first entry per extension wins, built-ins kept) or, if
there is none, the `mime.types` files (which override). `text/*` types get
`; charset=utf-8`. Python's `mimetypes` differs in many entries and would
change what clients see, so this table is built the way Go builds it, once,
from the same files, on the machine serving the files.
"""

from __future__ import annotations

import functools

__all__ = ["type_by_extension"]

_BUILTIN = {
    ".avif": "image/avif",
    ".css": "text/css; charset=utf-8",
    ".gif": "image/gif",
    ".htm": "text/html; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".jpeg": "image/jpeg",
    ".jpg": "image/jpeg",
    ".js": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".mjs": "text/javascript; charset=utf-8",
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
    ".webp": "image/webp",
    ".xml": "text/xml; charset=utf-8",
}

_GLOBS = ("/usr/local/share/mime/globs2", "/usr/share/mime/globs2")
_TYPE_FILES = (
    "/etc/mime.types",
    "/etc/apache2/mime.types",
    "/etc/apache/mime.types",
    "/etc/httpd/conf/mime.types",
)


def _with_charset(mime_type: str) -> str:
    if mime_type.startswith("text/") and "charset=" not in mime_type:
        return f"{mime_type}; charset=utf-8"
    return mime_type


def _load_globs(table: dict[str, str], filename: str) -> bool:
    try:
        with open(filename, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return False
    for line in lines:
        fields = line.split(":")
        if len(fields) < 3 or not fields[0] or len(fields[2]) < 3:
            continue
        if fields[0][0] == "#" or fields[2][0] != "*" or fields[2][1] != ".":
            continue
        ext = fields[2][1:]
        if any(c in ext for c in "?*[") or ext in table:
            continue
        table[ext] = _with_charset(fields[1])
    return True


def _load_types(table: dict[str, str], filename: str) -> None:
    try:
        with open(filename, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return
    for line in lines:
        fields = line.split()
        if len(fields) <= 1 or fields[0].startswith("#"):
            continue
        for ext in fields[1:]:
            if ext.startswith("#"):
                break
            table["." + ext] = _with_charset(fields[0])


@functools.cache
def _table() -> dict[str, str]:
    table = dict(_BUILTIN)
    if not any(_load_globs(table, f) for f in _GLOBS):
        for f in _TYPE_FILES:
            _load_types(table, f)
    return {**{k.lower(): v for k, v in table.items()}, **table}


def type_by_extension(ext: str) -> str:
    """The MIME type for `ext` (with its dot), or "" when Go knows none."""
    if not ext:
        return ""
    table = _table()
    return table.get(ext) or table.get(ext.lower(), "")
