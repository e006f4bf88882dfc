"""`{$VAR}` / `{$VAR:default}` substitution on raw Caddyfile text, before lexing.

Caddy substitutes environment variables in the bytes of every file before it
tokenizes them (`caddyconfig/caddyfile/parse.go` `replaceEnvVars`), so a value
can add tokens, quotes or braces. The substituted text has different offsets
than the file the user wrote; `Substituted.original_offset` maps them back so
diagnostics point at the user's text.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Substituted", "substitute_env"]


@dataclass(frozen=True, slots=True)
class _Piece:
    new_start: int
    orig_start: int
    new_len: int
    orig_len: int
    literal: bool


@dataclass(frozen=True, slots=True)
class Substituted:
    """Text after substitution, with a map from its offsets to the original's."""

    text: str
    pieces: tuple[_Piece, ...]

    def original_offset(self, offset: int, *, end: bool = False) -> int:
        """Offset in the original text of `offset` in the substituted text.

        Inside a substituted value every offset maps to the `{$VAR}` it came
        from: its start, or its end when `end` is set (for span ends).
        """
        if not self.pieces:
            return offset
        starts = [p.new_start for p in self.pieces]
        i = max(0, bisect.bisect_right(starts, offset) - 1)
        p = self.pieces[i]
        if p.literal:
            return p.orig_start + min(offset - p.new_start, p.new_len)
        if end and offset > p.new_start:
            return p.orig_start + p.orig_len
        return p.orig_start


def substitute_env(text: str, environ: Mapping[str, str] | None = None) -> Substituted:
    """Replace every `{$NAME}` and `{$NAME:default}` in `text`.

    A set variable (even empty) wins over the default; an unset one without
    default becomes the empty string. `{$}` is left alone, an unterminated
    `{$` stops substitution, and substituted text is not scanned again.
    """
    env = os.environ if environ is None else environ
    pieces: list[_Piece] = []
    out: list[str] = []
    new_pos = 0
    pos = 0  # scan position in the original text
    while True:
        begin = text.find("{$", pos)
        if begin < 0:
            break
        end = text.find("}", begin + 2)
        if end < 0:
            break
        name = text[begin + 2 : end]
        if not name:
            # `{$}` is kept verbatim; continue scanning after it.
            chunk = text[pos : end + 1]
            pieces.append(_Piece(new_pos, pos, len(chunk), len(chunk), True))
            out.append(chunk)
            new_pos += len(chunk)
            pos = end + 1
            continue
        key, sep, default = name.partition(":")
        value = env.get(key)
        if value is None:
            value = default if sep else ""
        if begin > pos:
            chunk = text[pos:begin]
            pieces.append(_Piece(new_pos, pos, len(chunk), len(chunk), True))
            out.append(chunk)
            new_pos += len(chunk)
        pieces.append(_Piece(new_pos, begin, len(value), end + 1 - begin, False))
        out.append(value)
        new_pos += len(value)
        pos = end + 1
    if not pieces:
        return Substituted(text, ())
    rest = text[pos:]
    pieces.append(_Piece(new_pos, pos, len(rest), len(rest), True))
    out.append(rest)
    return Substituted("".join(out), tuple(pieces))
