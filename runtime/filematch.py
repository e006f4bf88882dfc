"""The `file` request matcher (and `try_files`): which of several candidate files exists.

A port of Caddy 2.11's `MatchFile` (`modules/caddyhttp/fileserver/matcher.go`).
Candidates are expanded (placeholder values cannot smuggle glob characters),
split at `split_path`, joined to the root like the file server does, globbed,
and chosen by the try policy. A match publishes
`{http.matchers.file.relative|absolute|type|remainder}`; an entry `=<code>`
fails the request with that status. As in `file_server`, a symbolic link
resolving outside the root counts as missing.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

from rpc.runtime.context import Ctx
from rpc.runtime.errors import HandlerError
from rpc.runtime.filepaths import inside, sanitized_join
from rpc.runtime.pathmatch import glob_match, go_clean
from rpc.runtime.placeholders import Lazy, Placeholder, Template, resolver_for, stringify

__all__ = ["MatchFile"]

Text = str | Template

_POLICIES = (
    "",
    "first_exist",
    "first_exist_fallback",
    "smallest_size",
    "largest_size",
    "most_recently_modified",
)
_PATH = Template((Placeholder("http.request.uri.path"),))


class MatchFile:
    """`file { root; try_files; try_policy; split_path }`: true when a candidate file exists."""

    __slots__ = ("root", "split_path", "try_files", "try_policy")

    def __init__(
        self,
        *,
        root: Text | None = None,
        try_files: Sequence[Text] | None = None,
        try_policy: str = "",
        split_path: Sequence[str] = (),
    ) -> None:
        if try_policy not in _POLICIES:
            raise ValueError(f"unknown try policy {try_policy}")
        self.root = root
        self.try_files: tuple[Text, ...] = tuple(try_files) if try_files else (_PATH,)
        self.try_policy = try_policy
        self.split_path = tuple(split_path)

    def _root(self, ctx: Ctx) -> str:
        if self.root is None:
            value = ctx.vars.get("root")
            root = "" if value is None else stringify(value)
        elif isinstance(self.root, str):
            root = self.root
        else:
            root = self.root.render(ctx)
        return go_clean(root or ".")

    def match(self, ctx: Ctx) -> bool:
        root = self._root(ctx)
        policy = self.try_policy
        if policy in ("", "first_exist", "first_exist_fallback"):
            last = len(self.try_files) - 1 if policy == "first_exist_fallback" else -1
            for i, pattern in enumerate(self.try_files):
                _error_code(pattern)
                for full, rel, rest in self._candidates(ctx, pattern, root):
                    if i == last:
                        self._publish(ctx, full, rel, rest, None)
                        return True
                    st = _strict_stat(full, root)
                    if st is not None:
                        self._publish(ctx, full, rel, rest, st)
                        return True
            return False
        best: tuple[str, str, str, os.stat_result] | None = None
        for pattern in self.try_files:
            for full, rel, rest in self._candidates(ctx, pattern, root):
                st = _stat(full, root)
                if st is not None and _better(policy, st, best[3] if best else None):
                    best = (full, rel, rest, st)
        if best is None:
            return False
        self._publish(ctx, *best)
        return True

    def _candidates(self, ctx: Ctx, pattern: Text, root: str) -> list[tuple[str, str, str]]:
        expanded = _expand_glob_safe(pattern, ctx)
        before, after = self._first_split(go_clean(expanded))
        if _raw(pattern).endswith("/"):
            before += "/"
        full = sanitized_join(root, before)
        return [(r, r.removeprefix(root), after) for r in _glob(full)]

    def _first_split(self, path: str) -> tuple[str, str]:
        lower = path.lower()
        for split in self.split_path:
            idx = _index_fold(lower, split.lower())
            if idx > -1:
                pos = idx + len(split)
                if pos != len(path) and not path[pos:].startswith("/"):
                    continue
                return path[:pos], path[pos:]
        return path, ""

    @staticmethod
    def _publish(ctx: Ctx, full: str, rel: str, rest: str, st: os.stat_result | None) -> None:
        ctx.extra["http.matchers.file.relative"] = rel
        ctx.extra["http.matchers.file.absolute"] = full
        ctx.extra["http.matchers.file.remainder"] = rest
        # An unchecked fallback is called a file, as Caddy does.
        kind = "directory" if st is not None and stat.S_ISDIR(st.st_mode) else "file"
        ctx.extra["http.matchers.file.type"] = kind


def _better(policy: str, st: os.stat_result, best: os.stat_result | None) -> bool:
    """Caddy's comparisons, quirks included (a zero size is "no best yet")."""
    if policy == "largest_size":
        return st.st_size > (best.st_size if best else 0)
    if policy == "smallest_size":
        return best is None or best.st_size == 0 or st.st_size < best.st_size
    return best is None or st.st_mtime_ns > best.st_mtime_ns


def _index_fold(haystack: str, needle: str) -> int:
    """Caddy's `indexFold` (which never looks at the last possible position)."""
    n = len(needle)
    i = 0
    while i + n < len(haystack):
        if haystack[i : i + n] == needle:
            return i
        i += 1
    return -1


def _raw(pattern: Text) -> str:
    if isinstance(pattern, str):
        return pattern
    return "".join(p if isinstance(p, str) else "{" + p.key + "}" for p in pattern.parts)


def _glob_safe(value: str) -> str:
    return value.replace("*", "\\*").replace("[", "\\[").replace("?", "\\?")


def _expand_glob_safe(pattern: Text, ctx: Ctx) -> str:
    """The pattern with placeholders expanded, their values' glob characters escaped."""
    if isinstance(pattern, str):
        return pattern
    out = []
    for part in pattern.parts:
        if isinstance(part, str):
            out.append(part)
            continue
        fn = resolver_for(part.key)
        value = fn(ctx) if fn is not None else ctx.extra.get(part.key, "")
        if isinstance(value, Lazy):  # a `map` destination
            value = value.get(ctx)
        out.append(_glob_safe(stringify(value)))
    return "".join(out)


def _error_code(pattern: Text) -> None:
    """An entry `=<code>` (100-999) fails the request with that status."""
    raw = pattern if isinstance(pattern, str) else _raw(pattern)
    if len(raw) > 1 and raw[0] == "=" and raw[1:].isascii() and raw[1:].isdigit():
        code = int(raw[1:])
        if 100 <= code <= 999:
            raise HandlerError(code, raw[1:])


def _has_meta(p: str) -> bool:
    return any(c in p for c in "*?[\\")


def _glob(pattern: str) -> list[str]:
    """Go's `fs.Glob` over the OS file system (results sorted per directory)."""
    if not _has_meta(pattern):
        try:
            os.lstat(pattern)
        except (OSError, ValueError):
            return []
        return [pattern]
    head, sep, tail = pattern.rpartition("/")
    if sep and not head:
        head = "/"
    dirs = _glob(head) if _has_meta(head) else [head]
    out: list[str] = []
    for d in dirs:
        try:
            names = sorted(os.listdir(d or "."))
        except (OSError, ValueError):
            continue
        prefix = "" if not d else d if d.endswith("/") else d + "/"
        out += [prefix + n for n in names if glob_match(tail, n)]
    return out


def _stat(path: str, root: str) -> os.stat_result | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st if inside(path, root) else None


def _strict_stat(path: str, root: str) -> os.stat_result | None:
    """Caddy's `strictFileExists`: a trailing slash must be a directory, else a non-directory."""
    st = _stat(path, root)
    if st is None:
        return None
    is_dir = stat.S_ISDIR(st.st_mode)
    return st if is_dir == path.endswith("/") else None
