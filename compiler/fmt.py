"""Caddyfile text in, its canonical `caddy fmt` layout out (Caddy 2.11's formatter)."""

from __future__ import annotations

import re

__all__ = ["format_caddyfile"]

# Go's unicode.IsSpace; Python's str.isspace also accepts U+001C..U+001F,
# which Caddy treats as word characters.
_SPACES = frozenset(
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_HEREDOC_MARKER = re.compile(r"[A-Za-z0-9_-]+")

_CLOSED, _OPENING, _OPENED = 0, 1, 2


def _trim_space(text: str) -> str:
    """Go's strings.TrimSpace (Unicode white space at both ends)."""
    start, end = 0, len(text)
    while start < end and text[start] in _SPACES:
        start += 1
    while end > start and text[end - 1] in _SPACES:
        end -= 1
    return text[start:end]


def format_caddyfile(text: str) -> str:
    """Format a Caddyfile the way `caddy fmt` does, character by character.

    Words, comments, placeholders, quoted and backticked strings, heredocs and
    escaped characters are copied as written; the formatter owns only the
    whitespace: tab indentation by brace nesting, one space between words, at
    most one blank line, a blank line after each top-level block, and exactly
    one trailing newline.
    """
    out: list[str] = []
    last = ""  # the last character written

    space = True  # the previous character was white space (input start counts)
    beginning_of_line = True

    open_brace = False  # the current word is or started with `{`
    open_brace_written = False
    open_brace_space = False  # a non-newline space preceded that `{`
    open_brace_own_line = False  # that `{` began a line

    new_lines = 0  # newlines consumed since the last written word

    comment = False
    # The quoting we are in: "", "`", '"', or '"`' / '`"' for a backtick
    # inside a quoted string and vice versa.
    quotes = ""
    escaped = False

    heredoc = _CLOSED
    heredoc_escaped = False
    heredoc_marker: list[str] = []
    heredoc_closing: list[str] = []

    nesting = 0

    # A standalone `{` right after a top-level `import` line opens the global
    # options block; it must not fold onto the import (caddyserver/caddy#7642).
    token = ""
    line_first_token = ""
    prev_line_top_import = False

    def write(ch: str) -> None:
        nonlocal last
        out.append(ch)
        last = ch

    def indent() -> None:
        for _ in range(nesting):
            write("\t")

    def next_line() -> None:
        nonlocal beginning_of_line
        write("\n")
        beginning_of_line = True

    def finish_token() -> None:
        nonlocal token, line_first_token
        if token and not line_first_token:
            line_first_token = token
        token = ""

    def finish_line() -> None:
        nonlocal line_first_token, prev_line_top_import
        finish_token()
        if line_first_token:
            prev_line_top_import = nesting == 0 and line_first_token == "import"
        elif not open_brace or not open_brace_own_line or open_brace_written:
            prev_line_top_import = False
        line_first_token = ""

    def flush_open_brace() -> None:
        nonlocal open_brace, open_brace_written, open_brace_own_line, new_lines, nesting
        if nesting == 0 and last == "}":
            next_line()
            next_line()
        open_brace = False
        if open_brace_own_line and prev_line_top_import:
            if last != "\n":
                next_line()
            indent()
        elif beginning_of_line:
            indent()
        elif not open_brace_space or last not in _SPACES:
            write(" ")
        write("{")
        open_brace_written = True
        open_brace_own_line = False
        next_line()
        new_lines = 0
        # bounded, like Caddy (issue #4169: absurdly deep nesting)
        if nesting < 10:
            nesting += 1

    for ch in _trim_space(text):
        if (
            not quotes
            and heredoc == _CLOSED
            and not heredoc_escaped
            and space
            and last == "<"
            and ch == "<"
        ):
            write(ch)
            heredoc = _OPENING
            space = False
            continue

        if heredoc == _OPENING:
            if ch == "\n":
                if heredoc_marker and _HEREDOC_MARKER.fullmatch("".join(heredoc_marker)):
                    heredoc = _OPENED
                else:
                    heredoc_marker = []
                    heredoc = _CLOSED
                    next_line()
                    continue
                write(ch)
                continue
            if ch in _SPACES:
                # a space means `<<...` was a plain word, not a heredoc opener
                heredoc_marker = []
                heredoc = _CLOSED
            else:
                heredoc_marker.append(ch)
                write(ch)
                continue

        if heredoc == _OPENED:
            heredoc_closing.append(ch)
            if len(heredoc_closing) > len(heredoc_marker) + 1:
                heredoc_closing = heredoc_closing[1:]
            if ch in _SPACES and heredoc_closing[:-1] == heredoc_marker:
                heredoc_marker = []
                heredoc_closing = []
                heredoc = _CLOSED
            else:
                write(ch)
                if ch == "\n":
                    heredoc_closing = []
                continue

        if last == "<" and space:
            space = False

        if comment:
            if ch == "\n":
                comment = False
                space = True
                next_line()
            else:
                write(ch)
            continue

        if not escaped and ch == "\\":
            if space:
                write(" ")
                space = False
            write(ch)
            escaped = True
            continue

        if escaped:
            if ch == "<":
                heredoc_escaped = True
            write(ch)
            escaped = False
            continue

        if ch == "`":
            quotes = {'"`': '"', "`": "", '"': '"`'}.get(quotes, "`")

        if quotes == '"':
            if ch == '"':
                quotes = ""
            write(ch)
            continue

        if ch == '"':
            if not quotes:
                if space:
                    quotes = '"'
            elif quotes == '`"':
                quotes = "`"
            elif quotes == '"`':
                quotes = ""

        if "`" in quotes:
            if ch == "`" and space and not beginning_of_line:
                write(" ")
            write(ch)
            space = False
            continue

        if ch in _SPACES:
            finish_token()
            space = True
            heredoc_escaped = False
            if ch == "\n":
                finish_line()
                new_lines += 1
            continue
        space_prior = space
        space = False

        # From here on the character is a plain one: not white space, not in a
        # comment, quote or heredoc, not escaped.

        if ch == "#":
            comment = True

        # a pending `{` followed by white space or another `{` opens a block
        if open_brace and not open_brace_written and (space_prior or ch == "{"):
            flush_open_brace()

        if ch == "{":
            finish_token()
            open_brace = True
            open_brace_space = space_prior and not beginning_of_line
            open_brace_own_line = new_lines > 0
            if open_brace_space and new_lines == 0:
                write(" ")
            open_brace_written = False
            if quotes == "`":
                write("{")
                open_brace_written = True
                open_brace_own_line = False
            continue

        if ch == "}" and (space_prior or not open_brace):
            finish_token()
            if quotes == "`":
                write("}")
                continue
            if last != "\n":
                next_line()
            if nesting > 0:
                nesting -= 1
            indent()
            write("}")
            new_lines = 0
            continue

        new_lines = min(new_lines, 2)
        for _ in range(new_lines):
            next_line()
        new_lines = 0
        if beginning_of_line:
            indent()
        if nesting == 0 and last == "}" and beginning_of_line:
            next_line()
            next_line()

        if not beginning_of_line and space_prior:
            write(" ")

        if open_brace and not open_brace_written:
            write("{")
            open_brace_written = True

        if space_prior and ch == "<":
            space = True

        token += ch
        write(ch)
        beginning_of_line = False

    if open_brace and not open_brace_written:
        flush_open_brace()
    return _trim_space("".join(out)) + "\n"
