"""Line tree → line tree with `import` resolved: files, globs, snippets, arguments, blocks.

Follows Caddy's parser (`caddyconfig/caddyfile/parse.go` `doImport`,
`importargs.go`): `import` is recognised as the first token of a line, at the
top level and inside any block; a snippet `(name) { ... }` must be defined
above its first import (otherwise the name is taken as a file path); imported
lines replace the import line, with `{args[N]}`, `{args[a:b]}`, the deprecated
`{args.N}`, `{block}` and `{blocks.KEY}` substituted; cycles are reported with
the chain of imports. Every imported span remembers the import it came through.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from rpc.compiler.cst import Block, Line, Snippet, Token
from rpc.compiler.errors import Diagnostic, Diagnostics, RpcError
from rpc.compiler.source import SourceMap, Span
from rpc.compiler.syntax import FileTree, parse_text

__all__ = ["Expanded", "expand"]

_ARG_PLACEHOLDER = re.compile(r"(?<!\\)\{(args(?:\[[^{}\]]*\]|\.[^{}]*))\}")
_VARIADIC = re.compile(r"\{args\[([^\]]*)\]\}")


@dataclass(frozen=True, slots=True)
class Expanded:
    """Top-level lines with every import spliced in, and the snippets that were defined."""

    lines: tuple[Line, ...]
    snippets: tuple[Snippet, ...]


def expand(
    tree: FileTree,
    *,
    sources: SourceMap | None = None,
    environ: Mapping[str, str] | None = None,
    diags: Diagnostics | None = None,
) -> Expanded:
    """Resolve every import in `tree`; raise `RpcError` on errors, warn into `diags`."""
    sink = diags if diags is not None else Diagnostics()
    sink.extend(tree.warnings)
    expander = _Expander(sources if sources is not None else SourceMap(), environ, sink)
    lines = expander.top(tree.lines)
    sink.check()
    return Expanded(tuple(lines), tuple(expander.snippets.values()))


def _snippet_name(line: Line) -> str | None:
    """`(name)` when the line's only token is a snippet key."""
    if len(line.tokens) == 1:
        text = line.tokens[0].text
        if len(text) >= 2 and text[0] == "(" and text[-1] == ")":
            return text[1:-1]
    return None


def _is_import(line: Line) -> bool:
    # Caddy compares the text only, so a quoted "import" is an import too.
    return bool(line.tokens) and line.tokens[0].text == "import"


class _Expander:
    def __init__(
        self, sources: SourceMap, environ: Mapping[str, str] | None, diags: Diagnostics
    ) -> None:
        self.sources = sources
        self.environ = environ
        self.diags = diags
        self.snippets: dict[str, Snippet] = {}
        self.later_snippets: set[str] = set()
        self.stack: list[tuple[str, Span]] = []  # (import key, import span), outermost first

    # ------------------------------------------------------------ walking

    def top(self, lines: Sequence[Line]) -> list[Line]:
        """Top-level lines: snippet definitions are collected, imports spliced."""
        self.later_snippets |= {n for line in lines if (n := _snippet_name(line))}
        out: list[Line] = []
        i = 0
        while i < len(lines):
            line = lines[i]
            name = _snippet_name(line)
            if _is_import(line):
                out.extend(self.do_import(line, top=True))
            elif name is not None:
                block = line.block
                if block is None and i + 1 < len(lines) and not lines[i + 1].tokens:
                    i += 1  # the snippet's `{` on the next line
                    block = lines[i].block
                self.define_snippet(name, line, block)
            else:
                out.append(self.nested(line))
            i += 1
        return out

    def body(self, lines: Sequence[Line]) -> list[Line]:
        """Lines inside a block: imports at the start of a line are spliced."""
        out: list[Line] = []
        for line in lines:
            if _is_import(line):
                out.extend(self.do_import(line, top=False))
            else:
                out.append(self.nested(line))
        return out

    def nested(self, line: Line) -> Line:
        if line.block is None:
            return line
        return replace(line, block=replace(line.block, lines=tuple(self.body(line.block.lines))))

    def define_snippet(self, name: str, line: Line, block: Block | None) -> None:
        key = line.tokens[0]
        if block is None:
            self.diags.error(
                "RPC125",
                f"snippet ({name}) has no block",
                key.span,
                "define a snippet as `(name) {` followed by its lines and a closing `}`",
            )
        elif name in self.snippets:
            self.diags.error(
                "RPC203",
                f"redeclaration of previously declared snippet {name}",
                key.span,
                f"snippet ({name}) is first declared at {self.snippets[name].span}",
            )
        else:
            self.snippets[name] = Snippet(name, block.lines, key.span.to(block.span))

    # ------------------------------------------------------------ import

    def do_import(self, line: Line, *, top: bool) -> list[Line]:
        head = line.tokens[0]
        if len(line.tokens) < 2:
            self.diags.error(
                "RPC200",
                "import needs a file, glob or snippet name",
                head.span,
                "write `import <file|glob|snippet> [args...]`",
            )
            return []
        target = line.tokens[1]
        if target.text == "":
            self.diags.error("RPC200", "Import requires a non-empty filepath", target.span)
            return []
        args = [t.text for t in line.tokens[2:]]
        block_lines, block_map = self.import_block(line.block)

        snippet = self.snippets.get(target.text)
        if snippet is not None:
            key = f"{snippet.span.file}:{snippet.name}"
            label = f"snippet {snippet.name}"
            units = [(key, label, list(snippet.lines))]
        else:
            units = self.import_files(target, line)
        out: list[Line] = []
        for key, label, lines in units:
            if any(k == key for k, _ in self.stack):
                chain = " -> ".join(k for k, _ in self.stack) + f" -> {key}"
                self.diags.error(
                    "RPC202",
                    f"a cycle of imports exists between {self.stack[-1][0]} and {key}",
                    line.span,
                    f"import chain: {chain}",
                )
                continue
            spliced = self.substitute(lines, args, block_lines, block_map, line.span, label)
            self.stack.append((key, line.span))
            try:
                out.extend(self.top(spliced) if top else self.body(spliced))
            finally:
                self.stack.pop()
        return out

    def import_block(self, block: Block | None) -> tuple[list[Line], dict[str, list[Line]]]:
        """The lines of `import x { ... }`, and its `{blocks.KEY}` map."""
        if block is None:
            return [], {}
        mapping: dict[str, list[Line]] = {}
        for entry in block.lines:
            if not entry.tokens:
                self.diags.error("RPC206", "anonymous blocks are not supported", entry.span)
                continue
            if entry.args:
                mapping[entry.tokens[0].text] = [Line(entry.args, None, entry.args[0].span)]
            elif entry.block is not None:
                mapping[entry.tokens[0].text] = list(entry.block.lines)
            else:
                mapping[entry.tokens[0].text] = []
        return list(block.lines), mapping

    def import_files(self, target: Token, line: Line) -> list[tuple[str, str, list[Line]]]:
        pattern = target.text
        base = target.span.file
        base_dir = Path(base).resolve().parent if base not in ("<stdin>", "") else Path.cwd()
        full = pattern if os.path.isabs(pattern) else str(base_dir / pattern)
        if full.count("*") > 1 or full.count("?") > 1 or ("[" in full and "]" in full):
            self.diags.error(
                "RPC204",
                f"Glob pattern may only contain one wildcard (*), but has others: {pattern}",
                target.span,
            )
            return []
        is_glob = any(c in full for c in "*?")
        if is_glob:
            matches = sorted(glob.glob(full))
            if os.path.basename(full).startswith("*"):
                matches = [m for m in matches if not os.path.basename(m).startswith(".")]
            if not matches:
                self.diags.warn(
                    "RPC250", f"No files matching import glob pattern: {pattern}", target.span
                )
                return []
        else:
            if not os.path.exists(full):
                hint = None
                if pattern in self.later_snippets:
                    hint = (
                        f"snippet ({pattern}) is defined below this import; "
                        "define snippets before importing them"
                    )
                self.diags.error(
                    "RPC201", f"File to import not found: {pattern}", target.span, hint
                )
                return []
            matches = [full]
        units: list[tuple[str, str, list[Line]]] = []
        for path in matches:
            lines = self.read_file(path, _shown(path, base_dir), target, line)
            if lines is not None:
                units.append((str(Path(path).resolve()), path, lines))
        return units

    def read_file(self, path: str, shown: str, target: Token, line: Line) -> list[Line] | None:
        if os.path.isdir(path):
            self.diags.error("RPC205", f"Could not import {shown}: is a directory", target.span)
            return None
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else str(exc)
            self.diags.error("RPC205", f"Could not import {shown}: {reason}", target.span)
            return None
        name = str(Path(path).resolve())
        try:
            tree: FileTree = parse_text(text, name, environ=self.environ, sources=self.sources)
        except RpcError as exc:
            for d in exc.diagnostics:
                span = d.span.imported_via(line.span) if d.span is not None else None
                self.diags.add(Diagnostic(d.code, d.severity, d.message, span, d.hint))
            return None
        self.diags.extend(tree.warnings)
        if not tree.lines:
            self.diags.warn("RPC252", f"Import file is empty: {shown}", target.span)
        return list(tree.lines)

    # ------------------------------------------------------------ substitution

    def substitute(
        self,
        lines: Sequence[Line],
        args: list[str],
        block_lines: list[Line],
        block_map: dict[str, list[Line]],
        site: Span,
        label: str,
    ) -> list[Line]:
        """Imported lines with arguments and blocks filled in, marked as imported at `site`."""
        out: list[Line] = []
        for line in lines:
            if _snippet_name(line) is not None:
                # Caddy leaves snippet definitions found in imported text untouched.
                out.append(line.imported_via(site))
                continue
            out.extend(self.substitute_line(line, args, block_lines, block_map, site, label))
        return out

    def substitute_line(
        self,
        line: Line,
        args: list[str],
        block_lines: list[Line],
        block_map: dict[str, list[Line]],
        site: Span,
        label: str,
    ) -> list[Line]:
        block = line.block
        if block is not None:
            inner = self.substitute(block.lines, args, block_lines, block_map, site, label)
            block = Block(
                tuple(inner),
                block.span.imported_via(site),
                block.inline_close.imported_via(site) if block.inline_close else None,
            )
        # Split the line where a whole-token {block} / {blocks.KEY} splices other lines in:
        # spliced lines come from elsewhere, so Caddy sees them as starting new lines.
        out: list[Line] = []
        pending: list[Token] = []
        for tok in line.tokens:
            spliced = self.block_tokens(tok, block_lines, block_map)
            if spliced is None:
                pending.extend(self.substitute_token(tok, args, site))
                continue
            if pending:
                out.append(Line(tuple(pending), None, pending[0].span.to(pending[-1].span)))
                pending = []
            out.extend(spliced)
        if pending or block is not None:
            if pending:
                span = pending[0].span.to(block.span if block else pending[-1].span)
                out.append(Line(tuple(pending), block, span))
            elif block is not None:
                out.append(Line((), block, block.span))
        return out

    @staticmethod
    def block_tokens(
        tok: Token, block_lines: list[Line], block_map: dict[str, list[Line]]
    ) -> list[Line] | None:
        """Lines replacing a `{block}`/`{blocks.KEY}` token, or None if `tok` is neither.

        With nothing to substitute the token simply disappears (Caddy 2.11).
        """
        if tok.text == "{block}":
            return list(block_lines)
        if tok.text.startswith("{blocks.") and tok.text.endswith("}"):
            return list(block_map.get(tok.text[len("{blocks.") : -1], []))
        return None

    def substitute_token(self, tok: Token, args: list[str], site: Span) -> list[Token]:
        tok = tok.imported_via(site)
        variadic = _VARIADIC.fullmatch(tok.text)
        if variadic is not None and ":" in variadic.group(1):
            bounds = self.slice_bounds(variadic.group(1), len(args), tok)
            if bounds is not None:
                return [tok.with_text(a) for a in args[bounds[0] : bounds[1]]]
            return [tok]
        if "{args" not in tok.text:
            return [tok]

        def one(match: re.Match[str]) -> str:
            key = match.group(1)
            index_text = key[5:-1] if key.startswith("args[") else key[5:]
            if ":" in index_text:
                self.diags.warn(
                    "RPC251",
                    f"variadic placeholder {{{key}}} must be a token on its own",
                    tok.span,
                )
                return match.group(0)
            if not index_text.isdigit():
                self.diags.warn("RPC251", f"placeholder {{{key}}} has an invalid index", tok.span)
                return match.group(0)
            index = int(index_text)
            if index >= len(args):
                self.diags.warn(
                    "RPC251",
                    f"placeholder {{{key}}} index is out of bound, only {len(args)} "
                    "argument(s) exist",
                    tok.span,
                )
                return match.group(0)
            if key.startswith("args."):
                self.diags.warn(
                    "RPC253",
                    f"placeholder {{{key}}} is deprecated",
                    tok.span,
                    f"use {{args[{index}]}} instead",
                )
            return args[index]

        return [tok.with_text(_ARG_PLACEHOLDER.sub(one, tok.text))]

    def slice_bounds(self, spec: str, count: int, tok: Token) -> tuple[int, int] | None:
        start_text, _, end_text = spec.partition(":")
        try:
            start = int(start_text) if start_text else 0
            end = int(end_text) if end_text else count
        except ValueError:
            self.diags.warn(
                "RPC251", f"variadic placeholder {{args[{spec}]}} has an invalid index", tok.span
            )
            return None
        if start < 0 or start > end or end > count:
            self.diags.warn(
                "RPC251",
                f"variadic placeholder {{args[{spec}]}} indices are out of bounds, only "
                f"{count} argument(s) exist",
                tok.span,
            )
            return None
        return start, end


def _shown(path: str, base_dir: Path) -> str:
    """A path as the user would write it: relative to the importing file when inside its folder."""
    try:
        return (
            os.path.relpath(path, base_dir)
            if Path(path).resolve().is_relative_to(base_dir)
            else path
        )
    except ValueError:
        return path
