"""File-system paths as Caddy's file server and `file` matcher compute them (Go's `filepath`).

`sanitized_join` is Caddy's `SanitizedPathJoin` (a request path joined to a
root without ever climbing above it), `file_hidden` its `fileHidden`, and
`inside` the extra check rpc adds: the fully resolved file (symbolic links
followed) must still be below the resolved root.
"""

from __future__ import annotations

import os
import stat

from rpc.runtime.pathmatch import glob_match, go_clean

__all__ = ["file_hidden", "go_abs", "inside", "sanitized_join"]


def sanitized_join(root: str, req_path: str) -> str:
    """Caddy's `SanitizedPathJoin`: `root` + the cleaned path, trailing slash kept."""
    if not root:
        root = "."
    rel = go_clean("/" + req_path)[1:]
    joined = go_clean(root + "/" + rel) if rel else go_clean(root)
    if req_path.endswith("/") and len(req_path) > 1:
        joined += "/"
    return joined


def go_abs(path: str) -> str:
    """Go's `filepath.Abs`: joined to the working directory and cleaned."""
    if path.startswith("/"):
        return go_clean(path)
    try:
        cwd = os.getcwd()
    except OSError:
        return path
    return go_clean(cwd + "/" + path)


def file_hidden(filename: str, hide: list[str]) -> bool:
    """Caddy's `fileHidden`: `hide` entries are names (any component) or absolute paths/globs."""
    if not hide:
        return False
    filename = go_abs(filename)
    components: list[str] | None = None
    for h in hide:
        if "/" not in h:
            if components is None:
                components = filename.split("/")
            if any(glob_match(h, c) for c in components):
                return True
        elif filename.startswith(h) and filename[len(h) :].startswith("/"):
            return True
        if glob_match(h, filename):
            return True
    return False


def inside(filename: str, root: str) -> bool:
    """Whether `filename`, with every symbolic link resolved, is `root` or below it.

    `filename` normally comes from `sanitized_join(root, ...)`: then only the
    components below the root can lead elsewhere, and they are checked with
    one `lstat` each; the full resolution runs only when one is a link.
    """
    base = go_clean(root or ".")
    rel = filename[len(base) :] if filename.startswith(base) else None
    if rel is not None and (rel == "" or rel.startswith("/") or base == "/"):
        path = base
        try:
            for part in rel.split("/"):
                if not part:
                    continue
                path = path + "/" + part if path != "/" else "/" + part
                if stat.S_ISLNK(os.lstat(path).st_mode):
                    break
            else:
                return True
        except (OSError, ValueError):
            return False
    real_root = os.path.realpath(base)
    real = os.path.realpath(filename)
    return real == real_root or real.startswith(real_root.rstrip("/") + "/")
